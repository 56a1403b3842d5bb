//! The desired state of a rollback: the links a plan touched, as they were before.

use std::collections::BTreeSet;

use super::{BridgeWant, Create, Desired, DesiredLink};
use crate::plan::{Plan, RouteSpec, Step};
use crate::state::{LinkKind, NetState};

impl Desired {
    /// The state captured before a change, for the links the change touched. Links in
    /// `ovs_made` that did not exist before lose the addresses and routes the change gave them
    /// (the OVS rollback then removes the devices themselves).
    pub(crate) fn restore(prior: &NetState, touched: &BTreeSet<String>, ovs_made: &BTreeSet<String>) -> Self {
        let mut links: Vec<DesiredLink> = Vec::new();
        let mut absent = Vec::new();
        let mut ordered: Vec<&String> = touched.iter().collect();
        let rank = |n: &String| match prior.link(n).map(|l| &l.kind) {
            Some(LinkKind::Bridge { .. }) => 0,
            Some(LinkKind::Vlan { .. }) => 2,
            _ => 1,
        };
        ordered.sort_by_key(|n| rank(n));
        for name in ordered {
            let Some(l) = prior.link(name) else {
                if ovs_made.contains(name) {
                    let mut d = DesiredLink::new(name, format!("the state before ({name}, made by OVS)"), Create::Ovs);
                    d.up = None;
                    d.addresses = Some(BTreeSet::new());
                    d.routes = Some(vec![]);
                    links.push(d);
                } else {
                    absent.push(name.clone());
                }
                continue;
            };
            let create = match &l.kind {
                LinkKind::Bridge { .. } => Create::Bridge,
                LinkKind::Veth { peer: Some(p) } => {
                    if links.iter().any(|d| d.create == Create::Veth { peer: name.clone() }) {
                        Create::VethPeer { partner: p.clone() }
                    } else {
                        Create::Veth { peer: p.clone() }
                    }
                }
                LinkKind::Vlan { parent: Some(p), id } => Create::Vlan { parent: p.clone(), id: *id },
                LinkKind::Tap => Create::Tap,
                // A bond deleted by the change is made again with its settings.
                LinkKind::Bond { mode: Some(mode), miimon, lacp_rate } => {
                    Create::Bond { mode: *mode, miimon: *miimon, lacp_rate: *lacp_rate }
                }
                _ => Create::Existing,
            };
            let mut d = DesiredLink::new(name, format!("the state before ({name})"), create);
            d.mtu = Some(l.mtu);
            d.up = Some(l.up);
            d.controller = Some(l.controller.clone());
            d.addresses = Some(l.addresses.iter().copied().collect());
            d.routes = Some(
                prior
                    .routes_on(name)
                    .filter(|r| !r.is_kernel())
                    .map(|r| RouteSpec {
                        destination: r.destination,
                        gateway: r.gateway,
                        device: r.device.clone(),
                        metric: Some(r.metric),
                        protocol: Some(r.protocol),
                    })
                    .collect(),
            );
            if let LinkKind::Bridge { stp, forward_delay_cs, vlan_filtering } = l.kind {
                d.bridge = Some(BridgeWant { stp, forward_delay_cs: Some(forward_delay_cs), vlan_filtering });
            }
            d.vlans = Some(l.vlans.iter().copied().collect());
            links.push(d);
        }
        Desired { links, absent, check_foreign: false }
    }
}

/// The names a plan changes (a veth's peer included), for rollback.
pub(crate) fn touched(plan: &Plan, current: &NetState) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for p in &plan.steps {
        out.insert(p.step.device().to_string());
        match &p.step {
            Step::CreateVeth { peer, .. } => {
                out.insert(peer.clone());
            }
            Step::ReplaceRoute { from, .. } => {
                out.insert(from.clone());
            }
            Step::DeleteLink { name } => {
                if let Some(LinkKind::Veth { peer: Some(peer) }) = current.link(name).map(|l| &l.kind) {
                    out.insert(peer.clone());
                }
            }
            _ => {}
        }
    }
    out
}
