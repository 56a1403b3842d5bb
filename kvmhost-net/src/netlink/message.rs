//! Netlink messages for plan steps, built without any I/O: what [`super::NetlinkKernel`]
//! sends, and what the tests compare byte by byte for the features this kernel lacks (802.1Q,
//! bridge VLAN filtering).

use std::net::IpAddr;

use rtnetlink::packet_core::{NetlinkMessage, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST};
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{
    AfSpecBridge, BondLacpRate, BondMode as KernelBondMode, BridgeFlag, BridgeStpState, BridgeVlanInfo,
    BridgeVlanInfoFlags, InfoBond, InfoBridge, InfoData, InfoKind, InfoVeth, InfoVlan, LinkAttribute, LinkFlags,
    LinkInfo, LinkMessage,
};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::model::{BondMode, LacpRate};
use crate::plan::{RouteSpec, Step};
use crate::state::RTPROT_STATIC;
use crate::Error;

/// A netlink request as sent on the route socket (the netlink-packet crates' type stays inside
/// this crate: the public API is [`request_bytes`]).
pub(crate) type Request = NetlinkMessage<RouteNetlinkMessage>;

/// The netlink request of a step, serialized as the kernel receives it (sequence number 0);
/// `index` resolves link names to interface indexes. `None` for steps that are not netlink
/// requests (a tap is made through `/dev/net/tun`). This is what the tests compare byte by
/// byte against the kernel ABI for features a kernel may lack (802.1Q, bonds, bridge VLAN
/// filtering).
///
/// ```
/// use kvmhost_net::{netlink::message::request_bytes, Step};
/// let step = Step::SetMtu { name: "br0".into(), mtu: 9000 };
/// let bytes = request_bytes(&step, &|_| Ok(7)).unwrap().unwrap();
/// assert_eq!(u32::from_ne_bytes(bytes[0..4].try_into().unwrap()) as usize, bytes.len()); // nlmsg_len
/// assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), 16); // RTM_NEWLINK
/// ```
pub fn request_bytes(step: &Step, index: &dyn Fn(&str) -> Result<u32, Error>) -> Result<Option<Vec<u8>>, Error> {
    Ok(build(step, index)?.map(|req| to_bytes(&req)))
}

fn request(msg: RouteNetlinkMessage, flags: u16) -> Request {
    let mut m = NetlinkMessage::from(msg);
    m.header.flags = flags;
    m.finalize();
    m
}

const CREATE: u16 = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
const CHANGE: u16 = NLM_F_REQUEST | NLM_F_ACK;
/// Create, or replace the entry with the same key (`ip route replace`).
const REPLACE: u16 = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;

fn link_up(m: &mut LinkMessage, up: bool) {
    if up {
        m.header.flags |= LinkFlags::Up;
    }
    m.header.change_mask |= LinkFlags::Up;
}

fn link_info(kind: InfoKind, data: Option<InfoData>) -> LinkAttribute {
    let mut v = vec![LinkInfo::Kind(kind)];
    if let Some(d) = data {
        v.push(LinkInfo::Data(d));
    }
    LinkAttribute::LinkInfo(v)
}

fn bridge_data(stp: Option<bool>, forward_delay_cs: Option<u32>, vlan_filtering: Option<bool>) -> Vec<InfoBridge> {
    let mut d = Vec::new();
    if let Some(s) = stp {
        d.push(InfoBridge::StpState(if s { BridgeStpState::KernelStp } else { BridgeStpState::Disabled }));
    }
    if let Some(f) = forward_delay_cs {
        d.push(InfoBridge::ForwardDelay(f));
    }
    if let Some(v) = vlan_filtering {
        d.push(InfoBridge::VlanFiltering(v));
        if v {
            // No implicit "VLAN 1 pvid untagged" on ports: the model lists every VLAN.
            d.push(InfoBridge::VlanDefaultPvid(0));
        }
    }
    d
}

/// `IFLA_INFO_DATA` of a bond: `IFLA_BOND_MODE`, then `IFLA_BOND_MIIMON` and
/// `IFLA_BOND_AD_LACP_RATE` when set.
fn bond_data(mode: BondMode, miimon: Option<u32>, lacp_rate: Option<LacpRate>) -> Vec<InfoBond> {
    let mode = match mode {
        BondMode::ActiveBackup => KernelBondMode::ActiveBackup,
        BondMode::BalanceXor => KernelBondMode::BalanceXor,
        BondMode::Ieee8023ad => KernelBondMode::Ieee8023Ad,
    };
    let mut d = vec![InfoBond::Mode(mode)];
    if let Some(ms) = miimon {
        d.push(InfoBond::MiiMon(ms));
    }
    if let Some(r) = lacp_rate {
        d.push(InfoBond::AdLacpRate(lacp(r)));
    }
    d
}

fn lacp(rate: LacpRate) -> BondLacpRate {
    match rate {
        LacpRate::Slow => BondLacpRate::Slow,
        LacpRate::Fast => BondLacpRate::Fast,
    }
}

fn address_message(index: u32, address: &crate::IpCidr) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = if address.is_ipv6() { AddressFamily::Inet6 } else { AddressFamily::Inet };
    m.header.prefix_len = address.prefix();
    m.header.index = index;
    m.attributes.push(AddressAttribute::Local(address.addr()));
    m.attributes.push(AddressAttribute::Address(address.addr()));
    m
}

fn route_address(a: IpAddr) -> RouteAddress {
    match a {
        IpAddr::V4(a) => RouteAddress::Inet(a),
        IpAddr::V6(a) => RouteAddress::Inet6(a),
    }
}

fn route_message(r: &RouteSpec, index: u32, add: bool) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = if r.destination.is_ipv6() { AddressFamily::Inet6 } else { AddressFamily::Inet };
    m.header.destination_prefix_length = r.destination.prefix();
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    if add {
        m.header.protocol = RouteProtocol::from(r.protocol.unwrap_or(RTPROT_STATIC));
        m.header.scope = if r.gateway.is_some() { RouteScope::Universe } else { RouteScope::Link };
        m.header.kind = RouteType::Unicast;
    } else {
        m.header.scope = RouteScope::NoWhere;
    }
    if r.destination.prefix() > 0 {
        m.attributes.push(RouteAttribute::Destination(route_address(r.destination.addr())));
    }
    if let Some(g) = r.gateway {
        m.attributes.push(RouteAttribute::Gateway(route_address(g)));
    }
    m.attributes.push(RouteAttribute::Oif(index));
    if let Some(p) = r.metric {
        m.attributes.push(RouteAttribute::Priority(p));
    }
    m
}

fn bridge_vlan_message(index: u32, vid: u16, flags: BridgeVlanInfoFlags, bridge_self: bool) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.interface_family = AddressFamily::Bridge;
    m.header.index = index;
    let mut spec = Vec::new();
    if bridge_self {
        spec.push(AfSpecBridge::Flags(BridgeFlag::LowerDev));
    }
    spec.push(AfSpecBridge::VlanInfo(BridgeVlanInfo { flags, vid }));
    m.attributes.push(LinkAttribute::AfSpecBridge(spec));
    m
}

/// The netlink request of a step; `index` resolves link names to interface indexes. `None`
/// for steps that are not netlink requests (a tap is made through `/dev/net/tun`).
pub(crate) fn build(step: &Step, index: &dyn Fn(&str) -> Result<u32, Error>) -> Result<Option<Request>, Error> {
    use RouteNetlinkMessage as R;
    let req = match step {
        Step::CreateBridge { name, stp, forward_delay_cs, vlan_filtering, mtu, mac } => {
            let mut m = LinkMessage::default();
            link_up(&mut m, true);
            m.attributes.push(LinkAttribute::IfName(name.clone()));
            if let Some(mtu) = mtu {
                m.attributes.push(LinkAttribute::Mtu(*mtu));
            }
            if let Some(mac) = mac {
                m.attributes.push(LinkAttribute::Address(mac.octets().to_vec()));
            }
            let data = bridge_data(Some(*stp), *forward_delay_cs, *vlan_filtering);
            m.attributes.push(link_info(InfoKind::Bridge, Some(InfoData::Bridge(data))));
            request(R::NewLink(m), CREATE)
        }
        Step::CreateVeth { name, peer, mtu, controller } => {
            // The peer cannot be set up in the same request: it has no peer yet when the
            // kernel configures it (veth_open answers ENOTCONN); a SetUp step follows.
            let mut p = LinkMessage::default();
            p.attributes.push(LinkAttribute::IfName(peer.clone()));
            if let Some(mtu) = mtu {
                p.attributes.push(LinkAttribute::Mtu(*mtu));
            }
            let mut m = LinkMessage::default();
            link_up(&mut m, true);
            m.attributes.push(LinkAttribute::IfName(name.clone()));
            if let Some(mtu) = mtu {
                m.attributes.push(LinkAttribute::Mtu(*mtu));
            }
            if let Some(c) = controller {
                m.attributes.push(LinkAttribute::Controller(index(c)?));
            }
            m.attributes.push(link_info(InfoKind::Veth, Some(InfoData::Veth(InfoVeth::Peer(p)))));
            request(R::NewLink(m), CREATE)
        }
        Step::CreateVlan { name, parent, id, mtu, controller } => {
            let mut m = LinkMessage::default();
            link_up(&mut m, true);
            m.attributes.push(LinkAttribute::IfName(name.clone()));
            m.attributes.push(LinkAttribute::Link(index(parent)?));
            if let Some(mtu) = mtu {
                m.attributes.push(LinkAttribute::Mtu(*mtu));
            }
            if let Some(c) = controller {
                m.attributes.push(LinkAttribute::Controller(index(c)?));
            }
            m.attributes.push(link_info(InfoKind::Vlan, Some(InfoData::Vlan(vec![InfoVlan::Id(*id)]))));
            request(R::NewLink(m), CREATE)
        }
        Step::CreateBond { name, mode, miimon, lacp_rate, mtu } => {
            let mut m = LinkMessage::default();
            link_up(&mut m, true);
            m.attributes.push(LinkAttribute::IfName(name.clone()));
            if let Some(mtu) = mtu {
                m.attributes.push(LinkAttribute::Mtu(*mtu));
            }
            let data = bond_data(*mode, *miimon, *lacp_rate);
            m.attributes.push(link_info(InfoKind::Bond, Some(InfoData::Bond(data))));
            request(R::NewLink(m), CREATE)
        }
        Step::SetBond { name, miimon, lacp_rate } => {
            let mut m = LinkMessage::default();
            m.header.index = index(name)?;
            let mut data = Vec::new();
            if let Some(ms) = miimon {
                data.push(InfoBond::MiiMon(*ms));
            }
            if let Some(r) = lacp_rate {
                data.push(InfoBond::AdLacpRate(lacp(*r)));
            }
            m.attributes.push(link_info(InfoKind::Bond, Some(InfoData::Bond(data))));
            request(R::NewLink(m), CHANGE)
        }
        Step::CreateTap { .. } | Step::Ovs { .. } => return Ok(None),
        Step::DeleteLink { name } => {
            let mut m = LinkMessage::default();
            m.header.index = index(name)?;
            request(R::DelLink(m), CHANGE)
        }
        Step::SetMtu { name, mtu } => {
            let mut m = LinkMessage::default();
            m.header.index = index(name)?;
            m.attributes.push(LinkAttribute::Mtu(*mtu));
            request(R::NewLink(m), CHANGE)
        }
        Step::SetMac { name, mac } => {
            let mut m = LinkMessage::default();
            m.header.index = index(name)?;
            m.attributes.push(LinkAttribute::Address(mac.octets().to_vec()));
            request(R::NewLink(m), CHANGE)
        }
        Step::SetBridge { name, stp, forward_delay_cs, vlan_filtering } => {
            let mut m = LinkMessage::default();
            m.header.index = index(name)?;
            let data = bridge_data(*stp, *forward_delay_cs, *vlan_filtering);
            m.attributes.push(link_info(InfoKind::Bridge, Some(InfoData::Bridge(data))));
            request(R::NewLink(m), CHANGE)
        }
        Step::SetController { name, controller } => {
            let mut m = LinkMessage::default();
            m.header.index = index(name)?;
            let c = match controller {
                Some(c) => index(c)?,
                None => 0,
            };
            m.attributes.push(LinkAttribute::Controller(c));
            request(R::NewLink(m), CHANGE)
        }
        Step::SetUp { name, up } => {
            let mut m = LinkMessage::default();
            m.header.index = index(name)?;
            link_up(&mut m, *up);
            request(R::NewLink(m), CHANGE)
        }
        Step::AddBridgeVlan { port, vid, pvid, untagged, bridge_self } => {
            let mut flags = BridgeVlanInfoFlags::empty();
            if *pvid {
                flags |= BridgeVlanInfoFlags::Pvid;
            }
            if *untagged {
                flags |= BridgeVlanInfoFlags::Untagged;
            }
            request(R::SetLink(bridge_vlan_message(index(port)?, *vid, flags, *bridge_self)), CHANGE)
        }
        Step::DelBridgeVlan { port, vid, bridge_self } => {
            let m = bridge_vlan_message(index(port)?, *vid, BridgeVlanInfoFlags::empty(), *bridge_self);
            request(R::DelLink(m), CHANGE)
        }
        Step::AddAddress { device, address } => {
            request(R::NewAddress(address_message(index(device)?, address)), CREATE)
        }
        Step::DelAddress { device, address } => {
            request(R::DelAddress(address_message(index(device)?, address)), CHANGE)
        }
        Step::AddRoute(r) => request(R::NewRoute(route_message(r, index(&r.device)?, true)), CREATE),
        Step::DelRoute(r) => request(R::DelRoute(route_message(r, index(&r.device)?, false)), CHANGE),
        Step::ReplaceRoute { route, .. } => {
            request(R::NewRoute(route_message(route, index(&route.device)?, true)), REPLACE)
        }
    };
    Ok(Some(req))
}

/// The request serialized as the kernel receives it (with sequence number 0).
pub(crate) fn to_bytes(req: &Request) -> Vec<u8> {
    let mut req = req.clone();
    req.finalize();
    let mut buf = vec![0u8; req.buffer_len()];
    req.serialize(&mut buf);
    buf
}
