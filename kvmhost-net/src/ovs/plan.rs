//! Diff of a desired [`OvsConfig`] against a [`Snapshot`]: the ordered [`OvsStep`]s of the crate's
//! one [`Plan`](crate::Plan).

use std::collections::{BTreeMap, BTreeSet};

use super::model::{FakeBridge, OvsConfig, OvsPort};
use super::state::Snapshot;
use super::step::OvsStep;
use crate::plan::{Plan, Step};
use crate::Error;

/// Computes the plan from `current` to `desired` (validated first).
///
/// Order: ports and fake bridges leaving (removed, moved, or changing kind) first, then bridges
/// removed, bridges added or changed, ports added or changed, fake bridges added or changed.
///
/// ```
/// use kvmhost_net::ovs::{plan, CloudStackOvs, OvsConfig, Snapshot};
/// let empty: Snapshot = serde_json::from_value(serde_json::json!({
///     "root": "6e41a0dc-b7f0-4669-84c3-6aa6deaf3ced", "root_bridges": [], "bridges": {}, "ports": {}, "interfaces": {}
/// })).unwrap();
/// let p = plan(&OvsConfig::cloudstack(&CloudStackOvs::new("eth0")), &empty).unwrap();
/// assert_eq!(p.ovs_len(), 5); // br0, eth0, mgmt0, cloudbr0, cloudbr1
/// print!("{p}");
/// ```
pub fn plan(desired: &OvsConfig, current: &Snapshot) -> Result<Plan, Error> {
    let mut plan = Plan::default();
    for change in changes(desired, current)? {
        plan.push(Step::Ovs { change }, OVS_REASON);
    }
    Ok(plan)
}

/// The reason every OVS step carries in a plan.
const OVS_REASON: &str = "ovs: one OVSDB transaction with the other OVS steps (all or none)";

/// The OVS steps from `current` to `desired` (validated first), in order.
pub(crate) fn changes(desired: &OvsConfig, current: &Snapshot) -> Result<Vec<OvsStep>, Error> {
    desired.validate()?;
    let have = current.config();
    let located = current.port_location();
    let have_bridges: BTreeMap<&str, _> = have.bridges.iter().map(|b| (b.name.as_str(), b)).collect();
    let want_bridges: BTreeSet<&str> = desired.bridges.iter().map(|b| b.name.as_str()).collect();

    // What each desired name should be: (bridge, Some(port) | None for a fake bridge).
    let mut wanted: BTreeMap<&str, (&str, Option<OvsPort>, Option<&FakeBridge>)> = BTreeMap::new();
    for b in &desired.bridges {
        // A bridge's name is its local port's: an existing port of that name must go.
        wanted.insert(&b.name, ("", None, None));
    }
    for b in &desired.bridges {
        for p in &b.ports {
            wanted.insert(&p.name, (&b.name, Some(b.resolved_port(p)), None));
        }
        for fb in &b.fake_bridges {
            wanted.insert(&fb.name, (&b.name, None, Some(fb)));
        }
    }
    // Existing ports (not bridges' local ports) as (bridge, port | fake).
    let mut existing: BTreeMap<String, (String, Option<OvsPort>, Option<FakeBridge>)> = BTreeMap::new();
    for b in &have.bridges {
        for p in &b.ports {
            existing.insert(p.name.clone(), (b.name.clone(), Some(p.clone()), None));
        }
        for fb in &b.fake_bridges {
            existing.insert(fb.name.clone(), (b.name.clone(), None, Some(fb.clone())));
        }
    }

    let mut removals = Vec::new();
    let mut bridge_steps = Vec::new();
    let mut port_steps = Vec::new();
    let mut fake_steps = Vec::new();

    let removed_bridges: BTreeSet<&str> = have
        .bridges
        .iter()
        .map(|b| b.name.as_str())
        .filter(|n| !want_bridges.contains(n) && (desired.prune || wanted.contains_key(n)))
        .collect();

    for (name, (bridge, port, fake)) in &existing {
        let keep = match wanted.get(name.as_str()) {
            Some((wb, wp, wf)) => {
                wb == bridge
                    && match (port, wp, fake, wf) {
                        (Some(p), Some(wp), _, _) => p.kind == wp.kind,
                        (_, _, Some(_), Some(_)) => true,
                        _ => false,
                    }
            }
            // Not wanted: removed if its bridge is managed (and not removed as a whole).
            None => !want_bridges.contains(bridge.as_str()),
        };
        if !keep && !removed_bridges.contains(bridge.as_str()) {
            let uuid = located
                .get(name)
                .map(|(_, u)| u.clone())
                .ok_or_else(|| Error::OvsState(format!("port {name} has no row")))?;
            removals.push(OvsStep::RemovePort { bridge: bridge.clone(), name: name.clone(), uuid });
        }
    }
    for name in &removed_bridges {
        let uuid = current.bridge_uuid(name).ok_or_else(|| Error::OvsState(format!("bridge {name} has no row")))?;
        bridge_steps.push(OvsStep::RemoveBridge { name: name.to_string(), uuid });
    }
    for b in &desired.bridges {
        match have_bridges.get(b.name.as_str()) {
            None => bridge_steps.push(OvsStep::AddBridge {
                name: b.name.clone(),
                datapath_type: b.datapath_type,
                fail_mode: b.fail_mode,
                stp: b.stp,
            }),
            Some(h) if (h.datapath_type, h.fail_mode, h.stp) != (b.datapath_type, b.fail_mode, b.stp) => bridge_steps
                .push(OvsStep::SetBridge {
                    name: b.name.clone(),
                    datapath_type: b.datapath_type,
                    fail_mode: b.fail_mode,
                    stp: b.stp,
                }),
            Some(_) => {}
        }
        let removed: BTreeSet<&str> = removals
            .iter()
            .filter_map(|s| if let OvsStep::RemovePort { name, .. } = s { Some(name.as_str()) } else { None })
            .collect();
        for p in &b.ports {
            let p = b.resolved_port(p);
            match existing.get(&p.name) {
                Some((_, Some(have), _)) if !removed.contains(p.name.as_str()) => {
                    if *have != p {
                        port_steps.push(OvsStep::SetPort { bridge: b.name.clone(), port: p })
                    }
                }
                _ => port_steps.push(OvsStep::AddPort { bridge: b.name.clone(), port: p }),
            }
        }
        for fb in &b.fake_bridges {
            match existing.get(&fb.name) {
                Some((_, _, Some(have))) if !removed.contains(fb.name.as_str()) => {
                    if have.vlan != fb.vlan {
                        fake_steps.push(OvsStep::SetFakeBridge { parent: b.name.clone(), fake: fb.clone() })
                    }
                }
                _ => fake_steps.push(OvsStep::AddFakeBridge { parent: b.name.clone(), fake: fb.clone() }),
            }
        }
    }
    let mut steps = removals;
    steps.extend(bridge_steps);
    steps.extend(port_steps);
    steps.extend(fake_steps);
    Ok(steps)
}
