//! The links' own phases of a diff: creating what is declared and missing (with a view of every
//! managed link as it is after that), then each link's settings (MTU, MAC, bridge and bond
//! options).

use std::collections::{BTreeMap, BTreeSet};

use super::{BridgeWant, Create, Desired};
use crate::addr::{IpCidr, MacAddr};
use crate::model::{BondMode, LacpRate};
use crate::plan::{Plan, Step};
use crate::state::{LinkKind, NetState, RouteState, VlanEntry};
use crate::Error;

/// What a link will look like after the create step (or is now).
pub(super) struct View {
    pub(super) mtu: Option<u32>,
    pub(super) mac: Option<MacAddr>,
    pub(super) up: bool,
    pub(super) controller: Option<String>,
    pub(super) addresses: BTreeSet<IpCidr>,
    pub(super) bridge: Option<BridgeWant>,
    /// An existing bond's settings as the kernel reports them.
    pub(super) bond: Option<(Option<BondMode>, Option<u32>, Option<LacpRate>)>,
    pub(super) vlans: BTreeSet<VlanEntry>,
    pub(super) routes: Vec<RouteState>,
}

/// Phase 4: the steps that create the declared links that do not exist (or were deleted in an
/// earlier phase: `gone`), and the view of every managed link after them. `absent` are the
/// links that go away, `postponed` those of them deleted last; `is_bond` tells a bond (made by
/// the model or existing).
pub(super) fn create<'d>(
    desired: &'d Desired,
    current: &NetState,
    gone: &BTreeSet<String>,
    absent: &BTreeSet<&str>,
    postponed: &BTreeSet<&str>,
    is_bond: &dyn Fn(&str) -> bool,
    plan: &mut Plan,
) -> Result<BTreeMap<&'d str, View>, Error> {
    let mut views: BTreeMap<&str, View> = BTreeMap::new();
    for d in &desired.links {
        if let Some(l) = current.link(&d.name).filter(|_| !gone.contains(&d.name)) {
            let bridge = match l.kind {
                LinkKind::Bridge { stp, forward_delay_cs, vlan_filtering } => {
                    Some(BridgeWant { stp, forward_delay_cs: Some(forward_delay_cs), vlan_filtering })
                }
                _ => None,
            };
            let controller =
                l.controller.clone().filter(|c| !absent.contains(c.as_str()) || postponed.contains(c.as_str()));
            // A member of a bond deleted above was released, and the kernel sets it down then.
            let released =
                l.controller.is_some() && controller.is_none() && l.controller.as_deref().is_some_and(is_bond);
            views.insert(
                &d.name,
                View {
                    mtu: Some(l.mtu),
                    mac: l.mac,
                    up: l.up && !released,
                    controller,
                    addresses: l.addresses.iter().copied().collect(),
                    bridge,
                    bond: match l.kind {
                        LinkKind::Bond { mode, miimon, lacp_rate } => Some((mode, miimon, lacp_rate)),
                        _ => None,
                    },
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
            bond: None,
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
            Create::Bond { mode, miimon, lacp_rate } => {
                plan.push(
                    Step::CreateBond {
                        name: d.name.clone(),
                        mode: *mode,
                        miimon: *miimon,
                        lacp_rate: *lacp_rate,
                        mtu: d.mtu,
                    },
                    reason,
                );
            }
            Create::Tap => {
                plan.push(Step::CreateTap { name: d.name.clone() }, reason);
                view.up = false;
                view.mtu = None;
            }
        }
        views.insert(&d.name, view);
    }
    Ok(views)
}

/// Phase 5: each link's settings that differ from its view (MTU, MAC, bridge options, bond
/// options; a bond's mode cannot change while it exists: a conflict).
pub(super) fn settings(desired: &Desired, views: &BTreeMap<&str, View>, plan: &mut Plan) -> Result<(), Error> {
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
        if let (Create::Bond { mode, miimon, lacp_rate }, Some((m, mi, lr))) = (&d.create, v.bond) {
            if m != Some(*mode) {
                let have = m.map_or_else(|| "a mode the model does not name".to_string(), |m| m.to_string());
                return Err(Error::Conflict {
                    name: d.name.clone(),
                    field: format!("{}.mode", d.origin),
                    reason: format!(
                        "the bond exists in {have}, the model wants {mode}: the kernel changes a bond's mode only \
                         while it is down and has no members (tear it down first, or declare its mode)"
                    ),
                });
            }
            let miimon = miimon.filter(|w| mi != Some(*w));
            let lacp_rate = lacp_rate.filter(|w| lr != Some(*w));
            if miimon.is_some() || lacp_rate.is_some() {
                plan.push(
                    Step::SetBond { name: d.name.clone(), miimon, lacp_rate },
                    format!("{}: bond settings differ", d.origin),
                );
            }
        }
    }
    Ok(())
}
