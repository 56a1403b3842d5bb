//! [`HostFacts`]: everything the checks look at, gathered once (see [`gather`](mod@super::gather)).
//!
//! Every fact is a [`Fact`]: known, or unknown with the reason it could not be read.

use super::Version;
use crate::config::firewall::{FirewallKind, PortRange};
use crate::config::{SelinuxMode, Value};
use crate::cpu::CpuDef;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A fact: known, or unknown because of the reason given.
///
/// The fact structures are `#[non_exhaustive]`: outside this crate, build them from
/// `Default::default()` and set their fields (or deserialise them).
///
/// ```
/// use kvmhost_core::preflight::Fact;
/// let f: Fact<u32> = Fact::Unknown("/proc/meminfo: no such file".into());
/// assert_eq!(f.known(), None);
/// assert_eq!(serde_json::to_string(&f).unwrap(), r#"{"unknown":"/proc/meminfo: no such file"}"#);
/// assert_eq!(Fact::Known(3).map(|v| v * 2).known(), Some(&6));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact<T> {
    /// The fact.
    Known(T),
    /// Why it is not known.
    Unknown(String),
}

impl<T> Default for Fact<T> {
    fn default() -> Fact<T> {
        Fact::Unknown("not gathered".into())
    }
}

impl<T> Fact<T> {
    /// The value, when known.
    pub fn known(&self) -> Option<&T> {
        match self {
            Fact::Known(v) => Some(v),
            Fact::Unknown(_) => None,
        }
    }

    /// The value or the reason it is unknown.
    pub fn as_result(&self) -> Result<&T, &str> {
        match self {
            Fact::Known(v) => Ok(v),
            Fact::Unknown(r) => Err(r),
        }
    }

    /// Transforms a known value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Fact<U> {
        match self {
            Fact::Known(v) => Fact::Known(f(v)),
            Fact::Unknown(r) => Fact::Unknown(r),
        }
    }
}

impl<T, E: std::fmt::Display> From<Result<T, E>> for Fact<T> {
    fn from(r: Result<T, E>) -> Fact<T> {
        match r {
            Ok(v) => Fact::Known(v),
            Err(e) => Fact::Unknown(e.to_string()),
        }
    }
}

/// Everything preflight knows about one host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HostFacts {
    /// The root directory the files were read from (`/` for the live system).
    pub root: String,
    /// Whether the root is the running system (syscalls and `/proc` describe it).
    pub live: bool,
    /// Kernel name, release and machine (`uname`).
    pub kernel: Fact<Kernel>,
    /// `/proc/cmdline`.
    pub kernel_cmdline: Fact<String>,
    /// `/etc/os-release`.
    pub os: Fact<OsRelease>,
    /// `/proc/cpuinfo`.
    pub cpu: Fact<CpuInfo>,
    /// Whether KVM answers its ioctls.
    pub kvm: Fact<Kvm>,
    /// `/dev/kvm`, `/dev/vhost-net`, `/dev/net/tun`, `/dev/sev`.
    pub devices: BTreeMap<String, Fact<Device>>,
    /// `/proc/meminfo`.
    pub memory: Fact<Memory>,
    /// Network interfaces (`/sys/class/net`).
    pub interfaces: Fact<Vec<Interface>>,
    /// Host name and its fully qualified form.
    pub hostname: Fact<Hostname>,
    /// Kernel clock synchronisation (`adjtimex`).
    pub clock: Fact<ClockSync>,
    /// NTP daemons installed, enabled or running.
    pub time_daemons: Fact<Vec<TimeDaemon>>,
    /// libvirt, if installed.
    pub libvirt: Fact<Option<Package>>,
    /// QEMU, if installed.
    pub qemu: Fact<Option<Package>>,
    /// Open vSwitch, if installed.
    pub ovs: Fact<Option<Package>>,
    /// QEMU's SPICE support.
    pub qemu_spice: Fact<bool>,
    /// SELinux.
    pub selinux: Fact<Selinux>,
    /// AppArmor.
    pub apparmor: Fact<AppArmor>,
    /// Running virtual machines.
    pub running_vms: Fact<Vec<RunningVm>>,
    /// The libvirt daemons and their configuration.
    pub libvirtd: Libvirtd,
    /// Host firewalls (their configuration) and the ports they open.
    pub firewall: Fact<Vec<Firewall>>,
    /// Legacy iptables tables loaded at run time (`/proc/net/ip_tables_names`; their rules are
    /// not read).
    pub iptables_tables: Fact<Vec<String>>,
    /// cgroup controllers.
    pub cgroups: Fact<Cgroups>,
    /// IOMMU (device assignment).
    pub iommu: Fact<Iommu>,
    /// Secure guest support (AMD SEV, Intel TDX, IBM Secure Execution).
    pub secure_guest: Fact<SecureGuest>,
    /// The host CPU as libvirt describes it (for cluster checks); gathered only on request.
    pub host_cpu: Fact<CpuDef>,
}

/// `uname`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Kernel {
    /// `Linux`.
    pub sysname: String,
    /// `6.1.0-18-amd64`.
    pub release: String,
    /// `x86_64`.
    pub machine: String,
}

impl Kernel {
    /// A kernel description.
    pub fn new(sysname: &str, release: &str, machine: &str) -> Kernel {
        Kernel { sysname: sysname.into(), release: release.into(), machine: machine.into() }
    }
}

/// `/etc/os-release`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OsRelease {
    /// `ID` (`debian`, `rhel`, `ubuntu`).
    pub id: String,
    /// `ID_LIKE`, split.
    pub id_like: Vec<String>,
    /// `VERSION_ID`.
    pub version_id: Option<String>,
    /// `PRETTY_NAME`.
    pub pretty_name: Option<String>,
}

impl OsRelease {
    /// Whether the OS is `id` or like it (`debian` for Ubuntu).
    pub fn is_like(&self, id: &str) -> bool {
        self.id == id || self.id_like.iter().any(|l| l == id)
    }
}

/// `/proc/cpuinfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CpuInfo {
    /// `vendor_id` (`GenuineIntel`, `AuthenticAMD`).
    pub vendor: Option<String>,
    /// `model name`.
    pub model_name: Option<String>,
    /// Flags of the first processor (`flags`, `Features`, `features`, `facilities`).
    pub flags: Vec<String>,
    /// Processors listed.
    pub logical_cpus: u32,
}

impl CpuInfo {
    /// Whether a flag is listed.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// What KVM answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Kvm {
    /// `KVM_GET_API_VERSION` answered 12 and `KVM_CHECK_EXTENSION` answered.
    pub usable: bool,
    /// `KVM_GET_API_VERSION`.
    pub api_version: Option<i32>,
    /// `KVM_CHECK_EXTENSION(KVM_CAP_MAX_VCPUS)`.
    pub max_vcpus: Option<u32>,
    /// How it was found out, or why KVM is not usable.
    pub detail: String,
}

/// A device node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Device {
    /// It exists.
    pub exists: bool,
    /// This process may read and write it (`None`: not asked, the root is not live).
    pub accessible: Option<bool>,
}

/// `/proc/meminfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Memory {
    /// `MemTotal` in bytes.
    pub total_bytes: u64,
    /// `MemAvailable` in bytes.
    pub available_bytes: Option<u64>,
}

/// A network interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Interface {
    /// `eth0`.
    pub name: String,
    /// Backed by a device (not under `/sys/devices/virtual`).
    pub physical: bool,
    /// A Linux bridge.
    pub bridge: bool,
    /// `operstate` (`up`, `down`).
    pub operstate: Option<String>,
}

/// The host name and its fully qualified form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Hostname {
    /// The name the host calls itself.
    pub name: String,
    /// Where it was read.
    pub source: String,
    /// The fully qualified name, when files qualify it (the name itself, or `/etc/hosts`).
    pub fqdn: Option<String>,
    /// How the qualified name was found.
    pub fqdn_source: Option<String>,
    /// `search` / `domain` of `/etc/resolv.conf` (DNS could qualify the name; not queried).
    pub search_domains: Vec<String>,
}

/// The kernel clock's synchronisation state (`adjtimex`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClockSync {
    /// Not `TIME_ERROR` and `STA_UNSYNC` clear.
    pub synchronised: bool,
    /// The state in words (`TIME_OK, maxerror 16 ms`).
    pub detail: String,
}

/// An NTP daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TimeDaemon {
    /// `chronyd`, `ntpd`, `openntpd`, `systemd-timesyncd`.
    pub name: String,
    /// Its configuration file, if present.
    pub config: Option<String>,
    /// Enabled at boot (systemd links), when that can be told.
    pub enabled: Option<bool>,
    /// Running now (live root only).
    pub running: Option<bool>,
}

/// An installed package and where its version was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Package {
    /// The version.
    pub version: Version,
    /// Where it was read (`dpkg: libvirt-daemon 9.0.0-4+deb12u2`, `libvirt.so.0.9000.0`).
    pub source: String,
}

impl Package {
    /// A package version read from `source`.
    pub fn new(version: Version, source: impl Into<String>) -> Package {
        Package { version, source: source.into() }
    }
}

/// SELinux, at run time and in `/etc/selinux/config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Selinux {
    /// The running mode (`/sys/fs/selinux/enforce`; disabled without selinuxfs).
    pub runtime: Fact<SelinuxMode>,
    /// `SELINUX=` of `/etc/selinux/config` (`None`: no such file).
    pub config: Fact<Option<SelinuxMode>>,
}

/// AppArmor and libvirt's profiles.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AppArmor {
    /// Enabled in the kernel (`/sys/module/apparmor/parameters/enabled`).
    pub enabled: Fact<bool>,
    /// libvirt's profiles loaded now, with their mode (`libvirtd (enforce)`).
    pub loaded: Fact<Vec<String>>,
    /// libvirt's profile files in `/etc/apparmor.d`.
    pub installed: Vec<String>,
    /// Those of them disabled by a link in `/etc/apparmor.d/disable`.
    pub disabled: Vec<String>,
}

/// A running virtual machine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunningVm {
    /// Its name.
    pub name: String,
    /// How it was found (`/run/libvirt/qemu/vm1.pid`, `process 1234`, `libvirt`).
    pub source: String,
}

impl RunningVm {
    /// A VM found through `source`.
    pub fn new(name: impl Into<String>, source: impl Into<String>) -> RunningVm {
        RunningVm { name: name.into(), source: source.into() }
    }
}

/// The settings of one libvirt configuration file (first statement of each name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConfFile {
    /// The file (as on the host: `/etc/libvirt/libvirtd.conf`).
    pub path: String,
    /// Whether it exists (a missing file means libvirt's defaults).
    pub exists: bool,
    /// Its settings.
    pub settings: BTreeMap<String, Value>,
}

impl ConfFile {
    /// A setting.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.settings.get(key)
    }

    /// An integer setting (`None` when unset or not an integer).
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }

    /// A string setting (`None` when unset or not a string).
    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// How the daemon reads its arguments (`/etc/default/libvirtd`, `/etc/sysconfig/libvirtd`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DaemonArgs {
    /// The file (as on the host), `None` when none of the known files exists.
    pub file: Option<String>,
    /// The variable (`LIBVIRTD_ARGS`, or `libvirtd_opts` of Ubuntu's old `libvirt-bin`).
    pub variable: String,
    /// Its value, when set.
    pub value: Option<String>,
}

impl DaemonArgs {
    /// Whether the arguments ask libvirtd to listen on TCP/TLS (`--listen` / `-l`).
    pub fn listen(&self) -> bool {
        self.value.as_deref().is_some_and(|v| v.split_whitespace().any(|a| a == "--listen" || a == "-l"))
    }
}

/// The libvirt daemons and their configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Libvirtd {
    /// `/etc/libvirt/libvirtd.conf`.
    pub conf: Fact<ConfFile>,
    /// `/etc/libvirt/qemu.conf`.
    pub qemu_conf: Fact<ConfFile>,
    /// `/etc/libvirt/virtqemud.conf` (modular daemons).
    pub virtqemud_conf: Fact<ConfFile>,
    /// `/etc/libvirt/virtproxyd.conf` (modular daemons' remote access).
    pub virtproxyd_conf: Fact<ConfFile>,
    /// The daemon's arguments file.
    pub args: Fact<DaemonArgs>,
    /// Command lines of running libvirt daemons (`libvirtd`, `virtqemud`, `virtproxyd`).
    pub running: Fact<Vec<Vec<String>>>,
    /// systemd socket units enabled (`libvirtd-tcp.socket`, ...); `None` without systemd.
    pub socket_units: Fact<Option<Vec<String>>>,
    /// TCP ports something listens on (`/proc/net/tcp`, `/proc/net/tcp6`).
    pub listening: Fact<Vec<u16>>,
}

/// One firewall configuration found on the host.
///
/// ```
/// use kvmhost_core::config::firewall::FirewallKind;
/// let mut fw = kvmhost_core::preflight::Firewall::new(FirewallKind::Ufw, "/etc/ufw/ufw.conf");
/// fw.enabled = true;
/// assert!(fw.open.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Firewall {
    /// Which front end.
    pub kind: FirewallKind,
    /// Its configuration file.
    pub source: String,
    /// Enabled (loaded at boot).
    pub enabled: bool,
    /// Incoming traffic not matched by a rule is dropped or rejected.
    pub default_deny: bool,
    /// TCP ports its rules accept.
    pub open: Vec<PortRange>,
}

impl Firewall {
    /// A disabled, accept-all firewall of `kind` configured in `source`: set the fields next.
    pub fn new(kind: FirewallKind, source: impl Into<String>) -> Firewall {
        Firewall { kind, source: source.into(), enabled: false, default_deny: false, open: Vec::new() }
    }
}

/// cgroup controllers, by hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Cgroups {
    /// Controllers of mounted cgroup v1 hierarchies.
    pub v1: Vec<String>,
    /// The cgroup v2 mount point, if mounted.
    pub v2_mount: Option<String>,
    /// Controllers available in cgroup v2 (`cgroup.controllers` of its root).
    pub v2: Vec<String>,
}

/// IOMMU support.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Iommu {
    /// ACPI DMAR table (Intel VT-d).
    pub dmar: bool,
    /// ACPI IVRS table (AMD-Vi).
    pub ivrs: bool,
    /// Entries of `/sys/kernel/iommu_groups`.
    pub groups: usize,
    /// Entries of `/sys/class/iommu` (IOMMUs the kernel drives).
    pub units: usize,
}

/// Secure guest support.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SecureGuest {
    /// The CPU lists `sev`.
    pub sev_flag: bool,
    /// `/sys/module/kvm_amd/parameters/sev`.
    pub sev_enabled: Option<bool>,
    /// The CPU lists `tdx_host_platform` or `kvm_intel` has `tdx=Y`.
    pub tdx: bool,
    /// s390 facility 158 and `/sys/firmware/uv` (IBM Secure Execution).
    pub s390_pv: bool,
}
