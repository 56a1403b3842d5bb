//! [`compare`]: does a host CPU run a guest CPU? (libvirt's `virCPUx86Compare` / `x86Compute`).

use super::{CpuError, CpuMap, CpuSignature, CpuidData};
use crate::capabilities::host_model_cpu;
use crate::domain::{Cpu, CpuMatch, ElementPath, FeaturePolicy, XmlPart};
use crate::xml::{Document, Element};
use serde::{Deserialize, Serialize};

/// What a `<cpu>` describes: a host's CPU (features are what it has) or a guest's (features
/// carry policies). libvirt tells them apart by the `<arch>` child only hosts have.
///
/// ```
/// use kvmhost_core::cpu::CpuKind;
/// assert_ne!(CpuKind::Host, CpuKind::Guest);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CpuKind {
    /// A host CPU (libvirt's `VIR_CPU_TYPE_HOST`).
    Host,
    /// A guest CPU (libvirt's `VIR_CPU_TYPE_GUEST`).
    Guest,
}

/// A `<cpu>` with what libvirt's CPU driver needs beyond [`Cpu`]: its kind and architecture.
///
/// ```
/// use kvmhost_core::cpu::{CpuDef, CpuKind};
/// let host = CpuDef::parse("<cpu><arch>x86_64</arch><model>Penryn</model></cpu>").unwrap();
/// assert_eq!((host.kind, host.arch.as_deref()), (CpuKind::Host, Some("x86_64")));
/// let guest = CpuDef::parse("<cpu match='exact'><model>Penryn</model></cpu>").unwrap();
/// assert_eq!(guest.kind, CpuKind::Guest);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuDef {
    /// Host or guest.
    pub kind: CpuKind,
    /// The `<arch>` text (`x86_64`), hosts only.
    pub arch: Option<String>,
    /// The typed `<cpu>` content.
    pub cpu: Cpu,
    /// `<signature family model stepping/>` of a host CPU decoded from CPUID.
    #[serde(default)]
    pub signature: Option<CpuSignature>,
}

impl CpuDef {
    /// A guest CPU.
    ///
    /// ```
    /// use kvmhost_core::{cpu::CpuDef, domain::Cpu};
    /// assert!(CpuDef::guest(Cpu::custom("Haswell")).arch.is_none());
    /// ```
    pub fn guest(cpu: Cpu) -> CpuDef {
        CpuDef { kind: CpuKind::Guest, arch: None, cpu, signature: None }
    }

    /// A host CPU of architecture `x86_64`.
    ///
    /// ```
    /// use kvmhost_core::{cpu::{CpuDef, CpuKind}, domain::Cpu};
    /// assert_eq!(CpuDef::host(Cpu::custom("Haswell")).kind, CpuKind::Host);
    /// ```
    pub fn host(cpu: Cpu) -> CpuDef {
        CpuDef { kind: CpuKind::Host, arch: Some("x86_64".into()), cpu, signature: None }
    }

    /// Reads a `<cpu>` element; with an `<arch>` child it is a host CPU, otherwise a guest CPU
    /// (libvirt's `VIR_CPU_TYPE_AUTO`).
    ///
    /// ```
    /// use kvmhost_core::{cpu::CpuDef, xml::Document};
    /// let doc = Document::parse("<cpu><model>Haswell</model></cpu>").unwrap();
    /// assert_eq!(CpuDef::from_element(&doc.root).unwrap().cpu.model_name(), Some("Haswell"));
    /// ```
    pub fn from_element(el: &Element) -> Result<CpuDef, CpuError> {
        let cpu = Cpu::decode(el, &ElementPath::root("cpu")).map_err(|e| CpuError::InvalidCpu(e.to_string()))?;
        for (i, f) in cpu.features.iter().enumerate() {
            if cpu.features[..i].iter().any(|g| g.name == f.name) {
                return Err(CpuError::InvalidCpu(format!("CPU feature '{}' specified more than once", f.name)));
            }
        }
        let arch = el.child("arch").map(|a| a.text().trim().to_string());
        let kind = if arch.is_some() { CpuKind::Host } else { CpuKind::Guest };
        let signature = match el.child("signature") {
            None => None,
            Some(s) => {
                let num = |a: &str| -> Result<u32, CpuError> {
                    let v = s.attr(a).unwrap_or("0");
                    v.trim().parse().map_err(|_| CpuError::InvalidCpu(format!("invalid signature {a}='{v}'")))
                };
                Some(CpuSignature { family: num("family")?, model: num("model")?, stepping: num("stepping")? })
            }
        };
        Ok(CpuDef { kind, arch, cpu, signature })
    }

    /// Parses a document whose root is `<cpu>`.
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuDef, CpuError};
    /// assert!(matches!(CpuDef::parse("<cpu>"), Err(CpuError::InvalidCpu(_))));
    /// ```
    pub fn parse(xml: &str) -> Result<CpuDef, CpuError> {
        let doc = Document::parse(xml).map_err(|e| CpuError::InvalidCpu(e.to_string()))?;
        if doc.root.name != "cpu" {
            return Err(CpuError::InvalidCpu(format!("root element <{}> is not <cpu>", doc.root.name)));
        }
        CpuDef::from_element(&doc.root)
    }
}

impl CpuDef {
    /// The host-model CPU of a domain capabilities document (`virsh domcapabilities`:
    /// `/domainCapabilities/cpu/mode[@name='host-model']`), as the custom guest CPU libvirt
    /// would start a `host-model` guest with (read by
    /// [`host_model_cpu`](crate::capabilities::host_model_cpu)).
    ///
    /// ```
    /// use kvmhost_core::cpu::CpuDef;
    /// let xml = "<domainCapabilities><cpu><mode name='host-model' supported='yes'>\
    ///     <model fallback='forbid'>EPYC-Rome</model><vendor>AMD</vendor>\
    ///     <feature policy='require' name='x2apic'/></mode></cpu></domainCapabilities>";
    /// let cpu = CpuDef::from_domain_capabilities(xml).unwrap();
    /// assert_eq!(cpu.cpu.model_name(), Some("EPYC-Rome"));
    /// assert!(cpu.to_xml().starts_with("<cpu mode='custom' match='exact'>"));
    /// assert!(CpuDef::from_domain_capabilities("<domainCapabilities/>").is_err());
    /// ```
    pub fn from_domain_capabilities(xml: &str) -> Result<CpuDef, CpuError> {
        let doc = Document::parse(xml).map_err(|e| CpuError::InvalidCpu(e.to_string()))?;
        let mut cpu = host_model_cpu(&doc.root)
            .map_err(|e| CpuError::InvalidCpu(e.to_string()))?
            .ok_or_else(|| CpuError::InvalidCpu("no supported host-model CPU in domain capabilities".into()))?;
        cpu.mode = Some(crate::domain::CpuMode::Custom);
        cpu.cpu_match = Some(CpuMatch::Exact);
        Ok(CpuDef { kind: CpuKind::Guest, arch: None, cpu, signature: None })
    }
}

/// libvirt's `virCPUCompareResult` (without `ERROR`, which is a [`CpuError`]).
///
/// ```
/// use kvmhost_core::cpu::CompareResult;
/// assert!(CompareResult::Superset.is_compatible());
/// let r = CompareResult::Incompatible { reason: "r".into(), features: vec!["vmx".into()] };
/// assert!(!r.is_compatible());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareResult {
    /// The host provides exactly the guest's features.
    Identical,
    /// The host provides the guest's features and more.
    Superset,
    /// The host cannot run the guest CPU.
    Incompatible {
        /// libvirt's explanation (`Host CPU does not provide required features`).
        reason: String,
        /// The features at fault (missing, forbidden or extra), in map order.
        features: Vec<String>,
    },
}

impl CompareResult {
    /// Whether the guest CPU can run on the host (`Identical` or `Superset`).
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::CompareResult::Identical.is_compatible());
    /// ```
    pub fn is_compatible(&self) -> bool {
        !matches!(self, CompareResult::Incompatible { .. })
    }
}

/// Which features of a CPU to collect into bits (libvirt's `x86ModelFromCPU` policy argument).
#[derive(Clone, Copy, PartialEq)]
enum Want {
    /// The CPU's full data: model plus required/forced features, minus disabled/forbidden ones.
    All,
    /// Only features with this policy (plus the model for `Require`).
    Policy(Policies),
}

#[derive(Clone, Copy, PartialEq)]
enum Policies {
    Force,
    Require,
    Optional,
    Disable,
    Forbid,
}

fn policy_of(def: &CpuDef, p: Option<&FeaturePolicy>, name: &str) -> Result<Policies, CpuError> {
    if def.kind == CpuKind::Host {
        return Ok(Policies::Require);
    }
    Ok(match p {
        None | Some(FeaturePolicy::Require) => Policies::Require,
        Some(FeaturePolicy::Force) => Policies::Force,
        Some(FeaturePolicy::Optional) => Policies::Optional,
        Some(FeaturePolicy::Disable) => Policies::Disable,
        Some(FeaturePolicy::Forbid) => Policies::Forbid,
        Some(other) => return Err(CpuError::InvalidCpu(format!("invalid policy {other:?} of feature {name}"))),
    })
}

/// All bits of a CPU: model plus required/forced features, minus disabled/forbidden ones
/// (libvirt's `x86ModelFromCPU(cpu, map, -1)`).
pub(crate) fn cpu_data(map: &CpuMap, def: &CpuDef) -> Result<CpuidData, CpuError> {
    model_from_cpu(map, def, Want::All)
}

fn model_from_cpu(map: &CpuMap, def: &CpuDef, want: Want) -> Result<CpuidData, CpuError> {
    // a host CPU only has required features
    if def.kind == CpuKind::Host && !matches!(want, Want::All | Want::Policy(Policies::Require)) {
        return Ok(CpuidData::new());
    }
    let mut data = match def.cpu.model_name() {
        Some(m) if matches!(want, Want::All | Want::Policy(Policies::Require)) => map.expand(Some(m), &[])?,
        _ => CpuidData::new(),
    };
    for f in &def.cpu.features {
        let pol = policy_of(def, f.policy.as_ref(), &f.name)?;
        match want {
            Want::All if pol == Policies::Optional => continue,
            Want::Policy(p) if p != pol => continue,
            _ => {}
        }
        let bits = map.feature_data(&f.name)?;
        match (want, pol) {
            (Want::All, Policies::Disable | Policies::Forbid) => data.subtract(bits),
            _ => data.union_with(bits),
        }
    }
    Ok(data)
}

fn incompatible(map: &CpuMap, reason: &str, data: &CpuidData) -> CompareResult {
    let features = map.feature_names(data).into_iter().map(String::from).collect();
    CompareResult::Incompatible { reason: reason.into(), features }
}

/// Compares a guest CPU with a host CPU, as libvirt 9.0's x86 driver does (`virCPUCompare`).
///
/// Unknown models or features are errors; a vendor or architecture mismatch, a forbidden
/// feature the host has, a required one it lacks, or (for `match='strict'`) extra host
/// features make the result [`CompareResult::Incompatible`].
///
/// ```
/// use kvmhost_core::cpu::{compare_defs, CompareResult, CpuDef, CpuMap};
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
/// let host = CpuDef::parse("<cpu><arch>x86_64</arch><model>Haswell</model></cpu>").unwrap();
/// let guest = CpuDef::parse("<cpu match='exact'><model>Penryn</model></cpu>").unwrap();
/// assert_eq!(compare_defs(&map, &host, &guest).unwrap(), CompareResult::Superset);
/// let r = compare_defs(&map, &guest, &host).unwrap();
/// assert!(matches!(r, CompareResult::Incompatible { features, .. } if features.contains(&"avx2".to_string())));
/// ```
pub fn compare_defs(map: &CpuMap, host: &CpuDef, guest: &CpuDef) -> Result<CompareResult, CpuError> {
    if host.cpu.model_name().is_none() {
        return Ok(CompareResult::Incompatible { reason: "unknown host CPU".into(), features: vec![] });
    }
    if let Some(arch) = guest.arch.as_deref() {
        if !matches!(arch, "x86_64" | "i686") {
            let reason = format!("CPU arch {arch} does not match host arch");
            return Ok(CompareResult::Incompatible { reason, features: vec![] });
        }
    }
    if let Some(vendor) = guest.cpu.vendor.as_deref() {
        if host.cpu.vendor.as_deref() != Some(vendor) {
            let reason = format!("host CPU vendor does not match required CPU vendor {vendor}");
            return Ok(CompareResult::Incompatible { reason, features: vec![] });
        }
    }
    let host_data = model_from_cpu(map, host, Want::All)?;
    let force = model_from_cpu(map, guest, Want::Policy(Policies::Force))?;
    let mut require = model_from_cpu(map, guest, Want::Policy(Policies::Require))?;
    let optional = model_from_cpu(map, guest, Want::Policy(Policies::Optional))?;
    let disable = model_from_cpu(map, guest, Want::Policy(Policies::Disable))?;
    let forbid = model_from_cpu(map, guest, Want::Policy(Policies::Forbid))?;

    let forbidden = forbid.intersection(&host_data);
    if !forbidden.is_empty() {
        return Ok(incompatible(map, "Host CPU provides forbidden features", &forbidden));
    }
    // features inherited from the model but explicitly forced, made optional or disabled
    require.subtract(&force);
    require.subtract(&optional);
    require.subtract(&disable);
    if !require.is_subset_of(&host_data) {
        let missing = require.difference(&host_data);
        return Ok(incompatible(map, "Host CPU does not provide required features", &missing));
    }
    let mut diff = host_data;
    for d in [&optional, &require, &disable, &force] {
        diff.subtract(d);
    }
    if diff.is_empty() {
        return Ok(CompareResult::Identical);
    }
    if guest.kind == CpuKind::Guest && guest.cpu.cpu_match == Some(CpuMatch::Strict) {
        let reason = "Host CPU does not strictly match guest CPU: Extra features";
        return Ok(incompatible(map, reason, &diff));
    }
    Ok(CompareResult::Superset)
}

/// [`compare_defs`] for a host CPU and a guest CPU given as plain [`Cpu`]s.
///
/// ```
/// use kvmhost_core::{cpu::{compare, CompareResult, CpuError, CpuMap}, domain::{Cpu, FeaturePolicy}};
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
/// let host = Cpu::custom("Haswell");
/// let guest = Cpu::custom("Haswell").with_feature("avx2", FeaturePolicy::Disable);
/// assert_eq!(compare(&map, &host, &guest).unwrap(), CompareResult::Identical);
/// let bad = Cpu::custom("Haswell").with_feature("bogus", FeaturePolicy::Require);
/// assert_eq!(compare(&map, &host, &bad), Err(CpuError::UnknownFeature("bogus".into())));
/// ```
pub fn compare(map: &CpuMap, host: &Cpu, guest: &Cpu) -> Result<CompareResult, CpuError> {
    compare_defs(map, &CpuDef::host(host.clone()), &CpuDef::guest(guest.clone()))
}
