//! Checks libvirt domain XML files against the lossless model.
//!
//! ```text
//! cargo run --release --example domain_xml -- check PATH...
//! ```
//!
//! Each PATH is a file or a directory (searched recursively for `*.xml`). One JSON object is
//! printed per file — `{"file", "parsed", "lossless", "untyped", "error"}` — then a summary
//! `{"files", "parsed", "lossless", "typed_fraction"}`, where `typed_fraction` is the share of
//! element occurrences (over all parsed files) that the typed model covers. Exit status 1 if
//! any file fails to parse or to round-trip.

use std::path::PathBuf;
use std::process::ExitCode;

use kvmhost::core::domain::Domain;
use kvmhost::core::testdata::xml_files;
use kvmhost::core::xml::Document;
use serde_json::json;

fn usage() -> ExitCode {
    eprintln!("usage: domain_xml check PATH...");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, paths)) = args.split_first() else { return usage() };
    if cmd != "check" || paths.is_empty() {
        return usage();
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for p in paths {
        let p = PathBuf::from(p);
        if p.is_dir() {
            files.extend(xml_files(&p));
        } else {
            files.push(p);
        }
    }
    let (mut parsed, mut lossless, mut elements, mut typed) = (0usize, 0usize, 0usize, 0usize);
    for file in &files {
        let mut record = json!({"file": file.display().to_string(), "parsed": false, "lossless": false,
                                "untyped": [], "error": null});
        let result = std::fs::read_to_string(file)
            .map_err(|e| e.to_string())
            .and_then(|src| Domain::parse(&src).map(|d| (src, d)).map_err(|e| e.to_string()));
        match result {
            Err(e) => record["error"] = json!(e),
            Ok((src, domain)) => {
                parsed += 1;
                record["parsed"] = json!(true);
                let same = domain
                    .to_xml()
                    .map_err(|e| e.to_string())
                    .and_then(|out| Document::parse(&out).map_err(|e| e.to_string()))
                    .and_then(|back| {
                        let orig = Document::parse(&src).map_err(|e| e.to_string())?;
                        match orig.root.first_difference(&back.root, "") {
                            None => Ok(()),
                            Some(d) => Err(format!("not lossless: {d}")),
                        }
                    });
                match same {
                    Ok(()) => {
                        lossless += 1;
                        record["lossless"] = json!(true);
                    }
                    Err(e) => record["error"] = json!(e),
                }
                let cov = domain.coverage();
                elements += cov.elements;
                typed += cov.typed;
                record["untyped"] = json!(cov.untyped);
                if let Some(e) = cov.decode_error {
                    record["error"] = json!(format!("typed decode: {e}"));
                }
            }
        }
        println!("{record}");
    }
    let fraction = if elements == 0 { 0.0 } else { typed as f64 / elements as f64 };
    println!(
        "{}",
        json!({"files": files.len(), "parsed": parsed, "lossless": lossless,
               "typed_fraction": (fraction * 10000.0).round() / 10000.0})
    );
    if parsed == files.len() && lossless == files.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
