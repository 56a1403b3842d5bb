//! A tour of kvmhost on libvirt's embedded `test:///default` driver (no daemon): a preflight
//! summary of this host, a domain built, defined and started while its events are watched, the
//! domain packed as a VMCast template, and a clone instantiated from the template and started.
//! Progress bars on a terminal, plain lines otherwise.
//!
//! ```text
//! cargo run --release --example quickstart
//! cargo run --release --example quickstart -- --libvirt qemu:///system --keep
//! RUST_LOG=debug cargo run --release --example quickstart     # and what kvmhost does, on stderr
//! ```

#[path = "common/progress_bar.rs"]
mod progress_bar;

use std::io::{IsTerminal, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use kvmhost::core::domain::{Display, DomainBuilder};
use kvmhost::core::preflight::{Gatherer, ProfileName, Status};
use kvmhost::libvirt::events::{self, DomainEvents};
use kvmhost::libvirt::Connection;
use kvmhost::templates::archive;
use kvmhost::templates::instantiate::{instantiate, InstantiateOptions};
use kvmhost::templates::{PackRequest, ReadOptions};
use progress_bar::Bar;

/// A tour of kvmhost: preflight, a domain and its events, a VMCast template, a clone.
#[derive(Parser)]
#[command(name = "quickstart", version)]
struct Args {
    /// The libvirt connection (default: the embedded test driver, no daemon).
    #[arg(long = "libvirt", default_value = "test:///default")]
    uri: String,
    /// Working directory for the disk image, the template and the clone (default: a new
    /// temporary directory, removed at the end unless --keep).
    #[arg(long)]
    work: Option<PathBuf>,
    /// Keep the working directory and leave the domains defined.
    #[arg(long)]
    keep: bool,
}

type Error = Box<dyn std::error::Error>;

/// Logs to stderr when `RUST_LOG` asks for it.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let colour = std::io::stderr().is_terminal();
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(colour).with_writer(std::io::stderr).init();
}

fn step(n: u32, title: &str) {
    println!("\n[{n}] {title}");
}

/// Prints every event that arrives within `wait` (libvirt delivers them on its event loop).
fn show_events(rt: &tokio::runtime::Runtime, events: &mut DomainEvents, wait: Duration) -> usize {
    let mut seen = 0;
    while let Some(ev) = rt.block_on(events.recv_timeout(wait)) {
        println!("   event: {:<18} {}", ev.domain, ev.kind.name());
        seen += 1;
    }
    seen
}

/// A sparse disk image of 256 MiB holding 8 MiB of data in four places (half of each piece
/// random, half a repeated pattern: something for zstd to do).
fn make_disk(path: &Path) -> Result<(), Error> {
    let f = std::fs::File::create(path)?;
    f.set_len(256 << 20)?;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let block: Vec<u8> = (0..2u32 << 20)
        .map(|i| {
            if i < 1 << 20 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            } else {
                (i % 251) as u8
            }
        })
        .collect();
    for k in 0..4u64 {
        f.write_all_at(&block, k * (64 << 20))?;
    }
    f.sync_all()?;
    Ok(())
}

fn main() -> Result<(), Error> {
    let args = Args::parse();
    init_logging();
    let mut temp = None;
    let work = match &args.work {
        Some(w) => {
            std::fs::create_dir_all(w)?;
            w.clone()
        }
        None => {
            let dir = tempfile::Builder::new().prefix("kvmhost-quickstart-").tempdir()?;
            let path = dir.path().to_path_buf();
            temp = Some(dir);
            path
        }
    };
    println!("kvmhost quickstart on {} (working in {})", args.uri, work.display());

    step(1, "Preflight: can this host run KVM guests? (libvirt profile)");
    let report = ProfileName::Libvirt.profile().run(&Gatherer::new("/").gather());
    for c in report.checks.iter().filter(|c| c.status != Status::Pass) {
        println!("   {:<7} {:<28} {}", format!("{:?}", c.status).to_lowercase(), c.id, c.message);
    }
    let n = |s| report.count(s);
    println!(
        "   {} checks: {} pass, {} warn, {} fail, {} unknown (see `cargo run --example preflight`)",
        report.checks.len(),
        n(Status::Pass),
        n(Status::Warn),
        n(Status::Fail),
        n(Status::Unknown)
    );

    step(2, "Build a domain with DomainBuilder, define and start it, watching its events");
    let disk = work.join("quickstart.img");
    make_disk(&disk)?;
    let domain = DomainBuilder::new("kvmhost-quickstart")
        .title("kvmhost quickstart guest")
        .memory_mib(512)
        .vcpus(1)
        .disk_file(disk.display().to_string())
        .bridge("cloudbr0")
        .display(Display::Vnc { listen: "127.0.0.1".into() })
        .build()?;
    kvmhost::libvirt::event_loop::ensure_running()?;
    let conn = Connection::open(&args.uri)?;
    let mut events = events::subscribe(conn.virt())?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    let vm = conn.define(&domain)?;
    vm.start()?;
    println!("   {} is {:?}", vm.name()?, vm.state()?);
    show_events(&rt, &mut events, Duration::from_millis(300));
    vm.destroy()?;
    println!("   destroyed (a template is packed from a stopped guest)");
    show_events(&rt, &mut events, Duration::from_millis(300));

    step(3, "Pack it as a VMCast template (zstd, SHA-256 of every member, sparse disk)");
    let template = work.join("quickstart.vmcast");
    let live = vm.domain()?;
    let mut bar = Bar::new("   ", true);
    let packed = archive::pack(&PackRequest::new(&live, vec![disk.clone()]), &template, &mut |p| bar.update(p))?;
    bar.done();
    let apparent = std::fs::metadata(&disk)?.len();
    println!(
        "   {} : {} KiB for a disk of {} MiB apparent size",
        template.display(),
        packed.size >> 10,
        apparent >> 20
    );

    step(4, "Instantiate a clone from the template (new name, UUID and MACs) and start it");
    let unpacked = work.join("unpacked");
    let mut bar = Bar::new("   ", true);
    let package = archive::unpack(&template, &unpacked, &ReadOptions::default(), &mut |p| bar.update(p))?;
    bar.done();
    println!("   verified: {} disk(s), signature {:?}", package.disks.len(), package.signature);
    let instance = instantiate(&package, &work.join("clone"), &InstantiateOptions::new("kvmhost-quickstart-clone"))?;
    let clone = conn.define(&instance.domain)?;
    clone.start()?;
    println!("   {} is {:?}", clone.name()?, clone.state()?);
    println!("   its disk: {}", instance.disks.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "));
    println!("   its MACs: {}", instance.macs.join(", "));
    show_events(&rt, &mut events, Duration::from_millis(300));

    if args.keep {
        println!("\n--keep: {} and {} stay defined; files in {}", vm.name()?, clone.name()?, work.display());
        // The temporary directory would be removed on drop: keep it.
        std::mem::forget(temp.take());
    } else {
        step(5, "Clean up");
        clone.destroy()?;
        clone.undefine()?;
        vm.undefine()?;
        show_events(&rt, &mut events, Duration::from_millis(300));
    }
    println!("\ndone.");
    std::io::stdout().flush()?;
    Ok(())
}
