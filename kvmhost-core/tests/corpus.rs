//! libvirt's own domain XML corpus: every document parses, writes back losslessly, survives a
//! typed no-op edit, and its typed coverage is reported.

use kvmhost_core::domain::Domain;
use kvmhost_core::xml::Document;
use kvmhost_testdata::{libvirt_corpus, xml_files};

fn corpus() -> Option<Vec<std::path::PathBuf>> {
    match libvirt_corpus() {
        Some(dir) => Some(xml_files(&dir.join("domain"))),
        None => {
            eprintln!(
                "SKIP: libvirt test corpus not found (set KVMHOST_TESTDATA to the directory holding libvirt-9.0.0/)"
            );
            None
        }
    }
}

#[test]
fn every_document_round_trips_losslessly() {
    let Some(files) = corpus() else { return };
    assert!(files.len() > 500, "corpus looks incomplete: {} files", files.len());
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        let original = Document::parse(&src).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let domain = Domain::parse(&src).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let written = domain.to_xml().unwrap();
        let reparsed = Document::parse(&written).unwrap();
        if let Some(diff) = original.root.first_difference(&reparsed.root, "") {
            panic!("{}: not lossless: {diff}", path.display());
        }
    }
}

#[test]
fn typed_no_op_edit_changes_nothing() {
    let Some(files) = corpus() else { return };
    let mut failures = Vec::new();
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        let mut domain = Domain::parse(&src).unwrap();
        let def = match domain.def() {
            Ok(def) => def,
            Err(e) => {
                failures.push(format!("{}: decode: {e}", path.display()));
                continue;
            }
        };
        domain.apply(&def);
        let original = Document::parse(&src).unwrap();
        if let Some(diff) = original.root.first_difference(&domain.document().root, "") {
            failures.push(format!("{}: {diff}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} documents changed by a no-op typed edit:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn typed_coverage_reaches_target() {
    let Some(files) = corpus() else { return };
    let (mut elements, mut typed) = (0usize, 0usize);
    let mut untyped: std::collections::BTreeMap<String, usize> = Default::default();
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        let c = Domain::parse(&src).unwrap().coverage();
        elements += c.elements;
        typed += c.typed;
        for p in c.untyped {
            *untyped.entry(p).or_default() += 1;
        }
    }
    let fraction = typed as f64 / elements as f64;
    let mut top: Vec<_> = untyped.into_iter().collect();
    top.sort_by_key(|e| std::cmp::Reverse(e.1));
    eprintln!("typed fraction {fraction:.3}; most common untyped paths: {:?}", &top[..top.len().min(30)]);
    assert!(fraction >= 0.9, "typed fraction {fraction:.3} below 0.9");
}
