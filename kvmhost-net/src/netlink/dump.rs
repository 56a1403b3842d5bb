//! The dump parser: links, addresses and routes read straight from the route socket.
//! `netlink-packet-route` 0.33 formats every IPv6 and statistics attribute of every link into a
//! debug string while parsing it (eager error context), which makes a dump of a few hundred
//! links take hundreds of milliseconds (BENCHMARKS.md); this reader picks out only the
//! attributes the state needs. It only reads: every request a [`Dumper`] sends is a `GET`.
//!
//! Constants come from `libc` (the kernel's uapi headers) and the netlink-packet crates; the
//! few neither exports are named after their header below.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nix::errno::Errno;
use nix::libc;
use rtnetlink::packet_core::{NLM_F_DUMP, NLM_F_REQUEST};
use rtnetlink::packet_route::link::BridgeVlanInfoFlags;

use super::socket::{attrs, header, u16_at, u32_at, NetlinkRefusal, RouteSocket};
use crate::addr::{IpCidr, MacAddr};
use crate::model::{BondMode, LacpRate};
use crate::state::{LinkKind, LinkState, VlanEntry};

const RTM_NEWLINK: u16 = libc::RTM_NEWLINK;
const RTM_GETLINK: u16 = libc::RTM_GETLINK;
const RTM_NEWADDR: u16 = libc::RTM_NEWADDR;
const RTM_GETADDR: u16 = libc::RTM_GETADDR;
const RTM_NEWROUTE: u16 = libc::RTM_NEWROUTE;
const RTM_GETROUTE: u16 = libc::RTM_GETROUTE;
const IFA_ADDRESS: u16 = libc::IFA_ADDRESS;
const IFA_LOCAL: u16 = libc::IFA_LOCAL;
const RTA_DST: u16 = libc::RTA_DST;
const RTA_OIF: u16 = libc::RTA_OIF;
const RTA_GATEWAY: u16 = libc::RTA_GATEWAY;
const RTA_PRIORITY: u16 = libc::RTA_PRIORITY;
const RTA_TABLE: u16 = libc::RTA_TABLE;
const RTN_UNICAST: u8 = libc::RTN_UNICAST;
const RT_TABLE_MAIN: u32 = libc::RT_TABLE_MAIN as u32;
const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;
const IFLA_ADDRESS: u16 = libc::IFLA_ADDRESS;
const IFLA_IFNAME: u16 = libc::IFLA_IFNAME;
const IFLA_MTU: u16 = libc::IFLA_MTU;
const IFLA_LINK: u16 = libc::IFLA_LINK;
const IFLA_MASTER: u16 = libc::IFLA_MASTER;
const IFLA_LINKINFO: u16 = libc::IFLA_LINKINFO;
const IFLA_AF_SPEC: u16 = libc::IFLA_AF_SPEC;
const IFLA_EXT_MASK: u16 = libc::IFLA_EXT_MASK;
const IFLA_INFO_KIND: u16 = libc::IFLA_INFO_KIND;
const IFLA_INFO_DATA: u16 = libc::IFLA_INFO_DATA;
const IFF_UP: u32 = libc::IFF_UP as u32;
const PVID: u16 = BridgeVlanInfoFlags::Pvid.bits();
const UNTAGGED: u16 = BridgeVlanInfoFlags::Untagged.bits();
// `include/uapi/linux/if_link.h` and `if_bridge.h`: exported by neither `libc` nor the
// netlink-packet crates (which keep theirs private).
const IFLA_BR_FORWARD_DELAY: u16 = 1;
const IFLA_BR_STP_STATE: u16 = 5;
const IFLA_BR_VLAN_FILTERING: u16 = 7;
const IFLA_VLAN_ID: u16 = 1;
const IFLA_BOND_MODE: u16 = 1;
const IFLA_BOND_MIIMON: u16 = 3;
const IFLA_BOND_AD_LACP_RATE: u16 = 21;
const IFLA_BRIDGE_VLAN_INFO: u16 = 2;
/// `RTEXT_FILTER_BRVLAN`.
pub(crate) const FILTER_BRVLAN: u32 = libc::RTEXT_FILTER_BRVLAN as u32;
/// `RTEXT_FILTER_SKIP_STATS`.
pub(crate) const FILTER_SKIP_STATS: u32 = libc::RTEXT_FILTER_SKIP_STATS as u32;
/// `AF_BRIDGE`.
pub(crate) const AF_BRIDGE: u8 = libc::AF_BRIDGE as u8;

fn ip_from(family: u8, v: &[u8]) -> Option<IpAddr> {
    match (family, v.len()) {
        (AF_INET, 4) => Some(IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3]))),
        (AF_INET6, 16) => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(v).ok()?))),
        _ => None,
    }
}

/// A route as the kernel reports it, with its output interface index.
pub(crate) struct RawRoute {
    pub(crate) destination: IpCidr,
    pub(crate) gateway: Option<IpAddr>,
    pub(crate) oif: u32,
    pub(crate) metric: u32,
    pub(crate) protocol: u8,
    pub(crate) scope: u8,
}

/// A link, the indexes of its controller and lower link, and its bridge VLAN entries.
pub(crate) type ParsedLink = (LinkState, Option<u32>, Option<u32>, Vec<VlanEntry>);

/// A link from an `RTM_NEWLINK` payload (ifinfomsg + attributes): the state with name, kind,
/// MTU, MAC, up flag, and the raw indexes of its controller and lower link.
pub(crate) fn parse_link(payload: &[u8]) -> Option<ParsedLink> {
    if payload.len() < 16 {
        return None;
    }
    let mut l = LinkState::new("", LinkKind::Other { kind: String::new() });
    l.index = u32_at(payload, 4);
    l.up = u32_at(payload, 8) & IFF_UP != 0;
    let (mut controller, mut link, mut vlans) = (None, None, Vec::new());
    let mut kind = String::new();
    let mut data: &[u8] = &[];
    for (ty, v) in attrs(&payload[16..]) {
        match ty {
            IFLA_IFNAME => l.name = String::from_utf8_lossy(v.split(|c| *c == 0).next().unwrap_or(&[])).into_owned(),
            IFLA_MTU if v.len() >= 4 => l.mtu = u32_at(v, 0),
            IFLA_ADDRESS if v.len() == 6 => l.mac = Some(MacAddr::new([v[0], v[1], v[2], v[3], v[4], v[5]])),
            IFLA_MASTER if v.len() >= 4 => controller = Some(u32_at(v, 0)),
            IFLA_LINK if v.len() >= 4 => link = Some(u32_at(v, 0)),
            IFLA_LINKINFO => {
                for (t, w) in attrs(v) {
                    match t {
                        IFLA_INFO_KIND => {
                            kind = String::from_utf8_lossy(w.split(|c| *c == 0).next().unwrap_or(&[])).into_owned()
                        }
                        IFLA_INFO_DATA => data = w,
                        _ => {}
                    }
                }
            }
            IFLA_AF_SPEC => {
                for (t, w) in attrs(v) {
                    if t == IFLA_BRIDGE_VLAN_INFO && w.len() >= 4 {
                        let flags = u16_at(w, 0);
                        vlans.push(VlanEntry {
                            vid: u16_at(w, 2),
                            pvid: flags & PVID != 0,
                            untagged: flags & UNTAGGED != 0,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    l.kind = match kind.as_str() {
        "bridge" => {
            let (mut stp, mut fd, mut vf) = (false, 1500, false);
            for (t, w) in attrs(data) {
                match t {
                    IFLA_BR_STP_STATE if w.len() >= 4 => stp = u32_at(w, 0) != 0,
                    IFLA_BR_FORWARD_DELAY if w.len() >= 4 => fd = u32_at(w, 0),
                    IFLA_BR_VLAN_FILTERING if !w.is_empty() => vf = w[0] != 0,
                    _ => {}
                }
            }
            LinkKind::Bridge { stp, forward_delay_cs: fd, vlan_filtering: vf }
        }
        "veth" => LinkKind::Veth { peer: None },
        "vlan" => {
            let id = attrs(data).find(|(t, w)| *t == IFLA_VLAN_ID && w.len() >= 2).map(|(_, w)| u16_at(w, 0));
            LinkKind::Vlan { parent: None, id: id.unwrap_or(0) }
        }
        "bond" => {
            let (mut mode, mut miimon, mut lacp_rate) = (None, None, None);
            for (t, w) in attrs(data) {
                match t {
                    // `BOND_MODE_*` of include/uapi/linux/if_bonding.h.
                    IFLA_BOND_MODE if !w.is_empty() => {
                        mode = match w[0] {
                            1 => Some(BondMode::ActiveBackup),
                            2 => Some(BondMode::BalanceXor),
                            4 => Some(BondMode::Ieee8023ad),
                            _ => None,
                        }
                    }
                    IFLA_BOND_MIIMON if w.len() >= 4 => miimon = Some(u32_at(w, 0)),
                    IFLA_BOND_AD_LACP_RATE if !w.is_empty() => {
                        lacp_rate = Some(if w[0] == 0 { LacpRate::Slow } else { LacpRate::Fast })
                    }
                    _ => {}
                }
            }
            LinkKind::Bond { mode, miimon, lacp_rate }
        }
        "tun" => LinkKind::Tap,
        k => LinkKind::Other { kind: k.to_string() },
    };
    vlans.sort();
    Some((l, controller, link, vlans))
}

/// The read side of a route socket: `GET` dumps and lookups, nothing else.
pub(crate) struct Dumper<'a> {
    sock: &'a mut RouteSocket,
}

impl<'a> Dumper<'a> {
    /// Reads through `sock`.
    pub(crate) fn new(sock: &'a mut RouteSocket) -> Self {
        Self { sock }
    }

    /// `RTM_GETLINK` dump of a family with an extended filter mask; the payload of each link.
    pub(crate) fn links(&mut self, family: u8, ext_mask: u32) -> io::Result<Vec<Vec<u8>>> {
        let mut body = vec![family, 0, 0, 0];
        body.extend_from_slice(&[0u8; 12]);
        body.extend_from_slice(&8u16.to_ne_bytes());
        body.extend_from_slice(&IFLA_EXT_MASK.to_ne_bytes());
        body.extend_from_slice(&ext_mask.to_ne_bytes());
        self.dump_raw(RTM_GETLINK, RTM_NEWLINK, &body)
    }
    /// All addresses: (interface index, address with prefix).
    pub(crate) fn addresses(&mut self) -> io::Result<Vec<(u32, IpCidr)>> {
        let mut out = Vec::new();
        for p in self.dump_raw(RTM_GETADDR, RTM_NEWADDR, &[0u8; 8])? {
            if p.len() < 8 {
                continue;
            }
            let (family, prefix, index) = (p[0], p[1], u32_at(&p, 4));
            let (mut local, mut address) = (None, None);
            for (t, v) in attrs(&p[8..]) {
                match t {
                    IFA_ADDRESS => address = ip_from(family, v),
                    IFA_LOCAL => local = ip_from(family, v),
                    _ => {}
                }
            }
            if let Some(c) = local.or(address).and_then(|a| IpCidr::new(a, prefix).ok()) {
                out.push((index, c));
            }
        }
        Ok(out)
    }

    /// Unicast routes of the main table: (destination, gateway, oif, metric, protocol, scope).
    pub(crate) fn routes(&mut self) -> io::Result<Vec<RawRoute>> {
        let mut out = Vec::new();
        for family in [AF_INET, AF_INET6] {
            let mut body = [0u8; 12];
            body[0] = family;
            for p in self.dump_raw(RTM_GETROUTE, RTM_NEWROUTE, &body)? {
                if p.len() < 12 || p[7] != RTN_UNICAST {
                    continue;
                }
                let (dst_len, mut table, protocol, scope) = (p[1], u32::from(p[4]), p[5], p[6]);
                let (mut dst, mut gw, mut oif, mut metric) = (None, None, None, 0);
                for (t, v) in attrs(&p[12..]) {
                    match t {
                        RTA_DST => dst = ip_from(family, v),
                        RTA_GATEWAY => gw = ip_from(family, v),
                        RTA_OIF if v.len() >= 4 => oif = Some(u32_at(v, 0)),
                        RTA_PRIORITY if v.len() >= 4 => metric = u32_at(v, 0),
                        RTA_TABLE if v.len() >= 4 => table = u32_at(v, 0),
                        _ => {}
                    }
                }
                if table != RT_TABLE_MAIN {
                    continue;
                }
                let dst = dst.unwrap_or(IpCidr::default_route(family == AF_INET6).addr());
                let (Ok(destination), Some(oif)) = (IpCidr::new(dst, dst_len), oif) else { continue };
                out.push(RawRoute { destination, gateway: gw, oif, metric, protocol, scope });
            }
        }
        Ok(out)
    }

    /// The index of the link named `name` (one `RTM_GETLINK` without statistics), or `None`
    /// when there is no such link.
    pub(crate) fn link_index(&mut self, name: &str) -> Result<Option<u32>, NetlinkRefusal> {
        let mut body = vec![0u8; 16];
        let name_len = name.len() + 1;
        body.extend_from_slice(&((4 + name_len) as u16).to_ne_bytes());
        body.extend_from_slice(&IFLA_IFNAME.to_ne_bytes());
        body.extend_from_slice(name.as_bytes());
        body.resize(body.len() + 1 + (4 - (4 + name_len) % 4) % 4, 0);
        body.extend_from_slice(&8u16.to_ne_bytes());
        body.extend_from_slice(&IFLA_EXT_MASK.to_ne_bytes());
        body.extend_from_slice(&FILTER_SKIP_STATS.to_ne_bytes());
        let mut req = header(16 + body.len(), RTM_GETLINK, NLM_F_REQUEST);
        req.extend_from_slice(&body);
        match self.sock.exchange(&mut req, Some(RTM_NEWLINK)) {
            Ok(reply) => Ok(reply.into_iter().next().filter(|p| p.len() >= 16).map(|p| u32_at(&p, 4))),
            Err(e) if e.errno == Errno::ENODEV => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn dump_raw(&mut self, request: u16, reply: u16, body: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        let mut req = header(16 + body.len(), request, NLM_F_REQUEST | NLM_F_DUMP);
        req.extend_from_slice(body);
        self.sock.exchange(&mut req, Some(reply)).map_err(|r| match r.errno {
            Errno::UnknownErrno => io::Error::new(io::ErrorKind::InvalidData, r.to_string()),
            errno => io::Error::from(errno),
        })
    }
}
