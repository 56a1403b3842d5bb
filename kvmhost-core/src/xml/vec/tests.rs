//! `XmlVec` against `Vec`, drop counts, the block cache.
use super::*;
use proptest::prelude::*;
use std::rc::Rc;

#[derive(Debug, Clone)]
enum Op {
    Push(u16),
    Insert(usize, u16),
    Remove(usize),
    Pop,
    Retain(u16),
    Truncate(usize),
    Clear,
    Reserve(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<u16>().prop_map(Op::Push),
        2 => (0usize..40, any::<u16>()).prop_map(|(i, x)| Op::Insert(i, x)),
        2 => (0usize..40).prop_map(Op::Remove),
        1 => Just(Op::Pop),
        1 => (1u16..5).prop_map(Op::Retain),
        1 => (0usize..40).prop_map(Op::Truncate),
        1 => Just(Op::Clear),
        1 => (0usize..70).prop_map(Op::Reserve),
    ]
}

proptest! {
    /// Every operation does what `Vec` does, and every element is dropped exactly once
    /// (the `Rc` counts go back to one).
    #[test]
    fn behaves_like_vec(ops in proptest::collection::vec(op(), 0..120)) {
        let token = Rc::new(());
        let mut ours: XmlVec<(u16, Rc<()>)> = XmlVec::new();
        let mut model: Vec<(u16, Rc<()>)> = Vec::new();
        for op in ops {
            match op {
                Op::Push(x) => { ours.push((x, token.clone())); model.push((x, token.clone())); }
                Op::Insert(i, x) if i <= model.len() => {
                    ours.insert(i, (x, token.clone()));
                    model.insert(i, (x, token.clone()));
                }
                Op::Remove(i) if i < model.len() => { prop_assert_eq!(ours.remove(i).0, model.remove(i).0); }
                Op::Pop => { prop_assert_eq!(ours.pop().map(|x| x.0), model.pop().map(|x| x.0)); }
                Op::Retain(m) => { ours.retain(|x| x.0 % m == 0); model.retain(|x| x.0 % m == 0); }
                Op::Truncate(n) => { ours.truncate(n); model.truncate(n); }
                Op::Clear => { ours.clear(); model.clear(); }
                Op::Reserve(n) => { ours.reserve(n); prop_assert!(ours.capacity() >= ours.len() + n); }
                _ => {}
            }
            prop_assert_eq!(ours.iter().map(|x| x.0).collect::<Vec<_>>(), model.iter().map(|x| x.0).collect::<Vec<_>>());
            prop_assert!(ours.capacity() >= ours.len());
        }
        let cloned = ours.clone();
        prop_assert_eq!(Rc::strong_count(&token), 1 + 2 * model.len() + cloned.len());
        let back: Vec<_> = cloned.into();
        prop_assert_eq!(back.len(), model.len());
        drop((ours, back));
        drop(model);
        prop_assert_eq!(Rc::strong_count(&token), 1);
    }
}

#[test]
fn freed_blocks_are_reused_on_the_same_thread() {
    let v: XmlVec<u64> = XmlVec::with_capacity(5);
    let first = v.block.map(|b| b.as_ptr() as usize);
    drop(v);
    let again: XmlVec<u64> = XmlVec::with_capacity(5);
    assert_eq!(again.block.map(|b| b.as_ptr() as usize), first, "the cached block comes back");
    // Another size step gets another block.
    let other: XmlVec<u64> = XmlVec::with_capacity(40);
    assert_ne!(other.block.map(|b| b.as_ptr() as usize), first);
}

#[test]
fn blocks_cross_threads_and_the_cache_is_bounded() {
    // Made on this thread, dropped on another: the blocks join that thread's cache up to its
    // bound, the rest go back to the allocator (and that cache is freed when the thread ends).
    let vs: Vec<XmlVec<u32>> = (0..(CACHED_PER_SIZE * 2)).map(|i| XmlVec::from(vec![i as u32; 3])).collect();
    let size = block_size::<u32>(3);
    let cached_there = std::thread::spawn(move || {
        let before = super::cache::cached(size);
        drop(vs);
        (before, super::cache::cached(size))
    })
    .join()
    .unwrap();
    assert_eq!(cached_there, (0, CACHED_PER_SIZE));
    // Blocks over the cached size bypass the cache.
    let big: XmlVec<u8> = XmlVec::from(vec![7u8; CACHED_BLOCK_MAX * 2]);
    assert_eq!(big.len(), CACHED_BLOCK_MAX * 2);
    assert!(big.iter().all(|b| *b == 7));
    let size = block_size::<u8>(big.capacity());
    let before = super::cache::cached(size.min(CACHED_BLOCK_MAX));
    drop(big);
    assert_eq!(super::cache::cached(size.min(CACHED_BLOCK_MAX)), before);
}

#[test]
fn serde_is_a_plain_list() {
    let v = XmlVec::from(vec![1, 2]);
    assert_eq!(serde_json::to_string(&v).unwrap(), "[1,2]");
    let back: XmlVec<i32> = serde_json::from_str("[3]").unwrap();
    assert_eq!(&back[..], &[3]);
}

#[test]
#[should_panic(expected = "insertion index")]
fn insert_out_of_bounds_panics_like_vec() {
    XmlVec::<u8>::new().insert(1, 0);
}
