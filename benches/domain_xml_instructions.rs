//! Instruction counts for the domain XML benchmark (issue 2), for `valgrind --tool=callgrind`.
//!
//! Wall-clock numbers on a shared 2-core machine swing by tens of percent; instruction counts
//! do not. `scripts/bench_instructions.sh` runs this binary once per mode under callgrind and
//! prints the ratios. Modes (first argument that matches): `load` (read the corpus only, the
//! baseline subtracted from the others), `scan` (quick-xml raw event scan), `parse`
//! (`Domain::parse`), `parse_write` (`Domain::parse` + `to_xml`). Each mode makes `PASSES`
//! passes over the whole corpus.
//!
//! Run: `cargo bench --bench domain_xml_instructions -- parse` (or via the script).

use std::hint::black_box;

use kvmhost_core::domain::Domain;
use quick_xml::events::Event;
use quick_xml::Reader;

const PASSES: usize = 3;

fn main() {
    let mode = std::env::args()
        .skip(1)
        .find(|a| matches!(a.as_str(), "load" | "scan" | "parse" | "parse_write"))
        .unwrap_or_else(|| "load".to_string());
    let Some(corpus) = kvmhost_testdata::libvirt_corpus() else {
        eprintln!("domain_xml_instructions skipped: libvirt corpus not found (set KVMHOST_TESTDATA)");
        return;
    };
    let files = kvmhost_testdata::xml_files(&corpus.join("domain"));
    let docs: Vec<String> = files.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect();
    for _ in 0..PASSES {
        for doc in &docs {
            match mode.as_str() {
                "scan" => {
                    let mut reader = Reader::from_str(doc);
                    reader.config_mut().trim_text(false);
                    loop {
                        match reader.read_event() {
                            Ok(Event::Eof) => break,
                            Ok(e) => {
                                black_box(e);
                            }
                            Err(e) => panic!("quick-xml failed on a corpus document: {e}"),
                        }
                    }
                }
                "parse" => {
                    black_box(Domain::parse(doc).expect("corpus documents parse"));
                }
                "parse_write" => {
                    let d = Domain::parse(doc).expect("corpus documents parse");
                    black_box(d.to_xml().expect("parsed documents write"));
                }
                _ => {}
            }
        }
    }
    println!("{mode}: {} documents x {PASSES} passes", docs.len());
}
