//! Gathering [`HostFacts`]: the only I/O of preflight.
//!
//! Facts are read from files under a root directory (default `/`; any other path for tests
//! and for inspecting a mounted image) and from the few syscalls files cannot answer, through a
//! [`LiveProbe`]: the running kernel's ([`SystemProbe`]) when the root is `/`, otherwise
//! `ROOT/kvmhost-facts/live.conf` ([`FileProbe`]), so that a root never describes the machine
//! running the gatherer as if it were that root.
//!
//! `ROOT/proc`, `ROOT/sys` and `ROOT/dev` are read like any other directory; one that is
//! missing or empty (a mounted image) makes the facts read there unknown, "because ROOT/proc
//! is empty". A fixture describes them with the files it needs (`proc/cpuinfo`,
//! `sys/class/net/eth0/device`, an empty `dev/net/tun`).
//!
//! Nothing here queries the network (no DNS: the resolver's configuration is read, not asked)
//! and, on a live root, commands (`qemu-system-x86_64 --version`) run only when no file tells
//! a version ([`Gatherer::run_commands`]).
//!
//! ```
//! use kvmhost_core::preflight::{Fact, Gatherer};
//! let dir = std::env::temp_dir().join(format!("kvmhost-doc-gather-{}", std::process::id()));
//! std::fs::create_dir_all(dir.join("proc")).unwrap();
//! std::fs::write(dir.join("proc/meminfo"), "MemTotal: 8048576 kB\nMemAvailable: 4000000 kB\n").unwrap();
//! let facts = Gatherer::new(&dir).gather();
//! assert!(!facts.live);
//! assert_eq!(facts.memory.known().unwrap().total_bytes, 8048576 * 1024);
//! assert!(matches!(&facts.kvm, Fact::Unknown(why) if why.contains("not the live system")));
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

mod libvirt;
mod live;
mod security;
mod sockdiag;
mod system;
mod virt;

pub use live::{FileProbe, LiveProbe, SystemProbe, KVM_API_VERSION, LIVE_FACTS_FILE};

use super::{Fact, HostFacts};
use crate::cpu::{CpuDef, CpuMap};
use std::path::{Path, PathBuf};

/// Most entries read from one directory (`/proc` of a busy host has thousands).
const MAX_ENTRIES: usize = 65_536;

/// Reads a host's facts.
pub struct Gatherer {
    root: PathBuf,
    live: bool,
    probe: Box<dyn LiveProbe>,
    run_commands: bool,
}

impl std::fmt::Debug for Gatherer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gatherer").field("root", &self.root).field("live", &self.live).finish_non_exhaustive()
    }
}

impl Gatherer {
    /// A gatherer for the system under `root`: live (syscalls answer) when `root` is `/`.
    pub fn new(root: impl AsRef<Path>) -> Gatherer {
        let root = root.as_ref().to_path_buf();
        let live = root.canonicalize().is_ok_and(|r| r == Path::new("/"));
        let probe: Box<dyn LiveProbe> = if live { Box::new(SystemProbe) } else { Box::new(FileProbe::new(&root)) };
        Gatherer { root, live, probe, run_commands: live }
    }

    /// The running system.
    pub fn live() -> Gatherer {
        Gatherer::new("/")
    }

    /// Takes the syscall-only facts from `probe` instead.
    pub fn with_probe(mut self, probe: impl LiveProbe + 'static) -> Gatherer {
        self.probe = Box::new(probe);
        self
    }

    /// Whether versions no file tells may be asked of the binaries (`--version`; default: on a
    /// live root only; never for another root).
    pub fn run_commands(mut self, yes: bool) -> Gatherer {
        self.run_commands = yes && self.live;
        self
    }

    /// Reads every fact (never fails: what cannot be read is [`Fact::Unknown`] with the reason).
    pub fn gather(&self) -> HostFacts {
        let _span = tracing::debug_span!("preflight_gather", root = %self.root.display(), live = self.live).entered();
        let r = Root::new(&self.root, self.live);
        let procs = system::processes(&r);
        let kernel = self.probe.kernel();
        let cpu = system::cpuinfo(&r);
        let mut facts = HostFacts {
            root: self.root.display().to_string(),
            live: self.live,
            kernel_cmdline: r.read_value("/proc/cmdline", "proc"),
            os: system::os_release(&r),
            kvm: self.probe.kvm(),
            devices: virt::devices(&r, self.probe.as_ref()),
            memory: system::memory(&r),
            interfaces: system::interfaces(&r),
            hostname: system::hostname(&r),
            clock: self.probe.clock(),
            time_daemons: system::time_daemons(&r, &procs),
            selinux: security::selinux(&r),
            apparmor: security::apparmor(&r),
            running_vms: libvirt::running_vms(&r, &procs),
            libvirtd: libvirt::libvirtd(&r, &procs, self.probe.as_ref()),
            firewall: security::firewall(&r),
            iptables_tables: security::iptables_tables(&r),
            cgroups: virt::cgroups(&r),
            iommu: virt::iommu(&r),
            secure_guest: virt::secure_guest(&r, &cpu),
            host_cpu: Fact::Unknown("not gathered (Gatherer::host_cpu with a CPU map, or kvmhost-libvirt)".into()),
            ..HostFacts::default()
        };
        let versions = libvirt::versions(&r, self.run_commands);
        facts.libvirt = versions.libvirt;
        facts.qemu = versions.qemu;
        facts.ovs = versions.ovs;
        facts.qemu_spice = versions.spice;
        facts.kernel = kernel;
        facts.cpu = cpu;
        tracing::debug!("host facts gathered");
        facts
    }

    /// The host CPU as libvirt would describe it: on a live x86_64 root, this machine's CPUID
    /// decoded with `map`; otherwise `ROOT/kvmhost-facts/host-cpu.xml` (a `<cpu>` element as in
    /// `virsh capabilities`).
    pub fn host_cpu(&self, map: &CpuMap) -> Fact<CpuDef> {
        if self.live {
            return crate::cpu::host_cpuid().and_then(|d| crate::cpu::decode_host(map, &d)).into();
        }
        let path = self.root.join("kvmhost-facts/host-cpu.xml");
        match crate::config::read_text(&path) {
            Ok(Some(xml)) => CpuDef::parse(&xml).map_err(|e| format!("{}: {e}", path.display())).into(),
            Ok(None) => {
                Fact::Unknown(format!("{} is not the live system and has no {}", self.root.display(), path.display()))
            }
            Err(e) => Fact::Unknown(crate::config::chain(&e)),
        }
    }
}

/// Reads the live system's facts (`Gatherer::live().gather()`).
pub fn gather() -> HostFacts {
    Gatherer::live().gather()
}

/// The root being read, with the helpers every gatherer uses.
pub(crate) struct Root {
    dir: PathBuf,
    live: bool,
    /// Whether `/proc`, `/sys`, `/dev` are there to read (else why not).
    pseudo: [(&'static str, Result<(), String>); 3],
}

/// A process of the host.
#[derive(Debug, Clone)]
pub(crate) struct Proc {
    pub pid: u32,
    pub comm: String,
    /// Read only for the processes preflight looks at.
    pub cmdline: Vec<String>,
}

impl Root {
    fn new(dir: &Path, live: bool) -> Root {
        let check = |fs: &str| {
            let p = dir.join(fs);
            if live {
                // The running system's own: a file missing there is missing.
                return Ok(());
            }
            match std::fs::read_dir(&p).map(|mut d| d.next().is_some()) {
                Ok(true) => Ok(()),
                _ => Err(format!("{} is empty or missing: {} is not a running system", p.display(), dir.display())),
            }
        };
        let pseudo = [("proc", check("proc")), ("sys", check("sys")), ("dev", check("dev"))];
        Root { dir: dir.to_path_buf(), live, pseudo }
    }

    /// `host` (an absolute path on the host) under the root.
    pub fn path(&self, host: &str) -> PathBuf {
        self.dir.join(host.trim_start_matches('/'))
    }

    /// How a host path is named in messages (`/etc/x`, or `ROOT/etc/x`).
    pub fn show(&self, host: &str) -> String {
        if self.live {
            host.to_string()
        } else {
            self.path(host).display().to_string()
        }
    }

    pub fn exists(&self, host: &str) -> bool {
        std::fs::symlink_metadata(self.path(host)).is_ok()
    }

    pub fn is_dir(&self, host: &str) -> bool {
        self.path(host).is_dir()
    }

    /// Whether the pseudo file system `/proc`, `/sys` or `/dev` is there to read (a missing or
    /// empty directory is not): `Err` with the reason otherwise.
    pub fn pseudo(&self, fs: &str) -> Result<(), String> {
        match self.pseudo.iter().find(|(n, _)| *n == fs) {
            Some((_, r)) => r.clone(),
            None => Err(format!("{fs} is not a pseudo file system")),
        }
    }

    /// A text file (at most 10 MiB): `Ok(None)` when absent, `Err` with the reason.
    pub fn read(&self, host: &str) -> Result<Option<String>, String> {
        crate::config::read_text(self.path(host)).map_err(|e| crate::config::chain(&e))
    }

    /// A one-line pseudo file (`/proc/cmdline`), trimmed, as a fact.
    pub fn read_value(&self, host: &str, fs: &str) -> Fact<String> {
        if let Err(e) = self.pseudo(fs) {
            return Fact::Unknown(e);
        }
        match self.read(host) {
            Ok(Some(s)) => Fact::Known(s.trim().to_string()),
            Ok(None) => Fact::Unknown(format!("{} does not exist", self.show(host))),
            Err(e) => Fact::Unknown(e),
        }
    }

    /// A small sysfs/procfs value (what one read of at most 4 KiB returns: such files are
    /// produced whole), trimmed; `None` when absent or unreadable.
    pub fn value(&self, host: &str) -> Option<String> {
        use std::io::Read;
        let mut f = crate::config::open_regular(&self.path(host)).ok()?;
        let mut buf = [0u8; 4096];
        let n = loop {
            match f.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        };
        Some(String::from_utf8_lossy(&buf[..n]).trim().to_string())
    }

    /// At most `limit` bytes of a file; `None` when absent or unreadable.
    pub fn bytes(&self, host: &str, limit: u64) -> Option<Vec<u8>> {
        use std::io::Read;
        let mut out = Vec::new();
        crate::config::open_regular(&self.path(host)).ok()?.take(limit).read_to_end(&mut out).ok()?;
        Some(out)
    }

    /// The names in a directory, sorted (at most [`MAX_ENTRIES`]); empty when absent.
    pub fn list(&self, host: &str) -> Vec<String> {
        let Ok(d) = std::fs::read_dir(self.path(host)) else { return Vec::new() };
        let mut names: Vec<String> =
            d.flatten().take(MAX_ENTRIES).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }
}
