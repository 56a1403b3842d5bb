//! Declarative host networking from the command line.
//!
//! ```text
//! cargo run --example host_network -- [--netns NAME|PATH] [--ovsdb unix:PATH] COMMAND
//!   show                                   current state as YAML
//!   plan FILE                              the steps (nothing applied)
//!   apply FILE                             apply, verify, roll back on failure
//!   render --format networkd|interfaces|ifcfg FILE
//!   cloudstack --uplink IF --backend linux|ovs --mgmt-vlan N --public-vlan N --private-vlan N
//!              --address CIDR --gateway IP [--naming cloudbr|pif-vlan] [--vlans-as-veths]
//!              [--datapath system|netdev] [--plan|--apply]
//! ```
//! `--vlans-as-veths` is for kernels without 802.1Q (tests, demos): veths of the same names stand
//! in for the VLAN devices (through the workspace's test-support crate, not kvmhost's API).
//! FILE is YAML, JSON (`.json`) or TOML (`.toml`). Exit status: 0 done, 1 failed, 2 usage.
//!
//! With `--ovsdb unix:PATH` the Open vSwitch part (the `ovs` section, `--backend ovs`) goes
//! through that ovsdb-server: `show` adds the OVS configuration, `plan` lists the OVS steps first,
//! `apply` applies both with one verification and one rollback. The netlink part works in
//! `--netns`, which must be the namespace ovs-vswitchd runs in when the model puts addresses on
//! OVS interfaces.

use std::error::Error as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use std::process::ExitCode;

use kvmhost_net::cloudstack::{BridgeNaming, CloudStackLinux};
use kvmhost_net::ovs::DatapathType;
use kvmhost_net::render::{render, to_text, Format};
use kvmhost_net::{Engine, Error, HostNetwork, IpCidr, Netns};

/// Declarative host networking: show, plan, apply (verified, rolled back on failure), render.
#[derive(Parser)]
#[command(name = "host_network", version)]
struct Cli {
    /// The network namespace to work in: a name under /run/netns or a path.
    #[arg(long, value_name = "NAME|PATH")]
    netns: Option<String>,
    /// The ovsdb-server for the Open vSwitch part.
    #[arg(long, value_name = "unix:PATH")]
    ovsdb: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The current state as YAML.
    Show,
    /// The steps that would bring the host to FILE (nothing applied).
    Plan {
        /// The host network: YAML, JSON (.json) or TOML (.toml).
        file: PathBuf,
    },
    /// Apply FILE, verify, roll back on failure.
    Apply {
        /// The host network: YAML, JSON (.json) or TOML (.toml).
        file: PathBuf,
    },
    /// Render FILE as persistent configuration.
    Render {
        /// networkd, interfaces or ifcfg.
        #[arg(long)]
        format: Format,
        /// The host network: YAML, JSON (.json) or TOML (.toml).
        file: PathBuf,
    },
    /// CloudStack's bridge layout for an uplink and three VLANs.
    Cloudstack(CloudStackArgs),
}

#[derive(clap::Args)]
struct CloudStackArgs {
    /// The physical interface carrying the VLANs.
    #[arg(long)]
    uplink: String,
    /// linux (bridges and 802.1Q devices) or ovs.
    #[arg(long, default_value = "linux", value_parser = ["linux", "ovs"])]
    backend: String,
    #[arg(long)]
    mgmt_vlan: u16,
    #[arg(long)]
    public_vlan: u16,
    #[arg(long)]
    private_vlan: u16,
    /// The management address, with its prefix length.
    #[arg(long, value_name = "CIDR")]
    address: IpCidr,
    #[arg(long, value_name = "IP")]
    gateway: IpAddr,
    /// Bridge names: cloudbr (cloudbr0, cloudbr1) or pif-vlan (breth0-100).
    #[arg(long, default_value = "cloudbr", value_parser = ["cloudbr", "pif-vlan"])]
    naming: String,
    /// For kernels without 802.1Q only (tests, demos): veths of the same names stand in for the
    /// VLAN devices, so the layout applies but carries no VLAN tags. Linux backend only.
    #[arg(long, conflicts_with = "datapath")]
    vlans_as_veths: bool,
    /// Open vSwitch datapath: system (kernel) or netdev (userspace).
    #[arg(long, value_parser = ["system", "netdev"])]
    datapath: Option<String>,
    /// Print the plan.
    #[arg(long, conflicts_with = "apply")]
    plan: bool,
    /// Apply the layout.
    #[arg(long)]
    apply: bool,
}

fn report(e: &Error) -> ExitCode {
    eprintln!("error: {e}");
    let mut src = e.source();
    while let Some(s) = src {
        eprintln!("  caused by: {s}");
        src = s.source();
    }
    if let Error::Apply { rollback: Some(rb), .. } = e {
        eprintln!("rollback plan:\n{}", rb.plan);
        if let Some(n) = rb.ovs_operations {
            eprintln!("OVSDB: {n} operations restored the rows captured before");
        }
    }
    ExitCode::from(1)
}

fn load(path: &Path) -> Result<HostNetwork, ExitCode> {
    HostNetwork::load(path).map_err(|e| report(&e))
}

fn plan_or_apply(engine: &Engine, net: &HostNetwork, apply: bool) -> ExitCode {
    if !apply {
        return match engine.plan(net) {
            Ok(p) => {
                print!("{p}");
                ExitCode::SUCCESS
            }
            Err(e) => report(&e),
        };
    }
    match engine.apply(net) {
        Ok(r) => {
            print!("{}", r.plan);
            println!("applied and verified: {} writes ({} OVSDB transactions)", r.writes, r.ovs_writes);
            ExitCode::SUCCESS
        }
        Err(e) => report(&e),
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let netns = match cli.netns {
        None => Netns::Current,
        Some(p) if p.contains('/') => Netns::Path(PathBuf::from(p)),
        Some(n) => Netns::named(&n),
    };
    let mut engine = Engine::new(netns);
    if let Some(db) = cli.ovsdb {
        if !db.starts_with("unix:") && !db.starts_with('/') {
            return Err(format!("--ovsdb {db}: unix:PATH"));
        }
        engine = engine.with_ovsdb(db);
    }
    Ok(match cli.command {
        Command::Show => match engine.read_state().and_then(|s| Ok((s, engine.read_ovs()?))) {
            Ok((s, ovs)) => {
                print!("{}", s.to_yaml());
                if let Some(cfg) = ovs {
                    let yaml = cfg.to_yaml();
                    print!("ovs:\n{}", yaml.lines().map(|l| format!("  {l}\n")).collect::<String>());
                }
                ExitCode::SUCCESS
            }
            Err(e) => report(&e),
        },
        Command::Plan { file } => match load(&file) {
            Ok(net) => plan_or_apply(&engine, &net, false),
            Err(code) => code,
        },
        Command::Apply { file } => match load(&file) {
            Ok(net) => plan_or_apply(&engine, &net, true),
            Err(code) => code,
        },
        Command::Render { format, file } => match load(&file) {
            Ok(net) => match net.validate() {
                Ok(()) => {
                    print!("{}", to_text(&render(&net, format)));
                    ExitCode::SUCCESS
                }
                Err(errs) => report(&errs.into()),
            },
            Err(code) => code,
        },
        Command::Cloudstack(a) => {
            let mut layout =
                CloudStackLinux::new(&a.uplink, a.mgmt_vlan, a.public_vlan, a.private_vlan, a.address, a.gateway);
            if a.naming == "pif-vlan" {
                layout = layout.naming(BridgeNaming::PifVlan);
            }
            let datapath = match a.datapath.as_deref() {
                Some("netdev") => DatapathType::Netdev,
                _ => DatapathType::System,
            };
            let mut net = match a.backend.as_str() {
                "ovs" if a.vlans_as_veths => return Err("--vlans-as-veths is for --backend linux".into()),
                "ovs" => layout.build_ovs(datapath),
                _ => layout.build(),
            };
            if a.vlans_as_veths {
                // For kernels without 802.1Q (tests, demos): veths stand in for the VLAN devices.
                // The helper is the workspace's test support (a dev-dependency), not kvmhost API.
                net = kvmhost_testdata::net::vlans_as_veths(&net);
            }
            if a.plan || a.apply {
                plan_or_apply(&engine, &net, a.apply)
            } else {
                match net.validate() {
                    Ok(()) => {
                        print!("{}", net.to_yaml());
                        ExitCode::SUCCESS
                    }
                    Err(errs) => report(&errs.into()),
                }
            }
        }
    })
}

fn main() -> ExitCode {
    // The library only emits: spans apply / verify / rollback, an event per step with its
    // iproute2 or ovs-vsctl equivalent. RUST_LOG picks what is shown (`RUST_LOG=kvmhost_net=info`).
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    run(Cli::parse()).unwrap_or_else(|msg| {
        eprintln!("error: {msg}");
        ExitCode::from(2)
    })
}
