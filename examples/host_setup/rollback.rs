//! `--rollback`: the last run undone in reverse order — firewall, network, files — from its
//! record; each part goes on past the errors of the others, and the record is archived only
//! when everything came back.

use crate::cmd::Target;
use crate::report::{Outcome, RollbackOutcome};
use crate::state::{RunRecord, StateDir};
use crate::{files, firewall, network, Cli};

/// Undoes the run recorded in the state directory.
pub fn run(cli: &Cli) -> Outcome {
    let state = cli.state_dir();
    let mut out = Outcome {
        mode: "rollback".into(),
        root: cli.root.clone(),
        state: state.path().to_path_buf(),
        ..Outcome::default()
    };
    let record = match state.load() {
        Ok(Some(r)) => r,
        Ok(None) => {
            out.note = Some(format!("no run is recorded in {}: nothing to roll back", state.path().display()));
            return out;
        }
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    // The namespace the run worked in, whatever this command line says.
    let target = match &record.netns {
        Some(p) => Target::Netns(p.clone()),
        None => Target::Current,
    };
    out.netns = record.netns.clone();
    let (mut rb, errors) = undo(&record, &target, &state);
    if errors.is_empty() {
        match state.archive() {
            Ok(p) => rb.archived = Some(p),
            Err(e) => out.errors.push(e),
        }
    }
    out.errors.extend(errors);
    out.rollback = Some(rb);
    out
}

/// Undoes what `record` holds; the errors met (an empty list: everything is as before).
pub fn undo(record: &RunRecord, target: &Target, _state: &StateDir) -> (RollbackOutcome, Vec<String>) {
    let _span = tracing::info_span!("rollback", started = record.started).entered();
    let mut out = RollbackOutcome { run_started: Some(record.started), ..RollbackOutcome::default() };
    let mut errors = Vec::new();
    if let Some(fw) = &record.firewall {
        match firewall::rollback(target, fw) {
            Ok(r) => {
                if !r.restored {
                    errors.push("firewall: iptables -S differs from the rules recorded before the run".into());
                }
                out.firewall = Some(r);
            }
            Err(e) => errors.push(format!("firewall: {e}")),
        }
    }
    if let Some(net) = &record.network {
        let engine = network::engine(target, record.ovsdb.as_deref());
        match network::rollback(&engine, net) {
            Ok(r) => {
                if !r.restored {
                    errors.push("network: the namespace differs from the state recorded before the run".into());
                }
                out.network = Some(r);
            }
            Err(e) => errors.push(format!("network: {e}")),
        }
    }
    for f in record.files.iter().rev() {
        match files::rollback(f) {
            Ok(msg) => out.files.push(msg),
            Err(e) => errors.push(e),
        }
    }
    (out, errors)
}
