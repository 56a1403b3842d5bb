//! The per-thread cache of freed [`XmlVec`](super::XmlVec) blocks: one intrusive free list per
//! 16-byte size step.

use super::{CACHED_BLOCK_MAX, CACHED_PER_SIZE, CLASSES, STEP};
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cell::UnsafeCell;
use std::ptr::NonNull;

struct Lists {
    heads: [Option<NonNull<Free>>; CLASSES],
    counts: [u16; CLASSES],
}

/// A cached block's first bytes: the next block of the same size.
struct Free {
    next: Option<NonNull<Free>>,
}

struct Cache(UnsafeCell<Lists>);

impl Drop for Cache {
    fn drop(&mut self) {
        let lists = self.0.get_mut();
        for (class, head) in lists.heads.iter_mut().enumerate() {
            while let Some(block) = *head {
                // SAFETY: cached blocks are owned by the cache, hold a `Free` and were
                // allocated with this class's layout.
                unsafe {
                    *head = (*block.as_ptr()).next;
                    dealloc(block.as_ptr().cast(), layout(class * STEP));
                }
            }
        }
    }
}

thread_local! {
    static CACHE: Cache = const { Cache(UnsafeCell::new(Lists { heads: [None; CLASSES], counts: [0; CLASSES] })) };
}

fn layout(size: usize) -> Layout {
    // `size` is a non-zero multiple of 16 that `block_size` checked against `isize::MAX`.
    Layout::from_size_align(size, STEP).expect("XmlVec block layout")
}

/// A block of `size` bytes (a multiple of 16), 16-byte aligned.
#[inline]
pub(super) fn allocate(size: usize) -> NonNull<u8> {
    if size <= CACHED_BLOCK_MAX {
        // The closure only unlinks a list head: no allocation or user code runs while the
        // lists are borrowed. During thread teardown the cache is gone and `try_with` fails.
        let cached = CACHE.try_with(|c| {
            // SAFETY: the only access to this thread's lists for the closure's duration.
            let lists = unsafe { &mut *c.0.get() };
            let class = size / STEP;
            let block = lists.heads[class]?;
            // SAFETY: a cached block holds a `Free`.
            lists.heads[class] = unsafe { (*block.as_ptr()).next };
            lists.counts[class] -= 1;
            Some(block.cast::<u8>())
        });
        if let Ok(Some(block)) = cached {
            return block;
        }
    }
    let l = layout(size);
    // SAFETY: `l` has a non-zero size.
    NonNull::new(unsafe { alloc(l) }).unwrap_or_else(|| handle_alloc_error(l))
}

/// Gives back a block that `allocate(size)` returned.
#[inline]
pub(super) fn release(block: NonNull<u8>, size: usize) {
    if size <= CACHED_BLOCK_MAX {
        let kept = CACHE.try_with(|c| {
            // SAFETY: as in `allocate`.
            let lists = unsafe { &mut *c.0.get() };
            let class = size / STEP;
            if lists.counts[class] as usize >= CACHED_PER_SIZE {
                return false;
            }
            let free = block.cast::<Free>();
            // SAFETY: the block is at least 16 bytes, 16-byte aligned and no longer used by
            // any vector: it now holds the list link.
            unsafe { free.as_ptr().write(Free { next: lists.heads[class] }) };
            lists.heads[class] = Some(free);
            lists.counts[class] += 1;
            true
        });
        if kept == Ok(true) {
            return;
        }
    }
    // SAFETY: `block` came from `allocate(size)`, i.e. from `alloc` with this layout.
    unsafe { dealloc(block.as_ptr(), layout(size)) }
}

/// How many freed blocks of `size` bytes this thread's cache holds (for tests).
#[cfg(test)]
pub(super) fn cached(size: usize) -> usize {
    CACHE.with(|c| {
        // SAFETY: a read of this thread's counts; nothing else holds the lists meanwhile.
        let lists = unsafe { &*c.0.get() };
        lists.counts[size / STEP] as usize
    })
}
