//! Listening TCP ports from the kernel's socket diagnostics (`NETLINK_SOCK_DIAG`, as `ss -ltn`
//! asks), much cheaper than formatting and parsing `/proc/net/tcp`.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const TCP_LISTEN: u32 = 10;
const HDR: usize = 16;
/// `struct inet_diag_req_v2`.
const REQ: usize = 56;
/// Offset of `id.idiag_sport` in `struct inet_diag_msg` (after family, state, timer, retrans).
const SPORT: usize = 4;

fn request(family: u8, seq: u32) -> [u8; HDR + REQ] {
    let mut b = [0u8; HDR + REQ];
    b[0..4].copy_from_slice(&((HDR + REQ) as u32).to_ne_bytes());
    b[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    b[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    b[HDR] = family;
    b[HDR + 1] = libc::IPPROTO_TCP as u8;
    b[HDR + 4..HDR + 8].copy_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    b
}

fn io_err(what: &str) -> String {
    format!("sock_diag {what}: {}", std::io::Error::last_os_error())
}

/// The local ports of listening TCP sockets (IPv4 and IPv6) in this network namespace.
pub(crate) fn listening_tcp() -> Result<Vec<u16>, String> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, libc::NETLINK_SOCK_DIAG) };
    if fd < 0 {
        return Err(io_err("socket"));
    }
    // SAFETY: `fd` is a new descriptor owned by nothing else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut ports = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    for (seq, family) in [(1u32, libc::AF_INET as u8), (2, libc::AF_INET6 as u8)] {
        let req = request(family, seq);
        // SAFETY: `req` is a valid buffer of the length given; the kernel is the destination
        // (no address: a netlink socket sends to the kernel by default).
        let sent = unsafe { libc::send(sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
        if sent < 0 {
            return Err(io_err("send"));
        }
        'recv: loop {
            // SAFETY: `buf` is a valid, exclusively borrowed buffer of `buf.len()` bytes.
            let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(io_err("recv"));
            }
            let data = &buf[..usize::try_from(n).unwrap_or(0)];
            if data.is_empty() {
                break;
            }
            let mut off = 0;
            while off + HDR <= data.len() {
                let u32_at = |i: usize| u32::from_ne_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
                let len = u32_at(off) as usize;
                let ty = u16::from_ne_bytes([data[off + 4], data[off + 5]]);
                if len < HDR || off + len > data.len() {
                    return Err("sock_diag: truncated message".into());
                }
                match ty {
                    NLMSG_DONE => break 'recv,
                    NLMSG_ERROR => {
                        let errno = if len >= HDR + 4 { (u32_at(off + HDR) as i32).wrapping_neg() } else { 0 };
                        return Err(format!("sock_diag: {}", std::io::Error::from_raw_os_error(errno)));
                    }
                    SOCK_DIAG_BY_FAMILY if len >= HDR + SPORT + 2 => {
                        let p = off + HDR + SPORT;
                        ports.push(u16::from_be_bytes([data[p], data[p + 1]]));
                    }
                    _ => {}
                }
                off += (len + 3) & !3;
            }
        }
    }
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sees_a_listener_of_its_own() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        match super::listening_tcp() {
            Ok(ports) => assert!(ports.contains(&port), "{port} not in {ports:?}"),
            Err(e) => println!("SKIP (kernel): NETLINK_SOCK_DIAG unavailable here: {e}"),
        }
    }
}
