//! Tests of the parser: errors and their positions, references, end tags.

use super::*;

fn parse_document(input: &str) -> Result<Document, XmlError> {
    super::parse_document(input, &Limits::default())
}

#[test]
fn references_and_whitespace() {
    let d = parse_document("<a v='x&#10;y\nz'>&lt;&#x41;&amp;</a>").unwrap();
    assert_eq!(d.root.attr("v"), Some("x\ny z"));
    assert_eq!(d.root.text(), "<A&");
}

#[test]
fn errors_have_positions() {
    let e = parse_document("<a>\n  <b x='1' x='2'/></a>").unwrap_err();
    assert_eq!(e.line(), Some(2), "{e}");
    let e = parse_document("<a>&nope;</a>").unwrap_err();
    assert!(e.to_string().contains("unknown entity"), "{e}");
    assert!(parse_document("").is_err());
    assert!(parse_document("<a/><b/>").is_err());
    assert!(parse_document("<a>\u{1}</a>").is_err());
    assert!(parse_document("<a>&#1;</a>").is_err());
    assert!(parse_document("<a>").is_err());
    assert!(parse_document("x<a/>").is_err());
    assert!(parse_document("<a x='1'y='2'/>").is_err());
    assert!(parse_document("<a x='1' y=\"2\"/>").is_ok());
    assert_eq!(parse_document("<a x = '1'\n\ty=\"'\"/>").unwrap().root.attr("y"), Some("'"));
    for bad in [
        "<a x/>",
        "<a x=1/>",
        "<a x='<'/>",
        "<a x='1' x='1'/>",
        "<a ='1'/>",
        "<a x y='1'/>",
        "<!doctype a><a/>",
        "<a>]]></a>",
    ] {
        let e = parse_document(bad).expect_err(bad);
        assert!(matches!(e, XmlError::Malformed { line: 1, .. }), "{bad}: {e}");
    }
}

#[test]
fn end_tags_must_match() {
    let e = parse_document("<a>\n <b></c></a>").unwrap_err();
    assert!(matches!(e, XmlError::Malformed { line: 2, column: 5, .. }), "{e}");
    assert!(e.to_string().contains("expected `</b>`, but `</c>` was found"), "{e}");
    let e = parse_document("<a><b></bc \t></a>").unwrap_err();
    assert!(e.to_string().contains("expected `</b>`, but `</bc>` was found"), "{e}");
    assert!(parse_document("<a><b></b \t\r\n></a>").is_ok());
    assert!(parse_document("<a><b></b x></a>").is_err());
    let long = "n".repeat(40);
    for (open, close) in [("ab", "ac"), ("abcd1", "abcd2"), ("abcdefgh9", "abcdefgh8"), (&long[..], &long[1..])] {
        assert!(parse_document(&format!("<{open}></{close}>")).is_err(), "{open} {close}");
        assert!(parse_document(&format!("<{open}></{open} >")).is_ok(), "{open}");
    }
    let names: Vec<String> = (0..40).map(|n| "x".repeat(n)).collect();
    for a in &names {
        for b in &names {
            assert_eq!(same_name(a.as_bytes(), b.as_bytes()), a == b);
            let mut c = b.clone().into_bytes();
            if let Some(last) = c.last_mut() {
                *last = b'y';
                assert!(!same_name(a.as_bytes(), &c));
            }
            if let Some(first) = c.first_mut() {
                *first = b'z';
                assert!(!same_name(a.as_bytes(), &c));
            }
        }
    }
}

#[test]
fn whitespace_before_the_end_of_end_tags_is_kept() {
    for src in ["<a><b>x</b\n\t></a >", "<a><b/></a\r\n>", "<a>t</a>"] {
        let d = parse_document(src).unwrap();
        assert_eq!(crate::xml::write::write_document(&d).unwrap(), src);
    }
}

#[test]
fn line_column_counts_characters() {
    assert_eq!(line_column("é\nàb", 5), (2, 2));
    assert_eq!(line_column("abc", 0), (1, 1));
}
