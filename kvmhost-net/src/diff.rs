//! Desired state and the diff that turns it into a [`Plan`]: from a [`HostNetwork`] (forward)
//! or from a captured [`NetState`] (rollback). Pure: no I/O.

use std::collections::BTreeSet;

use crate::addr::{IpCidr, IpFamily, MacAddr};
use crate::model::{BondMode, IpInterface, LacpRate};
use crate::plan::{Plan, RouteSpec, Step};
use crate::state::{LinkKind, NetState, RouteState, VlanEntry};
use crate::Error;

mod desired;
mod links;
mod persist;
mod restore;
mod settle;
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
    Bond {
        mode: BondMode,
        miimon: Option<u32>,
        lacp_rate: Option<LacpRate>,
    },
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
    /// Families whose addresses are exactly `addresses` (others are left alone or move along).
    owns_addresses: BTreeSet<IpFamily>,
    /// Families whose routes are exactly `routes`.
    owns_routes: BTreeSet<IpFamily>,
    /// The device that takes over this one's addresses (the bridge it becomes a port of).
    takeover: Option<String>,
}

const BOTH: [IpFamily; 2] = [IpFamily::Ipv4, IpFamily::Ipv6];

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
            owns_addresses: BOTH.into(),
            owns_routes: BOTH.into(),
            takeover: None,
        }
    }

    /// Ownership from what the model declares: a family with an address declared owns the
    /// addresses, one with a route declared the routes, and `owns` both.
    fn owning(&mut self, owns: &[IpFamily]) {
        let mut a: BTreeSet<IpFamily> = owns.iter().copied().collect();
        let mut r = a.clone();
        a.extend(self.addresses.iter().flatten().map(|x| x.family()));
        r.extend(self.routes.iter().flatten().map(|x| x.destination.family()));
        self.owns_addresses = a;
        self.owns_routes = r;
    }

    /// The MTU, addresses, routes and ownership of an uplink or OVS interface.
    fn addressed(&mut self, i: &IpInterface) {
        self.mtu = i.mtu;
        self.addresses = Some(i.addresses.iter().copied().collect());
        self.routes = Some(i.routes.iter().map(|r| route_spec(r, &i.name)).collect());
        self.owning(&i.owns);
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
        // The mode is compared with the settings (step 5), which can say why it cannot change.
        (Create::Bond { .. }, LinkKind::Bond { .. }) => true,
        (Create::Bond { .. }, LinkKind::Other { kind }) => kind == "bond",
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
            Create::Bond { mode, .. } => format!("a bond ({mode})"),
        };
        Err(format!("it exists as {kind:?}, the model wants {want}"))
    }
}

/// Whether `want` takes the place of `have` in the kernel (same destination and metric: adding
/// it beside `have` is refused, replacing swaps them).
fn replaces(want: &RouteSpec, have: &RouteState) -> bool {
    want.destination == have.destination && want.metric.is_none_or(|m| m == have.metric)
}

fn route_matches(want: &RouteSpec, have: &RouteState) -> bool {
    want.destination == have.destination
        && want.gateway == have.gateway
        && want.device == have.device
        && want.metric.is_none_or(|m| m == have.metric)
}

/// The plan that takes `current` to `desired`.
pub(crate) fn diff(declared: &Desired, current: &NetState) -> Result<Plan, Error> {
    let desired = &declared.settle(current);
    let mut plan = Plan::default();
    let absent: BTreeSet<&str> = desired.absent.iter().map(String::as_str).collect();
    let managed: BTreeSet<&str> = desired.links.iter().map(|d| d.name.as_str()).collect();
    let wanted_on = |a: &IpCidr| desired.links.iter().find(|d| d.addresses.as_ref().is_some_and(|s| s.contains(a)));
    // A bond: one the model makes, or one that exists.
    let bonds: BTreeSet<&str> =
        desired.links.iter().filter(|d| matches!(d.create, Create::Bond { .. })).map(|d| d.name.as_str()).collect();
    let is_bond = |n: &str| bonds.contains(n) || current.link(n).is_some_and(|l| l.kind.name() == "bond");

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

    // Routes that move: wanted on one link, missing there, and held by another managed link
    // that does not want it (same destination and metric): replaced in one request, never
    // deleted first.
    // A link that goes away may hand its routes and addresses over too (a rollback moving the
    // host back from a bridge): it is then deleted last. Not a veth whose peer stays.
    let late: BTreeSet<&str> = desired
        .absent
        .iter()
        .filter(|n| match current.link(n).map(|l| &l.kind) {
            None => false,
            Some(LinkKind::Veth { peer: Some(p) }) => absent.contains(p.as_str()),
            Some(_) => true,
        })
        .map(String::as_str)
        .collect();
    let empty: Vec<RouteSpec> = Vec::new();
    let mut moves: Vec<(&RouteSpec, &RouteState)> = Vec::new();
    for t in &desired.links {
        let Some(want) = &t.routes else { continue };
        for w in want.iter().filter(|w| !current.routes_on(&t.name).any(|h| route_matches(w, h))) {
            let sources = desired
                .links
                .iter()
                .filter(|l| l.name != t.name)
                .filter_map(|l| Some((l.name.as_str(), l.routes.as_ref()?)))
                .chain(late.iter().map(|n| (*n, &empty)));
            let source = sources.into_iter().find_map(|(name, kept)| {
                current.routes_on(name).find(|r| {
                    !r.is_kernel()
                        && replaces(w, r)
                        && !kept.iter().any(|k| route_matches(k, r))
                        && !moves.iter().any(|(_, m)| m == r)
                })
            });
            if let Some(r) = source {
                moves.push((w, r));
            }
        }
    }
    // The links deleted last (with a veth's peer).
    let mut postponed: BTreeSet<&str> = late
        .iter()
        .copied()
        .filter(|n| {
            moves.iter().any(|(_, r)| r.device == *n)
                || current.link(n).is_some_and(|l| l.addresses.iter().any(|a| wanted_on(a).is_some()))
        })
        .collect();
    for n in postponed.clone() {
        if let Some(LinkKind::Veth { peer: Some(p) }) = current.link(n).map(|l| &l.kind) {
            if let Some(p) = late.get(p.as_str()) {
                postponed.insert(p);
            }
        }
    }
    let mut moved_off: Vec<(String, IpCidr, String)> = Vec::new();

    // 1–2. Routes and addresses that go away (an address declared on another link is removed
    // last, once it is there).
    for d in &desired.links {
        let Some(l) = current.link(&d.name) else { continue };
        if let Some(want) = &d.routes {
            for r in current.routes_on(&d.name).filter(|r| !r.is_kernel()) {
                if !want.iter().any(|w| route_matches(w, r)) && !moves.iter().any(|(_, m)| *m == r) {
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
                match wanted_on(a) {
                    Some(o) => moved_off.push((
                        d.name.clone(),
                        *a,
                        format!(
                            "{}: address belongs on {} ({}), it moves there (removed here once it is there)",
                            d.origin, o.name, o.origin
                        ),
                    )),
                    None => plan.push(
                        Step::DelAddress { device: d.name.clone(), address: *a },
                        format!("{}: address not declared on {}", d.origin, d.name),
                    ),
                }
            }
        }
    }

    // 3. Links that go away (a veth pair goes as a whole).
    let mut gone: BTreeSet<String> = BTreeSet::new();
    for name in &desired.absent {
        let Some(l) = current.link(name) else { continue };
        if gone.contains(name) || postponed.contains(name.as_str()) {
            continue;
        }
        if let LinkKind::Veth { peer: Some(p) } = &l.kind {
            gone.insert(p.clone());
        }
        gone.insert(name.clone());
        plan.push(Step::DeleteLink { name: name.clone() }, format!("{name} is not wanted"));
    }

    // 4. Links to create; a view of every managed link after this phase.
    let views = links::create(desired, current, &gone, &absent, &postponed, &is_bond, &mut plan)?;
    // 5. Settings.
    links::settings(desired, &views, &mut plan)?;
    // 6. Addresses, before ports are enslaved: a bridge holds the address its port hands over
    // before traffic reaches it.
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
            let from = moved_off.iter().find(|(_, m, _)| m == a).map(|(f, _, _)| f.as_str());
            let declared_here =
                declared.links.iter().any(|x| x.name == d.name && x.addresses.as_ref().is_some_and(|s| s.contains(a)));
            let why = match (from, declared_here) {
                (Some(f), true) => format!("{}: declared on {}, moved from {f}", d.origin, d.name),
                (Some(f), false) => {
                    format!("{}: moves along from {f}, which hands its addresses to {}", d.origin, d.name)
                }
                (None, _) => format!("{}: declared on {}", d.origin, d.name),
            };
            plan.push(Step::AddAddress { device: d.name.clone(), address: *a }, why);
        }
    }
    // 7. Ports and bond members. The kernel enslaves a link to a bond only when it is down
    // (it is set up again with the others below), and sets a released member down.
    let mut downed: BTreeSet<&str> = BTreeSet::new();
    for d in &desired.links {
        let v = &views[d.name.as_str()];
        if let Some(want) = d.controller.as_ref().filter(|w| **w != v.controller) {
            let to_bond = want.as_deref().is_some_and(is_bond);
            if to_bond {
                // Going down would take the addresses that move off it with it (IPv6 ones are
                // flushed on down): they are on the bond already, remove them here first.
                let (now, later): (Vec<_>, Vec<_>) = moved_off.drain(..).partition(|(dev, _, _)| *dev == d.name);
                moved_off = later;
                for (device, address, why) in now {
                    plan.push(Step::DelAddress { device, address }, why);
                }
            }
            if to_bond && v.up {
                plan.push(
                    Step::SetUp { name: d.name.clone(), up: false },
                    format!("{}: {} is enslaved to a bond, which needs it down", d.origin, d.name),
                );
            }
            if to_bond || v.controller.as_deref().is_some_and(is_bond) {
                downed.insert(&d.name);
            }
            let why = match want {
                Some(b) if to_bond => format!("{}: {} is a member of bond {b}", d.origin, d.name),
                Some(b) => format!("{}: {} is a port of {b}", d.origin, d.name),
                None => format!("{}: {} is a port of no bridge or bond", d.origin, d.name),
            };
            plan.push(Step::SetController { name: d.name.clone(), controller: want.clone() }, why);
        }
    }
    // 8. Bridge VLANs.
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
    // 9. Up/down.
    for d in &desired.links {
        let v = &views[d.name.as_str()];
        let is_up = v.up && !downed.contains(d.name.as_str());
        if let Some(up) = d.up.filter(|u| *u != is_up) {
            plan.push(
                Step::SetUp { name: d.name.clone(), up },
                format!("{}: {} wanted", d.origin, if up { "up" } else { "down" }),
            );
        }
    }
    // 10. Routes.
    for d in &desired.links {
        let v = &views[d.name.as_str()];
        let Some(want) = &d.routes else { continue };
        for w in want.iter().filter(|w| !v.routes.iter().any(|r| route_matches(w, r))) {
            match moves.iter().find(|(m, _)| std::ptr::eq(*m, w)) {
                Some((_, from)) => {
                    let route = RouteSpec { metric: Some(from.metric), ..w.clone() };
                    plan.push(
                        Step::ReplaceRoute { from: from.device.clone(), route },
                        format!("{}: route on {}, moved from {} in one request", d.origin, d.name, from.device),
                    );
                }
                None => plan.push(Step::AddRoute(w.clone()), format!("{}: route declared on {}", d.origin, d.name)),
            }
        }
    }
    // 11. Addresses that moved, off the links they left (now that they are in place).
    for (device, address, why) in moved_off {
        plan.push(Step::DelAddress { device, address }, why);
    }
    // 12. Links that go away once what they held is elsewhere.
    for name in desired.absent.iter().filter(|n| postponed.contains(n.as_str())) {
        if gone.contains(name) {
            continue;
        }
        if let Some(LinkKind::Veth { peer: Some(p) }) = current.link(name).map(|l| &l.kind) {
            gone.insert(p.clone());
        }
        gone.insert(name.clone());
        plan.push(
            Step::DeleteLink { name: name.clone() },
            format!("{name} is not wanted (deleted last: what it held is in place elsewhere)"),
        );
    }
    Ok(plan)
}
