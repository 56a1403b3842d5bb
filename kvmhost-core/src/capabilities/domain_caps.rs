//! [`DomainCapabilities`]: `virConnectGetDomainCapabilities`, typed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::capabilities::error::CapabilitiesError;
use crate::capabilities::host_model::host_model_cpu;
use crate::capabilities::read::{document, num, text, xml_text, yes};
use crate::domain::Cpu;
use crate::xml::{Document, Element};

/// `virConnectGetDomainCapabilities`, typed: what one emulator / machine / domain type offers.
///
/// ```
/// use kvmhost_core::capabilities::DomainCapabilities;
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
///
/// The parsed document is kept as it was read ([`DomainCapabilities::document`]) and written
/// back byte for byte by [`DomainCapabilities::to_xml`], like a
/// [`Domain`](crate::domain::Domain); the typed fields are a read-only extract of it (editing
/// them does not change the document). It serialises (serde) with the document as its XML
/// text under `xml`.
///
/// ```
/// use kvmhost_core::capabilities::DomainCapabilities;
/// let xml = "<domainCapabilities>\n  <path>/usr/bin/qemu-system-x86_64</path>\n  \
///     <launchSecurity supported='no'/>\n</domainCapabilities>\n";
/// let caps = DomainCapabilities::parse(xml).unwrap();
/// assert_eq!(caps.to_xml().unwrap(), xml);
/// assert_eq!(serde_json::to_value(&caps).unwrap()["xml"], xml);
/// ```
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
    /// The document as parsed.
    #[serde(rename = "xml", with = "xml_text")]
    document: Document,
}

/// The guest CPU modes of a domain capabilities document.
///
/// ```
/// use kvmhost_core::capabilities::DomainCapabilities;
/// let caps = DomainCapabilities::parse("<domainCapabilities><cpu>\
///     <mode name='maximum' supported='yes'/><mode name='host-model' supported='no'/>\
///     </cpu></domainCapabilities>").unwrap();
/// assert!(caps.cpu.maximum && !caps.cpu.host_passthrough);
/// assert!(caps.cpu.host_model.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CpuModes {
    /// `host-passthrough` supported.
    pub host_passthrough: bool,
    /// `maximum` supported.
    pub maximum: bool,
    /// `host-model` supported, and the CPU it expands to (model, vendor, features with
    /// policies), as the domain model's [`Cpu`] (read by [`host_model_cpu`]).
    pub host_model: Option<Cpu>,
    /// `custom` models.
    pub custom_models: Vec<CpuModelSupport>,
}

/// A named CPU model offered in `custom` mode.
///
/// ```
/// use kvmhost_core::capabilities::DomainCapabilities;
/// let caps = DomainCapabilities::parse("<domainCapabilities><cpu><mode name='custom' supported='yes'>\
///     <model usable='yes' vendor='Intel' deprecated='yes'>Haswell</model></mode></cpu></domainCapabilities>").unwrap();
/// let m = &caps.cpu.custom_models[0];
/// assert_eq!((m.name.as_str(), m.usable, m.vendor.as_deref(), m.deprecated), ("Haswell", Some(true), Some("Intel"), true));
/// ```
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
///
/// ```
/// use kvmhost_core::capabilities::DomainCapabilities;
/// let caps = DomainCapabilities::parse("<domainCapabilities><os supported='yes'>\
///     <enum name='firmware'><value>bios</value><value>efi</value></enum></os></domainCapabilities>").unwrap();
/// let os = caps.os.unwrap();
/// assert!(os.supported);
/// assert_eq!(os.enums["firmware"], ["bios", "efi"]);
/// ```
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
    /// Parses domain capabilities XML. The host-model CPU is read by [`host_model_cpu`]
    /// (present unless the document marks it `supported='no'` or has none).
    ///
    /// ```
    /// use kvmhost_core::capabilities::{CapabilitiesError, DomainCapabilities};
    /// assert!(matches!(DomainCapabilities::parse("<capabilities/>"), Err(CapabilitiesError::WrongRoot { .. })));
    /// ```
    pub fn parse(xml: &str) -> Result<DomainCapabilities, CapabilitiesError> {
        let document = document(xml, "domainCapabilities")?;
        let root = &document.root;
        let mut cpu = CpuModes { host_model: host_model_cpu(root)?, ..CpuModes::default() };
        for mode in root.child("cpu").into_iter().flat_map(|c| c.children_named("mode")) {
            let supported = yes(mode.attr("supported"));
            match mode.attr("name") {
                Some("host-passthrough") => cpu.host_passthrough = supported,
                Some("maximum") => cpu.maximum = supported,
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
            path: text(root, "path"),
            domain_type: text(root, "domain"),
            machine: text(root, "machine"),
            arch: text(root, "arch"),
            max_vcpus: num(|| "/domainCapabilities/vcpu/@max".into(), root.child("vcpu").and_then(|v| v.attr("max")))?,
            cpu,
            devices,
            features,
            os: root.child("os").map(SupportedEnums::read),
            document,
        })
    }

    /// The document as parsed (everything libvirt wrote, typed here or not).
    ///
    /// ```
    /// use kvmhost_core::capabilities::DomainCapabilities;
    /// let caps = DomainCapabilities::parse("<domainCapabilities><iothreads supported='yes'/></domainCapabilities>").unwrap();
    /// assert_eq!(caps.document().root.child("iothreads").unwrap().attr("supported"), Some("yes"));
    /// ```
    pub fn document(&self) -> &Document {
        &self.document
    }

    /// The document written back: byte for byte the text it was parsed from.
    ///
    /// ```
    /// use kvmhost_core::capabilities::DomainCapabilities;
    /// let xml = "<domainCapabilities>\r\n <vcpu max=\"255\"/><!-- kept -->\r\n</domainCapabilities>";
    /// assert_eq!(DomainCapabilities::parse(xml).unwrap().to_xml().unwrap(), xml);
    /// ```
    pub fn to_xml(&self) -> Result<String, CapabilitiesError> {
        Ok(self.document.to_xml()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_and_devices() {
        let caps = DomainCapabilities::parse(
            "<domainCapabilities><path>/usr/bin/qemu</path><arch>x86_64</arch><machine>pc-q35-8.2</machine>\
             <features><gic supported='no'/><vmcoreinfo supported='yes'/></features>\
             <devices><hostdev supported='yes'><enum name='mode'><value>subsystem</value></enum>\
             <enum name='startupPolicy'/></hostdev></devices></domainCapabilities>",
        )
        .unwrap();
        assert_eq!(caps.arch.as_deref(), Some("x86_64"));
        assert!(!caps.features["gic"]);
        assert!(caps.features["vmcoreinfo"]);
        assert_eq!(caps.devices["hostdev"].enums["mode"], ["subsystem"]);
        assert!(caps.devices["hostdev"].enums["startupPolicy"].is_empty());
        assert!(caps.cpu.host_model.is_none());
    }

    #[test]
    fn bad_host_model_names_its_path() {
        let e = DomainCapabilities::parse(
            "<domainCapabilities><cpu><mode name='host-model' supported='yes'><model>X</model>\
             <topology sockets='lots'/></mode></cpu></domainCapabilities>",
        )
        .unwrap_err();
        assert!(matches!(&e, CapabilitiesError::HostModelCpu { .. }), "{e:?}");
        assert!(e.to_string().contains("host-model"), "{e}");
    }

    #[test]
    fn serde_round_trip() {
        let caps = DomainCapabilities::parse(
            "<domainCapabilities><cpu><mode name='host-model' supported='yes'><model>Haswell</model>\
             <feature policy='require' name='vmx'/></mode></cpu></domainCapabilities>",
        )
        .unwrap();
        let json = serde_json::to_string(&caps).unwrap();
        assert_eq!(serde_json::from_str::<DomainCapabilities>(&json).unwrap(), caps);
    }
}
