//! Link dumps read straight from a plain netlink socket. `netlink-packet-route` 0.33 formats
//! every IPv6 and statistics attribute of every link into a debug string while parsing it
//! (eager error context), which makes a dump of a few hundred links take hundreds of
//! milliseconds; this reader picks out only the attributes the state needs.
//!
//! Writes go through the same socket: the request is built with `rtnetlink`'s message types
//! ([`crate::message::build`]), serialized, sent, and its acknowledgement read back here, one
//! request at a time and without an async runtime in between. The kernel's extended
//! acknowledgement (its own words for a refusal) is kept in the error.

use std::io;

use rtnetlink::sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::addr::{IpCidr, MacAddr};
use crate::state::{LinkKind, LinkState, VlanEntry};

const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_TABLE: u16 = 15;
const RTN_UNICAST: u8 = 1;
const RT_TABLE_MAIN: u32 = 254;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const RTM_GETLINK: u16 = 18;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
/// `NLM_F_ACK_TLVS`: the error message carries extended-ack attributes.
const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLM_F_CAPPED`: the error message does not repeat the request's payload.
const NLM_F_CAPPED: u16 = 0x100;
/// `NLMSGERR_ATTR_MSG`.
const NLMSGERR_ATTR_MSG: u16 = 1;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_AF_SPEC: u16 = 26;
const IFLA_EXT_MASK: u16 = 29;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_BR_FORWARD_DELAY: u16 = 1;
const IFLA_BR_STP_STATE: u16 = 5;
const IFLA_BR_VLAN_FILTERING: u16 = 7;
const IFLA_VLAN_ID: u16 = 1;
const IFLA_BRIDGE_VLAN_INFO: u16 = 2;
const IFF_UP: u32 = 1;
/// `RTEXT_FILTER_BRVLAN`.
pub(crate) const FILTER_BRVLAN: u32 = 2;
/// `RTEXT_FILTER_SKIP_STATS`.
pub(crate) const FILTER_SKIP_STATS: u32 = 8;
/// `AF_BRIDGE`.
pub(crate) const AF_BRIDGE: u8 = 7;

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_ne_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

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

/// (type without flag bits, payload) of each attribute.
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = u16_at(b, 0) as usize;
        if len < 4 || len > b.len() {
            return None;
        }
        let item = (u16_at(b, 2) & 0x3fff, &b[4..len]);
        b = &b[((len + 3) & !3).min(b.len())..];
        Some(item)
    })
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
                        vlans.push(VlanEntry { vid: u16_at(w, 2), pvid: flags & 2 != 0, untagged: flags & 4 != 0 });
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
        "tun" => LinkKind::Tap,
        k => LinkKind::Other { kind: k.to_string() },
    };
    vlans.sort();
    Some((l, controller, link, vlans))
}

/// A plain (blocking) route-netlink socket for dumps (links, addresses, routes).
pub(crate) struct LinkDumper {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl LinkDumper {
    /// Open the socket in the calling thread's namespace.
    pub(crate) fn open() -> io::Result<Self> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        // Best effort: without them errors lose the kernel's text, or carry the request back.
        let _ = sock.set_ext_ack(true);
        let _ = sock.set_cap_ack(true);
        Ok(Self { sock, seq: 0, buf: Vec::with_capacity(1 << 16) })
    }

    /// `RTM_GETLINK` dump of a family with an extended filter mask; the payload of each link.
    pub(crate) fn dump(&mut self, family: u8, ext_mask: u32) -> io::Result<Vec<Vec<u8>>> {
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
        match self.transact(&mut req, Some(RTM_NEWLINK)) {
            Ok(reply) => Ok(reply.filter(|p| p.len() >= 16).map(|p| u32_at(&p, 4))),
            Err(e) if e.errno == ENODEV => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Send one serialized request (header flags as built, `NLM_F_ACK` set) and wait for its
    /// acknowledgement.
    pub(crate) fn request(&mut self, req: &mut [u8]) -> Result<(), NetlinkRefusal> {
        self.transact(req, None).map(|_| ())
    }

    /// Send `req` with the next sequence number; return the payload of the first reply of type
    /// `reply` (if any), stop at the acknowledgement or error.
    fn transact(&mut self, req: &mut [u8], reply: Option<u16>) -> Result<Option<Vec<u8>>, NetlinkRefusal> {
        Ok(self.exchange(req, reply)?.into_iter().next())
    }

    fn dump_raw(&mut self, request: u16, reply: u16, body: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        let mut req = header(16 + body.len(), request, NLM_F_REQUEST | NLM_F_DUMP);
        req.extend_from_slice(body);
        self.exchange(&mut req, Some(reply)).map_err(|r| match r.errno {
            0 => io::Error::new(io::ErrorKind::InvalidData, r.to_string()),
            errno => io::Error::from_raw_os_error(errno),
        })
    }

    /// The one receive loop of this socket: send `req` with the next sequence number and
    /// collect the payloads of the replies of type `reply` until the dump's end, the
    /// acknowledgement, a single (not multi-part) reply, or the kernel's refusal.
    fn exchange(&mut self, req: &mut [u8], reply: Option<u16>) -> Result<Vec<Vec<u8>>, NetlinkRefusal> {
        self.seq = self.seq.wrapping_add(1);
        req[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        self.sock.send(req, 0).map_err(NetlinkRefusal::io)?;
        let mut out = Vec::new();
        loop {
            self.buf.clear();
            let n = self.sock.recv(&mut self.buf, 0).map_err(NetlinkRefusal::io)?;
            let mut b = &self.buf[..n];
            while b.len() >= 16 {
                let len = u32_at(b, 0) as usize;
                if len < 16 || len > b.len() {
                    let e = io::Error::new(io::ErrorKind::InvalidData, "truncated netlink message");
                    return Err(NetlinkRefusal::io(e));
                }
                let (ty, flags, seq) = (u16_at(b, 4), u16_at(b, 6), u32_at(b, 8));
                if seq == self.seq {
                    match ty {
                        NLMSG_DONE => return Ok(out),
                        NLMSG_ERROR => {
                            let errno = if len >= 20 { -(u32_at(b, 16) as i32) } else { 0 };
                            if errno == 0 {
                                return Ok(out);
                            }
                            return Err(NetlinkRefusal { errno, extack: extack_message(&b[..len], flags) });
                        }
                        t if Some(t) == reply => {
                            out.push(b[16..len].to_vec());
                            if flags & NLM_F_MULTI == 0 {
                                // A plain GET answers with the object and no acknowledgement.
                                return Ok(out);
                            }
                        }
                        _ => {}
                    }
                }
                b = &b[((len + 3) & !3).min(b.len())..];
            }
        }
    }
}

const NLM_F_MULTI: u16 = 2;
const ENODEV: i32 = 19;

/// A netlink header for a message of `len` bytes (sequence number filled in when sent).
fn header(len: usize, ty: u16, flags: u16) -> Vec<u8> {
    let mut h = Vec::with_capacity(len);
    h.extend_from_slice(&(len as u32).to_ne_bytes());
    h.extend_from_slice(&ty.to_ne_bytes());
    h.extend_from_slice(&flags.to_ne_bytes());
    h.extend_from_slice(&[0u8; 8]);
    h
}

/// The kernel's own text in an extended acknowledgement (`NLMSGERR_ATTR_MSG`), if any.
fn extack_message(msg: &[u8], flags: u16) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 || msg.len() < 36 {
        return None;
    }
    // nlmsghdr (16) + error (4) + the request's header (16) [+ its payload unless capped].
    let mut start = 36;
    if flags & NLM_F_CAPPED == 0 {
        start = 20 + u32_at(msg, 20) as usize;
    }
    let tlvs = msg.get(((start + 3) & !3).min(msg.len())..)?;
    attrs(tlvs)
        .find(|(t, _)| *t == NLMSGERR_ATTR_MSG)
        .map(|(_, v)| String::from_utf8_lossy(v.split(|c| *c == 0).next().unwrap_or(&[])).into_owned())
}

/// The kernel refused a request: its errno and, when it said more, its words.
#[derive(Debug)]
pub(crate) struct NetlinkRefusal {
    pub(crate) errno: i32,
    pub(crate) extack: Option<String>,
}

impl NetlinkRefusal {
    fn io(e: io::Error) -> Self {
        NetlinkRefusal { errno: e.raw_os_error().unwrap_or(0), extack: Some(e.to_string()) }
    }
}

impl std::fmt::Display for NetlinkRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", io::Error::from_raw_os_error(self.errno))?;
        if let Some(m) = &self.extack {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}
