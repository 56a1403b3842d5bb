//! The one engine: validate → capture every backend → plan → execute backend by backend →
//! read back (every backend's plan must be empty) → on any failure, restore every backend to
//! the state captured before the first write.
//!
//! Two backends implement [`Backend`]: [`NetlinkBackend`] (links, addresses, routes and bridge
//! VLANs over any [`Kernel`]; its rollback restores every touched link — addresses, routes,
//! ports, up/down, MTU; links made are deleted, links deleted are made again) and
//! [`OvsdbBackend`](crate::ovs::OvsdbBackend) (Open vSwitch over OVSDB; its rollback puts back
//! the exact rows). With an `ovs` section the plan starts with the Open vSwitch steps (one
//! OVSDB transaction, verified and waited for), then the netlink steps (addresses and routes
//! onto the interfaces OVS made, planned again once they exist). A failure anywhere, or a
//! failed verification of either part, restores both. [`Engine`] wires both to a namespace
//! and an OVSDB socket; [`apply_on`] runs any list of backends (a test can wrap one to inject
//! faults).
//!
//! The engine is blocking and owns no runtime: it may be called from inside an async runtime
//! (each call is a few short netlink and OVSDB exchanges; from a busy executor prefer
//! `spawn_blocking`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::diff::{diff, Desired};
use crate::model::HostNetwork;
use crate::ovs::{self, Snapshot};
use crate::plan::{Plan, Step};
use crate::state::NetState;
use crate::Error;

mod backend;
#[cfg(all(feature = "netlink", feature = "ovsdb"))]
mod checkpoint;
#[cfg(all(feature = "netlink", feature = "ovsdb"))]
mod facade;
mod netlink_backend;
pub(crate) mod run;
mod with_execute;

pub use backend::{Backend, Goal};
#[cfg(all(feature = "netlink", feature = "ovsdb"))]
pub use checkpoint::{checkpoint_state, Checkpoint, CheckpointOptions, CheckpointState};
#[cfg(all(feature = "netlink", feature = "ovsdb"))]
pub use facade::Engine;
pub use netlink_backend::NetlinkBackend;
pub use with_execute::WithExecute;

/// The kernel as the engine sees it: read the state, execute one step. [`NetlinkKernel`](crate::NetlinkKernel) is
/// the real one; tests of the pure engine may use any other.
///
/// ```no_run
/// use kvmhost_net::{Kernel, NetlinkKernel, Netns};
/// let mut k = NetlinkKernel::open(&Netns::Current).unwrap();
/// assert_eq!(k.writes(), 0);
/// ```
pub trait Kernel {
    /// The current state.
    fn read_state(&mut self) -> Result<NetState, Error>;
    /// Perform one step (one write).
    fn execute(&mut self, step: &Step) -> Result<(), Error>;
    /// Writes performed so far (successful or not).
    fn writes(&self) -> u64;
}

/// How the Open vSwitch steps are written.
///
/// ```
/// assert_eq!(kvmhost_net::ApplyOptions::default().ovs_mode, kvmhost_net::ApplyMode::Atomic);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplyMode {
    /// All OVS steps in one transaction: OVSDB applies all or nothing.
    Atomic,
    /// One transaction per OVS step (each visible to ovs-vswitchd on its own); a failure at
    /// step *k* rolls back steps 1..*k* from the snapshot.
    Stepwise,
}

/// Knobs of an apply, for both backends (netlink and OVSDB).
///
/// ```
/// use std::time::Duration;
/// use kvmhost_net::{ApplyMode, ApplyOptions};
/// let o = ApplyOptions::default();
/// assert!(o.verify && o.rollback);
/// assert_eq!(o.ovs_wait, Some(Duration::from_secs(30)));
/// let o = o.with_ovs_mode(ApplyMode::Stepwise).with_ovs_wait(None);
/// assert!(o.ovs_wait.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// Read the state back after the last step and require the plan to be empty.
    pub verify: bool,
    /// Restore the prior state when a step or the verification fails.
    pub rollback: bool,
    /// Atomic or step by step, for the Open vSwitch steps.
    #[serde(default = "atomic")]
    pub ovs_mode: ApplyMode,
    /// After writing to OVSDB, wait up to this long until ovs-vswitchd has applied the
    /// configuration (`cur_cfg` reaches the `next_cfg` written, as `ovs-vsctl` does without
    /// `--no-wait`) and check the `error` column of the interfaces added; `None` for no wait
    /// (like `--no-wait`).
    #[serde(default = "thirty_seconds")]
    pub ovs_wait: Option<Duration>,
}

fn atomic() -> ApplyMode {
    ApplyMode::Atomic
}

fn thirty_seconds() -> Option<Duration> {
    Some(Duration::from_secs(30))
}

impl ApplyOptions {
    /// With this way of writing the OVS steps.
    pub fn with_ovs_mode(mut self, mode: ApplyMode) -> Self {
        self.ovs_mode = mode;
        self
    }

    /// With this wait for ovs-vswitchd (`None`: none).
    pub fn with_ovs_wait(mut self, wait: Option<Duration>) -> Self {
        self.ovs_wait = wait;
        self
    }
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self { verify: true, rollback: true, ovs_mode: ApplyMode::Atomic, ovs_wait: thirty_seconds() }
    }
}

/// What an apply did (through the engine, or [`ovs::apply`] alone).
///
/// ```
/// let r = kvmhost_net::ApplyReport::default();
/// assert_eq!(r.writes, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApplyReport {
    /// The plan executed.
    pub plan: Plan,
    /// Writes performed: netlink requests plus OVSDB write transactions (0 when the namespace
    /// and OVSDB already were as wanted).
    pub writes: u64,
    /// Of `writes`, the OVSDB transactions that wrote.
    #[serde(default)]
    pub ovs_writes: u64,
    /// The state read back after applying.
    pub after: NetState,
}

/// How a rollback went.
///
/// ```
/// let r = kvmhost_net::RollbackReport::default();
/// assert!(r.errors.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RollbackReport {
    /// The restoring plan.
    pub plan: Plan,
    /// Errors of restoring steps (the rollback goes on past them).
    pub errors: Vec<String>,
    /// Whether the touched links (and OVSDB, when it was changed) are as they were before (read
    /// back and compared).
    pub restored: bool,
    /// OVSDB operations written to restore the captured rows; `None` when OVSDB was not part
    /// of the rollback.
    #[serde(default)]
    pub ovs_operations: Option<usize>,
}

/// Apply `net` through any list of backends, in order (Open vSwitch before netlink): validate,
/// capture all, plan and execute each, verify all, restore all on failure. Applying the same
/// model again performs zero writes.
///
/// ```no_run
/// use kvmhost_net::engine::{self, Backend, NetlinkBackend};
/// use kvmhost_net::{ApplyOptions, HostNetwork, NetlinkKernel, Netns};
/// let mut k = NetlinkKernel::open(&Netns::named("blue")).unwrap();
/// let mut netlink = NetlinkBackend::new(&mut k);
/// let net = HostNetwork::load("host.yaml".as_ref()).unwrap();
/// let report = engine::apply_on(&mut [&mut netlink as &mut dyn Backend], &net, &ApplyOptions::default()).unwrap();
/// println!("{} writes", report.writes);
/// ```
pub fn apply_on(
    backends: &mut [&mut dyn Backend],
    net: &HostNetwork,
    opts: &ApplyOptions,
) -> Result<ApplyReport, Error> {
    run::run(backends, net, Goal::Apply, opts)
}

/// The plan [`apply_on`] would execute with these backends (validates first; nothing is
/// written).
///
/// ```no_run
/// use kvmhost_net::engine::{self, Backend, NetlinkBackend};
/// use kvmhost_net::{HostNetwork, NetlinkKernel, Netns};
/// let mut k = NetlinkKernel::open(&Netns::Current).unwrap();
/// let mut netlink = NetlinkBackend::new(&mut k);
/// print!("{}", engine::plan_on(&mut [&mut netlink as &mut dyn Backend], &HostNetwork::new()).unwrap());
/// ```
pub fn plan_on(backends: &mut [&mut dyn Backend], net: &HostNetwork) -> Result<Plan, Error> {
    run::plan(backends, net, Goal::Apply)
}

/// Remove what `net` creates through these backends (in reverse order: the links go before
/// the Open vSwitch bridges), with the same verification and rollback. Bridges OVSDB holds
/// that `net` does not declare are left alone; tearing down again performs zero writes.
///
/// ```no_run
/// use kvmhost_net::engine::{self, Backend, NetlinkBackend};
/// use kvmhost_net::{ApplyOptions, HostNetwork, NetlinkKernel, Netns};
/// let mut k = NetlinkKernel::open(&Netns::Current).unwrap();
/// let mut netlink = NetlinkBackend::new(&mut k);
/// engine::teardown_on(&mut [&mut netlink as &mut dyn Backend], &HostNetwork::new(), &ApplyOptions::default()).unwrap();
/// ```
pub fn teardown_on(
    backends: &mut [&mut dyn Backend],
    net: &HostNetwork,
    opts: &ApplyOptions,
) -> Result<ApplyReport, Error> {
    run::run(backends, net, Goal::Teardown, opts)
}

/// Apply `net` through any [`Kernel`] (the netlink backend alone). A model with an `ovs`
/// section needs an OVSDB backend too ([`apply_on`], or [`Engine::with_ovsdb`]).
///
/// ```no_run
/// use kvmhost_net::{engine, HostNetwork, NetlinkKernel, Netns, ApplyOptions};
/// let net = HostNetwork::load("host.yaml".as_ref()).unwrap();
/// let mut k = NetlinkKernel::open(&Netns::named("blue")).unwrap();
/// let report = engine::apply(&mut k, &net, &ApplyOptions::default()).unwrap();
/// println!("{} writes", report.writes);
/// ```
pub fn apply(kernel: &mut dyn Kernel, net: &HostNetwork, opts: &ApplyOptions) -> Result<ApplyReport, Error> {
    apply_on(&mut [&mut NetlinkBackend::new(kernel)], net, opts)
}

/// The plan [`apply`] would execute (validates first; nothing is written).
///
/// ```no_run
/// use kvmhost_net::{engine, HostNetwork, NetlinkKernel, Netns};
/// let mut k = NetlinkKernel::open(&Netns::Current).unwrap();
/// print!("{}", engine::plan(&mut k, &HostNetwork::new()).unwrap());
/// ```
pub fn plan(kernel: &mut dyn Kernel, net: &HostNetwork) -> Result<Plan, Error> {
    plan_on(&mut [&mut NetlinkBackend::new(kernel)], net)
}

/// Remove the links `net` creates (bridges, VLANs, bonds, veths, taps) through any [`Kernel`],
/// with the same rollback. The `ovs` section is left as it is ([`teardown_on`] with an OVSDB
/// backend, or [`Engine::teardown`] with a socket, removes its bridges too).
///
/// ```no_run
/// use kvmhost_net::{engine, HostNetwork, NetlinkKernel, Netns, ApplyOptions};
/// let mut k = NetlinkKernel::open(&Netns::Current).unwrap();
/// engine::teardown(&mut k, &HostNetwork::new(), &ApplyOptions::default()).unwrap();
/// ```
pub fn teardown(kernel: &mut dyn Kernel, net: &HostNetwork, opts: &ApplyOptions) -> Result<ApplyReport, Error> {
    teardown_on(&mut [&mut NetlinkBackend::new(kernel)], net, opts)
}

/// The plan that puts the links back as `prior` had them, from `now` (pure): every link of
/// `prior` with its addresses, routes, controller, MTU and up state (made again when gone, a
/// bond with its settings), and links only in `now` deleted — adding before deleting, like
/// every rollback. [`Engine::restore`] executes it.
///
/// ```
/// use kvmhost_net::{engine, LinkKind, LinkState, NetState};
/// let mut now = NetState::default();
/// now.links.insert("br9".into(), LinkState::new("br9", LinkKind::Bridge { stp: false, forward_delay_cs: 0, vlan_filtering: false }));
/// let plan = engine::plan_restore(&NetState::default(), &now).unwrap();
/// assert_eq!(plan.to_string().lines().next(), Some("1. ip link del br9"));
/// ```
pub fn plan_restore(prior: &NetState, now: &NetState) -> Result<Plan, Error> {
    let names: std::collections::BTreeSet<String> =
        prior.links.keys().chain(now.links.keys()).filter(|n| n.as_str() != "lo").cloned().collect();
    diff(&Desired::restore(prior, &names, &Default::default()), now)
}

/// The plan between a model and a given state, without any kernel (pure). An `ovs` section is
/// planned against an empty OVSDB.
///
/// ```
/// use kvmhost_net::{engine, HostNetwork, NetState};
/// let net = HostNetwork::from_yaml("bridges: [{name: br0}]").unwrap();
/// let p = engine::plan_against(&net, &NetState::default()).unwrap();
/// assert!(p.to_string().contains("ip link add br0"));
/// ```
pub fn plan_against(net: &HostNetwork, state: &NetState) -> Result<Plan, Error> {
    plan_against_ovs(net, state, &Snapshot::synthetic(&ovs::OvsConfig::new()))
}

/// The plan between a model and given states of the namespace and of OVSDB (pure).
///
/// ```
/// use kvmhost_net::{engine, ovs::{OvsConfig, Snapshot}, HostNetwork, NetState};
/// let net = HostNetwork::from_yaml("ovs: {bridges: [{name: br0}]}").unwrap();
/// let p = engine::plan_against_ovs(&net, &NetState::default(), &Snapshot::synthetic(&OvsConfig::new())).unwrap();
/// assert_eq!(p.ovs_len(), 1);
/// ```
pub fn plan_against_ovs(net: &HostNetwork, state: &NetState, ovsdb: &Snapshot) -> Result<Plan, Error> {
    net.validate()?;
    let mut plan = match &net.ovs {
        Some(cfg) => ovs::plan(cfg, ovsdb)?,
        None => Plan::default(),
    };
    plan.steps.extend(diff(&Desired::from_model(net), state)?.steps);
    Ok(plan)
}
