//! The one engine: plan, execute, verify and roll back over any list of [`Backend`]s.

use super::{ApplyOptions, ApplyReport, Backend, Goal, RollbackReport};
use crate::model::HostNetwork;
use crate::plan::{BackendKind, Plan};
use crate::Error;

/// The backends in the order `goal` runs them: as given to apply (Open vSwitch before netlink:
/// the interfaces exist before addresses go onto them), reversed to tear down.
fn order(n: usize, goal: Goal) -> Vec<usize> {
    match goal {
        Goal::Apply => (0..n).collect(),
        Goal::Teardown => (0..n).rev().collect(),
    }
}

/// A model with an `ovs` section needs an OVSDB backend to be applied.
fn check_backends(backends: &[&mut dyn Backend], net: &HostNetwork, goal: Goal) -> Result<(), Error> {
    let has_ovsdb = backends.iter().any(|b| b.kind() == BackendKind::Ovsdb);
    if goal == Goal::Apply && net.ovs.is_some() && !has_ovsdb {
        return Err(Error::OvsdbRequired);
    }
    Ok(())
}

/// The plan every backend would execute, in order (validates first; nothing is written).
pub(super) fn plan(backends: &mut [&mut dyn Backend], net: &HostNetwork, goal: Goal) -> Result<Plan, Error> {
    net.validate()?;
    check_backends(backends, net, goal)?;
    let mut plan = Plan::default();
    for i in order(backends.len(), goal) {
        backends[i].capture(net)?;
        plan.steps.extend(backends[i].plan(net, goal, false)?.steps);
    }
    Ok(plan)
}

/// Validate, capture every backend, plan, execute backend by backend (each planned again on the
/// state the previous ones left), verify all, and on any failure restore all.
pub(super) fn run(
    backends: &mut [&mut dyn Backend],
    net: &HostNetwork,
    goal: Goal,
    options: &ApplyOptions,
) -> Result<ApplyReport, Error> {
    net.validate()?;
    run_validated(backends, net, goal, options)
}

/// [`run`] for a model the caller has validated already.
pub(crate) fn run_validated(
    backends: &mut [&mut dyn Backend],
    net: &HostNetwork,
    goal: Goal,
    options: &ApplyOptions,
) -> Result<ApplyReport, Error> {
    check_backends(backends, net, goal)?;
    let order = order(backends.len(), goal);
    let starts: Vec<u64> = backends.iter().map(|b| b.writes()).collect();
    let mut first = Vec::with_capacity(order.len());
    for &i in &order {
        backends[i].capture(net)?;
    }
    for &i in &order {
        first.push(backends[i].plan(net, goal, false)?);
    }
    let total: usize = first.iter().map(Plan::len).sum();
    let mut report = ApplyReport::default();
    if total == 0 {
        for &i in &order {
            backends[i].report(&mut report)?;
        }
        return Ok(report);
    }
    let name = match goal {
        Goal::Apply => "apply",
        Goal::Teardown => "teardown",
    };
    let _span = tracing::info_span!("apply", steps = total, goal = name).entered();
    let mut done = Plan::default();
    let mut last_writer: Option<usize> = None;
    let mut failure = None;
    for (pos, (&i, planned)) in order.iter().zip(first).enumerate() {
        // Planned again when an earlier backend wrote: what it made is there now.
        let settle = last_writer.is_some();
        let planned = if settle { backends[i].plan(net, goal, true) } else { Ok(planned) };
        let planned = match planned {
            Ok(p) => p,
            Err(e) => {
                failure = Some((done.len(), e));
                break;
            }
        };
        let offset = done.len();
        let result = backends[i].execute(&planned.steps, options);
        let wrote = !planned.is_empty();
        done.steps.extend(planned.steps);
        if let Err((index, e)) = result {
            failure = Some((offset + index, e));
            break;
        }
        if wrote {
            last_writer = Some(pos);
        }
    }
    if failure.is_none() && options.verify {
        let _verify = tracing::info_span!("verify").entered();
        for (pos, &i) in order.iter().enumerate() {
            let settle = last_writer.is_some_and(|w| w > pos);
            if let Err(e) = backends[i].verify(net, goal, settle) {
                failure = Some((done.len(), e));
                break;
            }
        }
    }
    let Some((index, error)) = failure else {
        report.writes = backends.iter().zip(&starts).map(|(b, s)| b.writes() - s).sum();
        for &i in &order {
            backends[i].report(&mut report)?;
        }
        report.plan = done;
        return Ok(report);
    };
    let step = done.describe(index).unwrap_or_else(|| "verification".into());
    tracing::warn!(step = index + 1, what = %step, error = %error, "apply failed");
    let rollback = options.rollback.then(|| rollback(backends, &order, net));
    Err(Error::Apply { index, step, source: Box::new(error), rollback: rollback.map(Box::new) })
}

/// Restore every backend (the last to run first), then check each.
fn rollback(backends: &mut [&mut dyn Backend], order: &[usize], net: &HostNetwork) -> RollbackReport {
    let _span = tracing::info_span!("rollback").entered();
    let mut report = RollbackReport { restored: true, ..Default::default() };
    for &i in order.iter().rev() {
        backends[i].restore(net, &mut report);
    }
    for &i in order {
        if !backends[i].check_restored(net, &mut report) {
            report.restored = false;
        }
    }
    report
}
