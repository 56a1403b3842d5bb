//! Fuzz target `domain_parse`: arbitrary bytes through the XML tree and the domain model.
//!
//! Properties checked (a violation panics, which libFuzzer reports as a crash):
//! - `Document::parse` and `Domain::parse` never panic, whatever the input;
//! - a parse error is a positioned `Malformed` or `LimitExceeded` error whose line/column lie
//!   inside the input; `Domain::parse` fails only with such an XML error or `NotADomain`;
//! - limits: the input is also parsed with tiny limits (so that every limit is reachable from
//!   small inputs), which either agree with the default parse or refuse with `LimitExceeded`;
//!   an input the defaults refuse for a limit is parsed again without limits;
//! - a parsed document (under the default limits, or without limits where the defaults refuse
//!   it) writes back **byte for byte** (`to_xml() == input`), as `Document` and as `Domain`,
//!   and the written text of a domain re-parses into a semantically equal document;
//! - `to_xml_pretty()` writes and re-parses into a semantically equal root;
//! - `clone`, `==` and an edit (an attribute set on every element) behave: the edited document
//!   writes, re-parses with the new values, and is otherwise semantically unchanged;
//! - `def()` (typed decode of everything) may fail but never panics, and only with
//!   `InvalidValue`, `Invalid` or `Missing` carrying a `/domain...` path; when it succeeds,
//!   `apply(&def)` leaves the document semantically unchanged and still writable;
//! - `coverage()` never panics.
//!
//! There is no skip list: every violation is a crash (findings F1 and F2 in `FUZZING.md` are
//! fixed).
#![no_main]

use kvmhost_core::domain::{Domain, DomainError};
use kvmhost_core::xml::{Document, Limits, XmlError};
use libfuzzer_sys::fuzz_target;

fn check_position(input: &str, e: &XmlError) {
    let (Some(line), Some(col)) = (e.line(), e.column()) else {
        panic!("a parse error carries a line and column: {e:?}");
    };
    let lines = input.split('\n').count();
    assert!(line >= 1 && line <= lines + 1, "error line {line} outside input of {lines} lines: {e}");
    assert!(col >= 1, "column {col} is not 1-based: {e}");
    if line <= lines {
        let width = input.split('\n').nth(line - 1).map(|l| l.chars().count()).unwrap_or(0);
        assert!(col <= width + 1, "error column {col} beyond line {line} of width {width}: {e}");
    }
}

/// Small enough that fuzzed inputs reach every limit.
fn tiny() -> Limits {
    Limits::default()
        .with_max_depth(6)
        .with_max_attributes(10)
        .with_max_input_bytes(3000)
        .with_max_name_bytes(12)
        .with_max_text_bytes(40)
}

/// The contract of a parsed document: byte-for-byte round trip, clone and `==`, and an edit
/// that changes only what it edits.
fn check_document(input: &str, doc: &Document) {
    let xml = doc.to_xml().unwrap_or_else(|e| panic!("a parsed document writes back: {e:?}"));
    assert!(xml == input, "an unedited document writes back byte for byte\n--- read:\n{input}\n--- written:\n{xml}");
    let pretty = doc.to_xml_pretty().unwrap_or_else(|e| panic!("a parsed document writes pretty: {e:?}"));
    let back = Document::parse_with(&pretty, &Limits::unlimited())
        .unwrap_or_else(|e| panic!("pretty output re-parses: {e}\n{pretty}"));
    if let Some(d) = doc.root.first_difference(&back.root, "") {
        panic!("pretty output changed {d}\n--- written:\n{pretty}");
    }
    let copy = doc.clone();
    assert!(copy == *doc, "a clone is equal");
    // an edit: every element gets attribute `fz` = `v<n>` (new, or changed where it exists)
    let mut edited = copy;
    let mut n = 0usize;
    let mut pending = vec![&mut edited.root];
    while let Some(e) = pending.pop() {
        e.set_attr("fz", format!("v{n}'\"&"));
        n += 1;
        pending.extend(e.elements_mut());
    }
    let out = edited.to_xml().unwrap_or_else(|e| panic!("an edited document writes back: {e:?}"));
    let back =
        Document::parse_with(&out, &Limits::unlimited()).unwrap_or_else(|e| panic!("edited document re-parses: {e}\n{out}"));
    if let Some(d) = edited.root.first_difference(&back.root, "") {
        panic!("edit round trip changed {d}\n--- written:\n{out}");
    }
    let mut unedited = back;
    let mut pending = vec![&mut unedited.root];
    while let Some(e) = pending.pop() {
        e.remove_attr("fz");
        pending.extend(e.elements_mut());
    }
    let mut original = doc.clone();
    let mut pending = vec![&mut original.root];
    while let Some(e) = pending.pop() {
        e.remove_attr("fz");
        pending.extend(e.elements_mut());
    }
    if let Some(d) = original.root.first_difference(&unedited.root, "") {
        panic!("the edit changed something else: {d}\n--- written:\n{out}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };

    // The raw tree parser must never panic, and its errors carry a valid position.
    let mut limits = Limits::default();
    let parsed = match Document::parse(input) {
        Err(XmlError::LimitExceeded { .. }) => {
            limits = Limits::unlimited();
            Document::parse_with(input, &limits)
        }
        other => other,
    };
    match &parsed {
        Ok(doc) => check_document(input, doc),
        Err(e) => check_position(input, e),
    }
    match (Document::parse_with(input, &tiny()), &parsed) {
        (Ok(small), Ok(doc)) => assert!(small == *doc, "tiny limits parse the same document"),
        (Ok(_), Err(e)) => panic!("tiny limits accept what the defaults refuse: {e}"),
        (Err(e @ XmlError::LimitExceeded { .. }), _) => check_position(input, &e),
        (Err(e), Err(_)) => check_position(input, &e),
        (Err(e), Ok(_)) => panic!("tiny limits refuse with another error than a limit: {e}"),
    }

    let domain = match Domain::parse_with(input, &limits) {
        Ok(d) => d,
        Err(DomainError::Xml(e)) => return check_position(input, &e),
        Err(DomainError::NotADomain { found }) if found != "domain" => return,
        Err(e) => panic!("unexpected parse error kind: {e:?}"),
    };
    let xml = domain.to_xml().unwrap_or_else(|e| panic!("a parsed domain writes back: {e:?}"));
    assert!(xml == input, "an unedited domain writes back byte for byte");
    let reparsed = Domain::parse_with(&xml, &limits).unwrap_or_else(|e| panic!("written domain re-parses: {e}\n{xml}"));
    if let Some(d) = domain.root().first_difference(reparsed.root(), "") {
        panic!("domain round trip changed {d}\n--- written:\n{xml}");
    }
    let _ = domain.coverage();

    match domain.def() {
        Ok(def) => {
            let mut applied = domain.clone();
            applied.apply(&def);
            if let Some(d) = domain.root().first_difference(applied.root(), "") {
                panic!("apply(def()) changed the document: {d}");
            }
            applied.to_xml().expect("a domain after apply writes back");
        }
        Err(DomainError::InvalidValue { path, .. })
        | Err(DomainError::Invalid { path, .. })
        | Err(DomainError::Missing { path }) => {
            assert!(path.starts_with("/domain"), "decode error path {path:?} is not a /domain path");
        }
        Err(e) => panic!("unexpected decode error kind: {e:?}"),
    }
});
