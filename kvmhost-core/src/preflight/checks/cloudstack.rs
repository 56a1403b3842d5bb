//! The CloudStack KVM host guide's rules (see the project's seeds: 64-bit x86, HVM, 4 GB,
//! a NIC, an FQDN, NTP, no running VMs, libvirt / QEMU / Open vSwitch versions, libvirt's TCP
//! listener for migration, VNC consoles, SELinux / AppArmor, the firewall's ports).

use super::{daemon, install, known, list};
use crate::config::firewall::{kvm_host_ports, render, PortRange};
use crate::config::SelinuxMode;
use crate::preflight::{Check, Fact, Fix, HostFacts, Package, Severity, Verdict, Version};

const GIB: u64 = 1 << 30;

/// `arch-x86-64`: CloudStack's KVM hosts are 64-bit x86.
pub fn arch() -> Check {
    Check::new("arch-x86-64", "64-bit x86 host", Severity::Required, |f: &HostFacts| {
        match known(&f.kernel, "the kernel's machine") {
            Ok(k) if k.machine == "x86_64" => Verdict::Pass(format!("{} {} on x86_64", k.sysname, k.release)),
            Ok(k) => Verdict::problem(
                format!("this host is {}, CloudStack's KVM hosts must be 64-bit x86 (x86_64)", k.machine),
                "use an x86_64 host running a 64-bit kernel",
            ),
            Err(v) => v,
        }
    })
}

/// `memory`: at least 4 GB of memory.
pub fn memory() -> Check {
    Check::new("memory", "at least 4 GB of memory", Severity::Required, |f: &HostFacts| {
        let m = match known(&f.memory, "memory") {
            Ok(m) => m,
            Err(v) => return v,
        };
        let gib = m.total_bytes as f64 / GIB as f64;
        if m.total_bytes >= 4 * GIB {
            Verdict::Pass(format!("{gib:.1} GiB of memory (MemTotal)"))
        } else if m.total_bytes >= 7 * GIB / 2 {
            Verdict::advice(
                format!("MemTotal is {gib:.2} GiB: a 4 GB host shows a little less (the kernel keeps its share); fine if 4 GB are installed"),
                "check the installed memory (dmidecode -t memory); CloudStack needs 4 GB",
            )
        } else {
            Verdict::problem(format!("{gib:.1} GiB of memory: CloudStack's KVM hosts need at least 4 GB"), "add memory")
        }
    })
}

/// `nic`: at least one physical network interface.
pub fn nic() -> Check {
    Check::new("nic", "at least one physical network interface", Severity::Required, |f: &HostFacts| {
        let ifs = match known(&f.interfaces, "network interfaces") {
            Ok(i) => i,
            Err(v) => return v,
        };
        let phys: Vec<String> = ifs
            .iter()
            .filter(|i| i.physical)
            .map(|i| format!("{}{}", i.name, i.operstate.as_ref().map(|s| format!(" ({s})")).unwrap_or_default()))
            .collect();
        if phys.is_empty() {
            let names: Vec<String> = ifs.iter().map(|i| i.name.clone()).collect();
            Verdict::problem(
                format!("no physical network interface in /sys/class/net, only virtual ones: {}", list(&names)),
                "install a network card (and its driver)",
            )
        } else {
            Verdict::Pass(format!("physical network interfaces: {}", phys.join(", ")))
        }
    })
}

/// `fqdn`: the host name is fully qualified (`hostname --fqdn`).
pub fn fqdn() -> Check {
    Check::new("fqdn", "fully qualified host name", Severity::Required, |f: &HostFacts| {
        let h = match known(&f.hostname, "the host name") {
            Ok(h) => h,
            Err(v) => return v,
        };
        let hosts_line = |domain: &str| {
            format!("add \"IP {0}.{domain} {0}\" to /etc/hosts (IP: the host's management address)", h.name)
        };
        match (&h.fqdn, h.search_domains.first()) {
            (Some(fqdn), _) => Verdict::Pass(format!("{fqdn} (from {})", h.fqdn_source.as_deref().unwrap_or("?"))),
            (None, Some(domain)) => Verdict::advice(
                format!(
                    "'{}' ({}) is not qualified by itself or by /etc/hosts; only DNS could qualify it (search {}), \
                     which preflight does not query",
                    h.name,
                    h.source,
                    h.search_domains.join(" ")
                ),
                hosts_line(domain),
            ),
            (None, None) => Verdict::problem(
                format!(
                    "'{}' ({}) is not fully qualified and /etc/hosts does not qualify it: hostname --fqdn prints '{}'",
                    h.name, h.source, h.name
                ),
                hosts_line("example.org"),
            ),
        }
    })
}

/// `ntp`: the clock is synchronised by an NTP daemon.
pub fn ntp() -> Check {
    Check::new("ntp", "clock synchronised by NTP", Severity::Required, |f: &HostFacts| {
        let daemons = f.time_daemons.known().cloned().unwrap_or_default();
        let running: Vec<String> = daemons.iter().filter(|d| d.running == Some(true)).map(|d| d.name.clone()).collect();
        let configured: Vec<String> = daemons
            .iter()
            .map(|d| format!("{}{}", d.name, d.config.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()))
            .collect();
        let no_systemd = super::systemd(f) == Some(false);
        let start = daemons.iter().find(|d| !(no_systemd && d.name == "systemd-timesyncd")).map(|d| {
            let unit = match d.name.as_str() {
                "chronyd" => "chrony",
                "ntpd" => "ntp",
                other => other,
            };
            if no_systemd {
                format!("start {} (this host runs no systemd)", d.name)
            } else {
                format!("systemctl enable --now {unit}")
            }
        });
        let fix = start.unwrap_or_else(|| install(f, "chrony", "chrony", ("chrony", "chronyd")));
        let clock = match &f.clock {
            Fact::Known(c) => c,
            Fact::Unknown(why) => {
                return Verdict::Unknown(format!(
                    "clock synchronisation unknown ({why}); NTP daemons: {}",
                    list(&configured)
                ))
            }
        };
        match (clock.synchronised, running.is_empty(), daemons.is_empty()) {
            (true, false, _) => {
                Verdict::Pass(format!("synchronised ({}); running: {}", clock.detail, running.join(", ")))
            }
            (true, true, true) => Verdict::advice(
                format!("the clock is synchronised now ({}) but no NTP daemon is installed", clock.detail),
                fix,
            ),
            (true, true, false) => {
                Verdict::Pass(format!("synchronised ({}); configured: {}", clock.detail, list(&configured)))
            }
            (false, _, _) => Verdict::problem(
                format!(
                    "the kernel clock is not synchronised ({}); NTP daemons configured: {}, running: {}",
                    clock.detail,
                    list(&configured),
                    list(&running)
                ),
                fix,
            ),
        }
    })
}

/// `no-running-vms`: the host runs no VM when it is added to CloudStack.
pub fn no_running_vms() -> Check {
    Check::new("no-running-vms", "no virtual machine running", Severity::Required, |f: &HostFacts| {
        match known(&f.running_vms, "running VMs") {
            Ok(v) if v.is_empty() => {
                Verdict::Pass("no VM is running (libvirt's /run/libvirt/qemu/*.pid and QEMU processes)".into())
            }
            Ok(v) => {
                let names: Vec<String> = v.iter().map(|v| format!("{} ({})", v.name, v.source)).collect();
                Verdict::problem(
                    format!("{} VM(s) running: {}; CloudStack requires an empty host", v.len(), names.join(", ")),
                    "shut them down or migrate them away before adding the host (virsh shutdown NAME)",
                )
            }
            Err(v) => v,
        }
    })
}

fn version_check(
    f: &HostFacts,
    what: &str,
    fact: &Fact<Option<Package>>,
    min: Version,
    why: &str,
    install_cmd: String,
) -> Verdict {
    match fact {
        Fact::Unknown(e) => Verdict::Unknown(format!("{what}'s version unknown: {e}")),
        Fact::Known(None) => Verdict::problem(format!("{what} is not installed"), install_cmd),
        Fact::Known(Some(p)) if p.version >= min => {
            Verdict::Pass(format!("{what} {} >= {min}{why} ({})", p.version, p.source))
        }
        Fact::Known(Some(p)) => Verdict::problem(
            format!("{what} {} is older than {min}{why} ({})", p.version, p.source),
            format!("upgrade {what}{}", if f.live { " (apt-get / dnf upgrade)" } else { "" }),
        ),
    }
}

/// `libvirt-version`: libvirt >= 0.9.4 (0.9.11 with Open vSwitch).
pub fn libvirt_version() -> Check {
    Check::new("libvirt-version", "libvirt >= 0.9.4 (0.9.11 with Open vSwitch)", Severity::Required, |f: &HostFacts| {
        let ovs = matches!(f.ovs, Fact::Known(Some(_)));
        let (min, why) = if ovs {
            (Version::new(&[0, 9, 11]), " (Open vSwitch is installed)")
        } else {
            (Version::new(&[0, 9, 4]), "")
        };
        let cmd = install(f, "libvirt-daemon-system", "libvirt", ("libvirtd", "libvirtd"));
        version_check(f, "libvirt", &f.libvirt, min, why, cmd)
    })
}

/// `qemu-version`: QEMU/KVM >= 1.0.
pub fn qemu_version() -> Check {
    Check::new("qemu-version", "QEMU >= 1.0", Severity::Required, |f: &HostFacts| {
        let cmd = install(f, "qemu-system-x86", "qemu-kvm", ("libvirtd", "libvirtd"));
        version_check(f, "QEMU", &f.qemu, Version::new(&[1, 0]), "", cmd)
    })
}

/// `ovs-version`: Open vSwitch >= 1.7.1 when it is used.
pub fn ovs_version() -> Check {
    Check::new("ovs-version", "Open vSwitch >= 1.7.1 (if used)", Severity::Required, |f: &HostFacts| match &f.ovs {
        Fact::Known(None) => {
            Verdict::Pass("Open vSwitch is not installed: Linux bridges (CloudStack's default)".into())
        }
        other => version_check(f, "Open vSwitch", other, Version::new(&[1, 7, 1]), "", String::new()),
    })
}

/// `selinux`: SELinux not enforcing, now and after a reboot.
pub fn selinux() -> Check {
    Check::new("selinux", "SELinux not enforcing", Severity::Required, |f: &HostFacts| {
        let s = match known(&f.selinux, "SELinux") {
            Ok(s) => s,
            Err(v) => return v,
        };
        let mut problems = Vec::new();
        let mut steps = Vec::new();
        let mut fixes = Vec::new();
        if s.runtime == Fact::Known(SelinuxMode::Enforcing) {
            problems.push("SELinux enforces now".to_string());
            steps.push("setenforce permissive".to_string());
        }
        if s.config == Fact::Known(Some(SelinuxMode::Enforcing)) {
            problems.push("/etc/selinux/config sets SELINUX=enforcing (enforced again at boot)".into());
            steps.push("set SELINUX=permissive in /etc/selinux/config".into());
            fixes.push(Fix::ShellVar {
                file: "/etc/selinux/config".into(),
                name: "SELINUX".into(),
                value: "permissive".into(),
            });
        }
        if !problems.is_empty() {
            return Verdict::Problem {
                message: format!("{}: it blocks the CloudStack agent", problems.join("; ")),
                remedy: steps.join(" and "),
                fixes,
            };
        }
        let runtime = match &s.runtime {
            Fact::Known(m) => m.to_string(),
            Fact::Unknown(why) => return Verdict::Unknown(format!("SELinux's running mode unknown: {why}")),
        };
        let config = match &s.config {
            Fact::Known(Some(m)) => format!("SELINUX={m}"),
            Fact::Known(None) => "no SELINUX setting (no /etc/selinux/config)".into(),
            Fact::Unknown(why) => return Verdict::Unknown(format!("/etc/selinux/config unreadable: {why}")),
        };
        Verdict::Pass(format!("SELinux is {runtime}; {config}"))
    })
}

/// `apparmor`: libvirt's AppArmor profiles disabled (the guide disables them).
pub fn apparmor() -> Check {
    Check::new("apparmor", "AppArmor profiles of libvirt disabled", Severity::Required, |f: &HostFacts| {
        let a = match known(&f.apparmor, "AppArmor") {
            Ok(a) => a,
            Err(v) => return v,
        };
        let enforced: Vec<String> = a
            .loaded
            .known()
            .map(|l| l.iter().filter(|p| p.contains("(enforce)")).cloned().collect())
            .unwrap_or_default();
        let pending: Vec<&String> = a.installed.iter().filter(|p| !a.disabled.contains(p)).collect();
        let enabled = a.enabled.known().copied();
        if enforced.is_empty() && (pending.is_empty() || enabled == Some(false)) {
            return match (&a.enabled, &a.loaded) {
                (Fact::Unknown(why), _) | (_, Fact::Unknown(why)) if !pending.is_empty() => Verdict::Unknown(format!(
                    "libvirt's profiles {} are not disabled and AppArmor's state is unknown: {why}",
                    pending.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                )),
                _ => Verdict::Pass(format!(
                    "AppArmor is {}; libvirt's profiles loaded in enforce mode: none; disabled: {}",
                    match enabled {
                        Some(true) => "enabled",
                        Some(false) => "not enabled in the kernel",
                        None => "in an unknown state",
                    },
                    list(&a.disabled)
                )),
            };
        }
        let mut steps = Vec::new();
        let mut fixes = Vec::new();
        for p in &pending {
            steps.push(format!(
                "ln -s /etc/apparmor.d/{p} /etc/apparmor.d/disable/ && apparmor_parser -R /etc/apparmor.d/{p}"
            ));
            fixes.push(Fix::Symlink {
                path: format!("/etc/apparmor.d/disable/{p}"),
                target: format!("/etc/apparmor.d/{p}"),
            });
        }
        if steps.is_empty() {
            steps.push(
                "apparmor_parser -R /etc/apparmor.d/usr.sbin.libvirtd (the profile files are disabled already)".into(),
            );
        }
        let pending: Vec<String> = pending.into_iter().cloned().collect();
        Verdict::Problem {
            message: format!(
                "AppArmor confines libvirt: loaded in enforce mode: {}; profiles not disabled: {}",
                list(&enforced),
                list(&pending)
            ),
            remedy: steps.join("; "),
            fixes,
        }
    })
}

/// `firewall-ports`: an enabled firewall lets the KVM host's ports in.
pub fn firewall_ports() -> Check {
    Check::new(
        "firewall-ports",
        "firewall opens 22, 1798, 16509, 16514, 5900-6100, 49152-49216",
        Severity::Required,
        |f: &HostFacts| {
            let fws = match known(&f.firewall, "the firewall") {
                Ok(w) => w,
                Err(v) => return v,
            };
            let active: Vec<_> = fws.iter().filter(|w| w.enabled).collect();
            if active.is_empty() {
                let found: Vec<String> = fws.iter().map(|w| format!("{} (disabled)", w.kind)).collect();
                if let Some(tables) = f.iptables_tables.known().filter(|t| !t.is_empty()) {
                    return Verdict::Unknown(format!(
                        "no firewall is enabled by its configuration (found: {}), but iptables tables are loaded \
                         at run time ({}) and their rules are not read: see iptables -S INPUT",
                        list(&found),
                        tables.join(", ")
                    ));
                }
                return Verdict::Pass(format!(
                    "no host firewall is enabled by its configuration (ufw, firewalld, nftables, iptables; found: {})",
                    list(&found)
                ));
            }
            let mut missing_all = Vec::new();
            let mut remedy = String::new();
            let mut ok = Vec::new();
            for w in active {
                let missing: Vec<_> = kvm_host_ports()
                    .into_iter()
                    .filter(|p| w.default_deny && !w.open.iter().any(|o: &PortRange| o.contains(&p.range)))
                    .collect();
                if missing.is_empty() {
                    ok.push(format!(
                        "{} ({})",
                        w.kind,
                        if w.default_deny { "opens them" } else { "accepts by default" }
                    ));
                } else {
                    missing_all.push(format!(
                        "{} ({}) does not open {}",
                        w.kind,
                        w.source,
                        missing.iter().map(|p| p.range.to_string()).collect::<Vec<_>>().join(", ")
                    ));
                    remedy.push_str(&render(w.kind, &missing));
                }
            }
            if missing_all.is_empty() {
                Verdict::Pass(format!("enabled firewalls: {}", ok.join(", ")))
            } else {
                Verdict::problem(missing_all.join("; "), remedy.trim_end().to_string())
            }
        },
    )
}

/// `bridges`: the guide's bridges `cloudbr0` and `cloudbr1` exist.
pub fn bridges() -> Check {
    Check::new("bridges", "bridges cloudbr0 and cloudbr1", Severity::Recommended, |f: &HostFacts| {
        let ifs = match known(&f.interfaces, "network interfaces") {
            Ok(i) => i,
            Err(v) => return v,
        };
        let missing: Vec<String> = ["cloudbr0", "cloudbr1"]
            .into_iter()
            .filter(|b| !ifs.iter().any(|i| i.name == *b))
            .map(str::to_string)
            .collect();
        if missing.is_empty() {
            Verdict::Pass("cloudbr0 and cloudbr1 exist".into())
        } else {
            Verdict::problem(
                format!("missing: {} (CloudStack's public and private traffic bridges)", missing.join(", ")),
                "create them identically on every host (kvmhost-net: CloudStackLinux or CloudStackOvs; or the guide's \
                 ifcfg / interfaces stanzas)",
            )
        }
    })
}

/// The guide's checks, in order (the `libvirt` profile's come first in [`Profile::cloudstack`](crate::preflight::Profile::cloudstack)).
pub fn checks() -> Vec<Check> {
    vec![
        arch(),
        memory(),
        nic(),
        fqdn(),
        ntp(),
        no_running_vms(),
        libvirt_version(),
        qemu_version(),
        ovs_version(),
        daemon::tcp(),
        daemon::listen_tls(),
        daemon::auth_tcp(),
        daemon::tcp_port(),
        daemon::mdns(),
        daemon::vnc_listen(),
        selinux(),
        apparmor(),
        firewall_ports(),
        bridges(),
    ]
}
