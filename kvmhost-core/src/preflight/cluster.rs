//! Cluster checks: several hosts' facts compared (the guide: same Linux release, same CPU
//! architecture, model, count and flags on every host of a cluster).

use super::{CheckResult, Fact, HostFacts, Report, Severity, Status};
use crate::cpu::{migration_safe_cpu, placement, ClusterHost, CpuMap};
use std::collections::BTreeMap;

fn result(
    id: &str,
    title: &str,
    severity: Severity,
    status: Status,
    message: String,
    remedy: Option<String>,
) -> CheckResult {
    CheckResult { id: id.into(), title: title.into(), severity, status, message, remedy, fixes: Vec::new() }
}

/// Groups hosts by a key; `Err` names the hosts whose key is unknown.
fn group(
    hosts: &[(String, HostFacts)],
    key: impl Fn(&HostFacts) -> Result<String, String>,
) -> Result<BTreeMap<String, Vec<&str>>, String> {
    let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut unknown = Vec::new();
    for (name, f) in hosts {
        match key(f) {
            Ok(k) => groups.entry(k).or_default().push(name),
            Err(why) => unknown.push(format!("{name}: {why}")),
        }
    }
    if unknown.is_empty() {
        Ok(groups)
    } else {
        Err(unknown.join("; "))
    }
}

/// "kvm3 has X while kvm1, kvm2 have Y": the largest group first.
fn describe(groups: &BTreeMap<String, Vec<&str>>) -> String {
    let mut g: Vec<_> = groups.iter().collect();
    g.sort_by_key(|(_, hosts)| std::cmp::Reverse(hosts.len()));
    g.iter().map(|(k, hosts)| format!("{}: {k}", hosts.join(", "))).collect::<Vec<_>>().join("; ")
}

fn same(
    hosts: &[(String, HostFacts)],
    id: &str,
    title: &str,
    severity: Severity,
    remedy: &str,
    key: impl Fn(&HostFacts) -> Result<String, String>,
) -> CheckResult {
    match group(hosts, key) {
        Err(why) => result(id, title, severity, Status::Unknown, format!("unknown for {why}"), None),
        Ok(g) if g.len() <= 1 => {
            let what = g.keys().next().cloned().unwrap_or_default();
            result(id, title, severity, Status::Pass, format!("all {} hosts: {what}", hosts.len()), None)
        }
        Ok(g) => {
            let status = if severity == Severity::Required { Status::Fail } else { Status::Warn };
            result(id, title, severity, status, format!("hosts differ: {}", describe(&g)), Some(remedy.into()))
        }
    }
}

fn fact_str<T>(f: &Fact<T>, show: impl Fn(&T) -> String) -> Result<String, String> {
    f.as_result().map(show).map_err(str::to_string)
}

/// Compares the hosts of one cluster. With a CPU map and every host's
/// [`host_cpu`](HostFacts::host_cpu) known, also says which CPU model the cluster can share
/// (for `guest.cpu.mode=custom`) and which host stands out.
///
/// ```
/// use kvmhost_core::preflight::{cluster_checks, Fact, HostFacts, OsRelease, Status};
/// let host = |id: &str, v: &str| {
///     let mut f = HostFacts::default();
///     let mut os = OsRelease::default();
///     (os.id, os.version_id) = (id.into(), Some(v.into()));
///     f.os = Fact::Known(os);
///     f
/// };
/// let hosts = vec![("kvm1".into(), host("debian", "12")), ("kvm2".into(), host("debian", "12")), ("kvm3".into(), host("debian", "11"))];
/// let r = cluster_checks(None, &hosts);
/// let os = r.get("cluster-os").unwrap();
/// assert_eq!(os.status, Status::Fail);
/// assert_eq!(os.message, "hosts differ: kvm1, kvm2: debian 12; kvm3: debian 11");
/// ```
pub fn cluster_checks(map: Option<&CpuMap>, hosts: &[(String, HostFacts)]) -> Report {
    let mut checks = vec![
        same(
            hosts,
            "cluster-os",
            "same Linux release on every host",
            Severity::Required,
            "install the same release on every host of the cluster",
            |f| fact_str(&f.os, |o| format!("{} {}", o.id, o.version_id.as_deref().unwrap_or("?"))),
        ),
        same(
            hosts,
            "cluster-arch",
            "same CPU architecture",
            Severity::Required,
            "put hosts of other architectures in another cluster",
            |f| fact_str(&f.kernel, |k| k.machine.clone()),
        ),
        same(
            hosts,
            "cluster-cpu-count",
            "same number of CPUs",
            Severity::Recommended,
            "the guide asks for identical hosts; keep differing ones in another cluster",
            |f| fact_str(&f.cpu, |c| format!("{} logical CPUs", c.logical_cpus)),
        ),
        same(
            hosts,
            "cluster-libvirt",
            "same libvirt version",
            Severity::Recommended,
            "upgrade every host to the same libvirt (migration to an older one can fail)",
            |f| {
                fact_str(&f.libvirt, |p| {
                    p.as_ref().map_or("not installed".into(), |p| format!("libvirt {}", p.version))
                })
            },
        ),
        same(
            hosts,
            "cluster-qemu",
            "same QEMU version",
            Severity::Recommended,
            "upgrade every host to the same QEMU (migration to an older one can fail)",
            |f| fact_str(&f.qemu, |p| p.as_ref().map_or("not installed".into(), |p| format!("QEMU {}", p.version))),
        ),
    ];
    checks.push(cpu_model(map, hosts));
    Report { checks }
}

fn cpu_model(map: Option<&CpuMap>, hosts: &[(String, HostFacts)]) -> CheckResult {
    let (id, title, sev) = ("cluster-cpu", "same CPU model and flags", Severity::Required);
    let Some(map) = map else {
        return result(id, title, sev, Status::Unknown, "no CPU map given (libvirt's cpu_map directory)".into(), None);
    };
    let mut members = Vec::new();
    for (name, f) in hosts {
        match &f.host_cpu {
            Fact::Known(cpu) => members.push(ClusterHost::new(name.clone(), cpu.clone())),
            Fact::Unknown(why) => {
                return result(id, title, sev, Status::Unknown, format!("{name}'s CPU unknown: {why}"), None)
            }
        }
    }
    let run = || -> Result<CheckResult, crate::cpu::CpuError> {
        let shared = migration_safe_cpu(map, &members)?;
        let model = shared.cpu.model_name().unwrap_or("?").to_string();
        let g = group(hosts, |f| {
            fact_str(&f.host_cpu, |c| {
                let mut feats: Vec<String> = c.cpu.features.iter().map(|x| x.name.clone()).collect();
                feats.sort();
                let model = c.cpu.model_name().unwrap_or("?");
                if feats.is_empty() {
                    model.to_string()
                } else {
                    format!("{model} +{}", feats.join(" +"))
                }
            })
        })
        .unwrap_or_default();
        if g.len() <= 1 {
            return Ok(result(id, title, sev, Status::Pass, format!("all {} hosts: {model}", hosts.len()), None));
        }
        // A host stands out when the others alone could share a CPU it cannot run.
        let mut outliers = Vec::new();
        for (i, h) in members.iter().enumerate() {
            let others: Vec<ClusterHost> =
                members.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, m)| m.clone()).collect();
            if others.is_empty() {
                continue;
            }
            let better = migration_safe_cpu(map, &others)?;
            let v = placement(map, std::slice::from_ref(h), &better)?;
            if let Some(v) = v.into_iter().find(|v| !v.runs) {
                outliers.push(format!(
                    "without {} the others could share {} ({} lacks {})",
                    h.name,
                    better.cpu.model_name().unwrap_or("?"),
                    h.name,
                    v.missing.join(", ")
                ));
            }
        }
        let standout = if outliers.is_empty() { String::new() } else { format!("; {}", outliers.join("; ")) };
        Ok(result(
            id,
            title,
            sev,
            Status::Fail,
            format!("the hosts' CPUs differ: {}; the cluster can share {model}{standout}", describe(&g)),
            Some(format!(
                "on every host set guest.cpu.mode=custom and guest.cpu.model={model} in agent.properties, \
                 or move the host that stands out to another cluster"
            )),
        ))
    };
    run().unwrap_or_else(|e| result(id, title, sev, Status::Unknown, format!("the CPU engine failed: {e}"), None))
}
