//! [`CpuPolicy`]: the guest CPU mode an operator chooses, read from CloudStack's
//! `agent.properties` or Nova's `[libvirt]` options, validated as they validate it, rendered as
//! the domain `<cpu>`.

use super::{compare_defs, CpuDef, CpuError, CpuMap};
use crate::domain::{Cpu, FeaturePolicy};
use serde::{Deserialize, Serialize};

/// One extra CPU flag: `+flag` / `flag` (require) or `-flag` (disable).
///
/// ```
/// use kvmhost_core::cpu::CpuFlag;
/// let f: CpuFlag = "-mpx".parse().unwrap();
/// assert_eq!(f, CpuFlag { name: "mpx".into(), enable: false });
/// assert_eq!(f.to_string(), "-mpx");
/// assert!("+".parse::<CpuFlag>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CpuFlag {
    /// The feature name (libvirt's spelling, `pcid`).
    pub name: String,
    /// `true`: `policy='require'`; `false`: `policy='disable'`.
    pub enable: bool,
}

impl std::str::FromStr for CpuFlag {
    type Err = CpuError;
    fn from_str(s: &str) -> Result<CpuFlag, CpuError> {
        let s = s.trim();
        let (enable, name) = match s.strip_prefix('-') {
            Some(n) => (false, n),
            None => (true, s.strip_prefix('+').unwrap_or(s)),
        };
        let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !ok {
            return Err(CpuError::InvalidCpu(format!("invalid CPU flag '{s}'")));
        }
        Ok(CpuFlag { name: name.to_ascii_lowercase(), enable })
    }
}

impl std::fmt::Display for CpuFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", if self.enable { "+" } else { "-" }, self.name)
    }
}

/// The features to disable for `host-model` and `host-passthrough` guests on hosts whose KVM
/// cannot set the `IA32_ARCH_CAPABILITIES` MSR (0x10a) the CPU advertises — seen where the KVM
/// host is itself a guest (nested or restricted virtualization): QEMU stops at start with
/// "failed to set MSR 0x10a". Pass it to [`CpuPolicy::render`] or
/// [`CpuPolicy::render_for_host`] for such hosts only: without `arch-capabilities` a guest no
/// longer learns from the MSR that the CPU is immune to some speculative-execution attacks
/// (`rdctl-no`, `mds-no`, …) and may turn on mitigations it does not need. QEMU's default CPU
/// and libvirt 9.0's named models other than Cooperlake and Snowridge do not expose the MSR.
///
/// ```
/// use kvmhost_core::cpu::{CpuPolicy, KVM_MSR_0X10A_QUIRK};
/// use kvmhost_core::domain::FeaturePolicy;
/// let cpu = CpuPolicy::HostModel { flags: vec![] }.render(KVM_MSR_0X10A_QUIRK);
/// assert_eq!(cpu.feature("arch-capabilities").unwrap().policy, Some(FeaturePolicy::Disable));
/// ```
pub const KVM_MSR_0X10A_QUIRK: &[&str] = &["arch-capabilities"];

/// How guests get their CPU (CloudStack's `guest.cpu.mode`, Nova's `cpu_mode`).
///
/// ```
/// use kvmhost_core::cpu::CpuPolicy;
/// use kvmhost_core::domain::{CpuMode, FeaturePolicy};
/// let p = CpuPolicy::from_nova(Some("custom"), &["Westmere", "Haswell"], &["+pcid", "-mpx"]).unwrap();
/// let cpu = p.render(&[]);
/// assert_eq!((cpu.mode.clone(), cpu.model_name()), (Some(CpuMode::Custom), Some("Westmere")));
/// assert_eq!(cpu.feature("mpx").unwrap().policy, Some(FeaturePolicy::Disable));
/// let hm = CpuPolicy::from_cloudstack(Some("host-model"), None, None).unwrap();
/// assert_eq!(hm.render(&["arch-capabilities"]).feature("arch-capabilities").unwrap().policy,
///            Some(FeaturePolicy::Disable));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CpuPolicy {
    /// A named model (the first of `models`, oldest first, unless one is chosen per host).
    Custom {
        /// Candidate models, oldest (most widely supported) first.
        models: Vec<String>,
        /// Extra flags.
        flags: Vec<CpuFlag>,
    },
    /// The host's CPU model and features as libvirt expands them at start (`host-model`).
    HostModel {
        /// Extra flags.
        flags: Vec<CpuFlag>,
    },
    /// The host CPU itself (`host-passthrough`).
    HostPassthrough {
        /// Extra flags.
        flags: Vec<CpuFlag>,
    },
    /// Everything the hypervisor can offer (`maximum`).
    Maximum,
    /// No `<cpu>` element: the hypervisor default (Nova's `none`, CloudStack without a mode).
    HypervisorDefault,
}

fn parse_flags<'a>(flags: impl IntoIterator<Item = &'a str>) -> Result<Vec<CpuFlag>, CpuError> {
    flags.into_iter().filter(|f| !f.trim().is_empty()).map(str::parse).collect()
}

impl CpuPolicy {
    fn build(mode: Option<&str>, models: Vec<String>, flags: Vec<CpuFlag>, who: &str) -> Result<CpuPolicy, CpuError> {
        let bad = |m: String| Err(CpuError::InvalidCpu(m));
        let mode = mode.map(str::trim).filter(|m| !m.is_empty()).map(str::to_ascii_lowercase);
        match mode.as_deref() {
            Some("custom") if models.is_empty() => {
                bad(format!("{who}: a custom CPU mode needs a CPU model, but none was given"))
            }
            Some("custom") => Ok(CpuPolicy::Custom { models, flags }),
            _ if !models.is_empty() => {
                bad(format!("{who}: a CPU model ({}) is only valid with the custom CPU mode", models.join(", ")))
            }
            Some("host-model") => Ok(CpuPolicy::HostModel { flags }),
            Some("host-passthrough") => Ok(CpuPolicy::HostPassthrough { flags }),
            Some("maximum") if flags.is_empty() => Ok(CpuPolicy::Maximum),
            None | Some("none") if flags.is_empty() => Ok(CpuPolicy::HypervisorDefault),
            Some("maximum") | None | Some("none") => {
                bad(format!("{who}: extra CPU flags need the custom, host-model or host-passthrough CPU mode"))
            }
            Some(other) => bad(format!(
                "{who}: invalid CPU mode '{other}' (expected custom, host-model, host-passthrough, maximum or none)"
            )),
        }
    }

    /// From CloudStack's `agent.properties` values: `guest.cpu.mode`, `guest.cpu.model`,
    /// `guest.cpu.features` (space- or comma-separated flags, `-flag` disables).
    ///
    /// ```
    /// use kvmhost_core::cpu::CpuPolicy;
    /// assert!(CpuPolicy::from_cloudstack(Some("custom"), None, None).is_err());
    /// assert!(CpuPolicy::from_cloudstack(Some("host-model"), Some("Haswell"), None).is_err());
    /// let p = CpuPolicy::from_cloudstack(Some("custom"), Some("Haswell"), Some("vmx -hle")).unwrap();
    /// assert!(matches!(p, CpuPolicy::Custom { ref flags, .. } if flags.len() == 2));
    /// ```
    pub fn from_cloudstack(
        mode: Option<&str>,
        model: Option<&str>,
        features: Option<&str>,
    ) -> Result<CpuPolicy, CpuError> {
        let models = model.map(str::trim).filter(|m| !m.is_empty()).map(|m| vec![m.to_string()]).unwrap_or_default();
        let flags = parse_flags(features.unwrap_or("").split([' ', ',']))?;
        CpuPolicy::build(mode, models, flags, "guest.cpu.mode")
    }

    /// From `agent.properties` text (`key=value` lines, `#` comments).
    ///
    /// ```
    /// use kvmhost_core::cpu::CpuPolicy;
    /// let p = CpuPolicy::from_agent_properties("# agent\nguest.cpu.mode=host-passthrough\n").unwrap();
    /// assert!(matches!(p, CpuPolicy::HostPassthrough { .. }));
    /// ```
    pub fn from_agent_properties(text: &str) -> Result<CpuPolicy, CpuError> {
        let get = |key: &str| {
            text.lines()
                .rev()
                .map(str::trim)
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split_once('='))
                .filter(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim())
                .next()
        };
        CpuPolicy::from_cloudstack(get("guest.cpu.mode"), get("guest.cpu.model"), get("guest.cpu.features"))
    }

    /// From Nova's `[libvirt]` options `cpu_mode`, `cpu_models` (ordered, oldest first) and
    /// `cpu_model_extra_flags`.
    ///
    /// ```
    /// use kvmhost_core::cpu::CpuPolicy;
    /// assert!(CpuPolicy::from_nova(Some("host-model"), &["Haswell"], &[]).is_err());
    /// assert!(CpuPolicy::from_nova(Some("none"), &[], &["pcid"]).is_err());
    /// assert_eq!(CpuPolicy::from_nova(None, &[], &[]).unwrap(), CpuPolicy::HypervisorDefault);
    /// ```
    pub fn from_nova(mode: Option<&str>, models: &[&str], extra_flags: &[&str]) -> Result<CpuPolicy, CpuError> {
        let models = models.iter().map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect();
        CpuPolicy::build(mode, models, parse_flags(extra_flags.iter().copied())?, "cpu_mode")
    }

    /// Checks every model and flag against the CPU map: unknown ones are errors, and so are
    /// features named the QEMU way (see [`CpuPolicy::canonicalize`]).
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuMap, CpuPolicy};
    /// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
    /// assert!(CpuPolicy::from_nova(Some("custom"), &["Haswell"], &["+pcid"]).unwrap().validate(&map).is_ok());
    /// assert!(CpuPolicy::from_nova(Some("custom"), &["Bogus"], &[]).unwrap().validate(&map).is_err());
    /// ```
    pub fn validate(&self, map: &CpuMap) -> Result<(), CpuError> {
        if let CpuPolicy::Custom { models, .. } = self {
            for m in models {
                map.model(m).ok_or_else(|| CpuError::UnknownModel(m.clone()))?;
            }
        }
        for f in self.flags() {
            map.feature(&f.name).ok_or_else(|| match map.feature_by_any_name(&f.name) {
                Some(real) => {
                    CpuError::InvalidCpu(format!("CPU feature {} is called {} by libvirt", f.name, real.name))
                }
                None => CpuError::UnknownFeature(f.name.clone()),
            })?;
        }
        Ok(())
    }

    /// Renames flags given by another name of a feature (QEMU's `sse4_2`, `pclmulqdq`) to
    /// libvirt's (`sse4.2`, `pclmuldq`), then [`CpuPolicy::validate`]s.
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuMap, CpuPolicy};
    /// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
    /// let mut p = CpuPolicy::from_nova(Some("host-model"), &[], &["+sse4_2", "-pclmulqdq"]).unwrap();
    /// p.canonicalize(&map).unwrap();
    /// let names: Vec<String> = p.flags().iter().map(ToString::to_string).collect();
    /// assert_eq!(names, ["+sse4.2", "-pclmuldq"]);
    /// ```
    pub fn canonicalize(&mut self, map: &CpuMap) -> Result<(), CpuError> {
        let flags = match self {
            CpuPolicy::Custom { flags, .. } | CpuPolicy::HostModel { flags } | CpuPolicy::HostPassthrough { flags } => {
                flags
            }
            CpuPolicy::Maximum | CpuPolicy::HypervisorDefault => return Ok(()),
        };
        for f in flags.iter_mut() {
            let feature = map.feature_by_any_name(&f.name).ok_or_else(|| CpuError::UnknownFeature(f.name.clone()))?;
            f.name = feature.name.clone();
        }
        self.validate(map)
    }

    /// The extra flags.
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::CpuPolicy::Maximum.flags().is_empty());
    /// ```
    pub fn flags(&self) -> &[CpuFlag] {
        match self {
            CpuPolicy::Custom { flags, .. } | CpuPolicy::HostModel { flags } | CpuPolicy::HostPassthrough { flags } => {
                flags
            }
            CpuPolicy::Maximum | CpuPolicy::HypervisorDefault => &[],
        }
    }

    /// The `<cpu>` for a new domain, with `host_disabled` features (per-host exclusions such as
    /// [`KVM_MSR_0X10A_QUIRK`]) disabled unless a flag explicitly enables them. Custom uses the
    /// first (oldest) model; [`CpuPolicy::render_for_host`] picks one per host.
    ///
    /// ```
    /// use kvmhost_core::cpu::CpuPolicy;
    /// let cpu = CpuPolicy::HostPassthrough { flags: vec![] }.render(&[]);
    /// assert_eq!(cpu.mode, Some(kvmhost_core::domain::CpuMode::HostPassthrough));
    /// ```
    pub fn render(&self, host_disabled: &[&str]) -> Cpu {
        let mut cpu = match self {
            CpuPolicy::Custom { models, .. } => Cpu::custom(models.first().map(String::as_str).unwrap_or_default()),
            CpuPolicy::HostModel { .. } => Cpu::host_model(),
            CpuPolicy::HostPassthrough { .. } => Cpu::host_passthrough(),
            CpuPolicy::Maximum => Cpu::maximum(),
            CpuPolicy::HypervisorDefault => Cpu::default(),
        };
        for f in self.flags() {
            let p = if f.enable { FeaturePolicy::Require } else { FeaturePolicy::Disable };
            cpu.set_feature(&f.name, p);
        }
        if *self != CpuPolicy::HypervisorDefault {
            for name in host_disabled {
                if cpu.feature(name).is_none() {
                    cpu.set_feature(name, FeaturePolicy::Disable);
                }
            }
        }
        cpu
    }

    /// Like [`CpuPolicy::render`], but a custom policy takes the first of its models (oldest
    /// first) that `host` can run with the flags, as Nova does; an error naming each refusal
    /// if none fits.
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuDef, CpuMap, CpuPolicy};
    /// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
    /// let host = CpuDef::parse("<cpu><arch>x86_64</arch><model>SandyBridge</model></cpu>").unwrap();
    /// let p = CpuPolicy::from_nova(Some("custom"), &["Haswell", "SandyBridge"], &[]).unwrap();
    /// assert_eq!(p.render_for_host(&map, &host, &[]).unwrap().model_name(), Some("SandyBridge"));
    /// ```
    pub fn render_for_host(&self, map: &CpuMap, host: &CpuDef, host_disabled: &[&str]) -> Result<Cpu, CpuError> {
        let CpuPolicy::Custom { models, flags } = self else { return Ok(self.render(host_disabled)) };
        let mut refusals = Vec::new();
        for m in models {
            let one = CpuPolicy::Custom { models: vec![m.clone()], flags: flags.clone() };
            let cpu = one.render(host_disabled);
            match compare_defs(map, host, &CpuDef::guest(cpu.clone()))? {
                r if r.is_compatible() => return Ok(cpu),
                super::CompareResult::Incompatible { reason, features } => {
                    refusals.push(format!("{m}: {reason} ({})", features.join(", ")))
                }
                _ => {}
            }
        }
        Err(CpuError::Unsupported(format!("no CPU model of the policy runs on this host: {}", refusals.join("; "))))
    }
}
