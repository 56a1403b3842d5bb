//! Removing any single attribute from any element of libvirt's corpus documents must leave the
//! typed model honest: `def()` either refuses the document with a typed error, or
//! `apply(def())` leaves it exactly as it is (nothing dropped, nothing added).

use kvmhost_core::domain::Domain;
use kvmhost_core::testdata::{libvirt_corpus, xml_files};
use kvmhost_core::xml::{Element, Node};

/// Paths (as child indices) of every element of `root`.
fn element_paths(e: &Element, prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    out.push(prefix.clone());
    for (i, n) in e.children.iter().enumerate() {
        if let Node::Element(c) = n {
            prefix.push(i);
            element_paths(c, prefix, out);
            prefix.pop();
        }
    }
}

fn at<'a>(e: &'a mut Element, path: &[usize]) -> &'a mut Element {
    match path.split_first() {
        None => e,
        Some((i, rest)) => match &mut e.children[*i] {
            Node::Element(c) => at(c, rest),
            _ => unreachable!("paths point at elements"),
        },
    }
}

#[test]
fn removing_any_attribute_is_refused_or_preserved() {
    let Some(dir) = libvirt_corpus() else {
        eprintln!("SKIP: libvirt test corpus not found (set KVMHOST_TESTDATA)");
        return;
    };
    let mut failures = Vec::new();
    let mut variants = 0usize;
    for file in xml_files(&dir.join("domain")) {
        let src = std::fs::read_to_string(&file).unwrap();
        let original = Domain::parse(&src).unwrap();
        let mut paths = Vec::new();
        element_paths(original.root(), &mut Vec::new(), &mut paths);
        for path in paths {
            let attrs: Vec<String> = {
                let mut d = original.clone();
                at(d.root_mut(), &path).attributes.iter().map(|a| a.name.to_string()).collect()
            };
            for attr in attrs {
                variants += 1;
                let mut d = original.clone();
                at(d.root_mut(), &path).remove_attr(&attr);
                let Ok(def) = d.def() else { continue };
                let mut applied = d.clone();
                applied.apply(&def);
                if let Some(diff) = d.root().first_difference(applied.root(), "") {
                    failures.push(format!("{}: without @{attr} at {path:?}: {diff}", file.display()));
                }
            }
        }
    }
    eprintln!("{variants} single-attribute removals checked");
    failures.sort();
    failures.dedup_by(|a, b| a.split(": without").nth(1) == b.split(": without").nth(1));
    assert!(
        failures.is_empty(),
        "{} cases:\n{}",
        failures.len(),
        failures.iter().take(60).cloned().collect::<Vec<_>>().join("\n")
    );
}
