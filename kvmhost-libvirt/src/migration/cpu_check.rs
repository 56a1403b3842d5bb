//! The CPU pre-check: can the destination run the guest's CPU? Asked of the destination's
//! libvirt (`virConnectCompareHypervisorCPU`, not wrapped by `virt` 0.5: a small unsafe call
//! below) and, offline, of `kvmhost_core::cpu::compare_defs` against the destination's
//! host-model CPU.

use std::ffi::{c_char, CString};

use kvmhost_core::capabilities::CapabilitiesError;
use kvmhost_core::cpu::{compare_defs, CompareResult, CpuDef, CpuKind, CpuMap};
use kvmhost_core::domain::{Cpu, CpuMode, ElementPath, FeaturePolicy, XmlPart};
use kvmhost_core::xml::Document;
use serde::{Deserialize, Serialize};
use virt::connect::Connect;
use virt::sys;

use super::MigrationError;

/// What the pre-check needs from a domain's XML: its `<cpu>` and where it runs.
///
/// ```
/// use kvmhost_libvirt::migration::GuestCpu;
/// let g = GuestCpu::from_domain_xml("<domain type='kvm'><name>a</name><os><type arch='x86_64' \
///     machine='pc-i440fx-7.2'>hvm</type></os><cpu mode='custom' match='exact'><model>qemu64</model>\
///     </cpu><devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>").unwrap();
/// assert_eq!(g.virt_type.as_deref(), Some("kvm"));
/// assert_eq!(g.machine.as_deref(), Some("pc-i440fx-7.2"));
/// assert!(g.cpu_xml.unwrap().contains("qemu64"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestCpu {
    /// `<domain type>` (`kvm`, `qemu`).
    pub virt_type: Option<String>,
    /// `<os><type arch>`.
    pub arch: Option<String>,
    /// `<os><type machine>`.
    pub machine: Option<String>,
    /// `<devices><emulator>`.
    pub emulator: Option<String>,
    /// The `<cpu>` element as XML, if the domain has one.
    pub cpu_xml: Option<String>,
    /// The typed `<cpu>`.
    pub cpu: Option<Cpu>,
}

impl GuestCpu {
    /// Reads a domain XML document (best: the live XML of the running guest, where libvirt has
    /// expanded `host-model` and recorded the features the hypervisor really provides).
    pub fn from_domain_xml(xml: &str) -> Result<GuestCpu, MigrationError> {
        let doc = Document::parse(xml).map_err(|e| MigrationError::InvalidDomainXml(e.to_string()))?;
        let root = &doc.root;
        let os_type = root.child("os").and_then(|os| os.child("type"));
        let emulator = root.child("devices").and_then(|d| d.child("emulator")).map(|e| e.text().trim().to_string());
        let (cpu_xml, cpu) = match root.child("cpu") {
            Some(el) => {
                let cpu = Cpu::decode(el, &ElementPath::root("cpu"))
                    .map_err(|e| MigrationError::InvalidDomainXml(e.to_string()))?;
                let xml =
                    Document::new(el.clone()).to_xml().map_err(|e| MigrationError::InvalidDomainXml(e.to_string()))?;
                (Some(xml), Some(cpu))
            }
            None => (None, None),
        };
        Ok(GuestCpu {
            virt_type: root.attr("type").map(str::to_string),
            arch: os_type.and_then(|t| t.attr("arch")).map(str::to_string),
            machine: os_type.and_then(|t| t.attr("machine")).map(str::to_string),
            emulator,
            cpu_xml,
            cpu,
        })
    }

    /// Why this CPU cannot be compared, if it cannot: no `<cpu>` model (the hypervisor's
    /// default CPU), or a mode that copies the host (`host-passthrough`, `maximum`), whose
    /// migratability libvirt checks itself.
    ///
    /// ```
    /// use kvmhost_libvirt::migration::GuestCpu;
    /// let g = GuestCpu::from_domain_xml("<domain><cpu mode='host-passthrough'/></domain>").unwrap();
    /// assert!(g.not_comparable().unwrap().contains("host-passthrough"));
    /// ```
    pub fn not_comparable(&self) -> Option<String> {
        let Some(cpu) = &self.cpu else {
            return Some("the guest has no <cpu> element (hypervisor default CPU)".into());
        };
        match &cpu.mode {
            Some(CpuMode::HostPassthrough) => Some("the guest CPU is host-passthrough".into()),
            Some(CpuMode::Maximum) => Some("the guest CPU is maximum".into()),
            Some(CpuMode::HostModel) if cpu.model_name().is_none() => {
                Some("the guest CPU is an unexpanded host-model (use the live XML)".into())
            }
            _ if cpu.model_name().is_none() => Some("the guest CPU names no model".into()),
            _ => None,
        }
    }
}

/// The pre-check's verdict when the destination can run the guest.
///
/// ```
/// let v = kvmhost_libvirt::migration::CpuVerdict::Compatible { identical: false, checker: "libvirt".into() };
/// assert!(matches!(v, kvmhost_libvirt::migration::CpuVerdict::Compatible { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CpuVerdict {
    /// The destination provides the guest CPU (exactly, or as a superset).
    Compatible {
        /// `VIR_CPU_COMPARE_IDENTICAL` rather than `SUPERSET`.
        identical: bool,
        /// Which check said so (`libvirt`, `offline`).
        checker: String,
    },
    /// Nothing to compare (see [`GuestCpu::not_comparable`]).
    NotComparable {
        /// Why.
        reason: String,
    },
    /// The check was switched off.
    Skipped,
}

/// Asks the destination's libvirt whether it can run the guest CPU
/// (`virConnectCompareHypervisorCPU` with `VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE`, so that
/// libvirt names the features at fault). An incompatible CPU is
/// [`MigrationError::CpuIncompatible`].
///
/// ```
/// use kvmhost_libvirt::migration::{check_cpu_with_libvirt, GuestCpu, MigrationError};
/// let conn = virt::connect::Connect::open(Some("test:///default")).unwrap();
/// let guest = GuestCpu::from_domain_xml("<domain type='test'><cpu mode='custom'><model>qemu64</model></cpu></domain>").unwrap();
/// // The test driver does not implement the comparison: a typed error, not a panic.
/// assert!(matches!(check_cpu_with_libvirt(&conn, "test:///default", &guest), Err(MigrationError::Libvirt(_))));
/// ```
pub fn check_cpu_with_libvirt(dst: &Connect, dst_name: &str, guest: &GuestCpu) -> Result<CpuVerdict, MigrationError> {
    if let Some(reason) = guest.not_comparable() {
        return Ok(CpuVerdict::NotComparable { reason });
    }
    let cstr = |s: &Option<String>| -> Result<Option<CString>, MigrationError> {
        s.as_deref()
            .map(CString::new)
            .transpose()
            .map_err(|_| MigrationError::InvalidDomainXml("NUL byte in the domain XML".into()))
    };
    let (emulator, arch, machine, virt_type) =
        (cstr(&guest.emulator)?, cstr(&guest.arch)?, cstr(&guest.machine)?, cstr(&guest.virt_type)?);
    let xml = cstr(&guest.cpu_xml)?.unwrap_or_default();
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()) as *const c_char;
    // SAFETY: `dst` is a live connection; every string pointer is NULL or points into a CString
    // that outlives the call; libvirt only reads them.
    let rc = unsafe {
        sys::virConnectCompareHypervisorCPU(
            dst.as_ptr(),
            ptr(&emulator),
            ptr(&arch),
            ptr(&machine),
            ptr(&virt_type),
            xml.as_ptr(),
            sys::VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE,
        )
    };
    match rc {
        r if r == sys::VIR_CPU_COMPARE_IDENTICAL => {
            Ok(CpuVerdict::Compatible { identical: true, checker: "libvirt".into() })
        }
        r if r == sys::VIR_CPU_COMPARE_SUPERSET => {
            Ok(CpuVerdict::Compatible { identical: false, checker: "libvirt".into() })
        }
        r if r == sys::VIR_CPU_COMPARE_INCOMPATIBLE => Err(MigrationError::CpuIncompatible {
            destination: dst_name.to_string(),
            reason: "the destination cannot run the guest CPU".into(),
            features: vec![],
        }),
        _ => {
            // Read the thread-local error right here, on the thread that made the call.
            let err = virt::error::Error::last_error();
            if matches!(err.code(), virt::enumutil::Enum::Known(virt::error::ErrorNumber::CpuIncompatible)) {
                let (reason, features) = split_incompatible_message(err.message());
                return Err(MigrationError::CpuIncompatible { destination: dst_name.to_string(), reason, features });
            }
            Err(MigrationError::Libvirt(err.into()))
        }
    }
}

/// Splits libvirt's `the CPU is incompatible with host CPU: Host CPU does not provide required
/// features: avx512f, la57` into the reason and the feature names.
///
/// ```
/// let (reason, features) = kvmhost_libvirt::migration::split_incompatible_message(
///     "the CPU is incompatible with host CPU: Host CPU does not provide required features: avx512f, la57");
/// assert_eq!(reason, "Host CPU does not provide required features");
/// assert_eq!(features, ["avx512f", "la57"]);
/// let (reason, features) = kvmhost_libvirt::migration::split_incompatible_message("something else");
/// assert_eq!((reason.as_str(), features.len()), ("something else", 0));
/// ```
pub fn split_incompatible_message(message: &str) -> (String, Vec<String>) {
    let body = message.strip_prefix("the CPU is incompatible with host CPU: ").unwrap_or(message);
    match body.rsplit_once("features: ") {
        Some((head, list)) => {
            let features = list.split(',').map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect();
            (format!("{head}features"), features)
        }
        None => (body.to_string(), vec![]),
    }
}

/// The destination's host-model CPU from its domain capabilities XML
/// (`virConnectGetDomainCapabilities`, `<cpu><mode name='host-model'>`), as a host CPU for
/// [`check_cpu_offline`]: the model plus the features it requires (disabled ones are absent),
/// on the document's `<arch>` (`x86_64` when it names none). Read by
/// [`kvmhost_core::capabilities::host_model_cpu`], like [`DomainCapabilities`](crate::DomainCapabilities).
///
/// ```
/// use kvmhost_core::capabilities::CapabilitiesError;
/// use kvmhost_libvirt::migration::{host_model_cpu, MigrationError};
/// let caps = "<domainCapabilities><arch>x86_64</arch><cpu><mode name='host-model' supported='yes'>\
///   <model fallback='forbid'>EPYC-Milan</model><vendor>AMD</vendor>\
///   <feature policy='require' name='x2apic'/><feature policy='disable' name='avx2'/>\
///   </mode></cpu></domainCapabilities>";
/// let host = host_model_cpu(caps).unwrap();
/// assert_eq!(host.cpu.model_name(), Some("EPYC-Milan"));
/// assert_eq!(host.cpu.features.len(), 1);
/// let e = host_model_cpu("<domainCapabilities/>").unwrap_err();
/// assert!(matches!(e, MigrationError::InvalidCapabilities(CapabilitiesError::Missing { .. })));
/// ```
pub fn host_model_cpu(domain_capabilities_xml: &str) -> Result<CpuDef, MigrationError> {
    const MODE: &str = "/domainCapabilities/cpu/mode[@name='host-model']";
    let bad = MigrationError::InvalidCapabilities;
    let missing = |path: String| bad(CapabilitiesError::Missing { path });
    let doc = Document::parse(domain_capabilities_xml).map_err(|e| bad(e.into()))?;
    let Some(model_cpu) = kvmhost_core::capabilities::host_model_cpu(&doc.root).map_err(bad)? else {
        return Err(missing(MODE.into()));
    };
    let Some(model) = model_cpu.model_name().map(str::trim).filter(|m| !m.is_empty()) else {
        return Err(missing(format!("{MODE}/model")));
    };
    let mut cpu = Cpu::custom(model);
    cpu.vendor = model_cpu.vendor.as_deref().map(|v| v.trim().to_string());
    for f in &model_cpu.features {
        if matches!(f.policy, None | Some(FeaturePolicy::Require) | Some(FeaturePolicy::Force)) {
            cpu.set_feature(&f.name, FeaturePolicy::Require);
        }
    }
    let arch = doc.root.child("arch").map(|a| a.text().trim().to_string()).filter(|a| !a.is_empty());
    Ok(CpuDef { kind: CpuKind::Host, arch: Some(arch.unwrap_or_else(|| "x86_64".into())), cpu, signature: None })
}

/// The CPU engine's verdict (no libvirt involved): can `host` run the guest CPU?
/// An incompatible CPU is [`MigrationError::CpuIncompatible`] naming the features.
///
/// ```
/// use kvmhost_core::cpu::{CpuDef, CpuMap};
/// use kvmhost_libvirt::migration::{check_cpu_offline, GuestCpu, MigrationError};
/// // two of libvirt's models cut down to two features (`CpuMap::load` reads the whole map)
/// let map = CpuMap::parse("<cpus><arch name='x86'><vendor name='Intel' string='GenuineIntel'/>\
///     <feature name='sse4.1'><cpuid eax_in='0x01' ecx='0x00080000'/></feature>\
///     <feature name='avx2'><cpuid eax_in='0x07' ecx_in='0x00' ebx='0x00000020'/></feature>\
///     <model name='Penryn'><vendor name='Intel'/><feature name='sse4.1'/></model>\
///     <model name='Haswell'><vendor name='Intel'/><feature name='sse4.1'/><feature name='avx2'/></model>\
///     </arch></cpus>").unwrap();
/// let host = CpuDef::parse("<cpu><arch>x86_64</arch><model>Penryn</model></cpu>").unwrap();
/// let guest = GuestCpu::from_domain_xml("<domain type='kvm'><cpu mode='custom' match='exact'>\
///     <model>Haswell</model></cpu></domain>").unwrap();
/// let err = check_cpu_offline(&map, &host, "dst", &guest).unwrap_err();
/// assert!(matches!(err, MigrationError::CpuIncompatible { features, .. } if features.contains(&"avx2".to_string())));
/// ```
pub fn check_cpu_offline(
    map: &CpuMap,
    host: &CpuDef,
    dst_name: &str,
    guest: &GuestCpu,
) -> Result<CpuVerdict, MigrationError> {
    if let Some(reason) = guest.not_comparable() {
        return Ok(CpuVerdict::NotComparable { reason });
    }
    let Some(cpu) = guest.cpu.clone() else {
        return Ok(CpuVerdict::NotComparable { reason: "no guest CPU".into() });
    };
    match compare_defs(map, host, &CpuDef::guest(cpu))? {
        CompareResult::Identical => Ok(CpuVerdict::Compatible { identical: true, checker: "offline".into() }),
        CompareResult::Superset => Ok(CpuVerdict::Compatible { identical: false, checker: "offline".into() }),
        CompareResult::Incompatible { reason, features } => {
            Err(MigrationError::CpuIncompatible { destination: dst_name.to_string(), reason, features })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_model_cpu_keeps_required_features_on_the_documents_arch() {
        let caps = "<domainCapabilities><arch>aarch64</arch><cpu><mode name='host-model' supported='yes'>\
                    <model>neoverse-n1</model><feature policy='require' name='a'/>\
                    <feature policy='disable' name='b'/><feature policy='force' name='c'/><feature name='d'/>\
                    </mode></cpu></domainCapabilities>";
        let host = host_model_cpu(caps).unwrap();
        assert_eq!((host.kind, host.arch.as_deref()), (CpuKind::Host, Some("aarch64")));
        let names: Vec<&str> = host.cpu.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "c", "d"]);
    }

    #[test]
    fn host_model_cpu_errors_are_typed() {
        let missing = |xml: &str| match host_model_cpu(xml) {
            Err(MigrationError::InvalidCapabilities(CapabilitiesError::Missing { path })) => path,
            other => panic!("{other:?}"),
        };
        assert_eq!(missing("<domainCapabilities/>"), "/domainCapabilities/cpu/mode[@name='host-model']");
        assert_eq!(
            missing(
                "<domainCapabilities><cpu><mode name='host-model'><model> </model></mode></cpu></domainCapabilities>"
            ),
            "/domainCapabilities/cpu/mode[@name='host-model']/model"
        );
        assert!(matches!(
            host_model_cpu("<domainCapabilities><cpu>"),
            Err(MigrationError::InvalidCapabilities(CapabilitiesError::Xml(_)))
        ));
    }
}
