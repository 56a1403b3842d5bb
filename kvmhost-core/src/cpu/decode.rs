//! [`decode`]: which CPU model plus features best describes a set of CPUID bits (libvirt's
//! `x86Decode`), used for host CPUs (from raw CPUID), baselines and host-model guests.

use super::{CpuDef, CpuError, CpuKind, CpuMap, CpuidData, Model};
use crate::domain::{Cpu, CpuFeature, CpuMatch, CpuMode, CpuModel, FeaturePolicy, ModelFallback};
use serde::{Deserialize, Serialize};

/// A CPU signature: family, model and stepping as decoded from CPUID leaf 1 `EAX`.
///
/// ```
/// use kvmhost_core::cpu::CpuSignature;
/// let s = CpuSignature::from_eax(0x000306c3);
/// assert_eq!((s.family, s.model, s.stepping), (6, 60, 3));
/// assert_eq!(s.to_eax(), 0x000306c3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CpuSignature {
    /// Family (base + extended).
    pub family: u32,
    /// Model (extended model << 4 + base model).
    pub model: u32,
    /// Stepping.
    pub stepping: u32,
}

impl CpuSignature {
    /// Decodes leaf 1 `EAX` (libvirt's `virCPUx86SignatureFromCPUID`).
    ///
    /// ```
    /// let s = kvmhost_core::cpu::CpuSignature::from_eax(0x00830f10);
    /// assert_eq!((s.family, s.model, s.stepping), (23, 49, 0));
    /// ```
    pub fn from_eax(eax: u32) -> CpuSignature {
        CpuSignature {
            family: ((eax >> 20) & 0xff) + ((eax >> 8) & 0xf),
            model: ((eax >> 12) & 0xf0) + ((eax >> 4) & 0xf),
            stepping: eax & 0xf,
        }
    }

    /// Encodes as leaf 1 `EAX` (libvirt's `x86MakeSignature`).
    ///
    /// ```
    /// use kvmhost_core::cpu::CpuSignature;
    /// let s = CpuSignature { family: 25, model: 1, stepping: 1 };
    /// assert_eq!(CpuSignature::from_eax(s.to_eax()), s);
    /// ```
    pub fn to_eax(&self) -> u32 {
        let (mut family, mut sig) = (self.family, 0u32);
        if family > 0xf {
            sig |= (family - 0xf) << 20;
            family = 0xf;
        }
        sig |= (self.model >> 4) << 16;
        sig |= family << 8;
        sig |= (self.model & 0xf) << 4;
        sig | (self.stepping & 0xf)
    }
}

/// A CPU model as the hypervisor offers it (from QEMU's `query-cpu-definitions`): its name and
/// the features that block it on this host (libvirt's `virDomainCapsCPUModel`).
///
/// ```
/// let m = kvmhost_core::cpu::HvModel { name: "Haswell".into(), blockers: vec!["hle".into()] };
/// assert_eq!(m.blockers.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HvModel {
    /// The model name.
    pub name: String,
    /// Features the host lacks for this model (libvirt or QEMU names).
    pub blockers: Vec<String>,
}

/// What [`decode`] should produce.
///
/// ```
/// use kvmhost_core::cpu::{CpuKind, DecodeOptions};
/// let o = DecodeOptions { kind: CpuKind::Host, ..DecodeOptions::default() };
/// assert!(!o.migratable);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions<'a> {
    /// A host CPU (only models whose features the data all has) or a guest CPU.
    pub kind: CpuKind,
    /// Only these models (the hypervisor's), with their blockers; `None`: every model.
    pub models: Option<&'a [HvModel]>,
    /// Models to prefer: a single one is used whenever it is a candidate; of several, one is
    /// preferred over another model that disables more features (baseline passes the input
    /// CPUs' models).
    pub preferred: &'a [&'a str],
    /// Whether a preferred model the hypervisor lacks may be replaced by a close one.
    pub fallback_allowed: bool,
    /// Drop features that block migration (`migratable='no'`, e.g. `invtsc`).
    pub migratable: bool,
}

impl Default for DecodeOptions<'_> {
    fn default() -> Self {
        DecodeOptions { kind: CpuKind::Guest, models: None, preferred: &[], fallback_allowed: true, migratable: false }
    }
}

/// The result of [`decode`]: model, vendor, signature and features with policies.
///
/// ```
/// use kvmhost_core::cpu::Decoded;
/// let d = Decoded { model: "Penryn".into(), ..Decoded::default() };
/// assert!(d.features.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Decoded {
    /// The chosen model.
    pub model: String,
    /// The vendor found in the data (leaf 0).
    pub vendor: Option<String>,
    /// The signature found in the data (leaf 1), all zero without leaf 1.
    pub signature: CpuSignature,
    /// Features beyond the model (`Require`) and model features missing (`Disable`), map order.
    pub features: Vec<(String, FeaturePolicy)>,
}

impl Decoded {
    /// The host CPU libvirt reports in capabilities (`<cpu><arch>…`, features without policy).
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuKind, Decoded};
    /// let h = Decoded { model: "Penryn".into(), ..Decoded::default() }.to_host();
    /// assert_eq!((h.kind, h.cpu.model_name()), (CpuKind::Host, Some("Penryn")));
    /// ```
    pub fn to_host(&self) -> CpuDef {
        let cpu = Cpu {
            model: Some(CpuModel { name: Some(self.model.clone()), ..CpuModel::default() }),
            vendor: self.vendor.clone(),
            features: self.features.iter().map(|(n, _)| feature(n, None)).collect(),
            ..Cpu::default()
        };
        CpuDef { signature: Some(self.signature), ..CpuDef::host(cpu) }
    }

    /// A guest CPU (`mode='custom' match='exact'`, features with policies).
    ///
    /// ```
    /// use kvmhost_core::{cpu::Decoded, domain::ModelFallback};
    /// let g = Decoded { model: "Penryn".into(), ..Decoded::default() }.to_guest(ModelFallback::Forbid);
    /// assert_eq!(g.cpu.model.unwrap().fallback, Some(ModelFallback::Forbid));
    /// ```
    pub fn to_guest(&self, fallback: ModelFallback) -> CpuDef {
        let cpu = Cpu {
            mode: Some(CpuMode::Custom),
            cpu_match: Some(CpuMatch::Exact),
            model: Some(CpuModel { name: Some(self.model.clone()), fallback: Some(fallback), vendor_id: None }),
            vendor: self.vendor.clone(),
            features: self.features.iter().map(|(n, p)| feature(n, Some(p.clone()))).collect(),
            ..Cpu::default()
        };
        CpuDef::guest(cpu)
    }
}

pub(crate) fn feature(name: &str, policy: Option<FeaturePolicy>) -> CpuFeature {
    CpuFeature { name: name.to_string(), policy }
}

/// Finds the vendor whose string is in leaf 0 and clears its bits (libvirt's `x86DataToVendor`).
pub(crate) fn take_vendor<'m>(map: &'m CpuMap, data: &mut CpuidData) -> Option<&'m str> {
    for v in map.vendors() {
        let bits = v.cpuid();
        let mut vd = CpuidData::new();
        vd.add_cpuid(bits);
        if vd.is_subset_of(data) {
            data.subtract(&vd);
            return Some(v.name.as_str());
        }
    }
    None
}

/// Leaf 1 `EAX` with reserved bits masked (libvirt's `x86DataToSignature`).
pub(crate) fn signature_eax(data: &CpuidData) -> u32 {
    data.leaf(1, 0).map_or(0, |l| l.eax & 0x0fff_3fff)
}

/// Greedy feature naming in map order, removing each feature's bits (`x86DataToCPUFeatures`).
pub(crate) fn take_features(map: &CpuMap, data: &mut CpuidData, out: &mut Vec<usize>) {
    for (i, f) in map.features().iter().enumerate() {
        if f.data.is_subset_of(data) {
            data.subtract(&f.data);
            out.push(i);
        }
    }
}

struct Candidate<'m> {
    model: &'m Model,
    required: Vec<usize>,
    disabled: Vec<usize>,
    /// Guest CPUs: features the model removed, listed as disabled (they count as disabled).
    removed: Vec<&'m str>,
}

impl Candidate<'_> {
    fn nfeatures(&self) -> usize {
        self.required.len() + self.disabled.len() + self.removed.len()
    }

    fn ndisabled(&self) -> usize {
        self.disabled.len() + self.removed.len()
    }
}

/// libvirt's `x86DataToCPU`: the features to add to and remove from `model` to get `data`.
fn to_candidate<'m>(
    map: &CpuMap,
    data: &CpuidData,
    model: &'m Model,
    hv: Option<&HvModel>,
    kind: CpuKind,
) -> Candidate<'m> {
    let mut extra = data.difference(&model.data);
    let mut missing = model.data.difference(data);
    if let Some(hv) = hv {
        for b in &hv.blockers {
            if let Some(f) = map.feature_by_any_name(b) {
                if !f.data.is_subset_of(&extra) {
                    missing.union_with(&f.data);
                }
            }
        }
    }
    let (mut required, mut disabled) = (Vec::new(), Vec::new());
    take_features(map, &mut extra, &mut required);
    take_features(map, &mut missing, &mut disabled);
    let mut removed = Vec::new();
    if kind == CpuKind::Guest {
        // virCPUx86DisableRemovedFeatures: removed features are listed (disabled) unless present
        let named = |r: &str| required.iter().chain(&disabled).any(|i| map.features()[*i].name == r);
        removed = model.removed_features.iter().map(String::as_str).filter(|r| !named(r)).collect();
    }
    Candidate { model, required, disabled, removed }
}

/// Removes `hle` and `rtm` on Intel CPUs whose TSX is broken (`x86DataFilterTSX`).
fn filter_tsx(map: &CpuMap, data: &mut CpuidData, vendor: Option<&str>) {
    if vendor != Some("Intel") {
        return;
    }
    let sig = CpuSignature::from_eax(data.leaf(1, 0).map_or(0, |l| l.eax));
    if sig.family == 6 && ((sig.model == 63 && sig.stepping < 4) || matches!(sig.model, 60 | 69 | 70)) {
        for name in ["hle", "rtm"] {
            if let Some(f) = map.feature(name) {
                data.subtract(&f.data.clone());
            }
        }
    }
}

fn sig_matches(model: &Model, sig: CpuSignature) -> bool {
    model.signatures.iter().any(|s| s.matches(sig.family, sig.model, sig.stepping))
}

/// libvirt's `virCPUx86WeightFeatures`: (total, disabled) weights of a candidate's feature list;
/// disabled features weigh more the more of them there are.
fn weight(c: &Candidate<'_>, kind: CpuKind) -> (usize, usize) {
    if kind == CpuKind::Host {
        return (c.nfeatures(), 0);
    }
    let half = c.ndisabled().div_ceil(2);
    let disabled = half * (half + 3) / 2;
    (c.nfeatures() - half + disabled, disabled)
}

/// libvirt's `x86DecodeUseCandidate`: 0 keep current, 1 take candidate, 2 take it and stop.
fn use_candidate(
    cur: Option<&Candidate<'_>>,
    cand: &Candidate<'_>,
    sig: Option<CpuSignature>,
    o: &DecodeOptions<'_>,
) -> u8 {
    let m = cand.model;
    match o.kind {
        CpuKind::Host if !m.decode_host => return 0,
        CpuKind::Guest if !m.decode_guest => return 0,
        CpuKind::Host if cand.ndisabled() > 0 => return 0,
        _ => {}
    }
    let preferred = o.preferred.iter().any(|p| *p == m.name);
    if preferred && o.preferred.len() == 1 {
        return 2;
    }
    let Some(cur) = cur else { return 1 };
    if let Some(sig) = sig {
        match (sig_matches(cur.model, sig), sig_matches(m, sig)) {
            (true, false) => return 0,
            (false, true) => return 1,
            _ => {}
        }
    }
    let (cur_total, cur_disabled) = weight(cur, o.kind);
    let (total, disabled) = weight(cand, o.kind);
    u8::from(
        total < cur_total || (total == cur_total && disabled < cur_disabled) || (preferred && disabled < cur_disabled),
    )
}

/// Chooses the CPU model and features that describe `data`, as libvirt 9.0's `x86Decode`:
/// models newest first, same vendor only, a matching signature preferred, then the fewest
/// listed features; host CPUs only take models the data fully provides.
///
/// ```
/// use kvmhost_core::cpu::{decode, CpuKind, CpuMap, DecodeOptions};
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
/// let mut data = map.expand(Some("Haswell"), &["vmx"]).unwrap();
/// data.union_with(&map.vendor_data("Intel").unwrap());
/// let d = decode(&map, &data, &DecodeOptions { kind: CpuKind::Host, ..Default::default() }).unwrap();
/// assert_eq!(d.model, "Haswell");
/// assert_eq!(d.vendor.as_deref(), Some("Intel"));
/// assert_eq!(d.features, vec![("vmx".to_string(), kvmhost_core::domain::FeaturePolicy::Require)]);
/// ```
pub fn decode(map: &CpuMap, data: &CpuidData, o: &DecodeOptions<'_>) -> Result<Decoded, CpuError> {
    let mut data = data.clone();
    let vendor = take_vendor(map, &mut data);
    let sig_eax = signature_eax(&data);
    let signature = CpuSignature::from_eax(sig_eax);
    let sig = (sig_eax != 0).then_some(signature);
    filter_tsx(map, &mut data, vendor);
    let mut best: Option<Candidate<'_>> = None;
    for model in map.models().iter().rev() {
        let hv = match o.models {
            Some(models) => match models.iter().find(|h| h.name == model.name) {
                Some(h) => Some(h),
                None => {
                    if o.preferred == [model.name.as_str()] && !o.fallback_allowed {
                        return Err(CpuError::Unsupported(format!(
                            "CPU model {} is not supported by hypervisor",
                            model.name
                        )));
                    }
                    continue;
                }
            },
            None => None,
        };
        if let (Some(v), Some(mv)) = (vendor, model.vendor.as_deref()) {
            if v != mv {
                continue;
            }
        }
        let cand = to_candidate(map, &data, model, hv, o.kind);
        match use_candidate(best.as_ref(), &cand, sig, o) {
            0 => {}
            1 => best = Some(cand),
            _ => {
                best = Some(cand);
                break;
            }
        }
    }
    let Some(best) = best else {
        return Err(CpuError::Unsupported("Cannot find suitable CPU model for given data".into()));
    };
    let feats = map.features();
    let keep = |i: &usize| !o.migratable || feats[*i].migratable;
    let mut features: Vec<(String, FeaturePolicy)> = Vec::new();
    for i in best.required.iter().filter(|i| keep(i)) {
        features.push((feats[*i].name.clone(), FeaturePolicy::Require));
    }
    for i in best.disabled.iter().filter(|i| keep(i)) {
        features.push((feats[*i].name.clone(), FeaturePolicy::Disable));
    }
    for r in best.removed.iter().filter(|r| !o.migratable || map.feature(r).map_or(true, |f| f.migratable)) {
        features.push((r.to_string(), FeaturePolicy::Disable));
    }
    Ok(Decoded { model: best.model.name.clone(), vendor: vendor.map(String::from), signature, features })
}

/// The host CPU libvirt would report for raw CPUID data (`cpuid` test's `-host.xml`).
///
/// ```
/// use kvmhost_core::cpu::{decode_host, CpuMap};
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
/// let mut data = map.expand(Some("Westmere"), &[]).unwrap();
/// data.union_with(&map.vendor_data("Intel").unwrap());
/// assert_eq!(decode_host(&map, &data).unwrap().cpu.model_name(), Some("Westmere"));
/// ```
pub fn decode_host(map: &CpuMap, data: &CpuidData) -> Result<CpuDef, CpuError> {
    Ok(decode(map, data, &DecodeOptions { kind: CpuKind::Host, ..Default::default() })?.to_host())
}

/// The guest CPU (host-model expansion) libvirt computes from raw CPUID data, optionally limited
/// to the hypervisor's models (`cpuid` test's `-guest.xml`).
///
/// ```
/// use kvmhost_core::cpu::{decode_guest, CpuMap};
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
/// let data = map.expand(Some("Penryn"), &[]).unwrap();
/// assert!(decode_guest(&map, &data, None).unwrap().to_xml().contains("fallback='forbid'"));
/// ```
pub fn decode_guest(map: &CpuMap, data: &CpuidData, models: Option<&[HvModel]>) -> Result<CpuDef, CpuError> {
    let o = DecodeOptions { kind: CpuKind::Guest, models, fallback_allowed: false, ..Default::default() };
    Ok(decode(map, data, &o)?.to_guest(ModelFallback::Forbid))
}
