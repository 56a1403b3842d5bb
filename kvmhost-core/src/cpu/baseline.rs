//! [`baseline`]: the best CPU every one of a set of CPUs can run (libvirt's
//! `virCPUx86Baseline`), with its [`BaselineOptions`], and [`expand_features`]
//! (`virCPUx86ExpandFeatures`).

use super::compare::cpu_data;
use super::decode::{decode, feature, DecodeOptions};
use super::{CpuDef, CpuError, CpuKind, CpuMap, CpuidData};
use crate::domain::{FeaturePolicy, ModelFallback};
use serde::{Deserialize, Serialize};

/// How [`baseline`] presents its result: libvirt's `VIR_CONNECT_BASELINE_CPU_*` flags.
///
/// ```
/// use kvmhost_core::cpu::BaselineOptions;
/// let o = BaselineOptions::new().migratable(true);
/// assert!(o.migratable && !o.expand_features);
/// assert_eq!(BaselineOptions::from_flags(3), BaselineOptions::new().expand_features(true).migratable(true));
/// let json = serde_json::to_string(&o).unwrap();
/// assert_eq!(serde_json::from_str::<BaselineOptions>(&json).unwrap(), o);
/// assert_eq!(serde_json::from_str::<BaselineOptions>("{}").unwrap(), BaselineOptions::default());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct BaselineOptions {
    /// List every feature of the chosen model explicitly (`VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES`,
    /// libvirt's `virCPUExpandFeatures`; see [`expand_features`]).
    pub expand_features: bool,
    /// Leave out features that block migration, such as `invtsc`
    /// (`VIR_CONNECT_BASELINE_CPU_MIGRATABLE`).
    pub migratable: bool,
}

impl BaselineOptions {
    /// libvirt's value of `VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES`.
    pub const EXPAND_FEATURES_FLAG: u32 = 1;
    /// libvirt's value of `VIR_CONNECT_BASELINE_CPU_MIGRATABLE`.
    pub const MIGRATABLE_FLAG: u32 = 2;

    /// No option set: the model and the features it lacks or adds, migration blockers kept.
    ///
    /// ```
    /// assert_eq!(kvmhost_core::cpu::BaselineOptions::new(), Default::default());
    /// ```
    pub fn new() -> BaselineOptions {
        BaselineOptions::default()
    }

    /// From the `flags` of `virConnectBaselineCPU` (other bits are ignored).
    ///
    /// ```
    /// use kvmhost_core::cpu::BaselineOptions;
    /// assert!(BaselineOptions::from_flags(BaselineOptions::MIGRATABLE_FLAG).migratable);
    /// assert_eq!(BaselineOptions::from_flags(0), BaselineOptions::new());
    /// ```
    pub fn from_flags(flags: u32) -> BaselineOptions {
        BaselineOptions {
            expand_features: flags & Self::EXPAND_FEATURES_FLAG != 0,
            migratable: flags & Self::MIGRATABLE_FLAG != 0,
        }
    }

    /// Sets [`BaselineOptions::expand_features`].
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::BaselineOptions::new().expand_features(true).expand_features);
    /// ```
    #[must_use]
    pub fn expand_features(mut self, yes: bool) -> BaselineOptions {
        self.expand_features = yes;
        self
    }

    /// Sets [`BaselineOptions::migratable`].
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::BaselineOptions::new().migratable(true).migratable);
    /// ```
    #[must_use]
    pub fn migratable(mut self, yes: bool) -> BaselineOptions {
        self.migratable = yes;
        self
    }
}

/// Computes the baseline CPU of `cpus` as libvirt 9.0 does (`virCPUBaseline`): the
/// intersection of their features, decoded into the model with the fewest extra features.
/// CPUs of different vendors, unknown vendors, models or features, a CPU without a model, an
/// empty list or an empty intersection are errors.
///
/// Each input counts as what its [`CpuKind`] says, as in libvirt's `x86ModelFromCPU(cpu, -1)`:
/// a host CPU has its model's features plus its listed ones (policies are ignored); a guest
/// CPU has its model's features plus the `require`d and `force`d ones, minus the `disable`d and
/// `forbid`den ones (`optional` ones are ignored), so a feature an input disables stays out of
/// the baseline (a QEMU-expanded CPU such as `EPYC` with `<feature policy='disable'
/// name='sha-ni'/>`). [`CpuDef::parse`] tells them apart as libvirt's `VIR_CPU_TYPE_AUTO` does
/// (by `<arch>`), which is how `virsh hypervisor-cpu-baseline` and libvirt's cputest read
/// them; `virConnectBaselineCPU` (`virsh cpu-baseline`) reads every input as a host CPU: to
/// get its answer, set each input's `kind` to [`CpuKind::Host`].
///
/// ```
/// use kvmhost_core::cpu::{baseline, BaselineOptions, CpuDef, CpuMap};
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
/// let a = CpuDef::parse("<cpu><arch>x86_64</arch><model>Haswell</model><vendor>Intel</vendor></cpu>").unwrap();
/// let b = CpuDef::parse("<cpu><arch>x86_64</arch><model>SandyBridge</model><vendor>Intel</vendor></cpu>").unwrap();
/// let base = baseline(&map, &[a.clone(), b], &BaselineOptions::new()).unwrap();
/// assert_eq!(base.cpu.model_name(), Some("SandyBridge"));
/// let amd = CpuDef::parse("<cpu><arch>x86_64</arch><model>Opteron_G3</model><vendor>AMD</vendor></cpu>").unwrap();
/// assert!(baseline(&map, &[base, amd], &BaselineOptions::new()).is_err());
///
/// // a guest CPU that disables a feature keeps it out of the baseline
/// let no_avx2 = CpuDef::parse("<cpu mode='custom' match='exact'><model>Haswell</model>\
///     <vendor>Intel</vendor><feature policy='disable' name='avx2'/></cpu>").unwrap();
/// let base = baseline(&map, &[a, no_avx2], &BaselineOptions::new().expand_features(true)).unwrap();
/// let avx2 = base.cpu.feature("avx2").unwrap();
/// assert_eq!(avx2.policy, Some(kvmhost_core::domain::FeaturePolicy::Disable));
/// ```
pub fn baseline(map: &CpuMap, cpus: &[CpuDef], options: &BaselineOptions) -> Result<CpuDef, CpuError> {
    let Some(first) = cpus.first() else {
        return Err(CpuError::Unsupported("no CPU definitions were provided".into()));
    };
    // virCPUBaseline: every CPU needs a model
    if let Some(i) = cpus.iter().position(|c| c.cpu.model_name().is_none()) {
        return Err(CpuError::InvalidCpu(format!("no CPU model specified at index {i}")));
    }
    let mut base = cpu_data(map, first)?;
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
        let data = cpu_data(map, c)?;
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
    let o = DecodeOptions {
        kind: CpuKind::Guest,
        preferred: &names,
        migratable: options.migratable,
        ..DecodeOptions::default()
    };
    let d = decode(map, &base, &o)?;
    let fallback = if names == [d.model.as_str()] { ModelFallback::Forbid } else { ModelFallback::Allow };
    let mut out = d.to_guest(fallback);
    if !output_vendor {
        out.cpu.vendor = None;
    }
    if options.expand_features {
        expand_features(map, &mut out)?;
    }
    Ok(out)
}

/// Lists every feature of the CPU's model explicitly (libvirt's `virCPUExpandFeatures`): model
/// features become `require` (plain features for a host CPU), explicitly required or disabled
/// features keep their policy, features the model removed are disabled, and the list is sorted
/// by name.
///
/// ```
/// use kvmhost_core::cpu::{expand_features, CpuDef, CpuMap};
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
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

/// Features libvirt's QEMU driver never passes to QEMU (`virQEMUCapsCPUFilterFeatures`): QEMU
/// does not accept them as guest CPU features (cache monitoring, and the OS-controlled
/// `osxsave` / `ospke` bits).
pub const QEMU_FILTERED_FEATURES: [&str; 5] = ["cmt", "mbm_total", "mbm_local", "osxsave", "ospke"];

/// Removes the features libvirt's QEMU driver filters out ([`QEMU_FILTERED_FEATURES`]) from a
/// CPU, whatever their policy, as `virsh -c qemu:///system cpu-baseline` does after the
/// generic baseline (`qemuConnectBaselineCPU`: `virCPUDefCopyModelFilter` with
/// `virQEMUCapsCPUFilterFeatures`, before expanding features); the test driver and [`baseline`]
/// itself keep them. [`migration_safe_cpu`](super::migration_safe_cpu) applies it.
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
