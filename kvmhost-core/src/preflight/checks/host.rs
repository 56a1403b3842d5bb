//! The checks of libvirt's `virt-host-validate qemu`, done right: KVM is usable when KVM
//! answers its ioctls, whatever `/proc/cpuinfo` shows.

use super::{known, list};
use crate::preflight::{Check, Device, Fact, HostFacts, Severity, Verdict};

/// `hw-virt`: hardware virtualization, decided by KVM's own answer.
pub fn hw_virt() -> Check {
    Check::new("hw-virt", "hardware virtualization (KVM usable)", Severity::Required, |f: &HostFacts| {
        let flags = f.cpu.known().map(|c| {
            let v: Vec<&str> = ["vmx", "svm"].into_iter().filter(|x| c.has(x)).collect();
            if v.is_empty() {
                "/proc/cpuinfo lists neither vmx nor svm".to_string()
            } else {
                format!("/proc/cpuinfo lists {}", v.join(" and "))
            }
        });
        let kvm = match &f.kvm {
            Fact::Known(k) => k,
            Fact::Unknown(why) => {
                let flags = flags.map(|s| format!("; {s}")).unwrap_or_default();
                return Verdict::Unknown(format!("KVM could not be asked ({why}){flags}"));
            }
        };
        let vcpus = kvm.max_vcpus.map(|m| format!(", up to {m} vCPUs per guest")).unwrap_or_default();
        let has_flag = flags.as_deref().is_some_and(|s| !s.contains("neither"));
        if kvm.usable {
            let note = match &flags {
                Some(s) if !has_flag => {
                    format!(" ({s}: a hypervisor hides them, yet KVM answers, so guests get hardware acceleration)")
                }
                Some(s) => format!(" ({s})"),
                None => String::new(),
            };
            Verdict::Pass(format!("KVM is usable: {}{vcpus}{note}", kvm.detail))
        } else if has_flag {
            Verdict::problem(
                format!("KVM is not usable ({}) although {}", kvm.detail, flags.unwrap_or_default()),
                "load the KVM module (modprobe kvm_intel, or kvm_amd on AMD) and enable VT-x / AMD-V in the firmware setup",
            )
        } else {
            let flags = flags.map(|s| format!("; {s}")).unwrap_or_default();
            Verdict::problem(
                format!(
                    "KVM is not usable ({}){flags}: guests would only be emulated (TCG), many times slower",
                    kvm.detail
                ),
                "enable VT-x / AMD-V in the firmware setup (in a virtual machine: nested virtualization on its host), \
                 then modprobe kvm_intel or kvm_amd",
            )
        }
    })
}

fn device(f: &HostFacts, path: &str) -> Result<Device, Verdict> {
    match f.devices.get(path) {
        Some(Fact::Known(d)) => Ok(d.clone()),
        Some(Fact::Unknown(why)) => Err(Verdict::Unknown(format!("{path}: {why}"))),
        None => Err(Verdict::Unknown(format!("{path} was not looked at"))),
    }
}

/// `dev-kvm`: `/dev/kvm` exists and this process may use it.
pub fn dev_kvm() -> Check {
    Check::new("dev-kvm", "/dev/kvm exists and is accessible", Severity::Required, |f: &HostFacts| {
        let d = match device(f, "/dev/kvm") {
            Ok(d) => d,
            Err(v) => return v,
        };
        match (d.exists, d.accessible) {
            (false, _) => Verdict::problem(
                "/dev/kvm does not exist: the KVM module is not loaded",
                "modprobe kvm_intel (AMD: kvm_amd), after enabling virtualization in the firmware setup",
            ),
            (true, Some(false)) => Verdict::problem(
                "/dev/kvm exists but this user may not read and write it",
                "run as root, or add the user to the kvm group: usermod -aG kvm USER",
            ),
            (true, Some(true)) => Verdict::Pass("/dev/kvm exists and this process may read and write it".into()),
            (true, None) => Verdict::Pass("/dev/kvm exists (access not tried: the root is not the live system)".into()),
        }
    })
}

/// A device check: exists or not.
fn device_check(
    id: &'static str,
    path: &'static str,
    severity: Severity,
    missing: &'static str,
    remedy: &'static str,
) -> Check {
    Check::new(id, format!("{path} exists"), severity, move |f: &HostFacts| match device(f, path) {
        Ok(d) if d.exists => Verdict::Pass(format!("{path} exists")),
        Ok(_) => Verdict::problem(format!("{path} does not exist: {missing}"), remedy),
        Err(v) => v,
    })
}

/// `dev-vhost-net`: the in-kernel virtio-net backend.
pub fn dev_vhost_net() -> Check {
    device_check(
        "dev-vhost-net",
        "/dev/vhost-net",
        Severity::Recommended,
        "virtio networking runs in QEMU's user space (slower)",
        "modprobe vhost_net (and list vhost_net in /etc/modules to load it at boot)",
    )
}

/// `dev-net-tun`: tap devices for guest networking.
pub fn dev_net_tun() -> Check {
    device_check(
        "dev-net-tun",
        "/dev/net/tun",
        Severity::Required,
        "QEMU guests cannot have tap (bridged) network interfaces",
        "modprobe tun",
    )
}

/// What a cgroup controller is called in cgroup v2 (`None`: handled without a controller).
fn v2_name(controller: &str) -> Option<&str> {
    match controller {
        "cpuacct" => Some("cpu"),
        "blkio" => Some("io"),
        "devices" => None,
        c => Some(c),
    }
}

/// `cgroup-NAME`: a cgroup controller libvirt uses, in v1 or v2.
pub fn cgroup(controller: &'static str) -> Check {
    let id = format!("cgroup-{controller}");
    Check::new(id, format!("cgroup '{controller}' controller"), Severity::Recommended, move |f: &HostFacts| {
        let cg = match known(&f.cgroups, "cgroup controllers") {
            Ok(c) => c,
            Err(v) => return v,
        };
        if cg.v1.iter().any(|c| c == controller) {
            return Verdict::Pass(format!("'{controller}' is mounted as a cgroup v1 hierarchy"));
        }
        if let Some(mount) = &cg.v2_mount {
            match v2_name(controller) {
                None => {
                    return Verdict::Pass(format!(
                        "cgroup v2 is mounted at {mount}: libvirt controls devices with eBPF, no controller needed"
                    ))
                }
                Some(n) if cg.v2.iter().any(|c| c == n) => {
                    let alias = if n == controller { String::new() } else { format!(" (as '{n}')") };
                    return Verdict::Pass(format!("'{controller}' is available in cgroup v2 at {mount}{alias}"));
                }
                Some(_) => {}
            }
        }
        let v2 = match &cg.v2_mount {
            Some(m) => format!("cgroup v2 at {m} offers {}", list(&cg.v2)),
            None => "no cgroup v2 is mounted".into(),
        };
        Verdict::problem(
            format!("no cgroup v1 hierarchy has '{controller}' and {v2}"),
            format!(
                "enable '{controller}' in the kernel configuration or mount it: \
                 mount -t cgroup -o {controller} cgroup /sys/fs/cgroup/{controller} (v1), or on cgroup v2: \
                 echo +{} > /sys/fs/cgroup/cgroup.subtree_control",
                v2_name(controller).unwrap_or(controller)
            ),
        )
    })
}

/// The controllers `virt-host-validate qemu` checks.
pub const CGROUP_CONTROLLERS: [&str; 6] = ["cpu", "cpuacct", "cpuset", "memory", "devices", "blkio"];

/// `iommu`: device assignment (VFIO) needs an IOMMU the kernel uses.
pub fn iommu() -> Check {
    Check::new("iommu", "IOMMU for device assignment", Severity::Recommended, |f: &HostFacts| {
        let io = match known(&f.iommu, "IOMMU") {
            Ok(i) => i,
            Err(v) => return v,
        };
        let intel = f.cpu.known().is_some_and(|c| c.vendor.as_deref() == Some("GenuineIntel"));
        let bootarg = if intel { "intel_iommu=on" } else { "amd_iommu=on iommu=pt" };
        let table = match (io.dmar, io.ivrs) {
            (true, _) => Some("ACPI DMAR table (Intel VT-d)"),
            (_, true) => Some("ACPI IVRS table (AMD-Vi)"),
            _ => None,
        };
        match (table, io.groups) {
            (_, g) if g > 0 => Verdict::Pass(format!(
                "the kernel uses an IOMMU: {g} IOMMU groups{}",
                table.map(|t| format!(", {t}")).unwrap_or_default()
            )),
            (Some(t), _) => {
                let cmdline = f.kernel_cmdline.known().cloned().unwrap_or_default();
                Verdict::problem(
                    format!("the firmware describes an IOMMU ({t}) but the kernel does not use it (no IOMMU groups; kernel command line: {cmdline:?})"),
                    format!("add {bootarg} to the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub) and reboot"),
                )
            }
            (None, _) => Verdict::problem(
                "no IOMMU: no ACPI DMAR or IVRS table and no IOMMU groups; PCI devices cannot be assigned to guests (VFIO)",
                format!("only needed for device assignment: enable VT-d / AMD-Vi in the firmware setup, then add {bootarg} to the kernel command line"),
            ),
        }
    })
}

/// `secure-guest`: AMD SEV, Intel TDX or IBM Secure Execution.
pub fn secure_guest() -> Check {
    Check::new("secure-guest", "secure (memory-encrypted) guest support", Severity::Recommended, |f: &HostFacts| {
        let s = match known(&f.secure_guest, "secure guest support") {
            Ok(s) => s,
            Err(v) => return v,
        };
        let dev_sev = matches!(f.devices.get("/dev/sev"), Some(Fact::Known(d)) if d.exists);
        if s.s390_pv {
            return Verdict::Pass("IBM Secure Execution: facility 158 and /sys/firmware/uv".into());
        }
        if s.tdx {
            return Verdict::Pass("Intel TDX is enabled".into());
        }
        if s.sev_flag {
            return match (s.sev_enabled, dev_sev) {
                (Some(true), true) => {
                    Verdict::Pass("AMD SEV: the CPU has sev, kvm_amd enables it and /dev/sev exists".into())
                }
                (Some(true), false) => Verdict::problem(
                    "AMD SEV is enabled in kvm_amd but /dev/sev does not exist: disabled in the firmware",
                    "enable SEV (and the SEV ASID count) in the firmware setup",
                ),
                _ => Verdict::problem(
                    "the CPU has sev but kvm_amd does not enable it",
                    "add kvm_amd.sev=1 to the kernel command line and reboot",
                ),
            };
        }
        let cpu = f.cpu.known().and_then(|c| c.model_name.clone()).unwrap_or_else(|| "this CPU".into());
        Verdict::problem(
            format!("{cpu} offers neither AMD SEV (no sev flag) nor Intel TDX: guests cannot have encrypted memory"),
            "only needed for confidential guests: they need a CPU with AMD SEV or Intel TDX, enabled in the firmware",
        )
    })
}

/// `libvirt-config`: libvirt's configuration files parse (libvirt refuses to start otherwise).
pub fn libvirt_config() -> Check {
    Check::new("libvirt-config", "libvirt's configuration files parse", Severity::Required, |f: &HostFacts| {
        let l = &f.libvirtd;
        let files = [
            ("/etc/libvirt/libvirtd.conf", &l.conf),
            ("/etc/libvirt/qemu.conf", &l.qemu_conf),
            ("/etc/libvirt/virtqemud.conf", &l.virtqemud_conf),
            ("/etc/libvirt/virtproxyd.conf", &l.virtproxyd_conf),
        ];
        let bad: Vec<String> =
            files.iter().filter_map(|(_, fact)| fact.as_result().err().map(str::to_string)).collect();
        let mut args_bad = None;
        if let Fact::Unknown(e) = &l.args {
            args_bad = Some(e.clone());
        }
        if bad.is_empty() && args_bad.is_none() {
            let present: Vec<&str> =
                files.iter().filter(|(_, fact)| fact.known().is_some_and(|c| c.exists)).map(|(p, _)| *p).collect();
            return Verdict::Pass(if present.is_empty() {
                "no libvirt configuration file exists (libvirt's defaults apply)".into()
            } else {
                format!("{} parse", present.join(", "))
            });
        }
        let all: Vec<String> = bad.into_iter().chain(args_bad).collect();
        Verdict::problem(
            format!("libvirt would refuse to start, or kvmhost cannot read its settings: {}", all.join("; ")),
            "correct the file at the line and column named (libvirt's syntax: name = value, strings in \"quotes\", \
             lists in [ ]; shell files: NAME=\"value\")",
        )
    })
}

/// The `virt-host-validate qemu` set plus `libvirt-config`.
pub fn checks() -> Vec<Check> {
    let mut v = vec![hw_virt(), dev_kvm(), dev_vhost_net(), dev_net_tun()];
    v.extend(CGROUP_CONTROLLERS.iter().map(|c| cgroup(c)));
    v.extend([iommu(), secure_guest(), libvirt_config()]);
    v
}
