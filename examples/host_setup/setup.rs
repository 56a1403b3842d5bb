//! The run: every step planned first (a dry run stops there), then applied in order with the
//! record saved before each change; a failing step undoes the steps before it.

use kvmhost::net::ovs::DatapathType;

use crate::files::{self, Changed};
use crate::firewall::{self, FirewallPlan};
use crate::libvirt_conf;
use crate::network::{self, Backend, NetOptions, NetworkRecord};
use crate::report::{ConfigOutcome, FirewallOutcome, NetworkOutcome, Outcome};
use crate::rollback;
use crate::state::{now, RunRecord};
use crate::Cli;

/// Plans, and with `--apply` applies, every step.
pub fn run(cli: &Cli) -> Outcome {
    let target = cli.target();
    let state = cli.state_dir();
    let mut out = Outcome {
        mode: if cli.apply { "apply" } else { "dry-run" }.into(),
        root: cli.root.clone(),
        netns: target.path().map(Into::into),
        state: state.path().to_path_buf(),
        ..Outcome::default()
    };
    let _span = tracing::info_span!("host_setup", mode = %out.mode).entered();

    // 1. Preflight.
    let report = crate::preflight::run(&cli.root);
    let summary = crate::preflight::summary(&report);
    let preflight_failed = summary.failed();
    out.preflight = Some(summary);

    // 2. libvirt configuration.
    let config = match libvirt_conf::plan(&cli.root, &cli.vnc_listen, &report) {
        Ok(p) => p,
        Err(e) => {
            out.errors.push(format!("libvirt configuration: {e}"));
            return out;
        }
    };
    let planned: Vec<Changed> =
        config.edits.iter().map(|e| Changed { file: e.display.clone(), diff: e.diff(), backup: None }).collect();
    out.config = Some(ConfigOutcome { files: planned, manual: config.manual.clone() });

    // 3. Network.
    let ovsdb = cli.ovsdb();
    let engine = network::engine(&target, ovsdb.as_deref());
    let mut net = None;
    if cli.skip_network {
        out.network = Some(NetworkOutcome {
            backend: "none".into(),
            note: Some("--skip-network: left alone".into()),
            ..NetworkOutcome::default()
        });
    } else {
        let opts = NetOptions {
            backend: cli.backend,
            uplink: cli.uplink.clone(),
            vlans: (cli.mgmt_vlan, cli.public_vlan, cli.private_vlan),
            address: cli.address,
            gateway: cli.gateway,
            datapath: if cli.datapath == "netdev" { DatapathType::Netdev } else { DatapathType::System },
        };
        let planned = engine
            .read_state()
            .map_err(|e| network::error_text(&e))
            .and_then(|s| Ok((network::layout(&opts, &s)?, s)))
            .and_then(|(n, s)| Ok((network::plan(&engine, &n)?, n, s)));
        match planned {
            Ok((plan, n, s)) => {
                // Persisted with what the apply keeps of the host (an uplink's IPv6 moves along).
                let kept = n.with_kept_addresses(&s);
                let persisted = match cli.persist.map(|f| crate::persist::plan(&cli.root, &kept, f)).transpose() {
                    Ok(p) => p.unwrap_or_default(),
                    Err(e) => {
                        out.errors.push(format!("network: --persist: {e}"));
                        return out;
                    }
                };
                let plan_empty = plan.is_empty();
                let present = network::present_already(&n, &s, &network::ovs_bridges(ovsdb.as_deref()));
                let mut note = (cli.backend == Backend::Linux).then(|| {
                    "the Linux layout needs 802.1Q VLAN devices (kernel module 8021q); Open vSwitch \
                     (--backend ovs) tags in its datapath instead"
                        .to_string()
                });
                if !plan_empty && !present.is_empty() {
                    let why = format!(
                        "part of the layout exists already ({}): a rollback could not tell it from what this run \
                         makes; remove it, or leave the network alone (--skip-network)",
                        present.join(", ")
                    );
                    if cli.apply {
                        out.errors.push(format!("network: {why}"));
                        return out;
                    }
                    note = Some(why);
                }
                out.network = Some(NetworkOutcome {
                    backend: format!("{:?}", cli.backend).to_lowercase(),
                    plan: plan.to_string(),
                    writes: None,
                    files: persisted
                        .iter()
                        .map(|e| Changed { file: e.display.clone(), diff: e.diff(), backup: None })
                        .collect(),
                    note,
                });
                net = Some((n, s, persisted, plan_empty));
            }
            Err(e) => {
                out.errors.push(format!("network: {e}"));
                return out;
            }
        }
    }

    // 4. Firewall.
    let fw: FirewallPlan = firewall::plan(&target, cli.firewall);
    out.firewall = Some(FirewallOutcome { backend: fw.backend.clone(), commands: fw.lines(), note: fw.note.clone() });

    if !cli.apply {
        return out;
    }
    if cli.strict && preflight_failed {
        out.errors.push("--strict: a preflight check failed; nothing was changed".into());
        return out;
    }
    let net_noop = net.as_ref().is_none_or(|(_, _, persisted, plan_empty)| *plan_empty && persisted.is_empty());
    if config.edits.is_empty() && net_noop && fw.commands.is_empty() {
        out.note = Some("nothing to do: the host is set up already (the record of the earlier run is kept)".into());
        return out;
    }
    match state.load() {
        Ok(Some(prev)) => {
            out.errors.push(format!(
                "the run started at {} is recorded in {} and not rolled back: --rollback it first",
                prev.started,
                state.path().display()
            ));
            return out;
        }
        Ok(None) => {}
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    }

    // Apply, recording before each change.
    let mut record = RunRecord {
        started: now(),
        root: cli.root.clone(),
        netns: target.path().map(Into::into),
        ovsdb: ovsdb.clone(),
        ..RunRecord::default()
    };
    let save = |r: &RunRecord| state.save(r);
    let result = (|| -> Result<(), String> {
        save(&record)?;
        let changed = files::apply(&config.edits, &state, &mut record, &save)
            .map_err(|e| format!("libvirt configuration: {e}"))?;
        out.config = Some(ConfigOutcome { files: changed, manual: config.manual.clone() });
        if let Some((n, prior, persisted, plan_empty)) = &net {
            // A layout that is there already is not this run's to undo: no record, no apply.
            if !plan_empty {
                record.network = Some(NetworkRecord {
                    backend: cli.backend,
                    net: n.clone(),
                    prior: prior.clone(),
                    ovs_bridges_before: network::ovs_bridges(ovsdb.as_deref()),
                });
                save(&record)?;
                let (writes, plan) = network::apply(&engine, n).map_err(|e| format!("network: {e}"))?;
                if let Some(o) = out.network.as_mut() {
                    o.writes = Some(writes);
                    o.plan = plan.to_string();
                }
            }
            let written =
                files::apply(persisted, &state, &mut record, &save).map_err(|e| format!("network: --persist: {e}"))?;
            if let Some(o) = out.network.as_mut() {
                o.files = written;
            }
        }
        if !fw.commands.is_empty() {
            record.firewall = Some(firewall::record(&target).map_err(|e| format!("firewall: {e}"))?);
            save(&record)?;
            firewall::run(&target, &fw).map_err(|e| format!("firewall: {e}"))?;
        }
        record.complete = true;
        save(&record)
    })();
    if let Err(e) = result {
        tracing::error!(error = %e, "step failed; undoing the steps before it");
        out.errors.push(e);
        let (mut undo, errors) = rollback::undo(&record, &target, &state);
        if errors.is_empty() {
            // Everything is back: nothing is left for --rollback.
            match state.archive() {
                Ok(p) => undo.archived = Some(p),
                Err(e) => out.errors.push(e),
            }
        }
        out.errors.extend(errors.iter().map(|e| format!("undoing the run: {e}")));
        out.rollback = Some(undo);
        return out;
    }
    out.preflight_after = Some(crate::preflight::summary(&crate::preflight::run(&cli.root)));
    out
}
