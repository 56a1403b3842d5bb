//! The main demo: build a KVM guest with [`DomainBuilder`], define and start it on libvirt's
//! embedded `test:///default` driver (no daemon needed), and print its XML and state.
//!
//! ```text
//! cargo run --release --example demo [-- LIBVIRT_URI]
//! RUST_LOG=debug cargo run --release --example demo     # and what kvmhost does, on stderr
//! ```

use clap::Parser;
use kvmhost::core::domain::{Display, Domain, DomainBuilder};
use kvmhost::libvirt::Connection;

/// Logs to stderr when `RUST_LOG` asks for it (`RUST_LOG=debug` shows each step); errors are
/// printed by the program itself.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(colour).with_writer(std::io::stderr).init();
}

/// The main demo: build a KVM guest, define and start it on libvirt, print its XML and state.
#[derive(Parser)]
#[command(name = "demo", version)]
struct Args {
    /// The libvirt connection (default: the embedded test driver, no daemon).
    #[arg(default_value = "test:///default")]
    uri: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let uri = Args::parse().uri;
    init_logging();
    let domain = DomainBuilder::new("kvmhost-demo")
        .title("kvmhost demo guest")
        .memory_mib(1024)
        .vcpus(2)
        .disk_file("/var/lib/libvirt/images/kvmhost-demo.qcow2")
        .bridge("cloudbr0")
        .display(Display::Vnc { listen: "127.0.0.1".into() })
        .build()?;

    println!("== domain built by kvmhost-core (validated against libvirt's schema in the tests) ==");
    print!("{}", domain.to_xml_pretty()?);

    let conn = Connection::open(&uri)?;
    let vm = conn.define(&domain)?;
    println!("\n== defined on {} ==", conn.uri());
    println!("state after define: {:?}", vm.state()?);
    vm.start()?;
    println!("state after start:  {:?}", vm.state()?);

    let live: Domain = vm.domain()?;
    let def = live.def()?;
    let devices = def.devices.unwrap_or_default();
    println!(
        "libvirt's live view: name={:?} uuid={:?} memory={:?} KiB, {} disk(s), {} NIC(s), {} controller(s)",
        def.name.unwrap_or_default(),
        def.uuid.unwrap_or_default(),
        def.memory.and_then(|m| m.kib()).unwrap_or(0),
        devices.disks.len(),
        devices.interfaces.len(),
        devices.controllers.len(),
    );
    let coverage = live.coverage();
    println!(
        "typed model covers {}/{} elements of libvirt's live XML ({:.0}%)",
        coverage.typed,
        coverage.elements,
        coverage.fraction() * 100.0
    );

    vm.destroy()?;
    println!("state after destroy: {:?}", vm.state()?);
    vm.undefine()?;
    println!("undefined; done.");
    Ok(())
}
