//! The CloudStack KVM host guide as one program: preflight, libvirt's configuration, the host
//! network layout, firewall rules, a report; dry run by default, every step undone by
//! `--rollback`.
//!
//! ```text
//! cargo run --example host_setup -- [--root DIR] [--netns NAME|PATH] [--ovsdb unix:PATH]
//!     [--backend linux|ovs] [--datapath system|netdev] [--uplink IF] [--address CIDR]
//!     [--gateway IP] [--mgmt-vlan 100 --public-vlan 200 --private-vlan 300]
//!     [--vnc-listen ADDR] [--firewall auto|iptables|none] [--persist networkd|interfaces|ifcfg]
//!     [--skip-network] [--strict]
//!     [--state DIR] [--json] [--apply | --rollback]
//! ```
//!
//! 1. **Preflight**: kvmhost-core's `cloudstack` profile on the host under `--root` (informs;
//!    `--strict` stops before any change when a check fails).
//! 2. **libvirt configuration**: `listen_tls = 0`, `listen_tcp = 1`, `tcp_port = "16509"`,
//!    `auth_tcp = "none"`, `mdns_adv = 0` in libvirtd.conf, `vnc_listen` in qemu.conf,
//!    libvirt's AppArmor profiles disabled, SELinux permissive — kvmhost-core's editors: only the
//!    lines concerned change, atomic writes, backups `NAME.kvmhost-bak`.
//! 3. **Network**: kvmhost-net's CloudStack layout on `--uplink` (Linux bridges `cloudbr0`/
//!    `cloudbr1` on VLAN devices, or Open vSwitch `br0` with fake bridges `mgmt0`, `cloudbr0`,
//!    `cloudbr1`), planned and applied by its `Engine` in `--netns` (verified; the engine rolls
//!    back its own failures). The address and gateway default to the uplink's. `--persist`
//!    also writes it as networkd, ifupdown or ifcfg files under the root.
//! 4. **Firewall**: the guide's ports (22, 1798, 16509, 16514, 5900-6100, 49152-49216 TCP) in
//!    an iptables chain of their own, in `--netns`.
//! 5. **Report**: text, or JSON with `--json`.
//!
//! Without `--apply` nothing is changed: the diffs, the network plan and the firewall commands
//! are printed. With `--apply` the run's record (original files, prior network state, firewall
//! rules) is kept in the state directory (default `ROOT/var/lib/kvmhost/host-setup`) before each
//! step; a failing step undoes the steps before it; `--rollback` undoes the last run.
//!
//! Exit status: 0 done, 1 failed (the report says why), 2 bad arguments.

mod cmd;
#[path = "../common/error_chain.rs"]
mod error_chain;
mod files;
mod firewall;
mod libvirt_conf;
mod network;
mod persist;
mod preflight;
mod report;
mod rollback;
mod setup;
mod state;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kvmhost::net::IpCidr;

use crate::cmd::Target;
use crate::firewall::FirewallChoice;
use crate::network::Backend;
use crate::state::StateDir;

/// The CloudStack KVM host guide as one program: preflight, libvirt configuration, host network,
/// firewall, report. Dry run unless --apply; --rollback undoes the last run.
#[derive(Parser, Debug)]
#[command(name = "host_setup", version)]
pub struct Cli {
    /// The host's files are under DIR (a mounted image, a test tree).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// The network namespace (a name under /run/netns, or a path); default: the current one.
    #[arg(long, value_name = "NAME|PATH")]
    pub netns: Option<String>,
    /// The ovsdb-server socket (needed by --backend ovs).
    #[arg(long, value_name = "unix:PATH")]
    pub ovsdb: Option<String>,
    /// Where the run's record is kept [default: ROOT/var/lib/kvmhost/host-setup].
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Bridges: linux (bridges on 802.1Q devices) or ovs (Open vSwitch).
    #[arg(long, value_enum, default_value = "linux")]
    pub backend: Backend,
    /// Open vSwitch datapath: system (kernel) or netdev (userspace).
    #[arg(long, default_value = "system", value_parser = ["system", "netdev"])]
    pub datapath: String,
    /// The physical interface carrying the VLANs.
    #[arg(long, value_name = "IF", default_value = "eth0")]
    pub uplink: String,
    /// The management address with its prefix [default: the uplink's IPv4 address].
    #[arg(long, value_name = "CIDR")]
    pub address: Option<IpCidr>,
    /// The default gateway [default: the uplink's default route].
    #[arg(long, value_name = "IP")]
    pub gateway: Option<IpAddr>,
    /// Management VLAN.
    #[arg(long, default_value_t = 100)]
    pub mgmt_vlan: u16,
    /// Public guest traffic VLAN (bridge cloudbr0).
    #[arg(long, default_value_t = 200)]
    pub public_vlan: u16,
    /// Private guest traffic VLAN (bridge cloudbr1).
    #[arg(long, default_value_t = 300)]
    pub private_vlan: u16,
    /// The address VNC consoles listen on (qemu.conf vnc_listen).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
    pub vnc_listen: String,
    /// The firewall tool.
    #[arg(long, value_enum, default_value = "auto")]
    pub firewall: FirewallChoice,
    /// Also write the layout as persistent configuration under the root (survives a reboot).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub persist: Option<persist::Persist>,
    /// Leave the network alone.
    #[arg(long, conflicts_with = "persist")]
    pub skip_network: bool,
    /// Stop before changing anything when a preflight check fails.
    #[arg(long)]
    pub strict: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Apply (without it: a dry run that changes nothing).
    #[arg(long, conflicts_with = "rollback")]
    pub apply: bool,
    /// Undo the last applied run recorded in the state directory (in the namespace and with the
    /// ovsdb-server that run used).
    #[arg(long)]
    pub rollback: bool,
}

impl Cli {
    /// The state directory.
    pub fn state_dir(&self) -> StateDir {
        StateDir::new(self.state.clone().unwrap_or_else(|| self.root.join("var/lib/kvmhost/host-setup")))
    }

    /// The namespace.
    pub fn target(&self) -> Target {
        Target::from_arg(self.netns.as_deref())
    }

    /// The ovsdb socket as kvmhost-net takes it.
    pub fn ovsdb(&self) -> Option<String> {
        self.ovsdb.as_ref().map(|d| if d.starts_with("unix:") { d.clone() } else { format!("unix:{d}") })
    }
}

/// Logs to stderr as `RUST_LOG` asks (`RUST_LOG=info` shows each step, the libraries' too).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(colour).with_writer(std::io::stderr).init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    if cli.backend == Backend::Ovs && cli.ovsdb.is_none() && !cli.skip_network && !cli.rollback {
        eprintln!("error: --backend ovs needs --ovsdb unix:PATH (the ovsdb-server's socket)");
        return ExitCode::from(2);
    }
    let outcome = if cli.rollback { rollback::run(&cli) } else { setup::run(&cli) };
    if cli.json {
        println!("{}", outcome.json());
    } else {
        print!("{}", outcome.text());
    }
    if outcome.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
