//! Apply with verification and rollback: validate → read → diff → execute step by step → read
//! back and diff again (must be empty) → on any failure, restore every touched link to the state
//! captured before the first write (addresses, routes, ports, up/down, MTU; links made are
//! deleted, links deleted are made again).
//!
//! With an `ovs` section and an OVSDB connection ([`Engine::with_ovsdb`]) the plan starts with
//! the Open vSwitch steps (one OVSDB transaction, verified and waited for), then the netlink
//! steps (addresses and routes onto the interfaces OVS made). A failure anywhere, or a failed
//! verification of either part, restores both: the touched links over netlink, then the exact
//! OVSDB rows captured before (see [`crate::ovs::restore`]).

use std::collections::BTreeSet;
#[cfg(all(feature = "netlink", feature = "ovsdb"))]
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::diff::{diff, touched, Desired};
use crate::model::HostNetwork;
#[cfg(all(feature = "netlink", feature = "ovsdb"))]
use crate::netlink::NetlinkKernel;
#[cfg(all(feature = "netlink", feature = "ovsdb"))]
use crate::netns::Netns;
#[cfg(feature = "ovsdb")]
use crate::ovs::OvsdbSession;
use crate::ovs::{self, Snapshot};
use crate::plan::{Plan, Step};
use crate::state::NetState;
use crate::Error;

mod combined;

use combined::prepare;
pub use combined::{apply_with_ovsdb, teardown_with_ovsdb};

/// The kernel as the engine sees it: read the state, execute one step. [`NetlinkKernel`] is
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

/// Open vSwitch as the engine sees it: capture OVSDB, apply an OVS plan (written, waited for,
/// verified; OVSDB restored by the backend itself when that fails), restore captured rows.
/// [`OvsdbSession`] is the real one; tests wrap it (fault injection) without touching the
/// engine.
///
/// ```no_run
/// use kvmhost_net::{engine::OvsBackend, ovs::OvsdbSession};
/// let mut s = OvsdbSession::connect("/var/run/openvswitch/db.sock".as_ref()).unwrap();
/// let before = OvsBackend::capture(&mut s).unwrap();
/// assert_eq!(OvsBackend::restore(&mut s, &before).unwrap(), 0);
/// ```
pub trait OvsBackend {
    /// The current bridges, ports and interfaces.
    fn capture(&mut self) -> Result<Snapshot, Error>;
    /// Apply an OVS plan computed on `prior`; on failure OVSDB is back at `prior`.
    fn apply_plan(&mut self, plan: &ovs::Plan, prior: &Snapshot, options: &ApplyOptions) -> Result<(), Error>;
    /// Put back exactly the rows of `prior`; the number of operations written.
    fn restore(&mut self, prior: &Snapshot) -> Result<usize, Error>;
    /// Transactions that wrote, so far.
    fn write_transactions(&self) -> u64;
}

#[cfg(feature = "ovsdb")]
impl OvsBackend for OvsdbSession {
    fn capture(&mut self) -> Result<Snapshot, Error> {
        OvsdbSession::capture(self)
    }
    fn apply_plan(&mut self, plan: &ovs::Plan, prior: &Snapshot, options: &ApplyOptions) -> Result<(), Error> {
        OvsdbSession::apply_plan(self, plan, prior, options).map(|_| ())
    }
    fn restore(&mut self, prior: &Snapshot) -> Result<usize, Error> {
        OvsdbSession::restore(self, prior)
    }
    fn write_transactions(&self) -> u64 {
        OvsdbSession::write_transactions(self)
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

/// Execute the netlink steps in order; one `info` event per step, carrying the iproute2 command
/// that does the same (`ip link add br0 type bridge …`) and the reason; a refused step is a
/// `warn` event.
fn run_plan(kernel: &mut dyn Kernel, plan: &Plan) -> Result<(), (usize, Error)> {
    for (i, p) in plan.steps.iter().enumerate() {
        tracing::info!(step = i + 1, iproute2 = %p.step, reason = %p.reason, "netlink step");
        if let Err(e) = kernel.execute(&p.step) {
            tracing::warn!(step = i + 1, iproute2 = %p.step, error = %e, "netlink step refused");
            return Err((i, e));
        }
    }
    Ok(())
}

/// Restore the links a plan touched to `prior` (`current`: the state the plan was run on).
fn rollback(
    kernel: &mut dyn Kernel,
    prior: &NetState,
    current: &NetState,
    plan: &Plan,
    ovs_made: &BTreeSet<String>,
) -> RollbackReport {
    let _span = tracing::info_span!("rollback").entered();
    let names = touched(plan, current);
    let mut report = RollbackReport::default();
    let desired = Desired::restore(prior, &names, ovs_made);
    let now = match kernel.read_state() {
        Ok(s) => s,
        Err(e) => {
            report.errors.push(format!("reading the state: {e}"));
            return report;
        }
    };
    report.plan = match diff(&desired, &now) {
        Ok(p) => p,
        Err(e) => {
            report.errors.push(format!("planning the rollback: {e}"));
            return report;
        }
    };
    for p in &report.plan.steps {
        tracing::info!(iproute2 = %p.step, reason = %p.reason, "rollback step");
        if let Err(e) = kernel.execute(&p.step) {
            tracing::warn!(iproute2 = %p.step, error = %e, "rollback step refused");
            report.errors.push(e.to_string());
        }
    }
    report.restored = match kernel.read_state() {
        Ok(after) => diff(&desired, &after).map(|p| p.is_empty()).unwrap_or(false),
        Err(e) => {
            report.errors.push(format!("reading the state back: {e}"));
            false
        }
    };
    report
}

fn execute_checked(
    kernel: &mut dyn Kernel,
    desired: &Desired,
    prior: NetState,
    plan: Plan,
    opts: &ApplyOptions,
) -> Result<ApplyReport, Error> {
    let start = kernel.writes();
    if plan.is_empty() {
        return Ok(ApplyReport { plan, writes: 0, ovs_writes: 0, after: prior });
    }
    let _span = tracing::info_span!("apply", steps = plan.len()).entered();
    let failure = match run_plan(kernel, &plan) {
        Err((index, e)) => Some((index, e)),
        Ok(()) if !opts.verify => None,
        Ok(()) => match tracing::info_span!("verify")
            .in_scope(|| kernel.read_state().and_then(|s| Ok((diff(desired, &s)?, s))))
        {
            Ok((rest, _)) if !rest.is_empty() => Some((plan.len(), Error::Verify { remaining: rest.to_string() })),
            Ok(_) => None,
            Err(e) => Some((plan.len(), e)),
        },
    };
    let Some((index, error)) = failure else {
        let after = kernel.read_state()?;
        return Ok(ApplyReport { plan, writes: kernel.writes() - start, ovs_writes: 0, after });
    };
    let step = plan.steps.get(index).map(|p| p.step.to_string()).unwrap_or_else(|| "verification".into());
    let rb = if opts.rollback { Some(rollback(kernel, &prior, &prior, &plan, &BTreeSet::new())) } else { None };
    Err(Error::Apply { index, step, source: Box::new(error), rollback: rb.map(Box::new) })
}

/// Apply `net` through any [`Kernel`]: validate, plan, execute, verify, roll back on failure.
/// A model with an `ovs` section needs [`apply_with_ovsdb`].
///
/// ```no_run
/// use kvmhost_net::{engine, HostNetwork, NetlinkKernel, Netns, ApplyOptions};
/// let net = HostNetwork::load("host.yaml".as_ref()).unwrap();
/// let mut k = NetlinkKernel::open(&Netns::named("blue")).unwrap();
/// let report = engine::apply(&mut k, &net, &ApplyOptions::default()).unwrap();
/// println!("{} writes", report.writes);
/// ```
pub fn apply(kernel: &mut dyn Kernel, net: &HostNetwork, opts: &ApplyOptions) -> Result<ApplyReport, Error> {
    apply_with_ovsdb(kernel, None, net, opts)
}

/// The plan `apply` would execute (validates first; nothing is written).
///
/// ```no_run
/// use kvmhost_net::{engine, HostNetwork, NetlinkKernel, Netns};
/// let mut k = NetlinkKernel::open(&Netns::Current).unwrap();
/// print!("{}", engine::plan(&mut k, &HostNetwork::new()).unwrap());
/// ```
pub fn plan(kernel: &mut dyn Kernel, net: &HostNetwork) -> Result<Plan, Error> {
    plan_with_ovsdb(kernel, None, net)
}

/// The combined plan (OVS steps first, then netlink) that [`apply_with_ovsdb`] would execute.
///
/// ```no_run
/// use kvmhost_net::{engine, ovs::OvsdbSession, HostNetwork, NetlinkKernel, Netns};
/// let mut k = NetlinkKernel::open(&Netns::Current).unwrap();
/// let mut db = OvsdbSession::connect("/var/run/openvswitch/db.sock".as_ref()).unwrap();
/// print!("{}", engine::plan_with_ovsdb(&mut k, Some(&mut db), &HostNetwork::new()).unwrap());
/// ```
pub fn plan_with_ovsdb(
    kernel: &mut dyn Kernel,
    ovsdb: Option<&mut (dyn OvsBackend + '_)>,
    net: &HostNetwork,
) -> Result<Plan, Error> {
    Ok(prepare(kernel, ovsdb, net)?.2)
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
    let mut plan = diff(&Desired::from_model(net), state)?;
    if let Some(cfg) = &net.ovs {
        plan.ovs = Some(ovs::plan(cfg, ovsdb)?);
    }
    Ok(plan)
}

/// Remove what `net` creates (bridges, VLANs, veths, taps), with the same rollback. The `ovs`
/// section is left as it is: [`teardown_with_ovsdb`] (or [`Engine::teardown`] with an OVSDB
/// socket) removes its bridges too.
///
/// ```no_run
/// use kvmhost_net::{engine, HostNetwork, NetlinkKernel, Netns, ApplyOptions};
/// let mut k = NetlinkKernel::open(&Netns::Current).unwrap();
/// engine::teardown(&mut k, &HostNetwork::new(), &ApplyOptions::default()).unwrap();
/// ```
pub fn teardown(kernel: &mut dyn Kernel, net: &HostNetwork, opts: &ApplyOptions) -> Result<ApplyReport, Error> {
    net.validate()?;
    let desired = Desired::teardown(net);
    let prior = kernel.read_state()?;
    let plan = diff(&desired, &prior)?;
    execute_checked(kernel, &desired, prior, plan, opts)
}

/// The engine bound to a namespace: each call opens a netlink connection inside it.
///
/// ```no_run
/// use kvmhost_net::{Engine, HostNetwork, Netns};
/// let engine = Engine::new(Netns::named("blue"));
/// let report = engine.apply(&HostNetwork::load("host.yaml".as_ref()).unwrap()).unwrap();
/// assert_eq!(engine.apply(&HostNetwork::load("host.yaml".as_ref()).unwrap()).unwrap().writes, 0);
/// ```
#[cfg(all(feature = "netlink", feature = "ovsdb"))]
#[derive(Debug, Clone, Default)]
pub struct Engine {
    netns: Netns,
    ovsdb: Option<PathBuf>,
}

#[cfg(all(feature = "netlink", feature = "ovsdb"))]
impl Engine {
    /// An engine working in `netns`.
    ///
    /// ```
    /// let e = kvmhost_net::Engine::new(kvmhost_net::Netns::Current);
    /// assert_eq!(e.netns().to_string(), "the current namespace");
    /// ```
    pub fn new(netns: Netns) -> Self {
        Self { netns, ovsdb: None }
    }

    /// Use the ovsdb-server at this unix socket (`unix:PATH` or `PATH`) for the `ovs` section.
    ///
    /// ```
    /// let e = kvmhost_net::Engine::default().with_ovsdb("unix:/var/run/openvswitch/db.sock");
    /// assert_eq!(e.ovsdb().unwrap().to_str(), Some("unix:/var/run/openvswitch/db.sock"));
    /// ```
    pub fn with_ovsdb(mut self, path: impl Into<PathBuf>) -> Self {
        self.ovsdb = Some(path.into());
        self
    }

    /// The OVSDB socket, when set.
    ///
    /// ```
    /// assert!(kvmhost_net::Engine::default().ovsdb().is_none());
    /// ```
    pub fn ovsdb(&self) -> Option<&std::path::Path> {
        self.ovsdb.as_deref()
    }

    /// An OVSDB connection (`None` when no socket is set).
    ///
    /// ```no_run
    /// let s = kvmhost_net::Engine::default().with_ovsdb("/tmp/db.sock").connect_ovsdb().unwrap();
    /// assert!(s.is_some());
    /// ```
    pub fn connect_ovsdb(&self) -> Result<Option<OvsdbSession>, Error> {
        self.ovsdb.as_deref().map(OvsdbSession::connect).transpose()
    }

    /// The Open vSwitch configuration OVSDB holds now (`None` when no socket is set).
    ///
    /// ```no_run
    /// let cfg = kvmhost_net::Engine::default().with_ovsdb("/tmp/db.sock").read_ovs().unwrap();
    /// ```
    pub fn read_ovs(&self) -> Result<Option<ovs::OvsConfig>, Error> {
        match self.connect_ovsdb()? {
            None => Ok(None),
            Some(mut s) => Ok(Some(s.capture()?.config())),
        }
    }

    /// The namespace.
    ///
    /// ```
    /// assert!(matches!(kvmhost_net::Engine::default().netns(), kvmhost_net::Netns::Current));
    /// ```
    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// A netlink connection inside the namespace.
    ///
    /// ```no_run
    /// let k = kvmhost_net::Engine::default().connect().unwrap();
    /// ```
    pub fn connect(&self) -> Result<NetlinkKernel, Error> {
        NetlinkKernel::open(&self.netns)
    }

    /// The namespace's current state.
    ///
    /// ```no_run
    /// println!("{}", kvmhost_net::Engine::default().read_state().unwrap().to_yaml());
    /// ```
    pub fn read_state(&self) -> Result<NetState, Error> {
        use crate::Kernel as _;
        self.connect()?.read_state()
    }

    /// The plan that `apply` would execute.
    ///
    /// ```no_run
    /// print!("{}", kvmhost_net::Engine::default().plan(&kvmhost_net::HostNetwork::new()).unwrap());
    /// ```
    pub fn plan(&self, net: &HostNetwork) -> Result<Plan, Error> {
        let mut db = self.connect_ovsdb()?;
        plan_with_ovsdb(&mut self.connect()?, db.as_mut().map(|d| d as &mut dyn OvsBackend), net)
    }

    /// Apply with verification and rollback.
    ///
    /// ```no_run
    /// kvmhost_net::Engine::default().apply(&kvmhost_net::HostNetwork::new()).unwrap();
    /// ```
    pub fn apply(&self, net: &HostNetwork) -> Result<ApplyReport, Error> {
        self.apply_with(net, &ApplyOptions::default())
    }

    /// Apply with options.
    ///
    /// ```no_run
    /// let o = kvmhost_net::ApplyOptions::default();
    /// kvmhost_net::Engine::default().apply_with(&kvmhost_net::HostNetwork::new(), &o).unwrap();
    /// ```
    pub fn apply_with(&self, net: &HostNetwork, opts: &ApplyOptions) -> Result<ApplyReport, Error> {
        let mut db = self.connect_ovsdb()?;
        apply_with_ovsdb(&mut self.connect()?, db.as_mut().map(|d| d as &mut dyn OvsBackend), net, opts)
    }

    /// Remove what `net` creates: its links and, with an OVSDB socket, the bridges of its `ovs`
    /// section ([`teardown_with_ovsdb`]).
    ///
    /// ```no_run
    /// kvmhost_net::Engine::default().teardown(&kvmhost_net::HostNetwork::new()).unwrap();
    /// ```
    pub fn teardown(&self, net: &HostNetwork) -> Result<ApplyReport, Error> {
        let mut db = self.connect_ovsdb()?;
        let db = db.as_mut().map(|d| d as &mut dyn OvsBackend);
        teardown_with_ovsdb(&mut self.connect()?, db, net, &ApplyOptions::default())
    }
}
