//! The combined apply: the Open vSwitch part through OVSDB, then the netlink part, one
//! verification of both, one rollback of both.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::{execute_checked, rollback, run_plan, ApplyOptions, ApplyReport, Kernel, RollbackReport};
use crate::diff::{diff, Desired};
use crate::model::HostNetwork;
use crate::ovs::{self, OvsdbSession, Snapshot};
use crate::plan::Plan;
use crate::state::NetState;
use crate::Error;

/// How long the netlink part waits for the interfaces Open vSwitch makes to show up in its
/// namespace (and, on rollback, to go away).
const OVS_DEVICE_WAIT: Duration = Duration::from_secs(10);

/// Validate, capture OVSDB (when the model has an `ovs` section), read the namespace, plan.
pub(super) fn prepare(
    kernel: &mut dyn Kernel,
    ovsdb: Option<&mut OvsdbSession>,
    net: &HostNetwork,
) -> Result<(NetState, Option<Snapshot>, Plan), Error> {
    net.validate()?;
    let ovs = match (&net.ovs, ovsdb) {
        (None, _) => None,
        (Some(_), None) => return Err(Error::OvsdbRequired),
        (Some(cfg), Some(session)) => {
            let snapshot = session.capture().map_err(Error::Ovs)?;
            let p = ovs::plan(cfg, &snapshot).map_err(Error::Ovs)?;
            Some((snapshot, p))
        }
    };
    let prior = kernel.read_state()?;
    let mut plan = diff(&Desired::from_model(net), &prior)?;
    let snapshot = ovs.map(|(snapshot, p)| {
        plan.ovs = Some(p);
        snapshot
    });
    Ok((prior, snapshot, plan))
}

/// The links Open vSwitch makes for `net` that were not there before: the internal interfaces,
/// and the userspace datapath's own `ovs-netdev` device. After a rollback of OVSDB they must go.
fn ovs_new_links(net: &HostNetwork, prior: &NetState) -> Vec<String> {
    let mut names: Vec<String> = net.ovs_devices().into_iter().map(|(n, _, _)| n).collect();
    if net.ovs.iter().flat_map(|c| &c.bridges).any(|b| b.datapath_type == ovs::DatapathType::Netdev) {
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

/// Apply `net` — its Open vSwitch part through `ovsdb`, then its netlink part through `kernel` —
/// with verification of both and a combined rollback: whatever fails (an OVSDB step,
/// ovs-vswitchd, a netlink step, either verification), the touched links are restored and
/// OVSDB gets back exactly the rows captured before. Applying the same model again performs
/// zero writes on either side.
///
/// ```no_run
/// use kvmhost_net::{engine, ovs::OvsdbSession, ApplyOptions, HostNetwork, NetlinkKernel, Netns};
/// let net = HostNetwork::load("host-ovs.yaml".as_ref()).unwrap();
/// let mut k = NetlinkKernel::open(&Netns::named("blue")).unwrap();
/// let mut db = OvsdbSession::connect("/var/run/openvswitch/db.sock".as_ref()).unwrap();
/// let report = engine::apply_with_ovsdb(&mut k, Some(&mut db), &net, &ApplyOptions::default()).unwrap();
/// println!("{} writes ({} OVSDB transactions)", report.writes, report.ovs_writes);
/// ```
pub fn apply_with_ovsdb(
    kernel: &mut dyn Kernel,
    mut ovsdb: Option<&mut OvsdbSession>,
    net: &HostNetwork,
    opts: &ApplyOptions,
) -> Result<ApplyReport, Error> {
    let (prior, snapshot, plan) = prepare(kernel, ovsdb.as_deref_mut(), net)?;
    let (Some(snapshot), Some(session)) = (snapshot, ovsdb) else {
        return execute_checked(kernel, &Desired::from_model(net), prior, plan, opts);
    };
    if plan.is_empty() {
        return Ok(ApplyReport { plan, writes: 0, ovs_writes: 0, after: prior });
    }
    let (k_start, o_start) = (kernel.writes(), session.write_transactions());
    let k = plan.ovs_len();
    let fail = |index: usize, source: Error, rollback: Option<RollbackReport>| Error::Apply {
        index,
        step: plan.describe(index).unwrap_or_else(|| "verification".into()),
        source: Box::new(source),
        rollback: rollback.map(Box::new),
    };

    // 1. Open vSwitch: one transaction, waited for and verified; on failure OVSDB is restored by
    //    `apply_plan` and the namespace has not been touched yet.
    if let Some(oplan) = plan.ovs.as_ref().filter(|p| !p.is_empty()) {
        if let Some(i) = opts.fail_before_step.filter(|i| *i < k) {
            let e = Error::Kernel {
                context: plan.describe(i).unwrap_or_default(),
                errno: 0,
                message: "injected failure (test)".into(),
            };
            // The OVS steps are one transaction: a refused step means nothing was written.
            let rb = RollbackReport { restored: true, ovs_operations: Some(0), ..Default::default() };
            return Err(fail(i, e, opts.rollback.then_some(rb)));
        }
        if let Err(e) = session.apply_plan(oplan, &snapshot, ovs::ApplyOptions::default()) {
            let index = match &e {
                ovs::Error::StepFailed { index, .. } => *index,
                _ => k.saturating_sub(1),
            };
            let mut rb = RollbackReport { restored: true, ..Default::default() };
            if matches!(e, ovs::Error::RollbackFailed { .. }) {
                rb.restored = false;
            } else if let Err(w) = wait_for_links(kernel, &ovs_new_links(net, &prior), false) {
                rb.errors.push(w.to_string());
                rb.restored = false;
            }
            if let ovs::Error::StepFailed { .. } = e {
                return Err(fail(index, Error::Ovs(e), Some(rb)));
            }
            // ovs-vswitchd or the read-back refused the transaction as a whole.
            return Err(Error::Apply {
                index,
                step: format!("OVS: the transaction of steps 1-{k}"),
                source: Box::new(Error::Ovs(e)),
                rollback: Some(Box::new(rb)),
            });
        }
    }

    // 2. Netlink, planned again on the namespace as OVS left it (the internal interfaces exist now).
    let desired = Desired::from_model(net);
    let ovs_made: BTreeSet<String> = net.ovs_devices().into_iter().map(|(n, _, _)| n).collect();
    let wanted: Vec<String> = net.ovs_interfaces.iter().map(|o| o.name.clone()).collect();
    let mut current = prior.clone();
    let mut netplan = Plan::default();
    let mut verified = None;
    let failure = match wait_for_links(kernel, &wanted, true).and_then(|now| {
        current = now;
        netplan = diff(&desired, &current)?;
        Ok(())
    }) {
        Err(e) => Some((k, e)),
        Ok(()) => match run_plan(kernel, &netplan, opts.fail_before_step.and_then(|i| i.checked_sub(k))) {
            Err((i, e)) => Some((k + i, e)),
            // Fault injection at the index after the last step: the verification fails, with
            // both sides changed.
            Ok(()) if opts.fail_before_step == Some(k + netplan.len()) => {
                Some((plan.len(), Error::Verify { remaining: "injected verification failure (test)".into() }))
            }
            Ok(()) if !opts.verify => None,
            // 3. Verify both sides.
            Ok(()) => match verify(kernel, &desired) {
                Ok(state) => {
                    verified = Some(state);
                    None
                }
                Err(e) => Some((plan.len(), e)),
            },
        },
    };
    let Some((index, error)) = failure else {
        let after = match verified {
            Some(state) => state,
            None => kernel.read_state()?,
        };
        let ovs_writes = session.write_transactions() - o_start;
        let mut done = netplan;
        done.ovs = plan.ovs.clone();
        return Ok(ApplyReport { plan: done, writes: kernel.writes() - k_start + ovs_writes, ovs_writes, after });
    };
    if !opts.rollback {
        return Err(fail(index, error, None));
    }
    // 4. Roll back both: links first (addresses and routes leave the OVS interfaces and go back
    //    where they were), then the OVSDB rows, then wait for ovs-vswitchd to remove the devices.
    let mut rb = rollback(kernel, &prior, &current, &netplan, &ovs_made);
    match session.restore(&snapshot) {
        Ok(n) => rb.ovs_operations = Some(n),
        Err(e) => {
            rb.errors.push(format!("restoring OVSDB: {e}"));
            rb.restored = false;
        }
    }
    if let Err(e) = wait_for_links(kernel, &ovs_new_links(net, &prior), false) {
        rb.errors.push(e.to_string());
        rb.restored = false;
    }
    Err(fail(index, error, Some(rb)))
}

/// Read back the namespace: the netlink diff must be empty; returns the state read.
///
/// The Open vSwitch side is not read a second time: `apply_plan` read it back in the same
/// transaction that waited for ovs-vswitchd (after the write), and refused the apply unless
/// the OVS plan against that read-back was empty; when the OVS plan was empty to begin with,
/// the snapshot taken while planning showed it. The netlink steps do not write to OVSDB.
fn verify(kernel: &mut dyn Kernel, desired: &Desired) -> Result<NetState, Error> {
    let state = kernel.read_state()?;
    let rest = diff(desired, &state)?;
    if rest.is_empty() {
        Ok(state)
    } else {
        Err(Error::Verify { remaining: rest.to_string() })
    }
}

/// Remove what `net` creates — the netlink part (bridges, VLANs, veths, taps) through `kernel`,
/// then the Open vSwitch bridges of its `ovs` section (with their ports and fake bridges)
/// through `ovsdb` — each verified, with a combined rollback: if the OVS part fails, OVSDB is
/// restored by the OVS engine and the links the netlink part removed are put back. Bridges
/// OVSDB holds that `net` does not declare are left alone. Tearing down again performs zero
/// writes.
///
/// ```no_run
/// use kvmhost_net::{engine, ovs::OvsdbSession, ApplyOptions, HostNetwork, NetlinkKernel, Netns};
/// let net = HostNetwork::load("host-ovs.yaml".as_ref()).unwrap();
/// let mut k = NetlinkKernel::open(&Netns::named("blue")).unwrap();
/// let mut db = OvsdbSession::connect("/var/run/openvswitch/db.sock".as_ref()).unwrap();
/// let report = engine::teardown_with_ovsdb(&mut k, Some(&mut db), &net, &ApplyOptions::default()).unwrap();
/// println!("{} writes ({} OVSDB transactions)", report.writes, report.ovs_writes);
/// ```
pub fn teardown_with_ovsdb(
    kernel: &mut dyn Kernel,
    ovsdb: Option<&mut OvsdbSession>,
    net: &HostNetwork,
    opts: &ApplyOptions,
) -> Result<ApplyReport, Error> {
    let session = match (&net.ovs, ovsdb) {
        (None, _) => return super::teardown(kernel, net, opts),
        (Some(_), None) => return Err(Error::OvsdbRequired),
        (Some(_), Some(s)) => s,
    };
    net.validate()?;
    let snapshot = session.capture().map_err(Error::Ovs)?;
    let declared: BTreeSet<&str> = net.ovs.iter().flat_map(|c| &c.bridges).map(|b| b.name.as_str()).collect();
    let mut keep = snapshot.config().pruning(true);
    keep.bridges.retain(|b| !declared.contains(b.name.as_str()));
    let oplan = ovs::plan(&keep, &snapshot).map_err(Error::Ovs)?;

    // 1. Netlink: the links `net` creates go (with rollback of its own on failure).
    let desired = Desired::teardown(net);
    let prior = kernel.read_state()?;
    let netplan = diff(&desired, &prior)?;
    let mut report = super::execute_checked(kernel, &desired, prior.clone(), netplan, opts)?;
    if oplan.is_empty() {
        return Ok(report);
    }
    // 2. Open vSwitch: one transaction, waited for and verified; OVSDB is restored on failure.
    let o_start = session.write_transactions();
    let gone: Vec<String> =
        net.ovs_devices().into_iter().map(|(n, _, _)| n).filter(|n| prior.link(n).is_some()).collect();
    let result = session.apply_plan(&oplan, &snapshot, ovs::ApplyOptions::default()).map_err(Error::Ovs);
    let result = result.and_then(|_| wait_for_links(kernel, &gone, false));
    let ovs_writes = session.write_transactions() - o_start;
    match result {
        Ok(after) => {
            report.writes += ovs_writes;
            report.ovs_writes = ovs_writes;
            report.after = after;
            report.plan.ovs = Some(oplan);
            Ok(report)
        }
        Err(error) => {
            let k = report.plan.len();
            let rb = opts.rollback.then(|| {
                let now = kernel.read_state().unwrap_or_else(|_| report.after.clone());
                rollback(kernel, &prior, &now, &report.plan, &BTreeSet::new())
            });
            Err(Error::Apply {
                index: k,
                step: format!("OVS: the transaction removing {}", declared.into_iter().collect::<Vec<_>>().join(", ")),
                source: Box::new(error),
                rollback: rb.map(Box::new),
            })
        }
    }
}
