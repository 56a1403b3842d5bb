//! The OVSDB backend of the engine: Open vSwitch bridges, ports and fake bridges.

use std::collections::BTreeSet;

use super::apply::{restore, write_and_verify};
use super::model::OvsConfig;
use super::plan::plan;
use super::state::Snapshot;
use super::step::OvsStep;
use crate::engine::{ApplyOptions, ApplyReport, Backend, Goal, RollbackReport};
use crate::model::HostNetwork;
use crate::ovsdb::Client;
use crate::plan::{BackendKind, Plan, PlannedStep, Step};
use crate::Error;

/// The Open vSwitch side of the engine, over one OVSDB connection. It handles a model's `ovs`
/// section (a model without one leaves OVSDB untouched); its steps are written as one
/// transaction ([`ApplyMode::Atomic`](crate::ApplyMode::Atomic)) or one per step, waited for
/// (ovs-vswitchd applied them) and read back in the same transaction as the wait; its
/// rollback puts back exactly the captured rows, UUIDs included.
///
/// ```no_run
/// use kvmhost_net::engine::{self, Backend, NetlinkBackend};
/// use kvmhost_net::ovs::{OvsdbBackend, OvsdbSession};
/// use kvmhost_net::{ApplyOptions, HostNetwork, NetlinkKernel, Netns};
/// let net = HostNetwork::load("host-ovs.yaml".as_ref()).unwrap();
/// let mut db = OvsdbSession::connect("/var/run/openvswitch/db.sock".as_ref()).unwrap();
/// let mut k = NetlinkKernel::open(&Netns::Current).unwrap();
/// let (mut ovs, mut netlink) = (db.backend(), NetlinkBackend::new(&mut k));
/// let backends: &mut [&mut dyn Backend] = &mut [&mut ovs, &mut netlink];
/// let report = engine::apply_on(backends, &net, &ApplyOptions::default()).unwrap();
/// println!("{} writes ({} OVSDB transactions)", report.writes, report.ovs_writes);
/// ```
pub struct OvsdbBackend<'a> {
    client: &'a mut Client,
    /// The rows captured before any write (`None` when the model has no `ovs` section).
    prior: Option<Snapshot>,
    /// OVSDB as the last plan saw it, when read again after `prior`.
    current: Option<Snapshot>,
    /// What the last plan aimed at.
    desired: Option<OvsConfig>,
    /// Write transactions when captured.
    start: u64,
}

impl std::fmt::Debug for OvsdbBackend<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OvsdbBackend").field("stats", &self.client.stats()).finish_non_exhaustive()
    }
}

impl<'a> OvsdbBackend<'a> {
    /// The OVSDB backend over `client`.
    ///
    /// ```no_run
    /// let mut c = kvmhost_net::ovsdb::Client::connect("/tmp/db.sock").unwrap();
    /// let b = kvmhost_net::ovs::OvsdbBackend::new(&mut c);
    /// ```
    pub fn new(client: &'a mut Client) -> Self {
        let start = client.stats().write_transactions;
        Self { client, prior: None, current: None, desired: None, start }
    }

    /// The snapshot a rollback restores (after [`Backend::capture`]).
    ///
    /// ```no_run
    /// # let mut c = kvmhost_net::ovsdb::Client::connect("/tmp/db.sock").unwrap();
    /// assert!(kvmhost_net::ovs::OvsdbBackend::new(&mut c).captured().is_none());
    /// ```
    pub fn captured(&self) -> Option<&Snapshot> {
        self.prior.as_ref()
    }
}

/// What OVSDB keeps when `net`'s bridges go: every other bridge as it is.
fn without_declared(net: &HostNetwork, now: &Snapshot) -> OvsConfig {
    let declared: BTreeSet<&str> = net.ovs.iter().flat_map(|c| &c.bridges).map(|b| b.name.as_str()).collect();
    let mut keep = now.config().pruning(true);
    keep.bridges.retain(|b| !declared.contains(b.name.as_str()));
    keep
}

impl Backend for OvsdbBackend<'_> {
    fn kind(&self) -> BackendKind {
        BackendKind::Ovsdb
    }

    fn capture(&mut self, net: &HostNetwork) -> Result<(), Error> {
        self.current = None;
        self.start = self.client.stats().write_transactions;
        self.prior = match net.ovs {
            Some(_) => Some(Snapshot::capture(self.client)?),
            None => None,
        };
        Ok(())
    }

    fn plan(&mut self, net: &HostNetwork, goal: Goal, settle: bool) -> Result<Plan, Error> {
        let Some(prior) = &self.prior else { return Ok(Plan::default()) };
        if settle {
            self.current = Some(Snapshot::capture(self.client)?);
        }
        let now = self.current.as_ref().unwrap_or(prior);
        let desired = match (goal, &net.ovs) {
            (Goal::Apply, Some(cfg)) => cfg.clone(),
            (Goal::Teardown, Some(_)) => without_declared(net, now),
            (_, None) => return Ok(Plan::default()),
        };
        let plan = plan(&desired, now)?;
        self.desired = Some(desired);
        Ok(plan)
    }

    fn execute(&mut self, steps: &[PlannedStep], options: &ApplyOptions) -> Result<(), (usize, Error)> {
        let changes: Vec<&OvsStep> = steps
            .iter()
            .filter_map(|p| match &p.step {
                Step::Ovs { change } => Some(change),
                _ => None,
            })
            .collect();
        let (Some(desired), false) = (&self.desired, changes.is_empty()) else { return Ok(()) };
        for (i, s) in changes.iter().enumerate() {
            tracing::info!(step = i + 1, ovs_vsctl = %s.vsctl(), "OVS step");
        }
        write_and_verify(self.client, &changes, desired, options).map(|_| ()).map_err(|e| {
            tracing::warn!(error = %e, "OVS transaction refused");
            let index = match &e {
                Error::StepFailed { index, .. } => *index,
                // ovs-vswitchd or the read-back refused the transaction as a whole.
                _ => changes.len() - 1,
            };
            (index, e)
        })
    }

    /// Verified already: the read-back ran in the transaction that waited for ovs-vswitchd,
    /// and the netlink steps of the engine do not write to OVSDB.
    fn verify(&mut self, _net: &HostNetwork, _goal: Goal, _settle: bool) -> Result<(), Error> {
        Ok(())
    }

    fn restore(&mut self, _net: &HostNetwork, report: &mut RollbackReport) {
        let Some(prior) = &self.prior else { return };
        let _span = tracing::info_span!("rollback", backend = "ovsdb").entered();
        match restore(self.client, prior) {
            Ok(n) => report.ovs_operations = Some(n),
            Err(e) => report.errors.push(format!("restoring OVSDB: {e}")),
        }
    }

    /// `restore` read OVSDB back and compared it with the snapshot.
    fn check_restored(&mut self, _net: &HostNetwork, report: &mut RollbackReport) -> bool {
        self.prior.is_none() || !report.errors.iter().any(|e| e.starts_with("restoring OVSDB"))
    }

    fn writes(&self) -> u64 {
        self.client.stats().write_transactions
    }

    fn report(&mut self, report: &mut ApplyReport) -> Result<(), Error> {
        report.ovs_writes = self.client.stats().write_transactions - self.start;
        Ok(())
    }
}

/// Reads the current state, plans and applies it through the engine with the OVSDB backend
/// alone: validate → snapshot → plan → write → wait for ovs-vswitchd → verify → (on failure)
/// roll back to the snapshot. Applying the same configuration again makes no transaction that
/// writes.
///
/// ```no_run
/// # fn demo() -> Result<(), kvmhost_net::Error> {
/// use kvmhost_net::ovs::{apply, CloudStackOvs, DatapathType, OvsConfig};
/// use kvmhost_net::ApplyOptions;
/// let mut c = kvmhost_net::ovsdb::Client::connect("/tmp/kvmhost-ovs/db.sock")?;
/// let cfg = OvsConfig::cloudstack(&CloudStackOvs::new("eth0").datapath(DatapathType::Netdev));
/// let first = apply(&mut c, &cfg, &ApplyOptions::default())?;
/// let again = apply(&mut c, &cfg, &ApplyOptions::default())?;
/// assert_eq!(again.writes, 0);
/// # Ok(()) }
/// ```
pub fn apply(client: &mut Client, desired: &OvsConfig, options: &ApplyOptions) -> Result<ApplyReport, Error> {
    // Validated here (errors name the configuration's own fields), not a second time as a
    // host network: a model with only an `ovs` section adds no check of its own.
    desired.validate()?;
    let mut net = HostNetwork::new();
    net.ovs = Some(desired.clone());
    let mut backend = OvsdbBackend::new(client);
    crate::engine::run::run_validated(&mut [&mut backend as &mut dyn Backend], &net, Goal::Apply, options)
}
