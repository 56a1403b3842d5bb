//! What the namespace holds after one step, as the engine models it (pure): a checkpoint's
//! rollback script is computed from it before the step runs, so a caller killed between the
//! step and the next rewrite of the script still leaves a script that undoes the step.

use crate::plan::{RouteSpec, Step};
use crate::state::{LinkKind, LinkState, NetState, RouteState, VlanEntry, RTPROT_STATIC};

fn link<'s>(s: &'s mut NetState, name: &str) -> Option<&'s mut LinkState> {
    s.links.get_mut(name)
}

fn made(name: &str, kind: LinkKind, mtu: Option<u32>, up: bool, controller: Option<String>) -> LinkState {
    let mut l = LinkState::new(name, kind);
    l.mtu = mtu.unwrap_or(1500);
    l.up = up;
    l.controller = controller;
    l
}

fn route_of(spec: &RouteSpec) -> RouteState {
    let mut r = RouteState::new(spec.destination, spec.gateway, &spec.device);
    r.metric = spec.metric.unwrap_or(0);
    r.protocol = spec.protocol.unwrap_or(RTPROT_STATIC);
    r
}

/// `now` after `step` (an OVS step changes nothing here: its devices are Open vSwitch's).
pub(super) fn after(now: &NetState, step: &Step) -> NetState {
    let mut s = now.clone();
    match step {
        Step::CreateBridge { name, stp, forward_delay_cs, vlan_filtering, mtu, mac } => {
            let kind = LinkKind::Bridge {
                stp: *stp,
                forward_delay_cs: forward_delay_cs.unwrap_or(1500),
                vlan_filtering: vlan_filtering.unwrap_or(false),
            };
            let mut l = made(name, kind, *mtu, true, None);
            l.mac = *mac;
            s.links.insert(name.clone(), l);
        }
        Step::CreateVeth { name, peer, mtu, controller } => {
            let a = made(name, LinkKind::Veth { peer: Some(peer.clone()) }, *mtu, true, controller.clone());
            let b = made(peer, LinkKind::Veth { peer: Some(name.clone()) }, *mtu, false, None);
            s.links.insert(name.clone(), a);
            s.links.insert(peer.clone(), b);
        }
        Step::CreateVlan { name, parent, id, mtu, controller } => {
            let kind = LinkKind::Vlan { parent: Some(parent.clone()), id: *id };
            s.links.insert(name.clone(), made(name, kind, *mtu, true, controller.clone()));
        }
        Step::CreateBond { name, mode, miimon, lacp_rate, mtu } => {
            let kind = LinkKind::Bond { mode: Some(*mode), miimon: *miimon, lacp_rate: *lacp_rate };
            s.links.insert(name.clone(), made(name, kind, *mtu, true, None));
        }
        Step::CreateTap { name } => {
            s.links.insert(name.clone(), made(name, LinkKind::Tap, None, false, None));
        }
        Step::DeleteLink { name } => {
            let mut gone = vec![name.clone()];
            if let Some(LinkKind::Veth { peer: Some(p) }) = s.links.get(name).map(|l| &l.kind) {
                gone.push(p.clone());
            }
            for g in &gone {
                s.links.remove(g);
            }
            s.routes.retain(|r| !gone.contains(&r.device));
            for l in s.links.values_mut() {
                if l.controller.as_ref().is_some_and(|c| gone.contains(c)) {
                    l.controller = None;
                }
            }
        }
        Step::SetMtu { name, mtu } => {
            if let Some(l) = link(&mut s, name) {
                l.mtu = *mtu;
            }
        }
        Step::SetMac { name, mac } => {
            if let Some(l) = link(&mut s, name) {
                l.mac = Some(*mac);
            }
        }
        Step::SetBridge { name, stp, forward_delay_cs, vlan_filtering } => {
            if let Some(LinkKind::Bridge { stp: s0, forward_delay_cs: f0, vlan_filtering: v0 }) =
                link(&mut s, name).map(|l| &mut l.kind)
            {
                *s0 = stp.unwrap_or(*s0);
                *f0 = forward_delay_cs.unwrap_or(*f0);
                *v0 = vlan_filtering.unwrap_or(*v0);
            }
        }
        Step::SetBond { name, miimon, lacp_rate } => {
            if let Some(LinkKind::Bond { miimon: m0, lacp_rate: r0, .. }) = link(&mut s, name).map(|l| &mut l.kind) {
                *m0 = miimon.or(*m0);
                *r0 = lacp_rate.or(*r0);
            }
        }
        Step::SetController { name, controller } => {
            if let Some(l) = link(&mut s, name) {
                l.controller = controller.clone();
            }
        }
        Step::SetUp { name, up } => {
            if let Some(l) = link(&mut s, name) {
                l.up = *up;
            }
        }
        Step::AddBridgeVlan { port, vid, pvid, untagged, .. } => {
            if let Some(l) = link(&mut s, port) {
                l.vlans.retain(|v| v.vid != *vid);
                l.vlans.push(VlanEntry { vid: *vid, pvid: *pvid, untagged: *untagged });
                l.vlans.sort();
            }
        }
        Step::DelBridgeVlan { port, vid, .. } => {
            if let Some(l) = link(&mut s, port) {
                l.vlans.retain(|v| v.vid != *vid);
            }
        }
        Step::AddAddress { device, address } => {
            if let Some(l) = link(&mut s, device) {
                if !l.addresses.contains(address) {
                    l.addresses.push(*address);
                }
            }
        }
        Step::DelAddress { device, address } => {
            if let Some(l) = link(&mut s, device) {
                l.addresses.retain(|a| a != address);
            }
        }
        Step::AddRoute(r) => s.routes.push(route_of(r)),
        Step::DelRoute(r) => s.routes.retain(|have| {
            !(have.destination == r.destination && have.device == r.device && r.metric.is_none_or(|m| m == have.metric))
        }),
        Step::ReplaceRoute { route, .. } => {
            let new = route_of(route);
            s.routes.retain(|have| !(have.destination == new.destination && have.metric == new.metric));
            s.routes.push(new);
        }
        _ => {}
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_link_is_predicted_and_its_deletion_too() {
        let now = NetState::default();
        let next = after(&now, &Step::CreateVeth { name: "a".into(), peer: "b".into(), mtu: None, controller: None });
        assert_eq!(next.links.len(), 2);
        assert!(next.links["a"].up && !next.links["b"].up);
        let addr = "10.0.0.1/24".parse().unwrap();
        let next = after(&next, &Step::AddAddress { device: "a".into(), address: addr });
        assert_eq!(next.links["a"].addresses, vec![addr]);
        let gone = after(&next, &Step::DeleteLink { name: "b".into() });
        assert!(gone.links.is_empty(), "a veth pair goes as a whole");
    }
}
