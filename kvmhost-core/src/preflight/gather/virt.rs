//! Device nodes, cgroup controllers, IOMMU, secure guests.

use super::{LiveProbe, Root};
use crate::preflight::{Cgroups, CpuInfo, Device, Fact, Iommu, SecureGuest};
use std::collections::BTreeMap;

/// The device nodes looked at.
pub(crate) const DEVICES: &[&str] = &["/dev/kvm", "/dev/vhost-net", "/dev/net/tun", "/dev/sev"];

pub(crate) fn devices(r: &Root, probe: &dyn LiveProbe) -> BTreeMap<String, Fact<Device>> {
    DEVICES
        .iter()
        .map(|d| {
            let fact = match r.pseudo("dev") {
                Err(e) => Fact::Unknown(e),
                Ok(()) => {
                    let exists = r.exists(d);
                    let accessible = if exists && r.live { probe.accessible(&r.path(d)) } else { None };
                    Fact::Known(Device { exists, accessible })
                }
            };
            (d.to_string(), fact)
        })
        .collect()
}

/// Undoes the octal escapes of `/proc/mounts` (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') as u32 * 64 + (b[i + 2] - b'0') as u32 * 8 + (b[i + 3] - b'0') as u32;
            out.push(u8::try_from(v).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup v1 controllers libvirt knows (`vircgroup.c`).
const V1_CONTROLLERS: &[&str] =
    &["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "net_cls", "perf_event", "name=systemd"];

pub(crate) fn cgroups(r: &Root) -> Fact<Cgroups> {
    if let Err(e) = r.pseudo("proc") {
        return Fact::Unknown(e);
    }
    let mounts = match r.read("/proc/mounts") {
        Ok(Some(m)) => m,
        Ok(None) => return Fact::Unknown(format!("{} does not exist", r.show("/proc/mounts"))),
        Err(e) => return Fact::Unknown(e),
    };
    let mut cg = Cgroups::default();
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [_dev, mount, fstype, opts, ..] = f.as_slice() else { continue };
        match *fstype {
            "cgroup" => {
                for o in opts.split(',') {
                    if V1_CONTROLLERS.contains(&o) && !cg.v1.iter().any(|c| c == o) {
                        cg.v1.push(o.to_string());
                    }
                }
            }
            "cgroup2" if cg.v2_mount.is_none() => {
                let mount = unescape(mount);
                let controllers = r.value(&format!("{}/cgroup.controllers", mount.trim_end_matches('/')));
                cg.v2 = controllers.unwrap_or_default().split_whitespace().map(str::to_string).collect();
                cg.v2_mount = Some(mount);
            }
            _ => {}
        }
    }
    Fact::Known(cg)
}

pub(crate) fn iommu(r: &Root) -> Fact<Iommu> {
    if let Err(e) = r.pseudo("sys") {
        return Fact::Unknown(e);
    }
    Fact::Known(Iommu {
        dmar: r.exists("/sys/firmware/acpi/tables/DMAR"),
        ivrs: r.exists("/sys/firmware/acpi/tables/IVRS"),
        groups: r.list("/sys/kernel/iommu_groups").len(),
        units: r.list("/sys/class/iommu").len(),
    })
}

pub(crate) fn secure_guest(r: &Root, cpu: &Fact<CpuInfo>) -> Fact<SecureGuest> {
    if let Err(e) = r.pseudo("sys") {
        return Fact::Unknown(e);
    }
    let Some(cpu) = cpu.known() else {
        return Fact::Unknown(format!("the CPU flags are unknown: {}", cpu.as_result().err().unwrap_or("")));
    };
    let yes = |v: Option<String>| v.is_some_and(|v| matches!(v.as_str(), "1" | "Y" | "y"));
    Fact::Known(SecureGuest {
        sev_flag: cpu.has("sev"),
        sev_enabled: r.value("/sys/module/kvm_amd/parameters/sev").map(|v| yes(Some(v))),
        tdx: cpu.has("tdx_host_platform") || yes(r.value("/sys/module/kvm_intel/parameters/tdx")),
        s390_pv: cpu.has("158") && r.is_dir("/sys/firmware/uv"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn mount_escapes() {
        assert_eq!(super::unescape("/a\\040b\\134"), "/a b\\");
        assert_eq!(super::unescape("\\04"), "\\04");
    }
}
