//! The desired state of a model: each link the model declares (or removes, to tear down) with
//! what it must have.

use std::collections::{BTreeMap, BTreeSet};

use super::{route_spec, BridgeWant, Create, Desired, DesiredLink};
use crate::model::HostNetwork;
use crate::state::VlanEntry;

impl Desired {
    /// The desired state of a (validated) model.
    pub(crate) fn from_model(net: &HostNetwork) -> Self {
        let mut links = Vec::new();
        // The bridge a port belongs to, or the bond a member belongs to.
        let controller =
            |n: &str| Some(net.bridge_of(n).map(|b| b.name.clone()).or_else(|| net.bond_of(n).map(|b| b.name.clone())));
        // The device that takes over a port's addresses: a Linux bridge or bond of the model,
        // or an Open vSwitch bridge whose internal interface the model configures.
        let takeover = |n: &str| {
            net.bridge_of(n).map(|b| b.name.clone()).or_else(|| net.bond_of(n).map(|b| b.name.clone())).or_else(|| {
                net.ovs_port_bridge(n).filter(|b| net.ovs_interfaces.iter().any(|o| o.name == *b)).map(String::from)
            })
        };
        let mut vlans_of: BTreeMap<String, BTreeSet<VlanEntry>> = BTreeMap::new();
        for (i, b) in net.bridges.iter().enumerate() {
            let mut d = DesiredLink::new(&b.name, format!("bridges[{i}]"), Create::Bridge);
            d.mtu = b.mtu;
            d.mac = b.mac;
            d.bridge = Some(BridgeWant {
                stp: b.stp,
                forward_delay_cs: b.forward_delay.map(|s| s * 100),
                vlan_filtering: b.vlan_filtering.is_some(),
            });
            d.controller = Some(None);
            d.addresses = Some(b.addresses.iter().copied().collect());
            d.routes = Some(b.routes.iter().map(|r| route_spec(r, &b.name)).collect());
            d.owning(&b.owns);
            if let Some(f) = &b.vlan_filtering {
                for pv in &f.ports {
                    let set = vlans_of.entry(pv.port.clone()).or_default();
                    for vid in &pv.vids {
                        set.insert(VlanEntry {
                            vid: *vid,
                            pvid: pv.pvid == Some(*vid),
                            untagged: pv.untagged.contains(vid),
                        });
                    }
                    if let Some(p) = pv.pvid {
                        if !pv.vids.contains(&p) {
                            set.insert(VlanEntry { vid: p, pvid: true, untagged: true });
                        }
                    }
                }
                // Every port of a filtering bridge is managed: unlisted ports carry no VLAN.
                for p in b.ports.iter().chain(std::iter::once(&b.name)) {
                    vlans_of.entry(p.clone()).or_default();
                }
            }
            links.push(d);
        }
        // Bonds before the VLANs that may sit on them (a VLAN's create names its parent).
        for (i, b) in net.bonds.iter().enumerate() {
            let create = Create::Bond { mode: b.mode, miimon: b.miimon, lacp_rate: b.lacp_rate };
            let mut d = DesiredLink::new(&b.name, format!("bonds[{i}]"), create);
            d.mtu = b.mtu;
            d.controller = controller(&b.name);
            if net.ovs_port_bridge(&b.name).is_some() {
                d.controller = None;
            }
            d.addresses = Some(b.addresses.iter().copied().collect());
            d.routes = Some(b.routes.iter().map(|r| route_spec(r, &b.name)).collect());
            d.owning(&b.owns);
            d.takeover = takeover(&b.name);
            links.push(d);
        }
        for (i, u) in net.uplinks.iter().enumerate() {
            let mut d = DesiredLink::new(&u.name, format!("uplinks[{i}]"), Create::Existing);
            d.addressed(u);
            d.controller = controller(&u.name);
            if net.ovs_port_bridge(&u.name).is_some() {
                d.controller = None; // OVS attaches it (the kernel datapath sets a controller)
            }
            d.takeover = takeover(&u.name);
            links.push(d);
        }
        for (i, v) in net.veths.iter().enumerate() {
            let mut a = DesiredLink::new(&v.name, format!("veths[{i}]"), Create::Veth { peer: v.peer.clone() });
            a.mtu = v.mtu;
            a.controller = controller(&v.name);
            a.addresses = Some(v.addresses.iter().copied().collect());
            a.routes = Some(v.routes.iter().map(|r| route_spec(r, &v.name)).collect());
            a.owning(&v.owns);
            a.takeover = takeover(&v.name);
            let mut b =
                DesiredLink::new(&v.peer, format!("veths[{i}].peer"), Create::VethPeer { partner: v.name.clone() });
            b.mtu = v.mtu;
            b.controller = controller(&v.peer);
            b.addresses = Some(v.peer_addresses.iter().copied().collect());
            b.routes = Some(vec![]);
            b.owning(&[]);
            b.takeover = takeover(&v.peer);
            links.push(a);
            links.push(b);
        }
        for (i, t) in net.taps.iter().enumerate() {
            let mut d = DesiredLink::new(&t.name, format!("taps[{i}]"), Create::Tap);
            d.mtu = t.mtu;
            d.controller = controller(&t.name);
            d.addresses = Some(BTreeSet::new());
            d.routes = Some(vec![]);
            links.push(d);
        }
        for (i, v) in net.vlans.iter().enumerate() {
            let mut d =
                DesiredLink::new(&v.name, format!("vlans[{i}]"), Create::Vlan { parent: v.parent.clone(), id: v.id });
            d.mtu = v.mtu;
            d.controller = controller(&v.name);
            d.addresses = Some(v.addresses.iter().copied().collect());
            d.routes = Some(v.routes.iter().map(|r| route_spec(r, &v.name)).collect());
            d.owning(&v.owns);
            d.takeover = takeover(&v.name);
            links.push(d);
        }
        for (i, o) in net.ovs_interfaces.iter().enumerate() {
            let mut d = DesiredLink::new(&o.name, format!("ovs_interfaces[{i}]"), Create::Ovs);
            d.addressed(o);
            links.push(d);
        }
        for d in &mut links {
            if let Some(v) = vlans_of.remove(&d.name) {
                d.vlans = Some(v);
            }
            if matches!(d.create, Create::Veth { .. } | Create::VethPeer { .. } | Create::Tap)
                && net.ovs_port_bridge(&d.name).is_some()
            {
                d.controller = None;
            }
        }
        Desired { links, absent: vec![], check_foreign: true }
    }

    /// Every link of the model absent (teardown): links it creates are deleted, uplinks lose
    /// their addresses and routes and leave their bridges.
    pub(crate) fn teardown(net: &HostNetwork) -> Self {
        let mut absent = Vec::new();
        let mut links = Vec::new();
        for (i, u) in net.uplinks.iter().enumerate() {
            let mut d = DesiredLink::new(&u.name, format!("uplinks[{i}]"), Create::Existing);
            d.up = None;
            links.push(d);
        }
        absent.extend(net.bridges.iter().map(|b| b.name.clone()));
        absent.extend(net.bonds.iter().map(|b| b.name.clone()));
        absent.extend(net.vlans.iter().map(|b| b.name.clone()));
        absent.extend(net.veths.iter().map(|b| b.name.clone()));
        absent.extend(net.taps.iter().map(|b| b.name.clone()));
        Desired { links, absent, check_foreign: false }
    }
}
