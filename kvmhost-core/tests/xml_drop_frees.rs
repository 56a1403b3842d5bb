//! Dropping a tree frees everything it owns. The tree's drop takes elements apart field by
//! field (names, attribute vectors, the formatting kept for writing back, content by recursion
//! and, deeper than its recursion limit, iteratively): a field it forgot would leak on every
//! document. Counted by a global allocator that keeps, per thread, the bytes allocated and not
//! yet freed: after a warm-up (the vector block cache filled), many parse → write → clone →
//! drop cycles must leave that count where it was.

use kvmhost_core::xml::{Document, Element, Limits};

mod counting_alloc;
use counting_alloc::in_use;

#[global_allocator]
static ALLOCATOR: counting_alloc::Counting = counting_alloc::Counting;

/// Documents with every kind of node and everything an element can own on the heap: names and
/// values longer than an inline string, tags and texts kept as read (whitespace in tags, mixed
/// quotes, references, CR LF, `<a></a>`, `</a >`), comments, CDATA, processing instructions, a
/// DOCTYPE; and a tree deeper than the drop's recursion limit whose every element keeps a raw
/// start tag.
fn documents() -> Vec<(String, Limits)> {
    let wide = "<?xml version='1.0' encoding='UTF-8'?>\n<!DOCTYPE domain>\n<!-- prolog comment -->\n\
        <domain type='kvm' xmlns:a_namespace_prefix_longer_than_24='http://libvirt.org/schemas/domain/qemu/1.0'>\n  \
        <name>a-guest-name-that-is-longer-than-twenty-four-bytes</name>\n  \
        <description>text &amp; &#65;&#x42; &apos;q&apos; with a CR LF\r\nline</description>\n  \
        <devices  >\n    <disk type=\"file\" device='disk'>\n      \
        <source file='/var/lib/libvirt/images/a-long-image-file-name.qcow2'/>\n      \
        <target dev = 'vda' bus='virtio' ></target >\n    </disk>\n    \
        <an_element_name_longer_than_twenty_four_bytes/>\n    <![CDATA[ raw <stuff> ]]>\n    <?pi data?>\n  \
        </devices>\n</domain>\n<!-- epilog -->\n"
        .to_string();
    let depth = 600;
    let deep =
        format!("{}{}", "<e  k='a value longer than twenty-four bytes'>t&#65;".repeat(depth), "</e >".repeat(depth));
    vec![(wide, Limits::default()), (deep, Limits::default().with_max_depth(depth + 1))]
}

/// One parse → write → clone → edit → drop of each document, and a tree built through the API.
fn cycle(docs: &[(String, Limits)]) {
    for (text, limits) in docs {
        let doc = Document::parse_with(text, limits).expect("parses");
        assert_eq!(&doc.to_xml().expect("writes"), text, "an unedited document writes back as read");
        let mut copy = doc.clone();
        copy.root.set_attr("type", "a value longer than twenty-four bytes, set by an edit");
        copy.root.push_element(Element::new("another_element_name_longer_than_24"));
        drop(copy);
        drop(doc);
    }
    let mut built = Element::new("a_root_element_name_longer_than_24_bytes");
    let mut cur = &mut built;
    for i in 0..300 {
        cur.set_attr("level", format!("level number {i} of a tree built through the API"));
        cur = cur.push_element(Element::new("child_element_name_longer_than_24"));
    }
    drop(built);
}

#[test]
fn dropping_documents_frees_everything_they_own() {
    let docs = documents();
    // Warm-up: the thread's vector block cache fills to its steady state.
    for _ in 0..20 {
        cycle(&docs);
    }
    let before = in_use();
    for _ in 0..200 {
        cycle(&docs);
    }
    let after = in_use();
    assert_eq!(after, before, "bytes still allocated after 200 parse/clone/drop cycles: {}", after.abs_diff(before));

    // The counter sees a leak: the same check fails for a string that is never freed.
    let leaked = in_use();
    std::mem::forget(String::from("leaked on purpose"));
    assert_eq!(in_use() - leaked, "leaked on purpose".len());
}
