//! Desired state and the diff that turns it into a [`Plan`]: from a [`HostNetwork`] (forward)
//! or from a captured [`NetState`] (rollback). Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet};

use crate::addr::{IpCidr, MacAddr};
use crate::model::HostNetwork;
use crate::plan::{Plan, RouteSpec, Step};
use crate::state::{LinkKind, NetState, RouteState, VlanEntry};
use crate::Error;

mod restore;
pub(crate) use restore::touched;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Create {
    Existing,
    Bridge,
    Veth {
        peer: String,
    },
    VethPeer {
        partner: String,
    },
    Vlan {
        parent: String,
        id: u16,
    },
    Tap,
    /// Made by Open vSwitch (an internal interface): never created or deleted over netlink, and
    /// possibly not there yet when planning (OVS steps run first).
    Ovs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BridgeWant {
    stp: bool,
    forward_delay_cs: Option<u32>,
    vlan_filtering: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct DesiredLink {
    name: String,
    origin: String,
    create: Create,
    mtu: Option<u32>,
    mac: Option<MacAddr>,
    up: Option<bool>,
    controller: Option<Option<String>>,
    addresses: Option<BTreeSet<IpCidr>>,
    routes: Option<Vec<RouteSpec>>,
    bridge: Option<BridgeWant>,
    vlans: Option<BTreeSet<VlanEntry>>,
}

impl DesiredLink {
    fn new(name: &str, origin: String, create: Create) -> Self {
        Self {
            name: name.into(),
            origin,
            create,
            mtu: None,
            mac: None,
            up: Some(true),
            controller: None,
            addresses: None,
            routes: None,
            bridge: None,
            vlans: None,
        }
    }
}

/// What the namespace should look like, for the links it names.
#[derive(Debug, Clone, Default)]
pub(crate) struct Desired {
    links: Vec<DesiredLink>,
    absent: Vec<String>,
    check_foreign: bool,
}

fn route_spec(r: &crate::model::Route, device: &str) -> RouteSpec {
    RouteSpec {
        destination: r.destination,
        gateway: r.gateway,
        device: device.into(),
        metric: r.metric,
        protocol: None,
    }
}

impl Desired {
    /// The desired state of a (validated) model.
    pub(crate) fn from_model(net: &HostNetwork) -> Self {
        let mut links = Vec::new();
        let controller = |n: &str| Some(net.bridge_of(n).map(|b| b.name.clone()));
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
        for (i, u) in net.uplinks.iter().enumerate() {
            let mut d = DesiredLink::new(&u.name, format!("uplinks[{i}]"), Create::Existing);
            d.mtu = u.mtu;
            d.controller = controller(&u.name);
            if net.ovs_port_bridge(&u.name).is_some() {
                d.controller = None; // OVS attaches it (the kernel datapath sets a controller)
            }
            d.addresses = Some(u.addresses.iter().copied().collect());
            d.routes = Some(u.routes.iter().map(|r| route_spec(r, &u.name)).collect());
            links.push(d);
        }
        for (i, v) in net.veths.iter().enumerate() {
            let mut a = DesiredLink::new(&v.name, format!("veths[{i}]"), Create::Veth { peer: v.peer.clone() });
            a.mtu = v.mtu;
            a.controller = controller(&v.name);
            a.addresses = Some(v.addresses.iter().copied().collect());
            a.routes = Some(v.routes.iter().map(|r| route_spec(r, &v.name)).collect());
            let mut b =
                DesiredLink::new(&v.peer, format!("veths[{i}].peer"), Create::VethPeer { partner: v.name.clone() });
            b.mtu = v.mtu;
            b.controller = controller(&v.peer);
            b.addresses = Some(v.peer_addresses.iter().copied().collect());
            b.routes = Some(vec![]);
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
            links.push(d);
        }
        for (i, o) in net.ovs_interfaces.iter().enumerate() {
            let mut d = DesiredLink::new(&o.name, format!("ovs_interfaces[{i}]"), Create::Ovs);
            d.mtu = o.mtu;
            d.addresses = Some(o.addresses.iter().copied().collect());
            d.routes = Some(o.routes.iter().map(|r| route_spec(r, &o.name)).collect());
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
        absent.extend(net.vlans.iter().map(|b| b.name.clone()));
        absent.extend(net.veths.iter().map(|b| b.name.clone()));
        absent.extend(net.taps.iter().map(|b| b.name.clone()));
        Desired { links, absent, check_foreign: false }
    }
}

/// What a link will look like after the create step (or is now).
struct View {
    mtu: Option<u32>,
    mac: Option<MacAddr>,
    up: bool,
    controller: Option<String>,
    addresses: BTreeSet<IpCidr>,
    bridge: Option<BridgeWant>,
    vlans: BTreeSet<VlanEntry>,
    routes: Vec<RouteState>,
}

fn kind_matches(create: &Create, kind: &LinkKind) -> Result<(), String> {
    let ok = match (create, kind) {
        (Create::Existing | Create::Ovs, _) => true,
        (Create::Bridge, LinkKind::Bridge { .. }) => true,
        (Create::Veth { peer }, LinkKind::Veth { peer: p }) => p.as_deref() == Some(peer.as_str()),
        (Create::VethPeer { partner }, LinkKind::Veth { peer: p }) => p.as_deref() == Some(partner.as_str()),
        (Create::Vlan { parent, id }, LinkKind::Vlan { parent: p, id: i }) => {
            p.as_deref() == Some(parent.as_str()) && id == i
        }
        (Create::Tap, LinkKind::Tap) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        let want = match create {
            Create::Existing | Create::Ovs => "any link".to_string(),
            Create::Bridge => "a bridge".into(),
            Create::Veth { peer } => format!("a veth with peer {peer}"),
            Create::VethPeer { partner } => format!("a veth with peer {partner}"),
            Create::Vlan { parent, id } => format!("VLAN {id} on {parent}"),
            Create::Tap => "a tap".into(),
        };
        Err(format!("it exists as {kind:?}, the model wants {want}"))
    }
}

fn route_matches(want: &RouteSpec, have: &RouteState) -> bool {
    want.destination == have.destination
        && want.gateway == have.gateway
        && want.device == have.device
        && want.metric.is_none_or(|m| m == have.metric)
}

/// The plan that takes `current` to `desired`.
pub(crate) fn diff(desired: &Desired, current: &NetState) -> Result<Plan, Error> {
    let mut plan = Plan::default();
    let absent: BTreeSet<&str> = desired.absent.iter().map(String::as_str).collect();
    let managed: BTreeSet<&str> = desired.links.iter().map(|d| d.name.as_str()).collect();
    let wanted_on = |a: &IpCidr| desired.links.iter().find(|d| d.addresses.as_ref().is_some_and(|s| s.contains(a)));

    // Check kinds, and that what must exist does.
    for d in &desired.links {
        match current.link(&d.name) {
            None if d.create == Create::Existing => {
                return Err(Error::MissingDevice { name: d.name.clone(), field: d.origin.clone() })
            }
            None => {}
            Some(l) => kind_matches(&d.create, &l.kind).map_err(|reason| Error::Conflict {
                name: d.name.clone(),
                field: d.origin.clone(),
                reason,
            })?,
        }
    }

    // 1–2. Routes and addresses that go away.
    for d in &desired.links {
        let Some(l) = current.link(&d.name) else { continue };
        if let Some(want) = &d.routes {
            for r in current.routes_on(&d.name).filter(|r| !r.is_kernel()) {
                if !want.iter().any(|w| route_matches(w, r)) {
                    let spec = RouteSpec {
                        destination: r.destination,
                        gateway: r.gateway,
                        device: r.device.clone(),
                        metric: Some(r.metric),
                        protocol: None,
                    };
                    plan.push(Step::DelRoute(spec), format!("{}: route not declared on {}", d.origin, d.name));
                }
            }
        }
        if let Some(want) = &d.addresses {
            for a in l.addresses.iter().filter(|a| !want.contains(a)) {
                let why = match wanted_on(a) {
                    Some(o) => format!("{}: address belongs on {} ({}), it moves there", d.origin, o.name, o.origin),
                    None => format!("{}: address not declared on {}", d.origin, d.name),
                };
                plan.push(Step::DelAddress { device: d.name.clone(), address: *a }, why);
            }
        }
    }

    // 3. Links that go away (a veth pair goes as a whole).
    let mut gone: BTreeSet<String> = BTreeSet::new();
    for name in &desired.absent {
        let Some(l) = current.link(name) else { continue };
        if gone.contains(name) {
            continue;
        }
        if let LinkKind::Veth { peer: Some(p) } = &l.kind {
            gone.insert(p.clone());
        }
        gone.insert(name.clone());
        plan.push(Step::DeleteLink { name: name.clone() }, format!("{name} is not wanted"));
    }

    // 4. Links to create; a view of every managed link after this phase.
    let mut views: BTreeMap<&str, View> = BTreeMap::new();
    for d in &desired.links {
        if let Some(l) = current.link(&d.name).filter(|_| !gone.contains(&d.name)) {
            let bridge = match l.kind {
                LinkKind::Bridge { stp, forward_delay_cs, vlan_filtering } => {
                    Some(BridgeWant { stp, forward_delay_cs: Some(forward_delay_cs), vlan_filtering })
                }
                _ => None,
            };
            let controller = l.controller.clone().filter(|c| !absent.contains(c.as_str()));
            views.insert(
                &d.name,
                View {
                    mtu: Some(l.mtu),
                    mac: l.mac,
                    up: l.up,
                    controller,
                    addresses: l.addresses.iter().copied().collect(),
                    bridge,
                    vlans: l.vlans.iter().copied().collect(),
                    routes: current.routes_on(&d.name).cloned().collect(),
                },
            );
            continue;
        }
        let ctl = d.controller.clone().flatten();
        let reason = format!("{}: {} is declared and does not exist", d.origin, d.name);
        let mut view = View {
            mtu: d.mtu,
            mac: None,
            up: true,
            controller: None,
            addresses: BTreeSet::new(),
            bridge: None,
            vlans: BTreeSet::new(),
            routes: vec![],
        };
        match &d.create {
            Create::Existing => unreachable!("checked above"),
            Create::Ovs => {
                // Open vSwitch makes it (down, no addresses) in the steps before these.
                view.up = false;
                view.mtu = None;
            }
            Create::Bridge => {
                let b = d.bridge.unwrap_or(BridgeWant { stp: false, forward_delay_cs: None, vlan_filtering: false });
                plan.push(
                    Step::CreateBridge {
                        name: d.name.clone(),
                        stp: b.stp,
                        forward_delay_cs: b.forward_delay_cs,
                        vlan_filtering: b.vlan_filtering.then_some(true),
                        mtu: d.mtu,
                        mac: d.mac,
                    },
                    reason,
                );
                view.mac = d.mac;
                view.bridge = Some(b);
            }
            Create::Veth { peer } => {
                plan.push(
                    Step::CreateVeth { name: d.name.clone(), peer: peer.clone(), mtu: d.mtu, controller: ctl.clone() },
                    reason,
                );
                view.controller = ctl;
            }
            Create::VethPeer { partner } => {
                if current.link(partner).is_some() && !gone.contains(partner) {
                    return Err(Error::Conflict {
                        name: d.name.clone(),
                        field: d.origin.clone(),
                        reason: format!("its partner {partner} exists with another peer"),
                    });
                }
                view.up = false;
            }
            Create::Vlan { parent, id } => {
                plan.push(
                    Step::CreateVlan {
                        name: d.name.clone(),
                        parent: parent.clone(),
                        id: *id,
                        mtu: d.mtu,
                        controller: ctl.clone(),
                    },
                    reason,
                );
                view.controller = ctl;
            }
            Create::Tap => {
                plan.push(Step::CreateTap { name: d.name.clone() }, reason);
                view.up = false;
                view.mtu = None;
            }
        }
        views.insert(&d.name, view);
    }

    // 5. Settings.
    for d in &desired.links {
        let v = &views[d.name.as_str()];
        if let Some(m) = d.mtu.filter(|m| v.mtu != Some(*m)) {
            plan.push(Step::SetMtu { name: d.name.clone(), mtu: m }, format!("{}: MTU {m} wanted", d.origin));
        }
        if let Some(m) = d.mac.filter(|m| v.mac != Some(*m)) {
            plan.push(Step::SetMac { name: d.name.clone(), mac: m }, format!("{}: MAC {m} wanted", d.origin));
        }
        if let (Some(w), Some(h)) = (d.bridge, v.bridge) {
            let stp = (w.stp != h.stp).then_some(w.stp);
            let fd = w.forward_delay_cs.filter(|f| h.forward_delay_cs != Some(*f));
            let vf = (w.vlan_filtering != h.vlan_filtering).then_some(w.vlan_filtering);
            if stp.is_some() || fd.is_some() || vf.is_some() {
                plan.push(
                    Step::SetBridge { name: d.name.clone(), stp, forward_delay_cs: fd, vlan_filtering: vf },
                    format!("{}: bridge settings differ", d.origin),
                );
            }
        }
    }
    // 6. Ports.
    for d in &desired.links {
        let v = &views[d.name.as_str()];
        if let Some(want) = d.controller.as_ref().filter(|w| **w != v.controller) {
            let why = match want {
                Some(b) => format!("{}: {} is a port of {b}", d.origin, d.name),
                None => format!("{}: {} is a port of no bridge", d.origin, d.name),
            };
            plan.push(Step::SetController { name: d.name.clone(), controller: want.clone() }, why);
        }
    }
    // 7. Bridge VLANs.
    for d in &desired.links {
        let v = &views[d.name.as_str()];
        let Some(want) = &d.vlans else { continue };
        let bridge_self = matches!(d.create, Create::Bridge);
        for e in v.vlans.iter().filter(|e| !want.iter().any(|w| w.vid == e.vid)) {
            plan.push(
                Step::DelBridgeVlan { port: d.name.clone(), vid: e.vid, bridge_self },
                format!("{}: VLAN {} not declared on {}", d.origin, e.vid, d.name),
            );
        }
        for e in want.iter().filter(|w| !v.vlans.contains(w)) {
            plan.push(
                Step::AddBridgeVlan {
                    port: d.name.clone(),
                    vid: e.vid,
                    pvid: e.pvid,
                    untagged: e.untagged,
                    bridge_self,
                },
                format!("{}: VLAN {} declared on {}", d.origin, e.vid, d.name),
            );
        }
    }
    // 8. Up/down.
    for d in &desired.links {
        let v = &views[d.name.as_str()];
        if let Some(up) = d.up.filter(|u| *u != v.up) {
            plan.push(
                Step::SetUp { name: d.name.clone(), up },
                format!("{}: {} wanted", d.origin, if up { "up" } else { "down" }),
            );
        }
    }
    // 9. Addresses.
    for d in &desired.links {
        let v = &views[d.name.as_str()];
        let Some(want) = &d.addresses else { continue };
        for a in want.iter().filter(|a| !v.addresses.contains(a)) {
            if desired.check_foreign {
                if let Some(l) = current
                    .links
                    .values()
                    .find(|l| !managed.contains(l.name.as_str()) && l.addresses.iter().any(|b| b.addr() == a.addr()))
                {
                    return Err(Error::AddressHeldElsewhere {
                        field: d.origin.clone(),
                        address: a.to_string(),
                        device: l.name.clone(),
                    });
                }
            }
            let from = plan.steps.iter().find_map(|p| match &p.step {
                Step::DelAddress { device, address } if address == a => Some(device.clone()),
                _ => None,
            });
            let why = match from {
                Some(f) => format!("{}: declared on {}, moved from {f}", d.origin, d.name),
                None => format!("{}: declared on {}", d.origin, d.name),
            };
            plan.push(Step::AddAddress { device: d.name.clone(), address: *a }, why);
        }
    }
    // 10. Routes.
    for d in &desired.links {
        let v = &views[d.name.as_str()];
        let Some(want) = &d.routes else { continue };
        for w in want.iter().filter(|w| !v.routes.iter().any(|r| route_matches(w, r))) {
            plan.push(Step::AddRoute(w.clone()), format!("{}: route declared on {}", d.origin, d.name));
        }
    }
    Ok(plan)
}
