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

use clap::{Parser, Subcommand};
use kvmhost::core::cpu::{self, CompareResult, CpuDef, CpuMap};
use kvmhost::core::xml::{Document, Element};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// libvirt's CPU model questions (compare, baseline, decode) answered in pure Rust.
#[derive(Parser)]
#[command(name = "cpu", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where libvirt's CPU map is (`cpu_map/` with `index.xml`).
#[derive(clap::Args)]
struct MapArgs {
    /// Directory of libvirt's CPU map (default: libvirt's installed one).
    #[arg(long = "cpu-map", value_name = "DIR", default_value_os_t = CpuMap::default_path())]
    map_dir: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Compare a guest CPU with a host CPU: IDENTICAL, SUPERSET, INCOMPATIBLE or ERROR.
    Compare {
        #[command(flatten)]
        map: MapArgs,
        /// The host `<cpu>` (or capabilities).
        host: PathBuf,
        /// The guest `<cpu>`.
        guest: PathBuf,
    },
    /// The baseline `<cpu>` of every `<cpu>` in the FILEs.
    Baseline {
        #[command(flatten)]
        map: MapArgs,
        /// List every feature of the model (`--features` of virsh).
        #[arg(long)]
        expand_features: bool,
        /// Leave out features that block migration.
        #[arg(long)]
        migratable: bool,
        /// Documents holding `<cpu>` elements.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The host `<cpu>` libvirt would report for raw CPUID data.
    Decode {
        #[command(flatten)]
        map: MapArgs,
        /// A `cpuid` dump in libvirt's cputest format.
        cpudata: PathBuf,
    },
    /// This machine's CPU, decoded from `cpuid`.
    Host {
        #[command(flatten)]
        map: MapArgs,
    },
}

fn read(path: &Path) -> Result<String, String> {
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

fn load_cpus(path: &Path) -> Result<Vec<CpuDef>, String> {
    let doc = Document::parse(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    cpus_in(&doc.root, &mut out)?;
    if out.is_empty() {
        return Err(format!("{}: no <cpu> element", path.display()));
    }
    Ok(out)
}

fn load_map(a: &MapArgs) -> Result<CpuMap, String> {
    CpuMap::load(&a.map_dir).map_err(|e| e.to_string())
}

fn run(command: &Command) -> Result<String, String> {
    match command {
        Command::Compare { map, host, guest } => {
            let map = load_map(map)?;
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
        Command::Baseline { map, expand_features, migratable, files } => {
            let map = load_map(map)?;
            let mut cpus = Vec::new();
            for f in files {
                cpus.extend(load_cpus(f)?);
            }
            let opts = cpu::BaselineOptions::new().expand_features(*expand_features).migratable(*migratable);
            let b = cpu::baseline(&map, &cpus, &opts).map_err(|e| e.to_string())?;
            Ok(b.to_xml())
        }
        Command::Decode { map, cpudata } => {
            let map = load_map(map)?;
            let data = cpu::CpuidData::parse_cpudata(&read(cpudata)?).map_err(|e| e.to_string())?;
            Ok(cpu::decode_host(&map, &data).map_err(|e| e.to_string())?.to_xml())
        }
        Command::Host { map } => {
            let map = load_map(map)?;
            let data = cpu::host_cpuid().map_err(|e| e.to_string())?;
            Ok(cpu::decode_host(&map, &data).map_err(|e| e.to_string())?.to_xml())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli.command) {
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
