//! The XML parser reads tags and text 16 bytes at a time where the document has 16 more bytes
//! to read, and byte by byte near its end. Both paths must build the same tree and refuse the
//! same input; the writer must still escape and refuse what it must.

use kvmhost_core::xml::{Document, Element};

const CASES: [&str; 11] = [
    "<a x='1&amp;2' y=\"a'b\" z='tab\there' w='cr\r\nlf'/>",
    "<abcdefghijklmnop q='1'/>",
    "<abcdefghijklmnopq abcdefghijklmnopqrstuvwxyz='1' \u{e9}t\u{e9}='2'/>",
    "<a v='\u{F000}' w='0123456789abcdefghij' u=''/>",
    "<a>x\r\ny<b/>\t \u{e9}t\u{e9} 0123456789abcdef0123</a>",
    "<a k='<'/>",
    "<a v='\u{FFFE}'/>",
    "<a>\u{1}</a>",
    "<a x='1' x='2'/>",
    "<a 1x='1'/>",
    "<a x='1'y='2'/>",
];

fn padded(case: &str) -> String {
    format!("{case}{}", "\n".repeat(40))
}

#[test]
fn fast_and_byte_paths_agree() {
    for case in CASES {
        let short = Document::parse(case).map(|d| d.root);
        let long = Document::parse(&padded(case)).map(|d| d.root);
        assert_eq!(short.is_ok(), long.is_ok(), "{case:?}: {short:?} vs {long:?}");
        if let (Ok(a), Ok(b)) = (&short, &long) {
            assert_eq!(a, b, "{case:?}");
        }
    }
    for bad in &CASES[5..] {
        assert!(Document::parse(&padded(bad)).is_err(), "{bad:?}");
    }
}

#[test]
fn decoded_values_and_text() {
    let d = Document::parse(&padded(CASES[0])).unwrap();
    assert_eq!(d.root.attr("x"), Some("1&2"));
    assert_eq!(d.root.attr("y"), Some("a'b"));
    assert_eq!(d.root.attr("z"), Some("tab here"));
    assert_eq!(d.root.attr("w"), Some("cr lf"));
    let d = Document::parse(&padded(CASES[2])).unwrap();
    assert_eq!(d.root.attr("abcdefghijklmnopqrstuvwxyz"), Some("1"));
    assert_eq!(d.root.attr("\u{e9}t\u{e9}"), Some("2"));
    let d = Document::parse(&padded(CASES[4])).unwrap();
    assert_eq!(d.root.text(), "x\ny\t \u{e9}t\u{e9} 0123456789abcdef0123");
}

#[test]
fn writer_escapes_and_refuses() {
    let mut e = Element::new("r");
    e.set_attr("v", "a<b&c>\"d\"\te\nf\rg'h 0123456789abcdef");
    e.set_attr("\u{e9}t\u{e9}", "ok");
    e.push_element(Element::new("t")).set_text("x<y&z>\"q\"\t\n\r 0123456789abcdef0123456789");
    let out = Document::new(e.clone()).to_xml().unwrap();
    assert!(out.contains("v=\"a&lt;b&amp;c&gt;&quot;d&quot;&#9;e&#10;f&#13;g'h 0123456789abcdef\""), "{out}");
    assert!(out.contains("<t>x&lt;y&amp;z&gt;\"q\"\t\n&#13; 0123456789abcdef0123456789</t>"), "{out}");
    let back = Document::parse(&out).unwrap();
    assert_eq!(back.root, e);
    for bad_name in ["", "1a", "a b", "a<"] {
        let mut e = Element::new("r");
        e.set_attr(bad_name, "1");
        assert!(Document::new(e).to_xml().is_err(), "attribute name {bad_name:?}");
        assert!(Document::new(Element::new(bad_name)).to_xml().is_err(), "element name {bad_name:?}");
    }
    for bad_value in ["\u{1}", "0123456789abcdef\u{FFFF}", "\u{1f}x"] {
        let mut e = Element::new("r");
        e.set_attr("v", bad_value);
        assert!(Document::new(e.clone()).to_xml().is_err(), "value {bad_value:?}");
        e.remove_attr("v");
        e.set_text(bad_value);
        assert!(Document::new(e).to_xml().is_err(), "text {bad_value:?}");
    }
}
