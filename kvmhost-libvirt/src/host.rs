//! The host: node info, versions, capabilities and domain capabilities as typed values. The
//! host CPU is a [`kvmhost_core::cpu::CpuDef`], the type the CPU engine compares and baselines.
//! Parsing is pure ([`Capabilities::parse`], [`DomainCapabilities::parse`]); fetching is done by
//! [`crate::Hypervisor`].
//!
//! ```
//! use kvmhost_libvirt::Capabilities;
//! let caps = Capabilities::parse("<capabilities><host><cpu><arch>x86_64</arch><model>Haswell</model>\
//!     </cpu></host><guest><os_type>hvm</os_type><arch name='x86_64'><machine>pc</machine>\
//!     <domain type='kvm'/></arch></guest></capabilities>").unwrap();
//! assert_eq!(caps.host.cpu.unwrap().cpu.model_name(), Some("Haswell"));
//! assert_eq!(caps.guests[0].domain_types, ["kvm"]);
//! ```

use std::collections::BTreeMap;

use kvmhost_core::cpu::CpuDef;
use kvmhost_core::domain::Cpu;
use kvmhost_core::xml::{Document, Element};
use serde::{Deserialize, Serialize};

use crate::{LibvirtError, Result};

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

/// `virConnectGetCapabilities`, typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// The host.
    pub host: HostCapabilities,
    /// What guests can run.
    pub guests: Vec<GuestCapabilities>,
}

/// The `<host>` part of the capabilities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HostCapabilities {
    /// Host UUID.
    pub uuid: Option<String>,
    /// Host CPU, as the CPU engine's type (model, vendor, topology, features).
    pub cpu: Option<CpuDef>,
    /// NUMA cells.
    pub numa_cells: Vec<NumaCell>,
    /// Migration URI transports (`tcp`, `rdma`, …).
    pub migration_transports: Vec<String>,
    /// Security models (`none`, `dac`, `apparmor`, `selinux`).
    pub security_models: Vec<String>,
    /// IOMMU support, when reported.
    pub iommu: Option<bool>,
}

/// One host NUMA cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NumaCell {
    /// Cell id.
    pub id: u32,
    /// Memory in KiB.
    pub memory_kib: Option<u64>,
    /// Host CPU ids in the cell.
    pub cpus: Vec<u32>,
}

/// One `<guest>`: an OS type on an architecture, with its emulator, machines and domain types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GuestCapabilities {
    /// `hvm`, `xen`, `exe`, …
    pub os_type: String,
    /// Architecture (`x86_64`).
    pub arch: String,
    /// Word size in bits.
    pub wordsize: Option<u32>,
    /// Emulator binary.
    pub emulator: Option<String>,
    /// Machine types.
    pub machines: Vec<Machine>,
    /// Domain types (`qemu`, `kvm`, `test`).
    pub domain_types: Vec<String>,
}

/// A machine type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Machine {
    /// Name (`pc-q35-7.2`, or an alias such as `q35`).
    pub name: String,
    /// For an alias, the machine it stands for.
    pub canonical: Option<String>,
    /// Maximum vCPUs.
    pub max_cpus: Option<u32>,
}

fn root(xml: &str, what: &'static str, name: &str) -> Result<Element> {
    let doc = Document::parse(xml).map_err(|e| LibvirtError::parse(what, e))?;
    if doc.root.name != name {
        return Err(LibvirtError::parse(what, format!("root element is <{}>, not <{name}>", doc.root.name)));
    }
    Ok(doc.root)
}

fn text(el: &Element, child: &str) -> Option<String> {
    el.child(child).map(|c| c.text().trim().to_string())
}

fn num<T: std::str::FromStr>(what: &'static str, s: Option<&str>) -> Result<Option<T>> {
    s.map(|v| v.trim().parse::<T>().map_err(|_| LibvirtError::parse(what, format!("not a number: {v:?}")))).transpose()
}

fn yes(s: Option<&str>) -> bool {
    s == Some("yes")
}

impl Capabilities {
    /// Parses capabilities XML.
    ///
    /// ```
    /// use kvmhost_libvirt::{Capabilities, LibvirtError};
    /// assert!(matches!(Capabilities::parse("<domain/>"), Err(LibvirtError::Parse { .. })));
    /// ```
    pub fn parse(xml: &str) -> Result<Capabilities> {
        const W: &str = "capabilities";
        let root = root(xml, W, "capabilities")?;
        let mut host = HostCapabilities::default();
        if let Some(h) = root.child("host") {
            host.uuid = text(h, "uuid");
            host.cpu = h.child("cpu").map(CpuDef::from_element).transpose().map_err(|e| LibvirtError::parse(W, e))?;
            host.iommu = h.child("iommu").map(|i| yes(i.attr("support")));
            if let Some(cells) = h.child("topology").and_then(|t| t.child("cells")) {
                for cell in cells.children_named("cell") {
                    let cpus = match cell.child("cpus") {
                        Some(c) => c.children_named("cpu").map(|c| num(W, c.attr("id"))).collect::<Result<Vec<_>>>()?,
                        None => Vec::new(),
                    };
                    host.numa_cells.push(NumaCell {
                        id: num(W, cell.attr("id"))?.unwrap_or(0),
                        memory_kib: num(W, cell.child("memory").map(|m| m.text()).as_deref())?,
                        cpus: cpus.into_iter().flatten().collect(),
                    });
                }
            }
            if let Some(t) = h.child("migration_features").and_then(|m| m.child("uri_transports")) {
                host.migration_transports = t.children_named("uri_transport").map(|u| u.text().trim().into()).collect();
            }
            host.security_models = h.children_named("secmodel").filter_map(|s| text(s, "model")).collect();
        }
        let mut guests = Vec::new();
        for g in root.children_named("guest") {
            let Some(arch) = g.child("arch") else { continue };
            let mut domain_types: Vec<String> =
                arch.children_named("domain").filter_map(|d| d.attr("type").map(String::from)).collect();
            domain_types.dedup();
            guests.push(GuestCapabilities {
                os_type: text(g, "os_type").unwrap_or_default(),
                arch: arch.attr("name").unwrap_or_default().to_string(),
                wordsize: num(W, text(arch, "wordsize").as_deref())?,
                emulator: text(arch, "emulator"),
                machines: arch
                    .children_named("machine")
                    .map(|m| {
                        Ok(Machine {
                            name: m.text().trim().to_string(),
                            canonical: m.attr("canonical").map(String::from),
                            max_cpus: num(W, m.attr("maxCpus"))?,
                        })
                    })
                    .collect::<Result<_>>()?,
                domain_types,
            });
        }
        Ok(Capabilities { host, guests })
    }

    /// The guests that can run `domain_type` (`kvm`, `qemu`).
    ///
    /// ```
    /// use kvmhost_libvirt::Capabilities;
    /// let caps = Capabilities::parse("<capabilities><host/><guest><os_type>hvm</os_type>\
    ///     <arch name='x86_64'><domain type='qemu'/></arch></guest></capabilities>").unwrap();
    /// assert_eq!(caps.guests_for("qemu").count(), 1);
    /// assert_eq!(caps.guests_for("kvm").count(), 0);
    /// ```
    pub fn guests_for<'a>(&'a self, domain_type: &'a str) -> impl Iterator<Item = &'a GuestCapabilities> + 'a {
        self.guests.iter().filter(move |g| g.domain_types.iter().any(|t| t == domain_type))
    }
}

/// `virConnectGetDomainCapabilities`, typed: what one emulator / machine / domain type offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DomainCapabilities {
    /// Emulator binary.
    pub path: Option<String>,
    /// Domain type (`kvm`, `qemu`).
    pub domain_type: Option<String>,
    /// Machine type.
    pub machine: Option<String>,
    /// Architecture.
    pub arch: Option<String>,
    /// Maximum vCPUs.
    pub max_vcpus: Option<u32>,
    /// Guest CPU modes.
    pub cpu: CpuModes,
    /// Device kinds (`disk`, `graphics`, `hostdev`, …) → supported and their enum values.
    pub devices: BTreeMap<String, SupportedEnums>,
    /// Features (`gic`, `vmcoreinfo`, `sev`, …) → supported.
    pub features: BTreeMap<String, bool>,
    /// OS firmware support (`<os>`), with its enums (`firmware`: `bios`, `efi`).
    pub os: Option<SupportedEnums>,
}

/// The guest CPU modes of a domain capabilities document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CpuModes {
    /// `host-passthrough` supported.
    pub host_passthrough: bool,
    /// `maximum` supported.
    pub maximum: bool,
    /// `host-model` supported, and the CPU it expands to (model, vendor, features with
    /// policies), as the domain model's [`Cpu`].
    pub host_model: Option<Cpu>,
    /// `custom` models.
    pub custom_models: Vec<CpuModelSupport>,
}

/// A named CPU model offered in `custom` mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CpuModelSupport {
    /// Model name.
    pub name: String,
    /// Whether this host can run it (`usable='yes'`); `None` when unknown.
    pub usable: Option<bool>,
    /// Vendor.
    pub vendor: Option<String>,
    /// Marked deprecated.
    pub deprecated: bool,
}

/// A `supported='yes|no'` element with `<enum name=…><value>…</value></enum>` children.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SupportedEnums {
    /// `supported='yes'`.
    pub supported: bool,
    /// Enum name → values.
    pub enums: BTreeMap<String, Vec<String>>,
}

impl SupportedEnums {
    fn read(el: &Element) -> SupportedEnums {
        let enums = el
            .children_named("enum")
            .filter_map(|e| {
                let name = e.attr("name")?.to_string();
                Some((name, e.children_named("value").map(|v| v.text().trim().to_string()).collect()))
            })
            .collect();
        SupportedEnums { supported: yes(el.attr("supported")), enums }
    }
}

impl DomainCapabilities {
    /// Parses domain capabilities XML.
    ///
    /// ```
    /// use kvmhost_libvirt::DomainCapabilities;
    /// let caps = DomainCapabilities::parse("<domainCapabilities><domain>kvm</domain><vcpu max='255'/>\
    ///   <cpu><mode name='host-passthrough' supported='yes'/><mode name='host-model' supported='yes'>\
    ///   <model fallback='forbid'>Skylake-Client</model><feature policy='disable' name='hle'/></mode>\
    ///   <mode name='custom' supported='yes'><model usable='no'>EPYC</model></mode></cpu>\
    ///   <devices><disk supported='yes'><enum name='bus'><value>virtio</value></enum></disk></devices>\
    ///   </domainCapabilities>").unwrap();
    /// assert_eq!(caps.max_vcpus, Some(255));
    /// assert!(caps.cpu.host_passthrough);
    /// assert_eq!(caps.cpu.host_model.unwrap().model_name(), Some("Skylake-Client"));
    /// assert_eq!(caps.cpu.custom_models[0].usable, Some(false));
    /// assert_eq!(caps.devices["disk"].enums["bus"], ["virtio"]);
    /// ```
    pub fn parse(xml: &str) -> Result<DomainCapabilities> {
        const W: &str = "domain capabilities";
        let root = root(xml, W, "domainCapabilities")?;
        let mut cpu = CpuModes::default();
        for mode in root.child("cpu").into_iter().flat_map(|c| c.children_named("mode")) {
            let supported = yes(mode.attr("supported"));
            match mode.attr("name") {
                Some("host-passthrough") => cpu.host_passthrough = supported,
                Some("maximum") => cpu.maximum = supported,
                Some("host-model") if supported => {
                    let mut el = mode.clone();
                    el.name = "cpu".into();
                    el.remove_attr("name");
                    el.remove_attr("supported");
                    el.set_attr("mode", "host-model");
                    let def = CpuDef::from_element(&el).map_err(|e| LibvirtError::parse(W, e))?;
                    cpu.host_model = Some(def.cpu);
                }
                Some("custom") if supported => {
                    cpu.custom_models = mode
                        .children_named("model")
                        .map(|m| CpuModelSupport {
                            name: m.text().trim().to_string(),
                            usable: m.attr("usable").map(|u| u == "yes"),
                            vendor: m.attr("vendor").map(String::from),
                            deprecated: yes(m.attr("deprecated")),
                        })
                        .collect();
                }
                _ => {}
            }
        }
        let devices = root
            .child("devices")
            .map(|d| d.elements().map(|e| (e.name.to_string(), SupportedEnums::read(e))).collect())
            .unwrap_or_default();
        let features = root
            .child("features")
            .map(|f| f.elements().map(|e| (e.name.to_string(), yes(e.attr("supported")))).collect())
            .unwrap_or_default();
        Ok(DomainCapabilities {
            path: text(&root, "path"),
            domain_type: text(&root, "domain"),
            machine: text(&root, "machine"),
            arch: text(&root, "arch"),
            max_vcpus: num(W, root.child("vcpu").and_then(|v| v.attr("max")))?,
            cpu,
            devices,
            features,
            os: root.child("os").map(SupportedEnums::read),
        })
    }
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
