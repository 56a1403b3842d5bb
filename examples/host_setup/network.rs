//! The host network layout: kvmhost-net's CloudStack layouts (Linux bridges on 802.1Q devices,
//! or Open vSwitch with VLAN fake bridges) planned and applied by its `Engine` in the target
//! namespace; undone by the engine's teardown of the same layout, then the uplink's addresses
//! and routes put back as the recorded prior state had them, and the result compared with it.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use kvmhost::net::cloudstack::CloudStackLinux;
use kvmhost::net::ovs::DatapathType;
use kvmhost::net::{Engine, HostNetwork, IpCidr, NetState, Plan};
use serde::{Deserialize, Serialize};

use crate::cmd::Target;

/// Linux bridges or Open vSwitch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Linux bridges `cloudbr0`/`cloudbr1` on 802.1Q devices of the uplink (the guide's default).
    Linux,
    /// Open vSwitch: `br0` on the uplink, fake bridges `mgmt0`, `cloudbr0`, `cloudbr1`.
    Ovs,
}

/// The layout's parameters.
#[derive(Debug, Clone)]
pub struct NetOptions {
    /// The backend.
    pub backend: Backend,
    /// The physical uplink.
    pub uplink: String,
    /// Management, public and private VLANs.
    pub vlans: (u16, u16, u16),
    /// The management address (default: the uplink's IPv4 address).
    pub address: Option<IpCidr>,
    /// The default gateway (default: the uplink's default route).
    pub gateway: Option<IpAddr>,
    /// Open vSwitch datapath.
    pub datapath: DatapathType,
}

/// The engine for the target namespace (and ovsdb-server, when given).
pub fn engine(target: &Target, ovsdb: Option<&str>) -> Engine {
    let e = Engine::new(target.netns());
    match ovsdb {
        Some(db) => e.with_ovsdb(db),
        None => e,
    }
}

/// The layout, its address and gateway found on the host when not given (on the uplink, or on
/// the management interface of a layout applied before).
pub fn layout(opts: &NetOptions, state: &NetState) -> Result<HostNetwork, String> {
    let mgmt_names = [opts.uplink.clone(), "mgmt0".to_string(), format!("{}.{}", opts.uplink, opts.vlans.0)];
    if state.link(&opts.uplink).is_none() {
        return Err(format!("the uplink {} does not exist in the namespace", opts.uplink));
    }
    let address = match opts.address {
        Some(a) => a,
        None => mgmt_names
            .iter()
            .filter_map(|n| state.link(n))
            .flat_map(|l| l.addresses.iter())
            .find(|a| !a.is_ipv6())
            .copied()
            .ok_or_else(|| format!("{} has no IPv4 address: give --address", opts.uplink))?,
    };
    let gateway = match opts.gateway {
        Some(g) => g,
        None => state
            .routes
            .iter()
            .find(|r| r.destination.is_default() && !r.destination.is_ipv6() && mgmt_names.contains(&r.device))
            .and_then(|r| r.gateway)
            .ok_or_else(|| format!("no default route through {}: give --gateway", opts.uplink))?,
    };
    let (m, p, q) = opts.vlans;
    let l = CloudStackLinux::new(&opts.uplink, m, p, q, address, gateway);
    let net = match opts.backend {
        Backend::Linux => l.build(),
        Backend::Ovs => l.build_ovs(opts.datapath),
    };
    net.validate().map_err(|e| e.to_string())?;
    Ok(net)
}

/// The devices and Open vSwitch bridges the layout makes (its uplinks are the host's own).
pub fn made_names(net: &HostNetwork) -> Vec<String> {
    let mut names: Vec<String> = net.bridges.iter().map(|b| b.name.clone()).collect();
    names.extend(net.vlans.iter().map(|v| v.name.clone()));
    names.extend(net.ovs_interfaces.iter().map(|i| i.name.clone()));
    names.extend(net.ovs.iter().flat_map(|o| o.bridges.iter().map(|b| b.name.clone())));
    names.sort();
    names.dedup();
    names
}

/// The layout's devices or bridges that exist already: a rollback (the layout's teardown) would
/// remove them although this run did not make them.
pub fn present_already(net: &HostNetwork, state: &NetState, ovs_bridges: &[String]) -> Vec<String> {
    made_names(net).into_iter().filter(|n| state.link(n).is_some() || ovs_bridges.contains(n)).collect()
}

/// The step's plan (nothing applied).
pub fn plan(engine: &Engine, net: &HostNetwork) -> Result<Plan, String> {
    engine.plan(net).map_err(|e| error_text(&e))
}

/// An engine error with its causes, and the engine's own rollback when it made one.
pub fn error_text(e: &kvmhost::net::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s = format!("{s}: {c}");
        src = c.source();
    }
    if let kvmhost::net::Error::Apply { rollback: Some(rb), .. } = e {
        s.push_str(&format!(" (the engine rolled back: restored={})", rb.restored));
    }
    s
}

/// What the network step changed, to undo it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// The backend.
    pub backend: Backend,
    /// The layout applied (its teardown removes what it made).
    pub net: HostNetwork,
    /// The namespace before.
    pub prior: NetState,
    /// Open vSwitch bridges that existed before (`ovs-vsctl list-br`).
    pub ovs_bridges_before: Vec<String>,
}

/// The bridges ovsdb-server knows (`ovs-vsctl list-br`).
pub fn ovs_bridges(ovsdb: Option<&str>) -> Vec<String> {
    let Some(db) = ovsdb else { return Vec::new() };
    let db = if db.starts_with("unix:") { db.to_string() } else { format!("unix:{db}") };
    Target::Current
        .run("ovs-vsctl", &[&format!("--db={db}"), "--timeout=20", "list-br"])
        .map(|out| out.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Applies the layout (verified by the engine, which rolls back its own failures).
pub fn apply(engine: &Engine, net: &HostNetwork) -> Result<(u64, Plan), String> {
    let r = engine.apply(net).map_err(|e| error_text(&e))?;
    tracing::info!(writes = r.writes, ovs_writes = r.ovs_writes, "network layout applied");
    Ok((r.writes, r.plan))
}

/// The state with interface indexes zeroed (devices made again get new ones).
pub fn comparable(s: &NetState) -> NetState {
    let mut s = s.clone();
    for l in s.links.values_mut() {
        l.index = 0;
    }
    s
}

/// How the network came back.
#[derive(Debug, Clone, Serialize)]
pub struct NetRollback {
    /// The teardown's plan.
    pub teardown: String,
    /// The restore plan run to put links, addresses and routes back, as `ip` commands.
    pub commands: Vec<String>,
    /// Whether the namespace equals the recorded prior state.
    pub restored: bool,
}

/// Undoes the network step.
pub fn rollback(engine: &Engine, rec: &NetworkRecord) -> Result<NetRollback, String> {
    let down = engine.teardown(&rec.net).map_err(|e| error_text(&e))?;
    tracing::info!(writes = down.writes, "network layout torn down");
    // ovs-vswitchd removes the devices of deleted ports after the OVSDB change: wait for them.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now = engine.read_state().map_err(|e| error_text(&e))?;
    while now.links.keys().any(|n| !rec.prior.links.contains_key(n)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        now = engine.read_state().map_err(|e| error_text(&e))?;
    }
    // Links, addresses and routes back as recorded (kvmhost-net's restore plan: what is not in
    // the record goes, the rest is put back, adding before deleting).
    let back = engine.restore(&rec.prior).map_err(|e| error_text(&e))?;
    let commands: Vec<String> = back.plan.steps.iter().map(|p| p.step.command()).collect();
    let after = engine.read_state().map_err(|e| error_text(&e))?;
    let restored = comparable(&after) == comparable(&rec.prior);
    if !restored {
        tracing::warn!(
            before = %rec.prior.to_yaml(),
            after = %after.to_yaml(),
            "the namespace differs from the state recorded before the run"
        );
    }
    Ok(NetRollback { teardown: down.plan.to_string(), commands, restored })
}
