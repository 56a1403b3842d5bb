//! libvirt's CPU model questions answered in pure Rust (`kvmhost_core::cpu`).
//!
//! ```sh
//! cargo run --release --example cpu -- compare --cpu-map DIR HOST.xml GUEST.xml
//! cargo run --release --example cpu -- baseline --cpu-map DIR [--expand-features] [--migratable] FILE...
//! cargo run --release --example cpu -- decode --cpu-map DIR CPUDATA.xml
//! cargo run --release --example cpu -- host [--cpu-map DIR]
//! ```
//!
//! `compare` prints IDENTICAL, SUPERSET, INCOMPATIBLE or ERROR (then the reason); `baseline`
//! prints the baseline `<cpu>` (each FILE holds one `<cpu>`, or a `<cpuTest>`, capabilities or
//! any document holding several; a `<cpu>` with `<arch>` is a host CPU, one without a guest CPU
//! whose disabled and forbidden features stay out, as `virsh hypervisor-cpu-baseline` reads
//! them); `decode` prints the host `<cpu>` libvirt would report for
//! raw CPUID data; `host` decodes this machine's `cpuid`. Errors exit with status 1.

use kvmhost::core::cpu::{self, CompareResult, CpuDef, CpuMap};
use kvmhost::core::xml::{Document, Element};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: cpu compare --cpu-map DIR HOST.xml GUEST.xml\n       \
                     cpu baseline --cpu-map DIR [--expand-features] [--migratable] FILE...\n       \
                     cpu decode --cpu-map DIR CPUDATA.xml\n       cpu host [--cpu-map DIR]";

struct Args {
    map_dir: PathBuf,
    expand: bool,
    migratable: bool,
    files: Vec<PathBuf>,
}

fn parse_args(rest: &[String]) -> Result<Args, String> {
    let mut a = Args { map_dir: CpuMap::default_path(), expand: false, migratable: false, files: vec![] };
    let mut it = rest.iter();
    while let Some(x) = it.next() {
        match x.as_str() {
            "--cpu-map" => a.map_dir = it.next().ok_or("--cpu-map needs a directory")?.into(),
            "--expand-features" => a.expand = true,
            "--migratable" => a.migratable = true,
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            f => a.files.push(f.into()),
        }
    }
    Ok(a)
}

fn read(path: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Every `<cpu>` in a document (the root itself, or all descendants not inside another `<cpu>`).
fn cpus_in(el: &Element, out: &mut Vec<CpuDef>) -> Result<(), String> {
    if el.name == "cpu" {
        out.push(CpuDef::from_element(el).map_err(|e| e.to_string())?);
        return Ok(());
    }
    for c in el.elements() {
        cpus_in(c, out)?;
    }
    Ok(())
}

fn load_cpus(path: &PathBuf) -> Result<Vec<CpuDef>, String> {
    let doc = Document::parse(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    cpus_in(&doc.root, &mut out)?;
    if out.is_empty() {
        return Err(format!("{}: no <cpu> element", path.display()));
    }
    Ok(out)
}

fn load_map(a: &Args) -> Result<CpuMap, String> {
    CpuMap::load(&a.map_dir).map_err(|e| e.to_string())
}

fn run(cmd: &str, a: &Args) -> Result<String, String> {
    match cmd {
        "compare" => {
            let [host, guest] = a.files.as_slice() else { return Err(USAGE.into()) };
            let map = load_map(a)?;
            let host = load_cpus(host)?.remove(0);
            let guest = load_cpus(guest)?.remove(0);
            Ok(match cpu::compare_defs(&map, &host, &guest) {
                Ok(CompareResult::Identical) => "IDENTICAL\n".into(),
                Ok(CompareResult::Superset) => "SUPERSET\n".into(),
                Ok(CompareResult::Incompatible { reason, features }) if features.is_empty() => {
                    format!("INCOMPATIBLE\n{reason}\n")
                }
                Ok(CompareResult::Incompatible { reason, features }) => {
                    format!("INCOMPATIBLE\n{reason}: {}\n", features.join(", "))
                }
                Err(e) => format!("ERROR\n{e}\n"),
            })
        }
        "baseline" => {
            if a.files.is_empty() {
                return Err(USAGE.into());
            }
            let map = load_map(a)?;
            let mut cpus = Vec::new();
            for f in &a.files {
                cpus.extend(load_cpus(f)?);
            }
            let opts = cpu::BaselineOptions::new().expand_features(a.expand).migratable(a.migratable);
            let b = cpu::baseline(&map, &cpus, &opts).map_err(|e| e.to_string())?;
            Ok(b.to_xml())
        }
        "decode" => {
            let [file] = a.files.as_slice() else { return Err(USAGE.into()) };
            let map = load_map(a)?;
            let data = cpu::CpuidData::parse_cpudata(&read(file)?).map_err(|e| e.to_string())?;
            Ok(cpu::decode_host(&map, &data).map_err(|e| e.to_string())?.to_xml())
        }
        "host" => {
            let map = load_map(a)?;
            let data = cpu::host_cpuid().map_err(|e| e.to_string())?;
            Ok(cpu::decode_host(&map, &data).map_err(|e| e.to_string())?.to_xml())
        }
        _ => Err(USAGE.into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let result = parse_args(rest).and_then(|a| run(cmd, &a));
    match result {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
