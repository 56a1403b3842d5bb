//! The engine's view of a backend: capture, plan, execute, verify, restore.

use super::{ApplyOptions, ApplyReport, RollbackReport};
use crate::model::HostNetwork;
use crate::plan::{BackendKind, Plan, PlannedStep};
use crate::Error;

/// What an apply asks of a backend: the state a [`HostNetwork`] describes, or that state's
/// devices removed.
///
/// ```
/// assert_ne!(kvmhost_net::engine::Goal::Apply, kvmhost_net::engine::Goal::Teardown);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Reach what the model declares.
    Apply,
    /// Remove what the model creates.
    Teardown,
}

/// One backend as the engine runs it ([`super::apply_on`]): the netlink backend
/// ([`NetlinkBackend`](super::NetlinkBackend), over any [`Kernel`](super::Kernel)) and the OVSDB
/// backend ([`OvsdbBackend`](crate::ovs::OvsdbBackend)). The engine calls, in order:
/// [`capture`](Backend::capture) on every backend before anything is written, then per
/// backend [`plan`](Backend::plan) and [`execute`](Backend::execute), then
/// [`verify`](Backend::verify) on each; on any failure [`restore`](Backend::restore) on every
/// backend in reverse order and [`check_restored`](Backend::check_restored) on each. Tests
/// inject faults with a backend that wraps a real one.
///
/// ```
/// use kvmhost_net::engine::{Backend, Goal, NetlinkBackend};
/// use kvmhost_net::{HostNetwork, Kernel, NetState, Step, Error, BackendKind};
/// struct Empty;
/// impl Kernel for Empty {
///     fn read_state(&mut self) -> Result<NetState, Error> { Ok(NetState::default()) }
///     fn execute(&mut self, _: &Step) -> Result<(), Error> { Ok(()) }
///     fn writes(&self) -> u64 { 0 }
/// }
/// let mut k = Empty;
/// let mut b = NetlinkBackend::new(&mut k);
/// let net = HostNetwork::from_yaml("taps: [{name: t0}]").unwrap();
/// b.capture(&net).unwrap();
/// assert_eq!(b.kind(), BackendKind::Netlink);
/// let plan = b.plan(&net, Goal::Apply, false).unwrap();
/// assert_eq!(plan.steps[0].step, Step::CreateTap { name: "t0".into() });
/// ```
pub trait Backend {
    /// Which backend this is (the tag of its steps).
    fn kind(&self) -> BackendKind;

    /// Read the current state and keep it as the state a rollback restores. Called on every
    /// backend before any backend writes.
    fn capture(&mut self, net: &HostNetwork) -> Result<(), Error>;

    /// The steps from the current state to what `goal` asks of `net` (`net` is validated).
    /// `settle`: an earlier backend has just written; first wait for the devices its steps
    /// make or remove to show up here.
    fn plan(&mut self, net: &HostNetwork, goal: Goal, settle: bool) -> Result<Plan, Error>;

    /// Execute `steps` (all of this backend's kind) in order; on failure, the index within
    /// `steps` of the step that failed.
    fn execute(&mut self, steps: &[PlannedStep], options: &ApplyOptions) -> Result<(), (usize, Error)>;

    /// Read back: nothing must be left to do for `goal`. `settle`: a later backend wrote after
    /// this one; wait for the devices it makes or removes first.
    fn verify(&mut self, net: &HostNetwork, goal: Goal, settle: bool) -> Result<(), Error>;

    /// Put back the state captured; what was done, and every error, goes into `report`.
    fn restore(&mut self, net: &HostNetwork, report: &mut RollbackReport);

    /// After every backend restored: whether this one is back at the captured state (waiting
    /// for what the other backends' restores remove). Errors go into `report`.
    fn check_restored(&mut self, net: &HostNetwork, report: &mut RollbackReport) -> bool;

    /// Writes performed so far (netlink requests, OVSDB transactions that wrote).
    fn writes(&self) -> u64;

    /// Add what only this backend knows to the report of a successful apply (the netlink
    /// backend: the state read back; the OVSDB backend: its transactions).
    fn report(&mut self, report: &mut ApplyReport) -> Result<(), Error> {
        let _ = report;
        Ok(())
    }
}
