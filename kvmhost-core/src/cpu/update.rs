//! Guest CPU computation: [`update`] (host-model and `match='minimum'` against a host, optional
//! features resolved; libvirt's `virCPUUpdate`), [`translate`] (a model the hypervisor lacks
//! replaced by a close one; `virCPUTranslate`), [`guest_cpu`] (both, after a compatibility
//! check), [`copy_migratable`] and [`has_feature`].

use super::compare::cpu_data;
use super::decode::{decode, feature, DecodeOptions};
use super::{compare_defs, CompareResult, CpuDef, CpuError, CpuKind, CpuMap, CpuSignature, HvModel};
use crate::domain::{CpuMatch, CpuMode, FeaturePolicy, ModelFallback};

/// Whether the CPU has feature `name` (libvirt's `virCPUCheckFeature`); an unknown feature is
/// an error.
///
/// ```
/// use kvmhost_core::cpu::{has_feature, CpuDef, CpuMap};
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
/// let host = CpuDef::parse("<cpu><arch>x86_64</arch><model>Haswell</model></cpu>").unwrap();
/// assert!(has_feature(&map, &host, "avx2").unwrap());
/// assert!(!has_feature(&map, &host, "svm").unwrap());
/// assert!(has_feature(&map, &host, "foo").is_err());
/// ```
pub fn has_feature(map: &CpuMap, cpu: &CpuDef, name: &str) -> Result<bool, CpuError> {
    let data = cpu_data(map, cpu)?;
    let f = map.feature_data(name)?;
    Ok(f.is_subset_of(&data))
}

/// A copy of a host CPU without the features that block migration (`invtsc`; libvirt's
/// `virCPUCopyMigratable`).
///
/// ```
/// use kvmhost_core::cpu::{copy_migratable, CpuDef, CpuMap};
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
/// let h = CpuDef::parse("<cpu><arch>x86_64</arch><model>Haswell</model><feature name='invtsc'/></cpu>").unwrap();
/// assert!(copy_migratable(&map, &h).cpu.features.is_empty());
/// ```
pub fn copy_migratable(map: &CpuMap, cpu: &CpuDef) -> CpuDef {
    let mut c = cpu.clone();
    c.cpu.features.retain(|f| map.feature(&f.name).map_or(true, |f| f.migratable));
    c
}

/// Sets the policy of feature `name` or appends it (libvirt's `virCPUDefUpdateFeature`).
fn update_feature(def: &mut CpuDef, name: &str, policy: Option<FeaturePolicy>) {
    let policy = if def.kind == CpuKind::Host { None } else { policy };
    match def.cpu.features.iter_mut().find(|f| f.name == name) {
        Some(f) => f.policy = policy,
        None => def.cpu.features.push(feature(name, policy)),
    }
}

/// Replaces the guest's model and features by the host's, keeping the guest's explicit feature
/// policies (libvirt's `x86UpdateHostModel`).
fn update_host_model(guest: &mut CpuDef, host: &CpuDef) {
    let keep_vendor = guest.cpu.mode.as_ref().map_or(true, |m| *m == CpuMode::Custom);
    let mut updated = CpuDef { kind: CpuKind::Guest, ..CpuDef::guest(Default::default()) };
    updated.cpu.features = host
        .cpu
        .features
        .iter()
        .map(|f| {
            let p = if host.kind == CpuKind::Host { None } else { f.policy.clone() };
            feature(&f.name, Some(p.unwrap_or(FeaturePolicy::Require)))
        })
        .collect();
    for f in &guest.cpu.features {
        update_feature(&mut updated, &f.name, f.policy.clone());
    }
    let mut model = guest.cpu.model.clone().unwrap_or_default();
    model.name = host.cpu.model_name().map(String::from);
    if model.vendor_id.is_none() {
        model.vendor_id = host.cpu.model.as_ref().and_then(|m| m.vendor_id.clone());
    }
    guest.cpu.model = Some(model);
    guest.cpu.features = updated.cpu.features;
    if !keep_vendor {
        guest.cpu.vendor = host.cpu.vendor.clone();
    }
    guest.cpu.mode = Some(CpuMode::Custom);
    guest.cpu.cpu_match = Some(CpuMatch::Exact);
}

/// Updates a guest CPU against the host CPU it is about to run on, as libvirt 9.0's
/// `virCPUUpdate`: `host-model` and `match='minimum'` become the host's model and features
/// (the guest's explicit policies kept, `mode='custom' match='exact'`), `optional` features
/// become `require` or `disable` depending on the host, and features the model removed are
/// listed explicitly. `host-passthrough` and `maximum` are left alone.
///
/// ```
/// use kvmhost_core::cpu::{update, CpuDef, CpuMap};
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
/// let host = CpuDef::parse("<cpu><arch>x86_64</arch><model>Haswell</model><vendor>Intel</vendor></cpu>").unwrap();
/// let mut guest = CpuDef::parse("<cpu mode='host-model'/>").unwrap();
/// update(&map, &mut guest, Some(&host)).unwrap();
/// assert_eq!(guest.cpu.model_name(), Some("Haswell"));
/// assert_eq!(guest.cpu.vendor.as_deref(), Some("Intel"));
/// ```
pub fn update(map: &CpuMap, guest: &mut CpuDef, host: Option<&CpuDef>) -> Result<(), CpuError> {
    let mode = guest.cpu.mode.clone().unwrap_or(CpuMode::Custom);
    let (relative, removed_policy) = match mode {
        CpuMode::HostPassthrough | CpuMode::Maximum => return Ok(()),
        CpuMode::HostModel => (true, FeaturePolicy::Require),
        CpuMode::Custom => {
            let minimum = guest.cpu.cpu_match == Some(CpuMatch::Minimum);
            let optional = guest.cpu.features.iter().any(|f| f.policy == Some(FeaturePolicy::Optional));
            (minimum || optional, FeaturePolicy::Disable)
        }
        CpuMode::Other(m) => return Err(CpuError::InvalidCpu(format!("unknown CPU mode {m}"))),
    };
    if relative {
        let Some(host) = host else {
            return Err(CpuError::Unsupported("unknown host CPU model".into()));
        };
        let host_data = cpu_data(map, host)?;
        for f in guest.cpu.features.iter_mut() {
            if f.policy == Some(FeaturePolicy::Optional) {
                let has = map.feature_data(&f.name)?.is_subset_of(&host_data);
                f.policy = Some(if has { FeaturePolicy::Require } else { FeaturePolicy::Disable });
            }
        }
        if mode == CpuMode::HostModel || guest.cpu.cpu_match == Some(CpuMatch::Minimum) {
            update_host_model(guest, host);
        }
    }
    let name = guest.cpu.model_name().unwrap_or_default().to_string();
    let model = map.model(&name).ok_or(CpuError::UnknownModel(name))?;
    for r in &model.removed_features {
        if guest.cpu.feature(r).is_none() {
            guest.cpu.features.push(feature(r, Some(removed_policy.clone())));
        }
    }
    Ok(())
}

/// Replaces a custom CPU model the hypervisor does not offer (`models`) by the closest one it
/// does, keeping the CPU's features (libvirt's `virCPUTranslate`); an error if the model's
/// `fallback` is `forbid`. `None` means every model is available.
///
/// ```
/// use kvmhost_core::cpu::{translate, CpuDef, CpuMap, HvModel};
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
/// let mut cpu = CpuDef::parse("<cpu><model>Haswell</model></cpu>").unwrap();
/// let models = [HvModel { name: "SandyBridge".into(), blockers: vec![] }];
/// translate(&map, &mut cpu, Some(&models)).unwrap();
/// assert_eq!(cpu.cpu.model_name(), Some("SandyBridge"));
/// assert!(cpu.cpu.feature("avx2").is_some());
/// ```
pub fn translate(map: &CpuMap, cpu: &mut CpuDef, models: Option<&[HvModel]>) -> Result<(), CpuError> {
    let mode = cpu.cpu.mode.clone().unwrap_or(CpuMode::Custom);
    if mode != CpuMode::Custom {
        return Ok(());
    }
    let name = cpu.cpu.model_name().unwrap_or_default().to_string();
    let Some(models) = models else { return Ok(()) };
    if models.iter().any(|m| m.name == name) {
        return Ok(());
    }
    let fallback = cpu.cpu.model.as_ref().and_then(|m| m.fallback.clone()).unwrap_or(ModelFallback::Allow);
    if fallback != ModelFallback::Allow {
        return Err(CpuError::Unsupported(format!("CPU model {name} is not supported by hypervisor")));
    }
    let mut data = cpu_data(map, cpu)?;
    if let Some(model) = map.model(&name) {
        if let Some(v) = model.vendor.as_deref().and_then(|v| map.vendor_data(v)) {
            data.union_with(&v);
        }
        if let Some(s) = model.signatures.first() {
            let sig = CpuSignature { family: s.family, model: s.model, stepping: s.stepping.map_or(0, |r| r.0) };
            let mut leaf1 = super::CpuidData::new();
            leaf1.add_cpuid(super::CpuidLeaf { eax_in: 1, eax: sig.to_eax(), ..Default::default() });
            data.union_with(&leaf1);
        }
    }
    let o = DecodeOptions { kind: cpu.kind, models: Some(models), ..DecodeOptions::default() };
    let d = decode(map, &data, &o)?;
    let old = std::mem::take(&mut cpu.cpu.features);
    let mut translated = CpuDef::guest(Default::default());
    translated.kind = cpu.kind;
    translated.cpu.features = d.features.into_iter().map(|(n, p)| feature(&n, Some(p))).collect();
    for f in &old {
        update_feature(&mut translated, &f.name, f.policy.clone());
    }
    if let Some(m) = cpu.cpu.model.as_mut() {
        m.name = Some(d.model);
    }
    cpu.cpu.features = translated.cpu.features;
    Ok(())
}

/// The CPU a guest gets on a host, as libvirt's guest CPU computation for a new domain
/// (cputest's `guestcpu` cases): the guest must be compatible with the host, then it is
/// [`update`]d against the host and [`translate`]d to the hypervisor's `models`.
///
/// ```
/// use kvmhost_core::cpu::{guest_cpu, CpuDef, CpuMap};
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
/// let host = CpuDef::parse("<cpu><arch>x86_64</arch><model>Haswell</model><vendor>Intel</vendor></cpu>").unwrap();
/// let guest = CpuDef::parse("<cpu match='minimum'><model>Penryn</model></cpu>").unwrap();
/// assert_eq!(guest_cpu(&map, &host, &guest, None).unwrap().cpu.model_name(), Some("Haswell"));
/// let avx512 = CpuDef::parse("<cpu><model>Skylake-Server</model></cpu>").unwrap();
/// assert!(guest_cpu(&map, &host, &avx512, None).is_err());
/// ```
pub fn guest_cpu(map: &CpuMap, host: &CpuDef, guest: &CpuDef, models: Option<&[HvModel]>) -> Result<CpuDef, CpuError> {
    if let CompareResult::Incompatible { reason, features } = compare_defs(map, host, guest)? {
        let list = if features.is_empty() { String::new() } else { format!(": {}", features.join(", ")) };
        return Err(CpuError::Unsupported(format!("{reason}{list}")));
    }
    let mut cpu = guest.clone();
    update(map, &mut cpu, Some(host))?;
    translate(map, &mut cpu, models)?;
    Ok(cpu)
}
