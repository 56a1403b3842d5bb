//! [`XmlVec`]: the vector behind an element's attributes and content.
//!
//! A parsed libvirt document is a few dozen small vectors (one per element with attributes,
//! one per element with content), and parse → edit → write → drop cycles make and free them by
//! the thousand. Two things keep that cheap:
//!
//! * the vector is one pointer wide (length and capacity sit in front of the elements in the
//!   heap block, an empty vector has no block), so an [`Element`](super::Element) and a
//!   [`Node`](super::Node) stay small when the parser moves them;
//! * freed blocks up to [`CACHED_BLOCK_MAX`] bytes are kept in a small per-thread cache (at most
//!   [`CACHED_PER_SIZE`] per 16-byte size step) and handed out again before the global
//!   allocator is asked, so the next document's vectors reuse the last one's memory.
//!
//! It dereferences to a slice and has the `Vec` methods a tree editor needs.

use std::fmt;
use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Blocks up to this many bytes (header included) are cached per thread when freed.
pub const CACHED_BLOCK_MAX: usize = 592;
/// At most this many freed blocks of one size are cached per thread.
pub const CACHED_PER_SIZE: usize = 64;

/// Blocks are 16-byte aligned and sized in 16-byte steps.
const STEP: usize = 16;
/// `len` and `cap` in front of the elements.
const HEADER: usize = 16;
const CLASSES: usize = CACHED_BLOCK_MAX / STEP + 1;

#[repr(C)]
struct Header {
    len: usize,
    cap: usize,
}

/// A growable array, one pointer wide, whose blocks are recycled per thread: the vector behind
/// [`Element::attributes`](super::Element::attributes) and
/// [`Element::children`](super::Element::children).
///
/// Length and capacity sit in front of the elements in the heap block (an empty vector has no
/// block), so elements and nodes stay small while the parser moves them. Freed blocks of up to
/// [`CACHED_BLOCK_MAX`] bytes are kept in a per-thread cache (at most [`CACHED_PER_SIZE`] per
/// 16-byte size step, so at most about 0.7 MiB per thread) and handed out again before the
/// global allocator is asked: a parse → edit → write → drop cycle reuses the previous
/// document's memory. Element types must not be zero-sized and may be aligned to at most 16
/// bytes. It dereferences to a slice and has the `Vec` methods a tree editor needs.
///
/// ```
/// use kvmhost_core::xml::XmlVec;
/// let mut v: XmlVec<u32> = XmlVec::new();
/// v.push(1);
/// v.insert(0, 0);
/// v.extend([2, 3]);
/// v.retain(|x| *x != 2);
/// assert_eq!(v, XmlVec::from(vec![0, 1, 3]));
/// assert_eq!(v.remove(1), 1);
/// assert_eq!(&v[..], &[0, 3]);
/// assert_eq!(std::mem::size_of::<XmlVec<u32>>(), std::mem::size_of::<usize>());
/// ```
pub struct XmlVec<T> {
    block: Option<NonNull<Header>>,
    _owns: PhantomData<T>,
}

// SAFETY: an `XmlVec<T>` owns its `T`s like a `Vec<T>`; the block cache it uses is per thread
// and holds only memory no vector owns any more.
unsafe impl<T: Send> Send for XmlVec<T> {}
// SAFETY: shared access only reads, as for `Vec<T>`.
unsafe impl<T: Sync> Sync for XmlVec<T> {}

/// The size of the block holding `cap` elements of `T`, header included, in 16-byte steps.
fn block_size<T>(cap: usize) -> usize {
    let bytes = cap
        .checked_mul(size_of::<T>())
        .and_then(|b| b.checked_add(HEADER + STEP - 1))
        .filter(|b| *b <= isize::MAX as usize)
        .expect("XmlVec capacity overflow");
    bytes & !(STEP - 1)
}

impl<T> XmlVec<T> {
    const TYPE_OK: () = assert!(size_of::<T>() > 0 && align_of::<T>() <= STEP, "XmlVec: unsupported element type");

    /// An empty vector; allocates nothing.
    ///
    /// ```
    /// assert!(kvmhost_core::xml::XmlVec::<u8>::new().is_empty());
    /// ```
    pub const fn new() -> XmlVec<T> {
        XmlVec { block: None, _owns: PhantomData }
    }

    /// An empty vector with room for at least `cap` elements.
    ///
    /// ```
    /// let v = kvmhost_core::xml::XmlVec::<u64>::with_capacity(3);
    /// assert!(v.capacity() >= 3 && v.is_empty());
    /// ```
    #[inline(always)]
    pub fn with_capacity(cap: usize) -> XmlVec<T> {
        if cap == 0 {
            return XmlVec::new();
        }
        XmlVec::fresh(cap, 0)
    }

    /// A new block with room for at least `cap` (> 0) elements, its length set to `len`
    /// (`len <= cap`; the caller initialises those elements before anything reads them):
    /// [`XmlVec::reallocate`] without an old block to copy from or release.
    #[inline(always)]
    fn fresh(cap: usize, len: usize) -> XmlVec<T> {
        let () = Self::TYPE_OK;
        debug_assert!(cap > 0 && len <= cap);
        let size = block_size::<T>(cap);
        let fits = (size - HEADER) / size_of::<T>();
        let new = cache::allocate(size).cast::<Header>();
        // SAFETY: `new` is a fresh block of `size` bytes, 16-byte aligned: the header fits.
        unsafe { new.as_ptr().write(Header { len, cap: fits }) };
        XmlVec { block: Some(new), _owns: PhantomData }
    }

    /// How many elements fit without a new block.
    ///
    /// ```
    /// assert_eq!(kvmhost_core::xml::XmlVec::<u8>::new().capacity(), 0);
    /// ```
    pub fn capacity(&self) -> usize {
        // SAFETY: a present block always starts with an initialised header.
        self.block.map_or(0, |h| unsafe { (*h.as_ptr()).cap })
    }

    #[inline(always)]
    fn len_(&self) -> usize {
        // SAFETY: as in `capacity`.
        self.block.map_or(0, |h| unsafe { (*h.as_ptr()).len })
    }

    /// Sets the length; the caller guarantees that `len <= capacity` and that the first `len`
    /// elements are initialised. A no-op for `len == 0` without a block.
    #[inline(always)]
    unsafe fn set_len_(&mut self, len: usize) {
        if let Some(h) = self.block {
            // SAFETY: the header is initialised and owned by `self`.
            unsafe { (*h.as_ptr()).len = len };
        }
    }

    /// Pointer to the first element (dangling but aligned without a block).
    #[inline(always)]
    fn data(&self) -> *mut T {
        match self.block {
            // SAFETY: the elements start `HEADER` bytes into the block.
            Some(h) => unsafe { h.as_ptr().cast::<u8>().add(HEADER).cast::<T>() },
            None => NonNull::<T>::dangling().as_ptr(),
        }
    }

    /// Moves the elements into a block with room for at least `cap` (>= len) elements.
    fn reallocate(&mut self, cap: usize) {
        let () = Self::TYPE_OK;
        let len = self.len_();
        debug_assert!(cap >= len && cap > 0);
        let size = block_size::<T>(cap);
        let fits = (size - HEADER) / size_of::<T>();
        let new = cache::allocate(size).cast::<Header>();
        // SAFETY: `new` is a fresh block of `size` bytes, 16-byte aligned: the header and `fits`
        // elements fit. The `len` initialised elements move over bit for bit and the old block
        // (of the size its capacity gives) is released without dropping them again.
        unsafe {
            new.as_ptr().write(Header { len, cap: fits });
            let dst = new.as_ptr().cast::<u8>().add(HEADER).cast::<T>();
            if let Some(old) = self.block {
                ptr::copy_nonoverlapping(self.data(), dst, len);
                cache::release(old.cast(), block_size::<T>((*old.as_ptr()).cap));
            }
        }
        self.block = Some(new);
    }

    /// Makes room for `additional` more elements.
    ///
    /// ```
    /// let mut v = kvmhost_core::xml::XmlVec::<u8>::new();
    /// v.reserve(10);
    /// assert!(v.capacity() >= 10);
    /// ```
    pub fn reserve(&mut self, additional: usize) {
        let len = self.len_();
        let need = len.checked_add(additional).expect("XmlVec capacity overflow");
        let cap = self.capacity();
        if need > cap {
            self.reallocate(need.max(cap.saturating_mul(2)).max(4));
        }
    }

    /// Appends `value`.
    ///
    /// ```
    /// let mut v = kvmhost_core::xml::XmlVec::new();
    /// v.push('a');
    /// assert_eq!(v.len(), 1);
    /// ```
    #[inline]
    pub fn push(&mut self, value: T) {
        let len = self.len_();
        if len == self.capacity() {
            self.reserve(1);
        }
        // SAFETY: there is room for one more element at `len`.
        unsafe {
            self.data().add(len).write(value);
            self.set_len_(len + 1);
        }
    }

    /// Removes and returns the last element.
    ///
    /// ```
    /// let mut v = kvmhost_core::xml::XmlVec::from(vec![1, 2]);
    /// assert_eq!(v.pop(), Some(2));
    /// ```
    pub fn pop(&mut self) -> Option<T> {
        let len = self.len_();
        if len == 0 {
            return None;
        }
        // SAFETY: element `len - 1` is initialised; the length drops first, so it is read out
        // exactly once.
        unsafe {
            self.set_len_(len - 1);
            Some(self.data().add(len - 1).read())
        }
    }

    /// Inserts `value` at `index`, shifting the rest right.
    ///
    /// # Panics
    /// If `index > len`.
    ///
    /// ```
    /// let mut v = kvmhost_core::xml::XmlVec::from(vec![1, 3]);
    /// v.insert(1, 2);
    /// assert_eq!(&v[..], &[1, 2, 3]);
    /// ```
    pub fn insert(&mut self, index: usize, value: T) {
        let len = self.len_();
        assert!(index <= len, "insertion index (is {index}) should be <= len (is {len})");
        if len == self.capacity() {
            self.reserve(1);
        }
        // SAFETY: there is room for `len + 1` elements; the tail moves one place right
        // (overlapping copy) and the gap is filled.
        unsafe {
            let p = self.data().add(index);
            ptr::copy(p, p.add(1), len - index);
            p.write(value);
            self.set_len_(len + 1);
        }
    }

    /// Removes and returns the element at `index`, shifting the rest left.
    ///
    /// # Panics
    /// If `index >= len`.
    ///
    /// ```
    /// let mut v = kvmhost_core::xml::XmlVec::from(vec![1, 2, 3]);
    /// assert_eq!(v.remove(0), 1);
    /// ```
    pub fn remove(&mut self, index: usize) -> T {
        let len = self.len_();
        assert!(index < len, "removal index (is {index}) should be < len (is {len})");
        // SAFETY: `index` is in bounds; the element is read out once and the tail closes the gap.
        unsafe {
            let p = self.data().add(index);
            let value = p.read();
            ptr::copy(p.add(1), p, len - index - 1);
            self.set_len_(len - 1);
            value
        }
    }

    /// Shortens the vector to `len` elements, dropping the rest.
    ///
    /// ```
    /// let mut v = kvmhost_core::xml::XmlVec::from(vec![1, 2, 3]);
    /// v.truncate(1);
    /// assert_eq!(&v[..], &[1]);
    /// ```
    pub fn truncate(&mut self, len: usize) {
        let old = self.len_();
        if len >= old {
            return;
        }
        // SAFETY: the length drops before the tail is dropped, so a panicking `Drop` cannot
        // lead to a double drop (the rest of the tail leaks instead).
        unsafe {
            self.set_len_(len);
            ptr::drop_in_place(ptr::slice_from_raw_parts_mut(self.data().add(len), old - len));
        }
    }

    /// Drops every element; the block is kept.
    ///
    /// ```
    /// let mut v = kvmhost_core::xml::XmlVec::from(vec![1]);
    /// v.clear();
    /// assert!(v.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Keeps only the elements for which `keep` returns true, in order.
    ///
    /// ```
    /// let mut v = kvmhost_core::xml::XmlVec::from(vec![1, 2, 3, 4]);
    /// v.retain(|x| x % 2 == 0);
    /// assert_eq!(&v[..], &[2, 4]);
    /// ```
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let len = self.len_();
        // While running, the vector claims no elements: if `keep` or a `Drop` panics, the
        // elements not yet moved leak instead of being dropped twice.
        // SAFETY: `len` stays within the initialised part throughout.
        unsafe { self.set_len_(0) };
        let base = self.data();
        let mut kept = 0;
        for i in 0..len {
            // SAFETY: element `i` is initialised and not yet moved or dropped; kept elements
            // move down to `kept <= i`.
            unsafe {
                let p = base.add(i);
                if keep(&*p) {
                    if kept != i {
                        ptr::copy_nonoverlapping(p, base.add(kept), 1);
                    }
                    kept += 1;
                } else {
                    ptr::drop_in_place(p);
                }
            }
        }
        // SAFETY: the first `kept` elements are initialised.
        unsafe { self.set_len_(kept) };
    }

    /// Moves `v[start..]` into a new, exactly sized vector (one block, one copy); `v` keeps
    /// `v[..start]`.
    #[inline(always)]
    pub(crate) fn take_tail_of(v: &mut Vec<T>, start: usize) -> XmlVec<T> {
        let n = v.len().saturating_sub(start);
        if n == 0 {
            return XmlVec::new();
        }
        let out = XmlVec::fresh(n, n);
        // SAFETY: `out` has room for `n` and its length says `n`: the `n` elements move in bit
        // for bit before anything reads them, and `v` forgets them by its new length.
        unsafe {
            ptr::copy_nonoverlapping(v.as_ptr().add(start), out.data(), n);
            v.set_len(start);
        }
        out
    }
}

impl<T> XmlVec<T> {
    /// Whether the vector owns a block (it may still be empty, after `clear`): a test of the
    /// pointer, without reading the block.
    #[inline(always)]
    pub(crate) fn has_block(&self) -> bool {
        self.block.is_some()
    }

    /// Releases the vector, handing each element to `take` in order, which owns it from then on
    /// (drops it, or moves its parts out).
    ///
    /// # Safety
    /// `take` must treat each pointer as the element's owner: read or drop it at most once,
    /// and not use it after returning. (If `take` panics, the elements not handed over yet are
    /// leaked, never dropped twice.)
    #[inline(always)]
    pub(crate) unsafe fn consume(self, mut take: impl FnMut(*mut T)) {
        let Some(h) = self.block else { return };
        // The block is released here (below), not by the vector's drop.
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: the first `len` elements are initialised and owned, each handed over once;
        // the block is released with the size its capacity gives (as it was allocated). If
        // `take` panics, the block and the elements not handed over yet leak.
        unsafe {
            let Header { len, cap } = h.as_ptr().read();
            let data = this.data();
            for i in 0..len {
                take(data.add(i));
            }
            cache::release(h.cast(), block_size::<T>(cap));
        }
    }
}

impl<T> Drop for XmlVec<T> {
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(h) = self.block {
            // SAFETY: the first `len` elements are initialised and owned; the block is then
            // released with the size its capacity gives (as it was allocated).
            unsafe {
                let len = (*h.as_ptr()).len;
                ptr::drop_in_place(ptr::slice_from_raw_parts_mut(self.data(), len));
                cache::release(h.cast(), block_size::<T>((*h.as_ptr()).cap));
            }
        }
    }
}

impl<T> Deref for XmlVec<T> {
    type Target = [T];
    #[inline(always)]
    fn deref(&self) -> &[T] {
        // SAFETY: `data()` is aligned and non-null, and the first `len` elements are initialised.
        unsafe { std::slice::from_raw_parts(self.data(), self.len_()) }
    }
}

impl<T> DerefMut for XmlVec<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `self` is borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.data(), self.len_()) }
    }
}

impl<T> Default for XmlVec<T> {
    fn default() -> Self {
        XmlVec::new()
    }
}

impl<T: Clone> Clone for XmlVec<T> {
    fn clone(&self) -> Self {
        let mut out = XmlVec::with_capacity(self.len());
        for x in self.iter() {
            out.push(x.clone());
        }
        out
    }
}

impl<T: fmt::Debug> fmt::Debug for XmlVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: PartialEq> PartialEq for XmlVec<T> {
    fn eq(&self, other: &Self) -> bool {
        self[..] == other[..]
    }
}

impl<T: Eq> Eq for XmlVec<T> {}

impl<T: std::hash::Hash> std::hash::Hash for XmlVec<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self[..].hash(state)
    }
}

impl<T> Extend<T> for XmlVec<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        let iter = iter.into_iter();
        self.reserve(iter.size_hint().0);
        for x in iter {
            self.push(x);
        }
    }
}

impl<T> FromIterator<T> for XmlVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v = XmlVec::new();
        v.extend(iter);
        v
    }
}

impl<T> From<Vec<T>> for XmlVec<T> {
    fn from(mut v: Vec<T>) -> Self {
        XmlVec::take_tail_of(&mut v, 0)
    }
}

impl<T> From<XmlVec<T>> for Vec<T> {
    fn from(mut v: XmlVec<T>) -> Self {
        let len = v.len();
        let mut out = Vec::with_capacity(len);
        // SAFETY: the `len` elements move bit for bit into `out`, and `v` forgets them.
        unsafe {
            ptr::copy_nonoverlapping(v.data(), out.as_mut_ptr(), len);
            out.set_len(len);
            v.set_len_(0);
        }
        out
    }
}

impl<T> IntoIterator for XmlVec<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        Vec::from(self).into_iter()
    }
}

impl<'a, T> IntoIterator for &'a XmlVec<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut XmlVec<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl<T> AsRef<[T]> for XmlVec<T> {
    fn as_ref(&self) -> &[T] {
        self
    }
}

impl<T: Serialize> Serialize for XmlVec<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self[..].serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for XmlVec<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(d).map(XmlVec::from)
    }
}

mod cache;
#[cfg(test)]
mod tests;
