//! Persistent tap devices. The kernel makes tun/tap devices only through `/dev/net/tun`
//! (`TUNSETIFF`, then `TUNSETPERSIST` so the device outlives the file descriptor), not through
//! rtnetlink; this is what `ip tuntap add NAME mode tap` does.

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;

use crate::Error;

const TUNSETIFF: u64 = 0x4004_54ca;
const TUNSETPERSIST: u64 = 0x4004_54cb;
const IFF_TAP: i16 = 0x0002;
const IFF_NO_PI: i16 = 0x1000;

/// `struct ifreq` as far as `TUNSETIFF` reads it: the name and the flags, padded to 40 bytes.
#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: i16,
    _pad: [u8; 22],
}

fn err(name: &str, what: &str, source: std::io::Error) -> Error {
    Error::Kernel {
        context: format!("ip tuntap add {name} mode tap ({what})"),
        errno: source.raw_os_error().unwrap_or(0),
        message: source.to_string(),
    }
}

/// Create a persistent tap device in the calling thread's namespace.
///
/// ```no_run
/// kvmhost_net::tap::create_persistent_tap("vnet9").unwrap();
/// ```
pub fn create_persistent_tap(name: &str) -> Result<(), Error> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(|e| err(name, "open /dev/net/tun", e))?;
    let mut req = IfReq { name: [0; 16], flags: IFF_TAP | IFF_NO_PI, _pad: [0; 22] };
    let bytes = name.as_bytes();
    if bytes.len() > 15 {
        return Err(err(name, "name", std::io::Error::from_raw_os_error(22)));
    }
    req.name[..bytes.len()].copy_from_slice(bytes);
    // SAFETY: `f` is an open /dev/net/tun descriptor and `req` is a properly sized, initialised
    // `struct ifreq` that lives for the duration of the call; TUNSETIFF reads and writes it.
    let rc = unsafe { nix::libc::ioctl(f.as_raw_fd(), TUNSETIFF as _, &mut req as *mut IfReq) };
    if rc < 0 {
        return Err(err(name, "TUNSETIFF", std::io::Error::last_os_error()));
    }
    // SAFETY: TUNSETPERSIST takes an integer argument by value; the descriptor is the one above.
    let rc = unsafe { nix::libc::ioctl(f.as_raw_fd(), TUNSETPERSIST as _, 1 as nix::libc::c_ulong) };
    if rc < 0 {
        return Err(err(name, "TUNSETPERSIST", std::io::Error::last_os_error()));
    }
    Ok(())
}
