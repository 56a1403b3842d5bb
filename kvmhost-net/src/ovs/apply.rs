//! Writing Open vSwitch steps through `transact`, verifying by reading back, and restoring a
//! captured [`Snapshot`].

use std::time::Duration;

use super::model::OvsConfig;
use super::plan::changes;
use super::state::Snapshot;
use super::step::OvsStep;
use super::DB;
use crate::engine::{ApplyMode, ApplyOptions};
use crate::ovsdb::{self, Atom, Client, Condition, Mutation, Mutator, Operation, Row, Value, WaitUntil};
use crate::Error;

/// Write `steps` (computed on the current state) as one transaction, or one per step; wait for
/// ovs-vswitchd; read back in the same transaction as the wait and require the plan to
/// `desired` to be empty. Nothing is restored here: the engine restores on failure.
pub(super) fn write_and_verify(
    client: &mut Client,
    steps: &[&OvsStep],
    desired: &OvsConfig,
    options: &ApplyOptions,
) -> Result<usize, Error> {
    let per_step: Vec<Vec<Operation>> = steps.iter().enumerate().map(|(n, s)| s.operations(n)).collect();
    let batches: Vec<(usize, Vec<Operation>)> = match options.ovs_mode {
        ApplyMode::Atomic => vec![(0, per_step.concat())],
        ApplyMode::Stepwise => per_step.iter().cloned().enumerate().collect(),
    };
    let last = batches.len() - 1;
    let mut next_cfg = None;
    for (b, (first_step, mut ops)) in batches.into_iter().enumerate() {
        let bump = b == last && options.ovs_wait.is_some();
        if bump {
            ops.push(Operation::mutate("Open_vSwitch", vec![], vec![Mutation::new("next_cfg", Mutator::Add, 1i64)]));
            ops.push(Operation::select("Open_vSwitch", vec![], Some(&["next_cfg"])));
        }
        ops.push(Operation::comment(&format!("kvmhost-net ovs: {} step(s)", steps.len())));
        let step_of = |op: usize| -> usize {
            if options.ovs_mode == ApplyMode::Stepwise {
                return first_step;
            }
            let mut seen = 0;
            for (s, o) in per_step.iter().enumerate() {
                seen += o.len();
                if op < seen {
                    return s;
                }
            }
            steps.len().saturating_sub(1)
        };
        let step_error = |op: usize, source: ovsdb::Error| {
            let index = step_of(op);
            Error::StepFailed { index, step: steps[index].to_string(), source }
        };
        let results = client.transact(DB, &ops).map_err(|e| match e {
            ovsdb::Error::Operation { index, .. } => step_error(index, e),
            other => Error::Ovsdb(other),
        })?;
        for (i, (op, r)) in ops.iter().zip(&results).enumerate() {
            if matches!(op, Operation::Update { .. } | Operation::Mutate { .. }) && r.count() != Some(1) {
                return Err(step_error(
                    i,
                    ovsdb::Error::Protocol {
                        method: "transact".into(),
                        detail: format!("{} matched {:?} rows, not 1", op.name(), r.count()),
                    },
                ));
            }
        }
        if bump {
            next_cfg = results.iter().rev().find_map(|r| r.rows().first().and_then(|row| row.get("next_cfg")).cloned());
        }
    }
    // Wait for ovs-vswitchd, read its interface errors and read back, in one transaction: the
    // selects run once the wait is satisfied.
    let mut lead = Vec::new();
    if let (Some(timeout), Some(cfg)) = (options.ovs_wait, next_cfg) {
        lead.push(Operation::Wait {
            table: "Open_vSwitch".into(),
            conditions: vec![Condition { column: "cur_cfg".into(), function: ovsdb::Function::Ge, value: cfg }],
            columns: vec!["cur_cfg".into()],
            until: WaitUntil::NotEqual,
            rows: vec![],
            timeout_ms: Some(timeout.as_millis().try_into().unwrap_or(u64::MAX)),
        });
        lead.push(Operation::select("Interface", vec![], Some(&["name", "error"])));
        client.set_timeout(timeout + Duration::from_secs(5));
    }
    let read = Snapshot::capture_after(client, lead);
    client.set_timeout(Duration::from_secs(30));
    let (after, lead) = match read {
        Ok(r) => r,
        Err(Error::Ovsdb(ovsdb::Error::Operation { index: 0, error, .. })) if error == "timed out" => {
            return Err(Error::VswitchdTimeout(options.ovs_wait.unwrap_or_default()))
        }
        Err(e) => return Err(e),
    };
    if let Some(errors) = lead.get(1) {
        check_interface_errors(steps, errors.rows())?;
    }
    let remaining: Vec<String> = changes(desired, &after)?.iter().map(ToString::to_string).collect();
    if !remaining.is_empty() {
        return Err(Error::OvsVerifyFailed { remaining });
    }
    Ok(steps.len())
}

/// ovs-vswitchd reports interfaces it could not set up in `Interface.error`.
fn check_interface_errors(steps: &[&OvsStep], rows: &[Row]) -> Result<(), Error> {
    let names: Vec<&str> = steps
        .iter()
        .filter_map(|s| match s {
            OvsStep::AddPort { port, .. } => Some(port.name.as_str()),
            OvsStep::AddFakeBridge { fake, .. } => Some(fake.name.as_str()),
            OvsStep::AddBridge { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let mut failed = Vec::new();
    for row in rows {
        let name = row.get("name").and_then(Value::as_str).unwrap_or_default();
        if let (true, Some(err)) = (names.contains(&name), row.get("error").and_then(Value::as_str)) {
            failed.push(format!("{name}: {err}"));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::InterfaceErrors(failed))
    }
}

fn without_name(row: &Row) -> Row {
    row.iter().filter(|(k, _)| k.as_str() != "name").map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The operations that turn `now` back into `prior`: rows deleted since are re-inserted with
/// their old UUIDs (OVS ≥ 2.13), changed columns are written back, and references added since
/// are dropped (OVSDB then garbage-collects rows nothing refers to).
///
/// ```no_run
/// # fn demo(prior: &kvmhost_net::ovs::Snapshot, now: &kvmhost_net::ovs::Snapshot) {
/// let ops = kvmhost_net::ovs::restore_operations(prior, now);
/// println!("{} operations to restore", ops.len());
/// # }
/// ```
pub fn restore_operations(prior: &Snapshot, now: &Snapshot) -> Vec<Operation> {
    let mut ops = Vec::new();
    for (table, before, after) in [
        ("Interface", &prior.interfaces, &now.interfaces),
        ("Port", &prior.ports, &now.ports),
        ("Bridge", &prior.bridges, &now.bridges),
    ] {
        for (uuid, row) in before {
            match after.get(uuid) {
                None => ops.push(Operation::Insert {
                    table: table.into(),
                    row: row.clone(),
                    uuid_name: None,
                    uuid: Some(uuid.clone()),
                }),
                Some(cur) if cur != row => {
                    let changed: Row = without_name(row).into_iter().filter(|(k, v)| cur.get(k) != Some(v)).collect();
                    ops.push(Operation::update(table, vec![Condition::uuid(uuid)], changed));
                }
                Some(_) => {}
            }
        }
    }
    if prior.root_bridges != now.root_bridges {
        let set = Value::set(prior.root_bridges.iter().cloned().map(Atom::Uuid));
        ops.push(Operation::update(
            "Open_vSwitch",
            vec![Condition::uuid(&prior.root)],
            [("bridges".to_string(), set)].into_iter().collect(),
        ));
    }
    // Rows created since are not deleted one by one: every reference column of the kept rows
    // was written back above, so nothing refers to them and OVSDB drops them at commit.
    ops
}

/// Restores OVSDB to `prior` in one transaction (none when nothing changed) and checks the
/// result row for row; returns the number of operations written.
///
/// ```no_run
/// # fn demo(c: &mut kvmhost_net::ovsdb::Client) -> Result<(), kvmhost_net::Error> {
/// use kvmhost_net::ovs::{restore, Snapshot};
/// let before = Snapshot::capture(c)?;
/// // ... changes by anyone ...
/// restore(c, &before)?;
/// assert_eq!(Snapshot::capture(c)?, before);
/// # Ok(()) }
/// ```
pub fn restore(client: &mut Client, prior: &Snapshot) -> Result<usize, Error> {
    let now = Snapshot::capture(client)?;
    let mut ops = restore_operations(prior, &now);
    let n = ops.len();
    if n > 0 {
        ops.push(Operation::comment("kvmhost-net ovs: rollback"));
        client.transact(DB, &ops)?;
        let after = Snapshot::capture(client)?;
        if after != *prior {
            return Err(Error::OvsState("OVSDB differs from the snapshot after restoring it".into()));
        }
    }
    Ok(n)
}
