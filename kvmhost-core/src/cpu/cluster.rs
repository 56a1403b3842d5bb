//! Cluster planning: the migration-safe CPU of a set of hosts, where a guest CPU can run, and
//! whether a [`CpuPolicy`] can migrate between them.

use super::{
    baseline, compare_defs, decode_host, filter_qemu_unsupported, BaselineOptions, CompareResult, CpuDef, CpuError,
    CpuKind, CpuMap, CpuPolicy, CpuidData,
};
use crate::xml::Document;
use serde::{Deserialize, Serialize};

/// A host of a cluster: a name and its CPU as libvirt reports it.
///
/// ```
/// use kvmhost_core::cpu::{ClusterHost, CpuDef};
/// let h = ClusterHost::new("kvm1", CpuDef::parse("<cpu><arch>x86_64</arch><model>Haswell</model></cpu>").unwrap());
/// assert_eq!(h.name, "kvm1");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterHost {
    /// The host's name.
    pub name: String,
    /// Its host CPU (kind `Host`).
    pub cpu: CpuDef,
}

impl ClusterHost {
    /// A host from a CPU definition (read as a host CPU).
    ///
    /// ```
    /// use kvmhost_core::cpu::{ClusterHost, CpuDef, CpuKind};
    /// let h = ClusterHost::new("a", CpuDef::parse("<cpu><model>Haswell</model></cpu>").unwrap());
    /// assert_eq!(h.cpu.kind, CpuKind::Host);
    /// ```
    pub fn new(name: impl Into<String>, cpu: CpuDef) -> ClusterHost {
        ClusterHost { name: name.into(), cpu: CpuDef { kind: CpuKind::Host, ..cpu } }
    }

    /// A host from its capabilities XML (`virsh capabilities`: `/capabilities/host/cpu`).
    ///
    /// ```
    /// use kvmhost_core::cpu::ClusterHost;
    /// let xml = "<capabilities><host><cpu><arch>x86_64</arch><model>Haswell</model></cpu></host></capabilities>";
    /// assert_eq!(ClusterHost::from_capabilities("a", xml).unwrap().cpu.cpu.model_name(), Some("Haswell"));
    /// assert!(ClusterHost::from_capabilities("a", "<capabilities/>").is_err());
    /// ```
    pub fn from_capabilities(name: impl Into<String>, xml: &str) -> Result<ClusterHost, CpuError> {
        let doc = Document::parse(xml).map_err(|e| CpuError::InvalidCpu(e.to_string()))?;
        let cpu = doc
            .root
            .child("host")
            .and_then(|h| h.child("cpu"))
            .ok_or_else(|| CpuError::InvalidCpu("no /capabilities/host/cpu".into()))?;
        Ok(ClusterHost::new(name, CpuDef::from_element(cpu)?))
    }

    /// A host from raw CPUID data, decoded as libvirt would ([`decode_host`]).
    ///
    /// ```
    /// use kvmhost_core::cpu::{ClusterHost, CpuMap};
    /// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
    /// let mut data = map.expand(Some("Westmere"), &[]).unwrap();
    /// data.union_with(&map.vendor_data("Intel").unwrap());
    /// assert_eq!(ClusterHost::from_cpuid(&map, "a", &data).unwrap().cpu.cpu.model_name(), Some("Westmere"));
    /// ```
    pub fn from_cpuid(map: &CpuMap, name: impl Into<String>, data: &CpuidData) -> Result<ClusterHost, CpuError> {
        Ok(ClusterHost::new(name, decode_host(map, data)?))
    }
}

/// Whether a guest CPU can run on one host, and why not.
///
/// ```
/// use kvmhost_core::cpu::HostVerdict;
/// let v = HostVerdict { host: "a".into(), runs: false, reason: Some("r".into()), missing: vec!["avx2".into()] };
/// assert!(!v.runs);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostVerdict {
    /// The host's name.
    pub host: String,
    /// Whether the guest CPU runs there.
    pub runs: bool,
    /// libvirt's explanation when it does not.
    pub reason: Option<String>,
    /// The features at fault (missing, forbidden or extra).
    pub missing: Vec<String>,
}

/// The CPU every host of the cluster can run, safe to live-migrate between them, in the form
/// QEMU accepts: what libvirtd's QEMU driver answers to `virsh cpu-baseline --migratable`
/// (`qemuConnectBaselineCPU`): the baseline of the host CPUs (read as host CPUs) without
/// non-migratable features (`invtsc`), then without the features QEMU does not take
/// (`virQEMUCapsCPUFilterFeatures`, [`filter_qemu_unsupported`]: `osxsave`, `cmt`, …).
///
/// ```
/// use kvmhost_core::cpu::{migration_safe_cpu, ClusterHost, CpuDef, CpuMap};
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
/// let h = |n: &str, m: &str| ClusterHost::new(n, CpuDef::parse(&format!("<cpu><arch>x86_64</arch><model>{m}</model><vendor>Intel</vendor></cpu>")).unwrap());
/// let hosts = [h("a", "Skylake-Client"), h("b", "Westmere")];
/// let cpu = migration_safe_cpu(&map, &hosts).unwrap();
/// assert_eq!(cpu.cpu.model_name(), Some("Westmere"));
/// assert!(kvmhost_core::cpu::placement(&map, &hosts, &cpu).unwrap().iter().all(|v| v.runs));
///
/// // host features QEMU cannot give a guest, and migration blockers, are left out
/// let h = |n: &str, f: &str| ClusterHost::new(n, CpuDef::parse(&format!("<cpu><arch>x86_64</arch>\
///     <model>Haswell</model><vendor>Intel</vendor><feature name='osxsave'/>{f}</cpu>")).unwrap());
/// let cpu = migration_safe_cpu(&map, &[h("a", "<feature name='invtsc'/>"), h("b", "<feature name='invtsc'/>")]).unwrap();
/// assert_eq!(cpu.cpu.model_name(), Some("Haswell"));
/// assert!(cpu.cpu.features.is_empty(), "{}", cpu.to_xml());
/// ```
pub fn migration_safe_cpu(map: &CpuMap, hosts: &[ClusterHost]) -> Result<CpuDef, CpuError> {
    let cpus: Vec<CpuDef> = hosts.iter().map(|h| CpuDef { kind: CpuKind::Host, ..h.cpu.clone() }).collect();
    let mut cpu = baseline(map, &cpus, &BaselineOptions::new().migratable(true))?;
    filter_qemu_unsupported(&mut cpu);
    Ok(cpu)
}

/// For each host, whether `guest` runs there (libvirt's compare), each refusal explained.
///
/// ```
/// use kvmhost_core::cpu::{placement, ClusterHost, CpuDef, CpuMap};
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
/// let h = |n: &str, m: &str| ClusterHost::new(n, CpuDef::parse(&format!("<cpu><arch>x86_64</arch><model>{m}</model></cpu>")).unwrap());
/// let guest = CpuDef::parse("<cpu><model>Haswell</model></cpu>").unwrap();
/// let v = placement(&map, &[h("new", "Skylake-Client"), h("old", "SandyBridge")], &guest).unwrap();
/// assert!(v[0].runs && !v[1].runs);
/// assert!(v[1].missing.contains(&"avx2".to_string()));
/// ```
pub fn placement(map: &CpuMap, hosts: &[ClusterHost], guest: &CpuDef) -> Result<Vec<HostVerdict>, CpuError> {
    hosts
        .iter()
        .map(|h| {
            Ok(match compare_defs(map, &h.cpu, guest)? {
                CompareResult::Incompatible { reason, features } => {
                    HostVerdict { host: h.name.clone(), runs: false, reason: Some(reason), missing: features }
                }
                _ => HostVerdict { host: h.name.clone(), runs: true, reason: None, missing: vec![] },
            })
        })
        .collect()
}

/// Whether guests started under `policy` can live-migrate between every pair of `hosts`.
///
/// ```
/// use kvmhost_core::cpu::MigrationCheck;
/// let c = MigrationCheck { migratable: false, problems: vec!["x".into()], placement: vec![] };
/// assert!(!c.migratable);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationCheck {
    /// `true` when every host can take every guest of the policy.
    pub migratable: bool,
    /// Why not, one sentence each.
    pub problems: Vec<String>,
    /// For a custom policy: where its CPU runs.
    pub placement: Vec<HostVerdict>,
}

fn identical(map: &CpuMap, a: &CpuDef, b: &CpuDef) -> Result<bool, CpuError> {
    let g = |c: &CpuDef| CpuDef { kind: CpuKind::Guest, ..c.clone() };
    Ok(compare_defs(map, a, &g(b))? == CompareResult::Identical
        && compare_defs(map, b, &g(a))? == CompareResult::Identical
        && a.cpu.vendor == b.cpu.vendor)
}

/// Checks a policy against a cluster: `host-passthrough` (and `maximum`) migrate only between
/// hosts with identical CPUs (same signature too), `host-model` only between hosts whose CPUs
/// libvirt sees as the same model and features, a custom model only where every host runs it.
///
/// ```
/// use kvmhost_core::cpu::{check_migration, ClusterHost, CpuDef, CpuMap, CpuPolicy};
/// let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap(); // a few of libvirt's models (see CpuMap)
/// let h = |n: &str, m: &str| ClusterHost::new(n, CpuDef::parse(&format!("<cpu><arch>x86_64</arch><model>{m}</model></cpu>")).unwrap());
/// let hosts = [h("a", "Haswell"), h("b", "SandyBridge")];
/// let pt = check_migration(&map, &hosts, &CpuPolicy::HostPassthrough { flags: vec![] }).unwrap();
/// assert!(!pt.migratable && pt.problems[0].contains("host-passthrough"));
/// let safe = CpuPolicy::from_nova(Some("custom"), &["SandyBridge"], &[]).unwrap();
/// assert!(check_migration(&map, &hosts, &safe).unwrap().migratable);
/// ```
pub fn check_migration(map: &CpuMap, hosts: &[ClusterHost], policy: &CpuPolicy) -> Result<MigrationCheck, CpuError> {
    let mut problems = Vec::new();
    let mut verdicts = Vec::new();
    let pairs = || hosts.iter().enumerate().flat_map(|(i, a)| hosts[i + 1..].iter().map(move |b| (a, b)));
    match policy {
        CpuPolicy::HostPassthrough { .. } | CpuPolicy::Maximum => {
            let mode = if *policy == CpuPolicy::Maximum { "maximum" } else { "host-passthrough" };
            for (a, b) in pairs() {
                if !identical(map, &a.cpu, &b.cpu)? || a.cpu.signature != b.cpu.signature {
                    problems.push(format!(
                        "{mode} guests cannot migrate between {} and {}: their CPUs are not identical",
                        a.name, b.name
                    ));
                }
            }
        }
        CpuPolicy::HostModel { .. } => {
            for (a, b) in pairs() {
                if !identical(map, &a.cpu, &b.cpu)? {
                    problems.push(format!(
                        "host-model guests started on {} cannot migrate to {} or back: the host CPUs differ \
                         ({} vs {}); use a custom model such as the cluster baseline",
                        a.name,
                        b.name,
                        a.cpu.cpu.model_name().unwrap_or("?"),
                        b.cpu.cpu.model_name().unwrap_or("?")
                    ));
                }
            }
        }
        CpuPolicy::Custom { .. } => {
            let guest = CpuDef::guest(policy.render(&[]));
            verdicts = placement(map, hosts, &guest)?;
            for v in verdicts.iter().filter(|v| !v.runs) {
                problems.push(format!(
                    "{} cannot run CPU model {}: {} ({})",
                    v.host,
                    guest.cpu.model_name().unwrap_or("?"),
                    v.reason.as_deref().unwrap_or(""),
                    v.missing.join(", ")
                ));
            }
        }
        CpuPolicy::HypervisorDefault => {}
    }
    Ok(MigrationCheck { migratable: problems.is_empty(), problems, placement: verdicts })
}
