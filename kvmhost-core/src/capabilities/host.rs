//! [`Capabilities`]: `virConnectGetCapabilities`, typed.

use serde::{Deserialize, Serialize};

use crate::capabilities::error::CapabilitiesError;
use crate::capabilities::read::{document, num, text, xml_text, yes};
use crate::cpu::CpuDef;
use crate::xml::Document;

/// `virConnectGetCapabilities`, typed: the host (CPU, NUMA cells, migration transports,
/// security models) and what guests it can run.
///
/// ```
/// use kvmhost_core::capabilities::Capabilities;
/// let caps = Capabilities::parse("<capabilities><host><cpu><arch>x86_64</arch><model>Haswell</model>\
///     </cpu></host><guest><os_type>hvm</os_type><arch name='x86_64'><machine>pc</machine>\
///     <domain type='kvm'/></arch></guest></capabilities>").unwrap();
/// assert_eq!(caps.host.cpu.unwrap().cpu.model_name(), Some("Haswell"));
/// assert_eq!(caps.guests[0].domain_types, ["kvm"]);
/// ```
///
/// The parsed document is kept as it was read ([`Capabilities::document`]) and written back
/// byte for byte by [`Capabilities::to_xml`], like a [`Domain`](crate::domain::Domain); the
/// typed fields are a read-only extract of it (editing them does not change the document).
/// It serialises (serde) with the document as its XML text under `xml`.
///
/// ```
/// use kvmhost_core::capabilities::Capabilities;
/// let xml = "<capabilities>\n  <host><uuid>u1</uuid><vendor-extension a='1'/></host>\n</capabilities>\n";
/// let caps = Capabilities::parse(xml).unwrap();
/// assert_eq!(caps.to_xml().unwrap(), xml);
/// let json = serde_json::to_value(&caps).unwrap();
/// assert_eq!(json["xml"], xml);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// The host.
    pub host: HostCapabilities,
    /// What guests can run.
    pub guests: Vec<GuestCapabilities>,
    /// The document as parsed.
    #[serde(rename = "xml", with = "xml_text")]
    document: Document,
}

/// The `<host>` part of the capabilities.
///
/// ```
/// use kvmhost_core::capabilities::Capabilities;
/// let caps = Capabilities::parse("<capabilities><host><uuid>u1</uuid><iommu support='yes'/>\
///     <secmodel><model>apparmor</model></secmodel></host></capabilities>").unwrap();
/// assert_eq!((caps.host.uuid.as_deref(), caps.host.iommu), (Some("u1"), Some(true)));
/// assert_eq!(caps.host.security_models, ["apparmor"]);
/// ```
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
///
/// ```
/// use kvmhost_core::capabilities::Capabilities;
/// let caps = Capabilities::parse("<capabilities><host><topology><cells num='1'><cell id='0'>\
///     <memory unit='KiB'>1024</memory><cpus num='2'><cpu id='0'/><cpu id='1'/></cpus>\
///     </cell></cells></topology></host></capabilities>").unwrap();
/// let cell = &caps.host.numa_cells[0];
/// assert_eq!((cell.id, cell.memory_kib, cell.cpus.as_slice()), (0, Some(1024), &[0, 1][..]));
/// ```
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
///
/// ```
/// use kvmhost_core::capabilities::Capabilities;
/// let caps = Capabilities::parse("<capabilities><host/><guest><os_type>hvm</os_type>\
///     <arch name='x86_64'><wordsize>64</wordsize><emulator>/usr/bin/qemu-system-x86_64</emulator>\
///     <domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>").unwrap();
/// let g = &caps.guests[0];
/// assert_eq!((g.os_type.as_str(), g.arch.as_str(), g.wordsize), ("hvm", "x86_64", Some(64)));
/// assert_eq!(g.domain_types, ["qemu", "kvm"]);
/// ```
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
///
/// ```
/// use kvmhost_core::capabilities::Capabilities;
/// let caps = Capabilities::parse("<capabilities><host/><guest><os_type>hvm</os_type>\
///     <arch name='x86_64'><machine maxCpus='288' canonical='pc-q35-8.2'>q35</machine>\
///     </arch></guest></capabilities>").unwrap();
/// let m = &caps.guests[0].machines[0];
/// assert_eq!((m.name.as_str(), m.canonical.as_deref(), m.max_cpus), ("q35", Some("pc-q35-8.2"), Some(288)));
/// ```
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

impl Capabilities {
    /// Parses capabilities XML.
    ///
    /// ```
    /// use kvmhost_core::capabilities::{Capabilities, CapabilitiesError};
    /// assert!(matches!(Capabilities::parse("<domain/>"), Err(CapabilitiesError::WrongRoot { .. })));
    /// assert!(matches!(Capabilities::parse("<capabilities>"), Err(CapabilitiesError::Xml(_))));
    /// ```
    pub fn parse(xml: &str) -> Result<Capabilities, CapabilitiesError> {
        let document = document(xml, "capabilities")?;
        let root = &document.root;
        let mut host = HostCapabilities::default();
        if let Some(h) = root.child("host") {
            host.uuid = text(h, "uuid");
            host.cpu = h
                .child("cpu")
                .map(CpuDef::from_element)
                .transpose()
                .map_err(|source| CapabilitiesError::HostCpu { path: "/capabilities/host/cpu".into(), source })?;
            host.iommu = h.child("iommu").map(|i| yes(i.attr("support")));
            if let Some(cells) = h.child("topology").and_then(|t| t.child("cells")) {
                for (i, cell) in cells.children_named("cell").enumerate() {
                    let cell_path = || format!("/capabilities/host/topology/cells/cell[{}]", i + 1);
                    let mut cpus = Vec::new();
                    for (j, c) in cell.child("cpus").into_iter().flat_map(|c| c.children_named("cpu")).enumerate() {
                        let path = || format!("{}/cpus/cpu[{}]/@id", cell_path(), j + 1);
                        cpus.extend(num::<u32>(path, c.attr("id"))?);
                    }
                    host.numa_cells.push(NumaCell {
                        id: num(|| format!("{}/@id", cell_path()), cell.attr("id"))?.unwrap_or(0),
                        memory_kib: num(
                            || format!("{}/memory", cell_path()),
                            cell.child("memory").map(|m| m.text()).as_deref(),
                        )?,
                        cpus,
                    });
                }
            }
            if let Some(t) = h.child("migration_features").and_then(|m| m.child("uri_transports")) {
                host.migration_transports = t.children_named("uri_transport").map(|u| u.text().trim().into()).collect();
            }
            host.security_models = h.children_named("secmodel").filter_map(|s| text(s, "model")).collect();
        }
        let mut guests = Vec::new();
        for (i, g) in root.children_named("guest").enumerate() {
            let Some(arch) = g.child("arch") else { continue };
            let arch_path = || format!("/capabilities/guest[{}]/arch", i + 1);
            let mut domain_types: Vec<String> =
                arch.children_named("domain").filter_map(|d| d.attr("type").map(String::from)).collect();
            domain_types.dedup();
            let mut machines = Vec::new();
            for (j, m) in arch.children_named("machine").enumerate() {
                machines.push(Machine {
                    name: m.text().trim().to_string(),
                    canonical: m.attr("canonical").map(String::from),
                    max_cpus: num(|| format!("{}/machine[{}]/@maxCpus", arch_path(), j + 1), m.attr("maxCpus"))?,
                });
            }
            guests.push(GuestCapabilities {
                os_type: text(g, "os_type").unwrap_or_default(),
                arch: arch.attr("name").unwrap_or_default().to_string(),
                wordsize: num(|| format!("{}/wordsize", arch_path()), text(arch, "wordsize").as_deref())?,
                emulator: text(arch, "emulator"),
                machines,
                domain_types,
            });
        }
        Ok(Capabilities { host, guests, document })
    }

    /// The document as parsed (everything libvirt wrote, typed here or not).
    ///
    /// ```
    /// use kvmhost_core::capabilities::Capabilities;
    /// let caps = Capabilities::parse("<capabilities><host><power_management/></host></capabilities>").unwrap();
    /// assert!(caps.document().root.child("host").unwrap().child("power_management").is_some());
    /// ```
    pub fn document(&self) -> &Document {
        &self.document
    }

    /// The document written back: byte for byte the text it was parsed from.
    ///
    /// ```
    /// use kvmhost_core::capabilities::Capabilities;
    /// let xml = "<?xml version=\"1.0\"?>\n<capabilities>\n  <!-- kept -->\n  <host/>\n</capabilities>";
    /// assert_eq!(Capabilities::parse(xml).unwrap().to_xml().unwrap(), xml);
    /// ```
    pub fn to_xml(&self) -> Result<String, CapabilitiesError> {
        Ok(self.document.to_xml()?)
    }

    /// The guests that can run `domain_type` (`kvm`, `qemu`).
    ///
    /// ```
    /// use kvmhost_core::capabilities::Capabilities;
    /// let caps = Capabilities::parse("<capabilities><host/><guest><os_type>hvm</os_type>\
    ///     <arch name='x86_64'><domain type='qemu'/></arch></guest></capabilities>").unwrap();
    /// assert_eq!(caps.guests_for("qemu").count(), 1);
    /// assert_eq!(caps.guests_for("kvm").count(), 0);
    /// ```
    pub fn guests_for<'a>(&'a self, domain_type: &'a str) -> impl Iterator<Item = &'a GuestCapabilities> + 'a {
        self.guests.iter().filter(move |g| g.domain_types.iter().any(|t| t == domain_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_attribute() {
        let e = Capabilities::parse(
            "<capabilities><host/><guest><os_type>hvm</os_type><arch name='x86_64'>\
             <machine>pc</machine><machine maxCpus='many'>q35</machine></arch></guest></capabilities>",
        )
        .unwrap_err();
        assert_eq!(
            e,
            CapabilitiesError::InvalidValue {
                path: "/capabilities/guest[1]/arch/machine[2]/@maxCpus".into(),
                value: "many".into(),
                expected: "a non-negative integer".into(),
            }
        );
        let e = Capabilities::parse(
            "<capabilities><host><topology><cells><cell id='0'><cpus><cpu id='-1'/></cpus></cell></cells>\
             </topology></host></capabilities>",
        )
        .unwrap_err();
        assert!(e.to_string().contains("/capabilities/host/topology/cells/cell[1]/cpus/cpu[1]/@id"), "{e}");
    }

    #[test]
    fn bad_host_cpu_is_a_typed_error() {
        let e = Capabilities::parse("<capabilities><host><cpu><topology sockets='x'/></cpu></host></capabilities>");
        assert!(matches!(e, Err(CapabilitiesError::HostCpu { .. })), "{e:?}");
    }

    #[test]
    fn serde_round_trip() {
        let caps = Capabilities::parse(
            "<capabilities><host><cpu><arch>x86_64</arch><model>Haswell</model></cpu></host>\
             <guest><os_type>hvm</os_type><arch name='x86_64'><domain type='kvm'/></arch></guest></capabilities>",
        )
        .unwrap();
        let json = serde_json::to_string(&caps).unwrap();
        assert_eq!(serde_json::from_str::<Capabilities>(&json).unwrap(), caps);
    }
}
