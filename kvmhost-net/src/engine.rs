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
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::diff::{diff, touched, Desired};
use crate::model::HostNetwork;
use crate::netlink::NetlinkKernel;
use crate::netns::Netns;
use crate::ovs::{self, OvsdbSession, Snapshot};
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

/// Knobs of an apply.
///
/// ```
/// let o = kvmhost_net::ApplyOptions::default();
/// assert!(o.verify && o.rollback);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// Read the state back after the last step and require the plan to be empty.
    pub verify: bool,
    /// Restore the prior state when a step or the verification fails.
    pub rollback: bool,
    /// Fault injection for tests: fail before executing the step with this index (0-based), as if
    /// the kernel had refused it. With an OVS section, the index after the last step fails the
    /// verification (both sides changed, both rolled back).
    pub fail_before_step: Option<usize>,
}

impl ApplyOptions {
    /// Fault injection: fail before step `index` (0-based).
    ///
    /// ```
    /// assert_eq!(kvmhost_net::ApplyOptions::default().fail_before(3).fail_before_step, Some(3));
    /// ```
    pub fn fail_before(mut self, index: usize) -> Self {
        self.fail_before_step = Some(index);
        self
    }
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self { verify: true, rollback: true, fail_before_step: None }
    }
}

/// What an apply did.
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

fn run_plan(kernel: &mut dyn Kernel, plan: &Plan, fail_before: Option<usize>) -> Result<(), (usize, Error)> {
    for (i, p) in plan.steps.iter().enumerate() {
        if fail_before == Some(i) {
            return Err((
                i,
                Error::Kernel { context: p.step.to_string(), errno: 0, message: "injected failure (test)".into() },
            ));
        }
        kernel.execute(&p.step).map_err(|e| (i, e))?;
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
        if let Err(e) = kernel.execute(&p.step) {
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
    let failure = match run_plan(kernel, &plan, opts.fail_before_step) {
        Err((index, e)) => Some((index, e)),
        Ok(()) if !opts.verify => None,
        Ok(()) => match kernel.read_state().and_then(|s| Ok((diff(desired, &s)?, s))) {
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
    ovsdb: Option<&mut OvsdbSession>,
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
        plan.ovs = Some(ovs::plan(cfg, ovsdb).map_err(Error::Ovs)?);
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
#[derive(Debug, Clone, Default)]
pub struct Engine {
    netns: Netns,
    ovsdb: Option<PathBuf>,
}

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
        self.ovsdb.as_deref().map(|p| OvsdbSession::connect(p).map_err(Error::Ovs)).transpose()
    }

    /// The Open vSwitch configuration OVSDB holds now (`None` when no socket is set).
    ///
    /// ```no_run
    /// let cfg = kvmhost_net::Engine::default().with_ovsdb("/tmp/db.sock").read_ovs().unwrap();
    /// ```
    pub fn read_ovs(&self) -> Result<Option<ovs::OvsConfig>, Error> {
        match self.connect_ovsdb()? {
            None => Ok(None),
            Some(mut s) => Ok(Some(s.capture().map_err(Error::Ovs)?.config())),
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
        plan_with_ovsdb(&mut self.connect()?, db.as_mut(), net)
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
        apply_with_ovsdb(&mut self.connect()?, db.as_mut(), net, opts)
    }

    /// Remove what `net` creates: its links and, with an OVSDB socket, the bridges of its `ovs`
    /// section ([`teardown_with_ovsdb`]).
    ///
    /// ```no_run
    /// kvmhost_net::Engine::default().teardown(&kvmhost_net::HostNetwork::new()).unwrap();
    /// ```
    pub fn teardown(&self, net: &HostNetwork) -> Result<ApplyReport, Error> {
        let mut db = self.connect_ovsdb()?;
        teardown_with_ovsdb(&mut self.connect()?, db.as_mut(), net, &ApplyOptions::default())
    }
}
