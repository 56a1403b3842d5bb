//! Checks libvirt domain XML files against the lossless model, and edits one.
//!
//! ```text
//! cargo run --release --example domain_xml -- check PATH...
//! cargo run --release --example domain_xml -- edit FILE [--memory SIZE] [--vcpus N] [--add-bridge-nic BRIDGE]...
//! cargo run --release --example domain_xml -- --help
//! ```
//!
//! `check`: each PATH is a file or a directory (searched recursively for `*.xml`). One JSON
//! object is printed per file — `{"file", "parsed", "lossless", "identical", "untyped",
//! "error"}` — then a summary `{"files", "parsed", "lossless", "identical", "typed_fraction"}`.
//! `lossless`: the written document means the same (same elements, attributes, text, comments);
//! `identical`: parsing and writing the unedited document gives back its exact bytes;
//! `typed_fraction`: the share of element occurrences (over all parsed files) that the typed
//! model covers. Exit status 1 if any file fails to parse or is not lossless (`identical` is
//! reported, not enforced).
//!
//! `edit`: prints FILE with the edits applied (everything else as it was) to stdout:
//! `--memory SIZE` sets `<memory>` and `<currentMemory>` (SIZE as `3GiB`, `512MiB`,
//! `1048576KiB`; no unit means KiB), `--vcpus N` sets `<vcpu>`, each `--add-bridge-nic BRIDGE`
//! adds `<interface type='bridge'><source bridge='BRIDGE'/><model type='virtio'/></interface>`
//! without a MAC address (libvirt generates a unique `52:54:00:…` one when the domain is
//! defined). Usage errors exit 2, unreadable or invalid documents 1.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kvmhost::core::domain::{Domain, Interface, Memory};
use kvmhost::core::xml::Document;
use serde_json::json;

/// Checks libvirt domain XML files against the lossless model, and edits one.
#[derive(Debug, Parser)]
#[command(name = "domain_xml", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// A parsed command line.
#[derive(Debug, PartialEq, Subcommand)]
enum Command {
    /// One JSON line per domain XML file (PATH: files or directories, searched for *.xml), then a summary.
    Check {
        /// Files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Print FILE with the edits applied, everything else as it was.
    Edit {
        /// The domain XML document.
        file: PathBuf,
        #[command(flatten)]
        edits: Edits,
    },
}

/// What to change in `edit`.
#[derive(Debug, Default, PartialEq, clap::Args)]
struct Edits {
    /// <memory> and <currentMemory> (3GiB, 512MiB, 1048576KiB; no unit: KiB).
    #[arg(long, value_name = "SIZE")]
    memory: Option<Memory>,
    /// <vcpu>.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    vcpus: Option<u32>,
    /// A virtio NIC on host bridge BRIDGE (repeatable; no MAC: libvirt generates one when the
    /// domain is defined).
    #[arg(long = "add-bridge-nic", value_name = "BRIDGE", value_parser = bridge_name)]
    bridges: Vec<String>,
}

fn bridge_name(value: &str) -> Result<String, String> {
    if value.is_empty() || value.contains(char::is_whitespace) {
        return Err(format!("{value:?} is not a bridge name"));
    }
    Ok(value.to_string())
}

/// Parses the arguments (without the program name): the command, or clap's error (which also
/// carries `--help` and `--version`).
fn parse_args(args: &[String]) -> Result<Command, clap::Error> {
    Cli::try_parse_from(std::iter::once("domain_xml").chain(args.iter().map(String::as_str))).map(|c| c.command)
}

/// Applies `edits` to the document `src`, returning the edited document.
fn edit(src: &str, edits: &Edits) -> Result<String, String> {
    let mut d = Domain::parse(src).map_err(|e| e.to_string())?;
    if let Some(m) = &edits.memory {
        d.set_memory(m);
    }
    if let Some(n) = edits.vcpus {
        d.set_vcpu_count(n).map_err(|e| e.to_string())?;
    }
    for bridge in &edits.bridges {
        d.add_device(&Interface::bridge(bridge.as_str()));
    }
    d.to_xml().map_err(|e| e.to_string())
}

/// Every `*.xml` file under `dir`, recursively, sorted (unreadable directories are skipped).
fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "xml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Checks `paths`, printing the JSON lines; whether every file parsed and round-tripped.
fn check(paths: &[PathBuf], out: &mut dyn Write) -> std::io::Result<bool> {
    let mut files: Vec<PathBuf> = Vec::new();
    for p in paths {
        if p.is_dir() {
            files.extend(xml_files(p));
        } else {
            files.push(p.clone());
        }
    }
    let (mut parsed, mut lossless, mut identical, mut elements, mut typed) = (0usize, 0usize, 0usize, 0usize, 0usize);
    for file in &files {
        let mut record = json!({"file": file.display().to_string(), "parsed": false, "lossless": false,
                                "identical": false, "untyped": [], "error": null});
        let result = std::fs::read_to_string(file)
            .map_err(|e| e.to_string())
            .and_then(|src| Domain::parse(&src).map(|d| (src, d)).map_err(|e| e.to_string()));
        match result {
            Err(e) => record["error"] = json!(e),
            Ok((src, domain)) => {
                parsed += 1;
                record["parsed"] = json!(true);
                let written = domain.to_xml().map_err(|e| e.to_string());
                if written.as_deref() == Ok(src.as_str()) {
                    identical += 1;
                    record["identical"] = json!(true);
                }
                let same = written.and_then(|out| Document::parse(&out).map_err(|e| e.to_string())).and_then(|back| {
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
        writeln!(out, "{record}")?;
    }
    let fraction = if elements == 0 { 0.0 } else { typed as f64 / elements as f64 };
    let summary = json!({"files": files.len(), "parsed": parsed, "lossless": lossless, "identical": identical,
                         "typed_fraction": (fraction * 10000.0).round() / 10000.0});
    writeln!(out, "{summary}")?;
    Ok(parsed == files.len() && lossless == files.len())
}

/// Runs the command line `args` (without the program name); returns the exit status.
fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    // Output errors (a closed pipe) end the program like any other failure: status 1.
    let result: std::io::Result<u8> = (|| match parse_args(args) {
        Err(e) if e.use_stderr() => {
            write!(err, "{}", e.render())?;
            Ok(2)
        }
        Err(help) => {
            write!(out, "{}", help.render())?;
            Ok(0)
        }
        Ok(Command::Check { paths }) => Ok(if check(&paths, out)? { 0 } else { 1 }),
        Ok(Command::Edit { file, edits }) => {
            let edited = std::fs::read_to_string(&file).map_err(|e| e.to_string()).and_then(|src| edit(&src, &edits));
            match edited {
                Ok(xml) => {
                    out.write_all(xml.as_bytes())?;
                    Ok(0)
                }
                Err(e) => {
                    writeln!(err, "domain_xml: {}: {e}", file.display())?;
                    Ok(1)
                }
            }
        }
    })();
    result.unwrap_or(1)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = run(&args, &mut std::io::stdout().lock(), &mut std::io::stderr().lock());
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvmhost::core::domain::{InterfaceType, MemoryUnit};
    use kvmhost_testdata::libvirt_corpus;

    fn run_str(args: &[&str]) -> (u8, String, String) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(&args, &mut out, &mut err);
        (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("domain_xml-example-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn edit_a_corpus_document() {
        let Some(corpus) = libvirt_corpus() else {
            println!("SKIP: libvirt test corpus not found");
            return;
        };
        let file = corpus.join("domain/net-virtio.xml");
        let src = std::fs::read_to_string(&file).unwrap();
        let (code, out, err) = run_str(&[
            "edit",
            file.to_str().unwrap(),
            "--memory",
            "3GiB",
            "--vcpus=4",
            "--add-bridge-nic",
            "br0",
            "--add-bridge-nic",
            "br1",
        ]);
        assert_eq!((code, err.as_str()), (0, ""));
        let d = Domain::parse(&out).unwrap();
        assert_eq!(d.memory().unwrap(), Some(Memory::gib(3)));
        assert_eq!(d.current_memory().unwrap(), Some(Memory::gib(3)));
        assert_eq!(d.vcpu().unwrap().unwrap().count, 4);
        let nics = d.devices().unwrap().unwrap().interfaces;
        let added: Vec<_> = nics.iter().rev().take(2).rev().collect();
        for (nic, bridge) in added.iter().zip(["br0", "br1"]) {
            assert_eq!(nic.interface_type, Some(InterfaceType::Bridge));
            assert_eq!(nic.source.as_ref().unwrap().bridge.as_deref(), Some(bridge));
            assert_eq!(nic.model.as_ref().unwrap().model_type.as_deref(), Some("virtio"));
            assert_eq!(nic.mac, None);
        }
        // Line by line (quotes aside, until the writer keeps each attribute's quote style):
        // the memory, currentMemory and vcpu lines changed, eight NIC lines were added.
        let dq = |s: &str| s.replace('\'', "\"");
        let (before, after) = (dq(&src), dq(&out));
        let (before, after): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
        assert_eq!(after.len(), before.len() + 8);
        let changed: Vec<&str> = after.iter().filter(|l| !before.contains(l)).map(|l| l.trim()).collect();
        assert_eq!(
            changed,
            [
                "<memory unit=\"GiB\">3</memory>",
                "<currentMemory unit=\"GiB\">3</currentMemory>",
                "<vcpu placement=\"static\">4</vcpu>",
                "<interface type=\"bridge\">",
                "<source bridge=\"br0\"/>",
                "<interface type=\"bridge\">",
                "<source bridge=\"br1\"/>",
            ]
        );
        assert!(out.contains(
            "    <interface type=\"bridge\">\n      <source bridge=\"br0\"/>\n      <model type=\"virtio\"/>\n    </interface>\n"
        ));
    }

    #[test]
    fn check_reports_identical_round_trips() {
        let double = temp_file("double.xml", "<domain type=\"kvm\">\n  <name>a</name>\n</domain>\n");
        let single = temp_file("single.xml", "<domain type='kvm'>\n  <name>b</name>\n</domain>\n");
        let broken = temp_file("broken.xml", "<domain><name>c</nam></domain>");
        let (code, out, _) = run_str(&["check", double.to_str().unwrap(), single.to_str().unwrap()]);
        assert_eq!(code, 0);
        let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["identical"], json!(true));
        let single_identical = Domain::parse(&std::fs::read_to_string(&single).unwrap()).unwrap().to_xml().unwrap()
            == std::fs::read_to_string(&single).unwrap();
        assert_eq!(lines[1]["identical"], json!(single_identical));
        assert_eq!(lines[1]["lossless"], json!(true));
        assert_eq!(lines[2]["identical"], json!(1 + usize::from(single_identical)));
        assert_eq!(lines[2]["files"], json!(2));
        let (code, out, _) = run_str(&["check", broken.to_str().unwrap()]);
        assert_eq!(code, 1);
        assert!(out.contains("\"identical\":false"), "{out}");
    }

    #[test]
    fn xml_files_walks_directories_sorted() {
        let dir = std::env::temp_dir().join(format!("domain_xml-walk-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for f in ["b.xml", "a.txt", "sub/a.xml"] {
            std::fs::write(dir.join(f), "<domain/>").unwrap();
        }
        assert_eq!(xml_files(&dir), [dir.join("b.xml"), dir.join("sub/a.xml")]);
        assert!(xml_files(&dir.join("missing")).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn usage_errors_exit_2_and_help_prints_usage() {
        let (code, out, err) = run_str(&["--help"]);
        assert_eq!((code, err.as_str()), (0, ""));
        assert!(out.contains("Usage: domain_xml <COMMAND>") && out.contains("check") && out.contains("edit"), "{out}");
        let (code, out, _) = run_str(&["edit", "--help"]);
        assert_eq!(code, 0);
        assert!(out.contains("--add-bridge-nic <BRIDGE>") && out.contains("--memory <SIZE>"), "{out}");
        for (args, message) in [
            (&[][..], "Usage: domain_xml <COMMAND>"), // clap prints the help, on stderr, status 2
            (&["frobnicate"][..], "unrecognized subcommand 'frobnicate'"),
            (&["check"][..], "the following required arguments were not provided"),
            (&["edit"][..], "the following required arguments were not provided"),
            (&["edit", "a.xml", "b.xml"][..], "unexpected argument 'b.xml'"),
            (&["edit", "a.xml", "--memory", "3 parsecs"][..], "invalid value '3 parsecs' for '--memory <SIZE>'"),
            (&["edit", "a.xml", "--memory"][..], "a value is required for '--memory <SIZE>'"),
            (&["edit", "a.xml", "--vcpus", "0"][..], "invalid value '0' for '--vcpus <N>'"),
            (&["edit", "a.xml", "--add-bridge-nic="][..], "invalid value '' for '--add-bridge-nic <BRIDGE>'"),
            (&["edit", "a.xml", "--color"][..], "unexpected argument '--color'"),
        ] {
            let (code, out, err) = run_str(args);
            assert_eq!(code, 2, "{args:?}");
            assert!(out.is_empty());
            assert!(err.contains(message), "{args:?}: {err}");
            assert!(err.contains("Usage: domain_xml") || err.contains("try '--help'"), "{err}");
        }
    }

    #[test]
    fn unreadable_or_invalid_documents_exit_1() {
        let (code, _, err) = run_str(&["edit", "/nonexistent/vm.xml", "--vcpus", "2"]);
        assert_eq!(code, 1);
        assert!(err.starts_with("domain_xml: /nonexistent/vm.xml: "), "{err}");
        let bad = temp_file("bad-vcpu.xml", "<domain><vcpu>many</vcpu></domain>");
        let (code, _, err) = run_str(&["edit", bad.to_str().unwrap(), "--vcpus", "2"]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("invalid value \"many\" at /domain/vcpu"), "{err}");
        let not_xml = temp_file("not-xml.xml", "<domain>");
        assert_eq!(run_str(&["edit", not_xml.to_str().unwrap()]).0, 1);
        assert!(parse_args(&["edit".into(), "x".into(), "--memory".into(), "512MiB".into()]).is_ok());
        assert_eq!(
            parse_args(&["edit".into(), "x".into(), "--memory=512MiB".into()]).unwrap(),
            Command::Edit {
                file: "x".into(),
                edits: Edits { memory: Some(Memory::new(512, MemoryUnit::MiB)), ..Edits::default() }
            }
        );
    }
}
