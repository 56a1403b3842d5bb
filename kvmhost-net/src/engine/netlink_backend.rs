//! The netlink backend: links, addresses, routes and bridge VLANs through any [`Kernel`].

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::{ApplyOptions, ApplyReport, Backend, Goal, Kernel, RollbackReport};
use crate::diff::{diff, touched, Desired};
use crate::model::HostNetwork;
use crate::ovs::DatapathType;
use crate::plan::{BackendKind, Plan, PlannedStep};
use crate::state::NetState;
use crate::Error;

/// How long the netlink backend waits for the interfaces Open vSwitch makes to show up in its
/// namespace (and, on teardown or rollback, to go away).
const OVS_DEVICE_WAIT: Duration = Duration::from_secs(10);

/// The netlink side of the engine over a [`Kernel`] ([`NetlinkKernel`](crate::NetlinkKernel)
/// for the real one). Its rollback restores the links its steps touched to the captured
/// state: addresses, routes, ports, up/down, MTU; links made are deleted, links deleted are
/// made again, and it adds before it deletes, so a moved management address is never missing.
///
/// ```no_run
/// use kvmhost_net::engine::{self, Backend, NetlinkBackend};
/// use kvmhost_net::{ApplyOptions, HostNetwork, NetlinkKernel, Netns};
/// let mut k = NetlinkKernel::open(&Netns::named("blue")).unwrap();
/// let mut netlink = NetlinkBackend::new(&mut k);
/// let net = HostNetwork::from_yaml("bridges: [{name: br0}]").unwrap();
/// engine::apply_on(&mut [&mut netlink as &mut dyn Backend], &net, &ApplyOptions::default()).unwrap();
/// ```
pub struct NetlinkBackend<'a> {
    kernel: &'a mut dyn Kernel,
    /// The state captured before any write (what a rollback restores).
    prior: Option<NetState>,
    /// The state the last plan was made on, when read again after `prior`.
    current: Option<NetState>,
    /// What the last plan aimed at (what verification compares with).
    desired: Option<Desired>,
    /// Whether the last plan had steps.
    planned: bool,
    /// The steps executed, the refused one included: the links they name are restored.
    executed: Plan,
    /// The state read back by the verification.
    verified: Option<NetState>,
    /// What the rollback aimed at.
    restoring: Option<Desired>,
}

impl std::fmt::Debug for NetlinkBackend<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetlinkBackend").field("writes", &self.kernel.writes()).finish_non_exhaustive()
    }
}

impl<'a> NetlinkBackend<'a> {
    /// The netlink backend over `kernel`.
    ///
    /// ```no_run
    /// use kvmhost_net::{engine::NetlinkBackend, NetlinkKernel, Netns};
    /// let mut k = NetlinkKernel::open(&Netns::Current).unwrap();
    /// let b = NetlinkBackend::new(&mut k);
    /// ```
    pub fn new(kernel: &'a mut dyn Kernel) -> Self {
        Self {
            kernel,
            prior: None,
            current: None,
            desired: None,
            planned: false,
            executed: Plan::default(),
            verified: None,
            restoring: None,
        }
    }

    /// The captured state (read now when [`Backend::capture`] was not called).
    fn prior(&mut self) -> Result<&NetState, Error> {
        let state = match self.prior.take() {
            Some(s) => s,
            None => self.kernel.read_state()?,
        };
        Ok(self.prior.insert(state))
    }
}

/// The links Open vSwitch makes for `net` that were not there before: the internal interfaces,
/// and the userspace datapath's own `ovs-netdev` device. After a rollback of OVSDB they must go.
fn ovs_new_links(net: &HostNetwork, prior: &NetState) -> Vec<String> {
    let mut names: Vec<String> = net.ovs_devices().into_iter().map(|(n, _, _)| n).collect();
    if net.ovs.iter().flat_map(|c| &c.bridges).any(|b| b.datapath_type == DatapathType::Netdev) {
        names.push("ovs-netdev".into());
    }
    names.retain(|n| prior.link(n).is_none());
    names
}

/// Poll the namespace until `names` all exist (`present`) or none of them does.
fn wait_for_links(kernel: &mut dyn Kernel, names: &[String], present: bool) -> Result<NetState, Error> {
    let deadline = Instant::now() + OVS_DEVICE_WAIT;
    loop {
        let state = kernel.read_state()?;
        let missing: Vec<&String> = names.iter().filter(|n| state.link(n).is_some() != present).collect();
        if missing.is_empty() {
            return Ok(state);
        }
        if Instant::now() >= deadline {
            let what = if present { "did not appear" } else { "did not go away" };
            return Err(Error::OvsDevices {
                names: missing.into_iter().cloned().collect(),
                reason: format!("{what} within {OVS_DEVICE_WAIT:?} (does ovs-vswitchd run in this namespace?)"),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Backend for NetlinkBackend<'_> {
    fn kind(&self) -> BackendKind {
        BackendKind::Netlink
    }

    fn capture(&mut self, _net: &HostNetwork) -> Result<(), Error> {
        self.prior = Some(self.kernel.read_state()?);
        self.current = None;
        Ok(())
    }

    fn plan(&mut self, net: &HostNetwork, goal: Goal, settle: bool) -> Result<Plan, Error> {
        let desired = match goal {
            Goal::Apply => Desired::from_model(net),
            Goal::Teardown => Desired::teardown(net),
        };
        if settle {
            // The interfaces Open vSwitch made for the model exist before addresses go on them.
            let wanted: Vec<String> = match goal {
                Goal::Apply => net.ovs_interfaces.iter().map(|o| o.name.clone()).collect(),
                Goal::Teardown => vec![],
            };
            self.current = Some(wait_for_links(self.kernel, &wanted, true)?);
        }
        let plan = match &self.current {
            Some(current) => diff(&desired, current)?,
            None => diff(&desired, self.prior()?)?,
        };
        self.desired = Some(desired);
        self.planned = !plan.is_empty();
        Ok(plan)
    }

    fn execute(&mut self, steps: &[PlannedStep], _options: &ApplyOptions) -> Result<(), (usize, Error)> {
        for (i, p) in steps.iter().enumerate() {
            tracing::info!(step = i + 1, iproute2 = %p.step, reason = %p.reason, "netlink step");
            self.executed.steps.push(p.clone());
            if let Err(e) = self.kernel.execute(&p.step) {
                tracing::warn!(step = i + 1, iproute2 = %p.step, error = %e, "netlink step refused");
                return Err((i, e));
            }
        }
        Ok(())
    }

    fn verify(&mut self, net: &HostNetwork, goal: Goal, settle: bool) -> Result<(), Error> {
        let state = if settle && net.ovs.is_some() {
            // Open vSwitch removed (or made) its devices after this backend ran.
            let prior = self.prior()?;
            let names: Vec<String> =
                net.ovs_devices().into_iter().map(|(n, _, _)| n).filter(|n| prior.link(n).is_some()).collect();
            wait_for_links(self.kernel, &names, goal == Goal::Apply)?
        } else {
            self.kernel.read_state()?
        };
        let desired = match &self.desired {
            Some(d) => d,
            None => return Ok(()),
        };
        let rest = diff(desired, &state)?;
        self.verified = Some(state);
        if rest.is_empty() {
            Ok(())
        } else {
            Err(Error::Verify { remaining: rest.to_string() })
        }
    }

    fn restore(&mut self, net: &HostNetwork, report: &mut RollbackReport) {
        let Some(prior) = self.prior.as_ref() else { return };
        let names = touched(&self.executed, self.current.as_ref().unwrap_or(prior));
        let ovs_made: BTreeSet<String> = net.ovs_devices().into_iter().map(|(n, _, _)| n).collect();
        let desired = Desired::restore(prior, &names, &ovs_made);
        let now = match self.kernel.read_state() {
            Ok(s) => s,
            Err(e) => {
                report.errors.push(format!("reading the state: {e}"));
                return;
            }
        };
        let plan = match diff(&desired, &now) {
            Ok(p) => p,
            Err(e) => {
                report.errors.push(format!("planning the rollback: {e}"));
                return;
            }
        };
        for p in &plan.steps {
            tracing::info!(iproute2 = %p.step, reason = %p.reason, "rollback step");
            if let Err(e) = self.kernel.execute(&p.step) {
                tracing::warn!(iproute2 = %p.step, error = %e, "rollback step refused");
                report.errors.push(e.to_string());
            }
        }
        report.plan.steps.extend(plan.steps);
        self.restoring = Some(desired);
    }

    fn check_restored(&mut self, net: &HostNetwork, report: &mut RollbackReport) -> bool {
        let Some(prior) = self.prior.as_ref() else { return true };
        let Some(desired) = self.restoring.as_ref() else { return false };
        let gone = ovs_new_links(net, prior);
        let after = if gone.is_empty() {
            self.kernel.read_state()
        } else {
            // Open vSwitch removes the devices it made once its rows are restored.
            wait_for_links(self.kernel, &gone, false)
        };
        match after {
            Ok(after) => diff(desired, &after).map(|p| p.is_empty()).unwrap_or(false),
            Err(e) => {
                report.errors.push(format!("reading the state back: {e}"));
                false
            }
        }
    }

    fn writes(&self) -> u64 {
        self.kernel.writes()
    }

    fn report(&mut self, report: &mut ApplyReport) -> Result<(), Error> {
        report.after = match (self.verified.take(), self.planned) {
            (Some(state), _) => state,
            (None, false) => self.current.take().or_else(|| self.prior.take()).unwrap_or_default(),
            (None, true) => self.kernel.read_state()?,
        };
        Ok(())
    }
}
