//! Changing any single attribute of any element of libvirt's corpus documents — removing it,
//! emptying it, or padding its value with spaces — must leave the typed model honest: `def()`
//! either refuses the document with a typed error, or `apply(def())` leaves it exactly as it is
//! (nothing dropped, nothing added, nothing rewritten).

use kvmhost_core::domain::Domain;
use kvmhost_core::xml::{Element, Node};
use kvmhost_testdata::{libvirt_corpus, xml_files};

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
fn changing_any_attribute_is_refused_or_preserved() {
    let Some(dir) = libvirt_corpus() else {
        eprintln!("SKIP: libvirt test corpus not found (set KVMHOST_TESTDATA)");
        return;
    };
    let files = xml_files(&dir.join("domain"));
    // Two halves on two threads: the sweep parses and re-encodes ~60,000 documents.
    let (first, second) = files.split_at(files.len() / 2);
    let (mut failures, variants) = std::thread::scope(|scope| {
        let other = scope.spawn(|| sweep(second));
        let (mut f, n) = sweep(first);
        let (f2, n2) = other.join().expect("sweep thread panicked");
        f.extend(f2);
        (f, n + n2)
    });
    eprintln!("{variants} single-attribute variants checked");
    assert!(variants > 50_000, "the sweep covered only {variants} variants");
    failures.sort();
    failures.dedup_by(|a, b| a.split(": variant").nth(1) == b.split(": variant").nth(1));
    assert!(
        failures.is_empty(),
        "{} cases:\n{}",
        failures.len(),
        failures.iter().take(60).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Checks every single-attribute variant of every document in `files`; returns the failures
/// and how many variants were checked.
fn sweep(files: &[std::path::PathBuf]) -> (Vec<String>, usize) {
    let mut failures = Vec::new();
    let mut variants = 0usize;
    for file in files {
        let src = std::fs::read_to_string(file).unwrap();
        let original = Domain::parse(&src).unwrap();
        let mut paths = Vec::new();
        element_paths(original.root(), &mut Vec::new(), &mut paths);
        for path in paths {
            let attrs: Vec<String> = {
                let mut d = original.clone();
                at(d.root_mut(), &path).attributes.iter().map(|a| a.name.to_string()).collect()
            };
            for attr in attrs {
                for variant in 0..3 {
                    variants += 1;
                    let mut d = original.clone();
                    let el = at(d.root_mut(), &path);
                    match variant {
                        0 => el.remove_attr(&attr),
                        1 => el.set_attr(&attr, ""),
                        _ => {
                            let padded = format!(" {} ", el.attr(&attr).unwrap_or_default());
                            el.set_attr(&attr, padded)
                        }
                    }
                    let Ok(def) = d.def() else { continue };
                    let mut applied = d.clone();
                    applied.apply(&def);
                    if let Some(diff) = d.root().first_difference(applied.root(), "") {
                        failures.push(format!("{}: variant {variant} @{attr} at {path:?}: {diff}", file.display()));
                    }
                }
            }
        }
    }
    (failures, variants)
}
