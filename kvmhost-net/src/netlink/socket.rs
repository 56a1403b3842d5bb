//! The route-netlink socket: one blocking `NETLINK_ROUTE` socket, bound in the namespace of the
//! thread that opened it, and its one receive loop. Reads ([`super::dump::Dumper`]) and writes
//! ([`RouteSocket::request`], requests built by [`super::message`]) both go through
//! [`RouteSocket::exchange`], one request at a time and without an async runtime in between.
//! The kernel's extended acknowledgement (its own words for a refusal) is kept in the error.

use std::io;

use nix::errno::Errno;
use rtnetlink::packet_core::{NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_MULTIPART};
use rtnetlink::sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// `NLMSGERR_ATTR_MSG` (`include/uapi/linux/netlink.h`; neither `libc` nor the netlink-packet
/// crates export it).
const NLMSGERR_ATTR_MSG: u16 = 1;

/// A blocking route-netlink socket.
pub(crate) struct RouteSocket {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl RouteSocket {
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

    /// Send one serialized write request (header flags as built, `NLM_F_ACK` set) and wait for
    /// its acknowledgement.
    pub(crate) fn request(&mut self, req: &mut [u8]) -> Result<(), NetlinkRefusal> {
        self.exchange(req, None).map(|_| ())
    }

    /// The one receive loop of this socket: send `req` with the next sequence number and
    /// collect the payloads of the replies of type `reply` until the dump's end, the
    /// acknowledgement, a single (not multi-part) reply, or the kernel's refusal.
    pub(crate) fn exchange(&mut self, req: &mut [u8], reply: Option<u16>) -> Result<Vec<Vec<u8>>, NetlinkRefusal> {
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
                            return Err(NetlinkRefusal {
                                errno: Errno::from_raw(errno),
                                extack: extack_message(&b[..len], flags),
                            });
                        }
                        t if Some(t) == reply => {
                            out.push(b[16..len].to_vec());
                            if flags & NLM_F_MULTIPART == 0 {
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

/// A netlink header for a message of `len` bytes (sequence number filled in when sent).
pub(crate) fn header(len: usize, ty: u16, flags: u16) -> Vec<u8> {
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
    pub(crate) errno: Errno,
    pub(crate) extack: Option<String>,
}

impl NetlinkRefusal {
    fn io(e: io::Error) -> Self {
        let errno = Errno::from_raw(e.raw_os_error().unwrap_or(0));
        NetlinkRefusal { errno, extack: Some(e.to_string()) }
    }
}

impl std::fmt::Display for NetlinkRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", io::Error::from_raw_os_error(self.errno as i32))?;
        if let Some(m) = &self.extack {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

pub(super) fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_ne_bytes([b[i], b[i + 1]])
}

pub(super) fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// (type without flag bits, payload) of each attribute.
pub(super) fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
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
