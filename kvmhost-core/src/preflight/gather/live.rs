//! The facts files cannot answer: KVM's ioctls, `adjtimex`, `uname`, `access`.
//!
//! [`SystemProbe`] asks the running kernel. For a root that is not the live system,
//! [`FileProbe`] reads the same facts from `ROOT/kvmhost-facts/live.conf` (libvirt's
//! configuration syntax) so a fixture or a captured host can state them; without that file
//! they are unknown "because ROOT is not the live system".
//!
//! ```text
//! # ROOT/kvmhost-facts/live.conf
//! kvm_api_version = 12          # KVM answered KVM_GET_API_VERSION (usable) ...
//! kvm_max_vcpus = 240
//! # kvm_error = "/dev/kvm: No such file or directory"   # ... or why it is not usable
//! clock_synchronised = 1        # adjtimex: 1 synchronised, 0 not
//! kernel_release = "6.1.0-18-amd64"
//! machine = "x86_64"
//! ```

use super::super::{ClockSync, Fact, Kernel, Kvm};
use crate::config::{Value, Virconf};
use std::path::{Path, PathBuf};

/// The facts only a running system answers.
pub trait LiveProbe: Send + Sync {
    /// Whether KVM answers its ioctls.
    fn kvm(&self) -> Fact<Kvm>;
    /// The kernel clock's synchronisation.
    fn clock(&self) -> Fact<ClockSync>;
    /// `uname`.
    fn kernel(&self) -> Fact<Kernel>;
    /// Whether this process may read and write `path` (a path on the host, under the root).
    fn accessible(&self, path: &Path) -> Option<bool>;
    /// The local ports of listening TCP sockets, when the probe can tell faster than
    /// `ROOT/proc/net/tcp` (`None`: read the files).
    fn tcp_listening(&self) -> Option<Vec<u16>> {
        None
    }
}

/// The running kernel's answers (syscalls and ioctls).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemProbe;

const KVMIO: u32 = 0xAE;
const KVM_GET_API_VERSION: u32 = KVMIO << 8;
const KVM_CHECK_EXTENSION: u32 = (KVMIO << 8) | 0x03;
const KVM_CAP_MAX_VCPUS: libc::c_ulong = 66;
const KVM_CAP_USER_MEMORY: libc::c_ulong = 3;
/// The only KVM API version there has ever been.
pub const KVM_API_VERSION: i32 = 12;

impl LiveProbe for SystemProbe {
    fn kvm(&self) -> Fact<Kvm> {
        use std::os::fd::AsRawFd;
        let dev = match std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm") {
            Ok(f) => f,
            Err(e) => {
                let detail = format!("cannot open /dev/kvm: {e}");
                return Fact::Known(Kvm { usable: false, api_version: None, max_vcpus: None, detail });
            }
        };
        let fd = dev.as_raw_fd();
        // SAFETY: `fd` is an open descriptor owned by `dev` for the duration of the calls;
        // KVM_GET_API_VERSION takes no argument and KVM_CHECK_EXTENSION an integer, neither
        // reads or writes memory of this process.
        let (api, user_mem, max) = unsafe {
            (
                libc::ioctl(fd, KVM_GET_API_VERSION as _, 0),
                libc::ioctl(fd, KVM_CHECK_EXTENSION as _, KVM_CAP_USER_MEMORY),
                libc::ioctl(fd, KVM_CHECK_EXTENSION as _, KVM_CAP_MAX_VCPUS),
            )
        };
        let max_vcpus = u32::try_from(max).ok().filter(|m| *m > 0);
        let (usable, detail) = if api != KVM_API_VERSION {
            let err = std::io::Error::last_os_error();
            (false, format!("/dev/kvm answered KVM_GET_API_VERSION with {api} ({err}), not {KVM_API_VERSION}"))
        } else if user_mem <= 0 {
            (false, "/dev/kvm lacks KVM_CAP_USER_MEMORY".to_string())
        } else {
            (true, format!("/dev/kvm answered KVM_GET_API_VERSION {api} and KVM_CHECK_EXTENSION"))
        };
        Fact::Known(Kvm { usable, api_version: (api >= 0).then_some(api), max_vcpus, detail })
    }

    fn clock(&self) -> Fact<ClockSync> {
        // SAFETY: an all-zero `timex` is valid input (modes = 0: read only).
        let mut tx: libc::timex = unsafe { std::mem::zeroed() };
        // SAFETY: `tx` is a valid, exclusively borrowed `timex` for the call.
        let state = unsafe { libc::adjtimex(&mut tx) };
        if state < 0 {
            return Fact::Unknown(format!("adjtimex failed: {}", std::io::Error::last_os_error()));
        }
        let names = ["TIME_OK", "TIME_INS", "TIME_DEL", "TIME_OOP", "TIME_WAIT", "TIME_ERROR"];
        let name = usize::try_from(state).ok().and_then(|s| names.get(s)).copied().unwrap_or("state ?");
        let unsync = tx.status & libc::STA_UNSYNC != 0;
        let synchronised = state != libc::TIME_ERROR && !unsync;
        let detail = format!(
            "adjtimex: {name}{}, estimated error {} ms, maximum error {} ms",
            if unsync { ", STA_UNSYNC" } else { "" },
            tx.esterror / 1000,
            tx.maxerror / 1000
        );
        Fact::Known(ClockSync { synchronised, detail })
    }

    fn kernel(&self) -> Fact<Kernel> {
        // SAFETY: an all-zero `utsname` is a valid buffer for uname to fill.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: `u` is a valid, exclusively borrowed `utsname` for the call.
        if unsafe { libc::uname(&mut u) } != 0 {
            return Fact::Unknown(format!("uname failed: {}", std::io::Error::last_os_error()));
        }
        let field = |f: &[libc::c_char]| {
            let bytes: Vec<u8> = f.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        Fact::Known(Kernel { sysname: field(&u.sysname), release: field(&u.release), machine: field(&u.machine) })
    }

    fn accessible(&self, path: &Path) -> Option<bool> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
        Some(unsafe { libc::access(c.as_ptr(), libc::R_OK | libc::W_OK) } == 0)
    }

    fn tcp_listening(&self) -> Option<Vec<u16>> {
        super::sockdiag::listening_tcp().ok()
    }
}

/// Live facts stated in `ROOT/kvmhost-facts/live.conf`, for a root that is not the live system.
#[derive(Debug, Clone)]
pub struct FileProbe {
    root: PathBuf,
    conf: Result<Option<Virconf>, String>,
}

/// Where [`FileProbe`] reads, relative to the root.
pub const LIVE_FACTS_FILE: &str = "kvmhost-facts/live.conf";

impl FileProbe {
    /// Reads `ROOT/kvmhost-facts/live.conf` (absent: every live fact is unknown).
    pub fn new(root: &Path) -> FileProbe {
        let conf = Virconf::load(root.join(LIVE_FACTS_FILE)).map_err(|e| crate::config::chain(&e));
        FileProbe { root: root.to_path_buf(), conf }
    }

    fn unknown<T>(&self, what: &str) -> Fact<T> {
        match &self.conf {
            Err(e) => Fact::Unknown(e.clone()),
            Ok(_) => Fact::Unknown(format!(
                "{} is not the live system and {LIVE_FACTS_FILE} there does not state {what}",
                self.root.display()
            )),
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.conf.as_ref().ok()?.as_ref()?.get(key)
    }

    fn int(&self, key: &str) -> Option<i64> {
        match self.get(key) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }

    fn str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

impl LiveProbe for FileProbe {
    fn kvm(&self) -> Fact<Kvm> {
        let source = format!("{LIVE_FACTS_FILE} of {}", self.root.display());
        if let Some(e) = self.str("kvm_error") {
            return Fact::Known(Kvm {
                usable: false,
                api_version: None,
                max_vcpus: None,
                detail: format!("{e} ({source})"),
            });
        }
        match self.int("kvm_api_version") {
            Some(api) => {
                let api = i32::try_from(api).unwrap_or(-1);
                let max_vcpus = self.int("kvm_max_vcpus").and_then(|m| u32::try_from(m).ok());
                let usable = api == KVM_API_VERSION;
                let detail = format!("KVM_GET_API_VERSION {api} ({source})");
                Fact::Known(Kvm { usable, api_version: Some(api), max_vcpus, detail })
            }
            None => self.unknown("kvm_api_version or kvm_error"),
        }
    }

    fn clock(&self) -> Fact<ClockSync> {
        match self.int("clock_synchronised") {
            Some(s) => Fact::Known(ClockSync {
                synchronised: s == 1,
                detail: format!("clock_synchronised = {s} in {LIVE_FACTS_FILE}"),
            }),
            None => self.unknown("clock_synchronised"),
        }
    }

    fn kernel(&self) -> Fact<Kernel> {
        match (self.str("kernel_release"), self.str("machine")) {
            (Some(r), Some(m)) => Fact::Known(Kernel::new(self.str("sysname").unwrap_or("Linux"), r, m)),
            _ => self.unknown("kernel_release and machine"),
        }
    }

    fn accessible(&self, _path: &Path) -> Option<bool> {
        None
    }
}
