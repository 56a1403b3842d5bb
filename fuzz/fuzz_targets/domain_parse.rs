//! Fuzz target `domain_parse`: arbitrary bytes through the XML tree and the domain model.
//!
//! Properties checked (a violation panics, which libFuzzer reports as a crash):
//! - `Document::parse` and `Domain::parse` never panic, whatever the input;
//! - a parse error is a positioned `Malformed` error whose line/column lie inside the input;
//!   `Domain::parse` fails only with such an XML error or `NotADomain`;
//! - a parsed document/domain writes back (`to_xml` succeeds), and the written text re-parses
//!   into a semantically equal document (lossless round trip);
//! - `def()` (typed decode of everything) may fail but never panics, and only with
//!   `InvalidValue`, `Invalid` or `Missing` carrying a `/domain...` path; when it succeeds,
//!   `apply(&def)` leaves the document semantically unchanged and still writable;
//! - `coverage()` never panics.
//!
//! There is no skip list: every violation is a crash (findings F1 and F2 in `FUZZING.md` are
//! fixed).
#![no_main]

use kvmhost_core::domain::{Domain, DomainError};
use kvmhost_core::xml::{Document, XmlError};
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

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };

    // The raw tree parser must never panic, and its errors carry a valid position.
    match Document::parse(input) {
        Ok(doc) => {
            let xml = doc.to_xml().unwrap_or_else(|e| panic!("a parsed document writes back: {e:?}"));
            let again = Document::parse(&xml).unwrap_or_else(|e| panic!("written document re-parses: {e}\n{xml}"));
            if let Some(d) = doc.root.first_difference(&again.root, "") {
                panic!("document round trip changed {d}\n--- written:\n{xml}");
            }
        }
        Err(e) => check_position(input, &e),
    }

    let domain = match Domain::parse(input) {
        Ok(d) => d,
        Err(DomainError::Xml(e)) => return check_position(input, &e),
        Err(DomainError::NotADomain { found }) if found != "domain" => return,
        Err(e) => panic!("unexpected parse error kind: {e:?}"),
    };
    let xml = domain.to_xml().unwrap_or_else(|e| panic!("a parsed domain writes back: {e:?}"));
    let reparsed = Domain::parse(&xml).unwrap_or_else(|e| panic!("written domain re-parses: {e}\n{xml}"));
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
