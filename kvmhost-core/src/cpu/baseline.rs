//! [`baseline`]: the best CPU every one of a set of host CPUs can run (libvirt's
//! `virCPUx86Baseline`), and [`expand_features`] (`virCPUx86ExpandFeatures`).

use super::compare::cpu_data;
use super::decode::{decode, feature, DecodeOptions};
use super::{CpuDef, CpuError, CpuKind, CpuMap, CpuidData};
use crate::domain::{FeaturePolicy, ModelFallback};

/// Computes the baseline CPU of `cpus` as libvirt 9.0 does (`virConnectBaselineCPU`): the
/// intersection of their features, decoded into the model with the fewest extra features.
/// `expand_features` lists every feature of the model; `migratable` drops features that block
/// migration (`invtsc`). CPUs of different vendors, unknown vendors, models or features, an
/// empty list or an empty intersection are errors.
///
/// Every input is read as a host CPU (feature policies are ignored), as libvirt does.
///
/// ```
/// # let Some(corpus) = kvmhost_core::testdata::libvirt_corpus() else { return };
/// use kvmhost_core::cpu::{baseline, CpuDef, CpuMap};
/// let map = CpuMap::load(corpus.join("cpu_map")).unwrap();
/// let a = CpuDef::parse("<cpu><arch>x86_64</arch><model>Haswell</model><vendor>Intel</vendor></cpu>").unwrap();
/// let b = CpuDef::parse("<cpu><arch>x86_64</arch><model>SandyBridge</model><vendor>Intel</vendor></cpu>").unwrap();
/// let base = baseline(&map, &[a, b], false, false).unwrap();
/// assert_eq!(base.cpu.model_name(), Some("SandyBridge"));
/// let amd = CpuDef::parse("<cpu><arch>x86_64</arch><model>Opteron_G3</model><vendor>AMD</vendor></cpu>").unwrap();
/// assert!(baseline(&map, &[base, amd], false, false).is_err());
/// ```
pub fn baseline(map: &CpuMap, cpus: &[CpuDef], expand_features: bool, migratable: bool) -> Result<CpuDef, CpuError> {
    let Some(first) = cpus.first() else {
        return Err(CpuError::Unsupported("no CPU definitions were provided".into()));
    };
    let host = |c: &CpuDef| CpuDef { kind: CpuKind::Host, ..c.clone() };
    let mut base = cpu_data(map, &host(first))?;
    let unknown_vendor = |v: &str| CpuError::Unsupported(format!("Unknown CPU vendor {v}"));
    let mut output_vendor = true;
    let mut vendor: Option<&str> = None;
    match first.cpu.vendor.as_deref() {
        None => output_vendor = false,
        Some(v) => vendor = Some(map.vendor(v).ok_or_else(|| unknown_vendor(v))?.name.as_str()),
    }
    let mut names: Vec<&str> = first.cpu.model_name().into_iter().collect();
    for c in &cpus[1..] {
        if let Some(m) = c.cpu.model_name() {
            if !names.contains(&m) {
                names.push(m);
            }
        }
        let data = cpu_data(map, &host(c))?;
        let model_vendor = c.cpu.model_name().and_then(|m| map.model(m)).and_then(|m| m.vendor.as_deref());
        if let (Some(cv), Some(mv)) = (c.cpu.vendor.as_deref(), model_vendor) {
            if cv != mv {
                let model = c.cpu.model_name().unwrap_or_default();
                return Err(CpuError::Unsupported(format!(
                    "CPU vendor {mv} of model {model} differs from vendor {cv}"
                )));
            }
        }
        let vn = match c.cpu.vendor.as_deref() {
            Some(v) => Some(v),
            None => {
                output_vendor = false;
                model_vendor
            }
        };
        if let Some(vn) = vn {
            match vendor {
                None => vendor = Some(map.vendor(vn).ok_or_else(|| unknown_vendor(vn))?.name.as_str()),
                Some(v) if v != vn => return Err(CpuError::Unsupported("CPU vendors do not match".into())),
                _ => {}
            }
        }
        base.intersect_with(&data);
    }
    if base.is_empty() {
        return Err(CpuError::Unsupported("CPUs are incompatible".into()));
    }
    if let Some(v) = vendor.and_then(|v| map.vendor_data(v)) {
        base.union_with(&v);
    }
    let o = DecodeOptions { kind: CpuKind::Guest, preferred: &names, migratable, ..DecodeOptions::default() };
    let d = decode(map, &base, &o)?;
    let fallback = if names == [d.model.as_str()] { ModelFallback::Forbid } else { ModelFallback::Allow };
    let mut out = d.to_guest(fallback);
    if !output_vendor {
        out.cpu.vendor = None;
    }
    if expand_features {
        self::expand_features(map, &mut out)?;
    }
    Ok(out)
}

/// Lists every feature of the CPU's model explicitly (libvirt's `virCPUExpandFeatures`): model
/// features become `require` (plain features for a host CPU), explicitly required or disabled
/// features keep their policy, features the model removed are disabled, and the list is sorted
/// by name.
///
/// ```
/// # let Some(corpus) = kvmhost_core::testdata::libvirt_corpus() else { return };
/// use kvmhost_core::cpu::{expand_features, CpuDef, CpuMap};
/// let map = CpuMap::load(corpus.join("cpu_map")).unwrap();
/// let mut cpu = CpuDef::parse("<cpu><model>Westmere</model><feature policy='disable' name='aes'/></cpu>").unwrap();
/// expand_features(&map, &mut cpu).unwrap();
/// let aes = cpu.cpu.feature("aes").unwrap();
/// assert_eq!(aes.policy, Some(kvmhost_core::domain::FeaturePolicy::Disable));
/// assert!(cpu.cpu.feature("sse4.2").is_some());
/// ```
pub fn expand_features(map: &CpuMap, def: &mut CpuDef) -> Result<(), CpuError> {
    let host = def.kind == CpuKind::Host;
    let name = def.cpu.model_name().unwrap_or_default().to_string();
    let model = map.model(&name).ok_or_else(|| CpuError::UnknownModel(name.clone()))?;
    let mut data: CpuidData = model.data.clone();
    let mut idx = Vec::new();
    super::decode::take_features(map, &mut data, &mut idx);
    let policy = if host { None } else { Some(FeaturePolicy::Require) };
    let mut features: Vec<_> = idx.iter().map(|i| feature(&map.features()[*i].name, policy.clone())).collect();
    for f in &def.cpu.features {
        let p = f.policy.clone().unwrap_or(FeaturePolicy::Require);
        if !host && !matches!(p, FeaturePolicy::Require | FeaturePolicy::Disable) {
            continue;
        }
        match features.iter_mut().find(|e| e.name == f.name) {
            Some(e) => e.policy = f.policy.clone(),
            None => features.push(f.clone()),
        }
    }
    if !host {
        for r in &model.removed_features {
            if !features.iter().any(|f| &f.name == r) {
                features.push(feature(r, Some(FeaturePolicy::Disable)));
            }
        }
    }
    features.sort_by(|a, b| a.name.cmp(&b.name));
    def.cpu.features = features;
    Ok(())
}

/// Features libvirt's QEMU driver drops from every CPU it returns from a baseline
/// (`virQEMUCapsCPUFilterFeatures`): QEMU does not accept them as guest CPU features
/// (cache monitoring, and the OS-controlled `osxsave` / `ospke` bits).
pub const QEMU_FILTERED_FEATURES: [&str; 5] = ["cmt", "mbm_total", "mbm_local", "osxsave", "ospke"];

/// Removes the features libvirt's QEMU driver filters out ([`QEMU_FILTERED_FEATURES`]) from a
/// CPU, as `virsh -c qemu:///system cpu-baseline` / `hypervisor-cpu-baseline` do after the
/// generic baseline; the test driver and [`baseline`] itself keep them.
///
/// ```
/// use kvmhost_core::cpu::{filter_qemu_unsupported, CpuDef};
/// let mut cpu = CpuDef::parse("<cpu><model>Haswell</model><feature policy='require' name='osxsave'/>\
///     <feature policy='require' name='avx2'/></cpu>").unwrap();
/// filter_qemu_unsupported(&mut cpu);
/// let names: Vec<&str> = cpu.cpu.features.iter().map(|f| f.name.as_str()).collect();
/// assert_eq!(names, ["avx2"]);
/// ```
pub fn filter_qemu_unsupported(cpu: &mut CpuDef) {
    cpu.cpu.features.retain(|f| !QEMU_FILTERED_FEATURES.contains(&f.name.as_str()));
}
