//! The host: node info, versions, capabilities and domain capabilities as typed values.
//!
//! The capabilities models ([`Capabilities`], [`DomainCapabilities`] and their parts) live in
//! [`kvmhost_core::capabilities`] and are re-exported here, so `kvmhost_libvirt::host::…` paths
//! keep working; parsing is pure and fails with a typed [`CapabilitiesError`]. The host CPU is
//! a [`kvmhost_core::cpu::CpuDef`], the type the CPU engine compares and baselines. Fetching is
//! done by [`crate::Hypervisor`].
//!
//! ```
//! use kvmhost_libvirt::Capabilities;
//! let caps = Capabilities::parse("<capabilities><host><cpu><arch>x86_64</arch><model>Haswell</model>\
//!     </cpu></host><guest><os_type>hvm</os_type><arch name='x86_64'><machine>pc</machine>\
//!     <domain type='kvm'/></arch></guest></capabilities>").unwrap();
//! assert_eq!(caps.host.cpu.unwrap().cpu.model_name(), Some("Haswell"));
//! assert_eq!(caps.guests[0].domain_types, ["kvm"]);
//! ```

pub use kvmhost_core::capabilities::{
    Capabilities, CapabilitiesError, CpuModelSupport, CpuModes, DomainCapabilities, GuestCapabilities,
    HostCapabilities, Machine, NumaCell, SupportedEnums,
};
use serde::{Deserialize, Serialize};

use crate::Result;

/// `virNodeGetInfo`.
///
/// ```
/// use kvmhost_libvirt::NodeInfo;
/// let n = NodeInfo { model: "x86_64".into(), memory_kib: 8 << 20, cpus: 16, mhz: 1400, nodes: 2,
///     sockets: 1, cores: 4, threads: 2 };
/// assert_eq!(n.topology_cpus(), 16);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// CPU model / architecture string.
    pub model: String,
    /// Memory in KiB.
    pub memory_kib: u64,
    /// Active CPUs.
    pub cpus: u32,
    /// Expected CPU frequency (0 if unknown).
    pub mhz: u32,
    /// NUMA cells.
    pub nodes: u32,
    /// Sockets per NUMA cell.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

impl NodeInfo {
    /// nodes × sockets × cores × threads.
    pub fn topology_cpus(&self) -> u32 {
        self.nodes * self.sockets * self.cores * self.threads
    }

    pub(crate) fn from_virt(n: virt::connect::NodeInfo) -> NodeInfo {
        NodeInfo {
            model: n.model,
            memory_kib: n.memory,
            cpus: n.cpus,
            mhz: n.mhz,
            nodes: n.nodes,
            sockets: n.sockets,
            cores: n.cores,
            threads: n.threads,
        }
    }
}

/// A `major.minor.release` version as libvirt encodes it (`major * 1_000_000 + minor * 1000 +
/// release`).
///
/// ```
/// use kvmhost_libvirt::Version;
/// let v = Version::from_raw(9_000_000);
/// assert_eq!((v.major, v.minor, v.release), (9, 0, 0));
/// assert_eq!(v.to_string(), "9.0.0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Version {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Release.
    pub release: u32,
}

impl Version {
    /// Decodes libvirt's integer form.
    pub fn from_raw(raw: u32) -> Version {
        Version { major: raw / 1_000_000, minor: (raw / 1000) % 1000, release: raw % 1000 }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.release)
    }
}

/// The versions a connection reports.
///
/// ```
/// use kvmhost_libvirt::{Version, Versions};
/// let v = Versions { library: Version::from_raw(9_000_000), hypervisor: Version::from_raw(7_002_000),
///     driver: "QEMU".into() };
/// assert_eq!(v.hypervisor.to_string(), "7.2.0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versions {
    /// libvirt (of the daemon for remote connections: `virConnectGetLibVersion`).
    pub library: Version,
    /// The hypervisor (`virConnectGetVersion`: QEMU's version, or the test driver's).
    pub hypervisor: Version,
    /// The driver name (`virConnectGetType`: `QEMU`, `TEST`, …).
    pub driver: String,
}

/// Which domain capabilities to ask for; `None` fields let libvirt choose the default.
///
/// ```
/// use kvmhost_libvirt::DomainCapsQuery;
/// let q = DomainCapsQuery { virt_type: Some("kvm".into()), ..Default::default() };
/// assert!(q.arch.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainCapsQuery {
    /// Emulator binary.
    pub emulator: Option<String>,
    /// Architecture.
    pub arch: Option<String>,
    /// Machine type.
    pub machine: Option<String>,
    /// `kvm` or `qemu`.
    pub virt_type: Option<String>,
}

pub(crate) fn versions(c: &virt::connect::Connect) -> Result<Versions> {
    Ok(Versions {
        library: Version::from_raw(c.lib_version()?),
        hypervisor: Version::from_raw(c.hyp_version()?),
        driver: c.driver_type()?,
    })
}

pub(crate) fn domain_capabilities(c: &virt::connect::Connect, q: &DomainCapsQuery) -> Result<String> {
    Ok(c.domain_capabilities(
        q.emulator.as_deref(),
        q.arch.as_deref(),
        q.machine.as_deref(),
        q.virt_type.as_deref(),
        0,
    )?)
}
