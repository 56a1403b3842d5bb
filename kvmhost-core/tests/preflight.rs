//! Preflight on fixture roots (`tests/data/preflight`): facts gathered from files, every check's
//! verdict on a ready host and on each broken case.

mod preflight_support;

use kvmhost_core::config::firewall::{FirewallKind, PortRange};
use kvmhost_core::config::{SelinuxMode, Value};
use kvmhost_core::preflight::{
    Fact, Fix, Gatherer, HostFacts, Profile, ProfileName, Report, Severity, Status, Version,
};
use preflight_support::fixture;

fn facts(case: &str) -> (preflight_support::TempRoot, HostFacts) {
    let root = fixture(case);
    let f = Gatherer::new(root.path()).gather();
    (root, f)
}

fn status(r: &Report, id: &str) -> Status {
    r.get(id).unwrap_or_else(|| panic!("no check {id}")).status
}

fn message<'a>(r: &'a Report, id: &str) -> &'a str {
    &r.get(id).unwrap().message
}

#[test]
fn ready_host_facts() {
    let (_root, f) = facts("ready");
    assert!(!f.live);
    let kvm = f.kvm.known().unwrap();
    assert!(kvm.usable);
    assert_eq!((kvm.api_version, kvm.max_vcpus), (Some(12), Some(1024)));
    assert_eq!(f.kernel.known().unwrap().machine, "x86_64");
    assert_eq!(f.memory.known().unwrap().total_bytes, 16318464 * 1024);
    let cpu = f.cpu.known().unwrap();
    assert_eq!((cpu.logical_cpus, cpu.vendor.as_deref()), (4, Some("GenuineIntel")));
    assert!(cpu.has("vmx") && !cpu.has("svm"));
    let phys: Vec<_> = f.interfaces.known().unwrap().iter().filter(|i| i.physical).map(|i| i.name.as_str()).collect();
    assert_eq!(phys, ["eth0"]);
    let bridges: Vec<_> = f.interfaces.known().unwrap().iter().filter(|i| i.bridge).map(|i| i.name.as_str()).collect();
    assert_eq!(bridges, ["cloudbr0", "cloudbr1"]);
    let h = f.hostname.known().unwrap();
    assert_eq!((h.name.as_str(), h.source.as_str()), ("kvm1", "/etc/hostname"));
    assert_eq!(h.fqdn.as_deref(), Some("kvm1.lab.example.org"));
    assert_eq!(h.fqdn_source.as_deref(), Some("/etc/hosts line 2"));
    assert_eq!(h.search_domains, ["lab.example.org"]);
    assert!(f.clock.known().unwrap().synchronised);
    let ntp = f.time_daemons.known().unwrap();
    assert_eq!((ntp[0].name.as_str(), ntp[0].running, ntp[0].enabled), ("chronyd", Some(true), Some(true)));
    assert_eq!(f.os.known().unwrap().version_id.as_deref(), Some("12"));
    let libvirt = f.libvirt.known().unwrap().as_ref().unwrap();
    assert_eq!(libvirt.version, Version::new(&[9, 0, 0]));
    assert_eq!(libvirt.source, "dpkg: libvirt-daemon 9.0.0-4+deb12u2");
    assert_eq!(f.qemu.known().unwrap().as_ref().unwrap().version, Version::new(&[7, 2]));
    assert_eq!(f.ovs, Fact::Known(None), "a package removed with its configuration kept is not installed");
    assert_eq!(f.qemu_spice, Fact::Known(true));
    let se = f.selinux.known().unwrap();
    assert_eq!((&se.runtime, &se.config), (&Fact::Known(SelinuxMode::Disabled), &Fact::Known(None)));
    let aa = f.apparmor.known().unwrap();
    assert_eq!(aa.enabled, Fact::Known(true));
    assert_eq!(aa.loaded, Fact::Known(vec![]));
    assert_eq!(aa.installed, aa.disabled);
    assert_eq!(aa.installed.len(), 2);
    assert_eq!(f.running_vms, Fact::Known(vec![]));
    let conf = f.libvirtd.conf.known().unwrap();
    assert_eq!((conf.int("listen_tcp"), conf.str("auth_tcp")), (Some(1), Some("none")));
    assert!(f.libvirtd.args.known().unwrap().listen());
    assert_eq!(f.libvirtd.running.known().unwrap(), &vec![vec!["/usr/sbin/libvirtd".to_string(), "--listen".into()]]);
    assert_eq!(f.libvirtd.socket_units, Fact::Known(Some(vec![])), "systemd, libvirt's sockets not enabled");
    assert_eq!(f.libvirtd.listening, Fact::Known(vec![22, 16509]), "LISTEN sockets only, not the established one");
    let fw = f.firewall.known().unwrap();
    assert_eq!(fw.len(), 1);
    assert_eq!((fw[0].kind, fw[0].enabled, fw[0].default_deny), (FirewallKind::Ufw, true, true));
    assert!(fw[0].open.contains(&"5900:6100".parse::<PortRange>().unwrap()));
    let cg = f.cgroups.known().unwrap();
    assert!(cg.v1.is_empty());
    assert_eq!(cg.v2_mount.as_deref(), Some("/sys/fs/cgroup"));
    assert!(cg.v2.contains(&"io".to_string()));
    let io = f.iommu.known().unwrap();
    assert_eq!((io.dmar, io.ivrs, io.groups, io.units), (true, false, 2, 1));
    assert!(f.kernel_cmdline.known().unwrap().contains("intel_iommu=on"));
}

#[test]
fn ready_host_passes_every_profile() {
    let (_root, f) = facts("ready");
    for p in ProfileName::ALL {
        let r = p.profile().run(&f);
        assert!(!r.failed(), "{p}: {:#?}", r.checks.iter().filter(|c| c.status != Status::Pass).collect::<Vec<_>>());
        assert_eq!(r.count(Status::Unknown), 0, "{p}");
        let warned: Vec<_> = r.checks.iter().filter(|c| c.status == Status::Warn).map(|c| c.id.as_str()).collect();
        assert_eq!(warned, ["secure-guest"], "{p}: an Intel CPU without TDX cannot run encrypted guests");
        assert!(r.checks.iter().all(|c| !c.message.is_empty()), "every verdict says why");
    }
    let cs = Profile::cloudstack().run(&f);
    assert_eq!(cs.checks.len(), Profile::libvirt().checks.len() + 19);
    assert!(message(&cs, "hw-virt").contains("/proc/cpuinfo lists vmx"));
    assert!(message(&cs, "libvirtd-tcp").contains("port 16509 is listening"));
}

#[test]
fn no_kvm_fails_hardware_virtualization() {
    let (_root, f) = facts("no-kvm");
    let r = Profile::libvirt().run(&f);
    assert_eq!(status(&r, "hw-virt"), Status::Fail);
    assert!(message(&r, "hw-virt").contains("neither vmx nor svm"), "{}", message(&r, "hw-virt"));
    assert!(message(&r, "hw-virt").contains("cannot open /dev/kvm"));
    assert!(r.get("hw-virt").unwrap().remedy.as_deref().unwrap().contains("nested virtualization"));
    assert_eq!(status(&r, "dev-kvm"), Status::Fail);
    assert_eq!(status(&r, "dev-net-tun"), Status::Pass);
    assert!(message(&r, "iommu").contains("DMAR"), "the AMD CPU still has the fixture's DMAR table");
}

#[test]
fn unknown_kvm_is_unknown_never_a_pass() {
    let root = fixture("ready");
    std::fs::remove_file(root.join("kvmhost-facts/live.conf")).unwrap();
    let f = Gatherer::new(root.path()).gather();
    let r = Profile::libvirt().run(&f);
    assert_eq!(status(&r, "hw-virt"), Status::Unknown);
    assert!(message(&r, "hw-virt").contains("is not the live system"), "{}", message(&r, "hw-virt"));
    assert!(message(&r, "hw-virt").contains("lists vmx"));
    let cs = Profile::cloudstack().run(&f);
    assert_eq!(status(&cs, "ntp"), Status::Unknown);
    assert_eq!(status(&cs, "arch-x86-64"), Status::Unknown);
}

#[test]
fn empty_root_is_unknown_everywhere_it_must_be() {
    let root = preflight_support::TempRoot::new("empty");
    let f = Gatherer::new(root.path()).gather();
    let r = Profile::cloudstack().run(&f);
    for id in ["hw-virt", "dev-kvm", "cgroup-cpu", "iommu", "memory", "nic", "fqdn", "ntp", "no-running-vms"] {
        assert_eq!(status(&r, id), Status::Unknown, "{id}: {}", message(&r, id));
    }
    assert!(message(&r, "memory").contains("is empty or missing"), "{}", message(&r, "memory"));
    // Files that are simply absent are facts: no libvirt installed, no config (defaults).
    assert_eq!(status(&r, "libvirt-version"), Status::Fail);
    assert_eq!(message(&r, "libvirt-version"), "libvirt is not installed");
}

#[test]
fn unqualified_hostname() {
    let (root, f) = facts("not-fqdn");
    let r = Profile::cloudstack().run(&f);
    assert_eq!(status(&r, "fqdn"), Status::Fail);
    assert!(message(&r, "fqdn").contains("hostname --fqdn prints 'kvm1'"));
    assert!(r.get("fqdn").unwrap().remedy.as_deref().unwrap().contains("/etc/hosts"));
    // With a search domain only DNS could qualify it: a warning, since it is not queried.
    root.write("etc/resolv.conf", "search lab.example.org\nnameserver 192.168.42.1\n");
    let r = Profile::cloudstack().run(&Gatherer::new(root.path()).gather());
    assert_eq!(status(&r, "fqdn"), Status::Warn);
    assert!(r.get("fqdn").unwrap().remedy.as_deref().unwrap().contains("kvm1.lab.example.org kvm1"));
    // Archipel only recommends it.
    let a = Profile::archipel().run(&f);
    assert_eq!(a.get("fqdn").unwrap().severity, Severity::Recommended);
    assert_eq!(status(&a, "fqdn"), Status::Warn);
}

#[test]
fn clock_not_synchronised() {
    let (_root, f) = facts("clock-unsync");
    assert!(!f.clock.known().unwrap().synchronised);
    assert_eq!(f.time_daemons, Fact::Known(vec![]));
    let r = Profile::cloudstack().run(&f);
    assert_eq!(status(&r, "ntp"), Status::Fail);
    assert!(message(&r, "ntp").contains("not synchronised"));
    assert_eq!(
        r.get("ntp").unwrap().remedy.as_deref(),
        Some("apt-get install -y chrony && systemctl enable --now chrony")
    );
}

#[test]
fn selinux_enforcing() {
    let (_root, f) = facts("selinux-enforcing");
    let r = Profile::cloudstack().run(&f);
    let c = r.get("selinux").unwrap();
    assert_eq!(c.status, Status::Fail);
    assert!(c.message.contains("enforces now") && c.message.contains("SELINUX=enforcing"));
    assert_eq!(c.remedy.as_deref(), Some("setenforce permissive and set SELINUX=permissive in /etc/selinux/config"));
    assert_eq!(
        c.fixes,
        [Fix::ShellVar { file: "/etc/selinux/config".into(), name: "SELINUX".into(), value: "permissive".into() }]
    );
}

#[test]
fn apparmor_profiles_loaded() {
    let (_root, f) = facts("apparmor-loaded");
    let r = Profile::cloudstack().run(&f);
    let c = r.get("apparmor").unwrap();
    assert_eq!(c.status, Status::Fail);
    assert!(c.message.contains("/usr/sbin/libvirtd (enforce)"), "{}", c.message);
    assert!(c.remedy.as_deref().unwrap().contains("apparmor_parser -R /etc/apparmor.d/usr.sbin.libvirtd"));
    assert_eq!(c.fixes.len(), 2);
    assert!(c.fixes.contains(&Fix::Symlink {
        path: "/etc/apparmor.d/disable/usr.sbin.libvirtd".into(),
        target: "/etc/apparmor.d/usr.sbin.libvirtd".into()
    }));
}

#[test]
fn libvirt_too_old_for_open_vswitch() {
    let (root, f) = facts("libvirt-old");
    let r = Profile::cloudstack().run(&f);
    assert_eq!(status(&r, "libvirt-version"), Status::Fail);
    assert_eq!(
        message(&r, "libvirt-version"),
        "libvirt 0.9.8 is older than 0.9.11 (Open vSwitch is installed) (dpkg: libvirt-bin 0.9.8-2ubuntu17)"
    );
    assert_eq!(status(&r, "ovs-version"), Status::Fail);
    assert!(message(&r, "ovs-version").starts_with("Open vSwitch 1.4.0 is older than 1.7.1"));
    assert_eq!(status(&r, "qemu-version"), Status::Pass, "QEMU 1.0 is enough");
    assert_eq!(status(&r, "libvirtd-mdns"), Status::Pass, "old libvirt, mdns_adv = 0 set explicitly");
    // Without Open vSwitch, libvirt 0.9.8 is new enough (>= 0.9.4).
    let status_file = root.read("var/lib/dpkg/status");
    let without_ovs: Vec<&str> = status_file.split("\n\n").filter(|s| !s.contains("openvswitch")).collect();
    root.write("var/lib/dpkg/status", &without_ovs.join("\n\n"));
    std::fs::remove_file(root.join("var/lib/dpkg/info/openvswitch-switch.list")).unwrap();
    let r = Profile::cloudstack().run(&Gatherer::new(root.path()).gather());
    assert_eq!(status(&r, "libvirt-version"), Status::Pass, "{}", message(&r, "libvirt-version"));
    assert_eq!(status(&r, "ovs-version"), Status::Pass);
}

#[test]
fn dpkg_database_sorted_or_not() {
    let root = fixture("libvirt-old");
    // dpkg writes its database sorted by name; a hand-made unsorted one is still read right,
    // since dpkg lists the files of every installed package.
    let mut stanzas: Vec<String> = root.read("var/lib/dpkg/status").split("\n\n").map(str::to_string).collect();
    stanzas.reverse();
    root.write("var/lib/dpkg/status", &stanzas.join("\n\n"));
    let f = Gatherer::new(root.path()).gather();
    assert_eq!(f.libvirt.known().unwrap().as_ref().unwrap().version, Version::new(&[0, 9, 8]));
    assert_eq!(f.qemu.known().unwrap().as_ref().unwrap().version, Version::new(&[1, 0]));
    assert_eq!(f.ovs.known().unwrap().as_ref().unwrap().version, Version::new(&[1, 4, 0]));
    // A large sorted database: every package found by bisection, absent ones absent.
    let mut big = String::new();
    for i in 0..5000 {
        big.push_str(&format!(
            "Package: aaa-filler-{i:05}\nStatus: install ok installed\nVersion: 1.{i}\nDescription: ü\n\n"
        ));
    }
    big.push_str("Package: libvirt-daemon\nStatus: install ok installed\nVersion: 10.0.0-2\n\n");
    big.push_str("Package: qemu-system-x86\nStatus: install ok installed\nVersion: 1:8.2.2+ds-0ubuntu1\n");
    root.write("var/lib/dpkg/status", &big);
    let f = Gatherer::new(root.path()).gather();
    assert_eq!(f.libvirt.known().unwrap().as_ref().unwrap().version, Version::new(&[10, 0, 0]));
    assert_eq!(f.qemu.known().unwrap().as_ref().unwrap().version, Version::new(&[8, 2, 2]));
    assert_eq!(f.ovs, Fact::Known(None));
}

#[test]
fn libvirtd_not_listening_on_tcp() {
    let (_root, f) = facts("no-tcp");
    let r = Profile::cloudstack().run(&f);
    let tcp = r.get("libvirtd-tcp").unwrap();
    assert_eq!(tcp.status, Status::Fail);
    assert!(tcp.message.contains("listen_tcp unset") && tcp.message.contains("LIBVIRTD_ARGS unset"), "{}", tcp.message);
    assert_eq!(
        tcp.fixes,
        [
            Fix::Virconf { file: "/etc/libvirt/libvirtd.conf".into(), key: "listen_tcp".into(), value: Value::Int(1) },
            Fix::ShellArg {
                file: "/etc/default/libvirtd".into(),
                name: "LIBVIRTD_ARGS".into(),
                arg: "--listen".into(),
                present: vec!["--listen".into(), "-l".into()]
            },
        ]
    );
    assert_eq!(status(&r, "libvirtd-listen-tls"), Status::Warn);
    assert_eq!(status(&r, "libvirtd-auth-tcp"), Status::Fail);
    assert_eq!(status(&r, "vnc-listen"), Status::Fail);
    assert_eq!(status(&r, "libvirtd-tcp-port"), Status::Pass, "libvirt's default port");
    // With systemd socket activation, TCP is a socket unit, not a file edit.
    let (root, _) = facts("no-tcp");
    root.write("etc/systemd/system/sockets.target.wants/libvirtd.socket", "");
    let r = Profile::cloudstack().run(&Gatherer::new(root.path()).gather());
    let tcp = r.get("libvirtd-tcp").unwrap();
    assert_eq!(tcp.status, Status::Fail);
    assert!(tcp.message.contains("libvirtd-tcp.socket not enabled"), "{}", tcp.message);
    assert_eq!(
        tcp.remedy.as_deref(),
        Some("systemctl stop libvirtd.service && systemctl enable --now libvirtd-tcp.socket && systemctl start libvirtd.service")
    );
    assert!(tcp.fixes.is_empty());
    assert_eq!(status(&r, "libvirtd-listen-tls"), Status::Pass, "listen_tls is ignored under socket activation");
    let a = Profile::archipel().run(&f);
    assert_eq!(status(&a, "spice-listen"), Status::Fail);
    assert_eq!(status(&a, "max-clients"), Status::Pass, "unset: libvirt 9.0's default is 5000");
}

#[test]
fn running_vms() {
    let (_root, f) = facts("vms-running");
    let vms = f.running_vms.known().unwrap();
    let names: Vec<_> = vms.iter().map(|v| (v.name.as_str(), v.source.as_str())).collect();
    assert_eq!(names, [("web1", "/run/libvirt/qemu/web1.pid"), ("scratch", "process 4300 (qemu-system-x86)")]);
    let r = Profile::cloudstack().run(&f);
    assert_eq!(status(&r, "no-running-vms"), Status::Fail);
    assert!(message(&r, "no-running-vms").starts_with("2 VM(s) running: web1"));
    assert_eq!(status(&Profile::libvirt().run(&f), "hw-virt"), Status::Pass, "running VMs are no libvirt problem");
}

#[test]
fn cgroup_v1_layout() {
    let (_root, f) = facts("cgroup-v1");
    let cg = f.cgroups.known().unwrap();
    assert_eq!(cg.v2_mount, None);
    let r = Profile::libvirt().run(&f);
    for c in ["cpu", "cpuacct", "cpuset", "memory", "devices", "blkio"] {
        let id = format!("cgroup-{c}");
        assert_eq!(status(&r, &id), Status::Pass, "{id}");
        assert!(message(&r, &id).contains("cgroup v1"), "{}", message(&r, &id));
    }
}

#[test]
fn cgroup_v2_missing_controllers() {
    let (_root, f) = facts("cgroup-v2-partial");
    assert_eq!(f.cgroups.known().unwrap().v2_mount.as_deref(), Some("/sys/fs/cgroup v2"), "\\040 decoded");
    let r = Profile::libvirt().run(&f);
    for (c, s) in [
        ("cpu", Status::Pass),
        ("cpuacct", Status::Pass),
        ("memory", Status::Pass),
        ("devices", Status::Pass),
        ("cpuset", Status::Warn),
        ("blkio", Status::Warn),
    ] {
        assert_eq!(status(&r, &format!("cgroup-{c}")), s, "{c}: {}", message(&r, &format!("cgroup-{c}")));
    }
    assert!(message(&r, "cgroup-blkio").contains("offers cpu, memory, pids"));
    assert!(r.get("cgroup-blkio").unwrap().remedy.as_deref().unwrap().contains("echo +io >"));
}

#[test]
fn malformed_configuration_files() {
    let (_root, f) = facts("malformed");
    let conf = f.libvirtd.conf.as_result().unwrap_err();
    assert!(conf.ends_with("etc/libvirt/libvirtd.conf:4:12: unterminated string"), "{conf}");
    let qemu = f.libvirtd.qemu_conf.as_result().unwrap_err();
    assert!(qemu.ends_with("etc/libvirt/qemu.conf:1:15: expecting a separator"), "{qemu}");
    let args = f.libvirtd.args.as_result().unwrap_err();
    assert!(args.ends_with("etc/default/libvirtd:2:1: expecting NAME=VALUE"), "{args}");
    let r = Profile::cloudstack().run(&f);
    assert_eq!(status(&r, "libvirt-config"), Status::Fail);
    assert!(message(&r, "libvirt-config").contains("libvirtd.conf:4:12"));
    for id in ["libvirtd-tcp", "libvirtd-auth-tcp", "vnc-listen"] {
        assert_eq!(status(&r, id), Status::Unknown, "{id}");
    }
}

#[test]
fn json_contract() {
    let (_root, f) = facts("no-tcp");
    let r = Profile::cloudstack().run(&f);
    let v: serde_json::Value = serde_json::to_value(r.contract()).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["checks"]);
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), r.checks.len());
    for c in checks {
        let mut keys: Vec<_> = c.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["id", "message", "remedy", "status"]);
        let s = c["status"].as_str().unwrap();
        assert!(["pass", "warn", "fail", "unknown"].contains(&s));
        assert_eq!(c["remedy"].is_null(), s == "pass" || s == "unknown", "{c}");
    }
    // Facts and reports round-trip through serde.
    let back: HostFacts = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
    assert_eq!(back, f);
    let back: Report = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
    assert_eq!(back, r);
}

#[test]
fn composed_profile() {
    let (_root, f) = facts("not-fqdn");
    let p = Profile::cloudstack()
        .without("bridges")
        .with(kvmhost_core::preflight::checks::cloudstack::fqdn().with_severity(Severity::Recommended));
    let r = p.run(&f);
    assert!(r.get("bridges").is_none());
    assert_eq!(status(&r, "fqdn"), Status::Warn);
    assert!(!r.failed());
}

#[test]
fn firewall_configurations() {
    let (root, _) = facts("ready");
    let cs = Profile::cloudstack();
    // ufw without the console ports: the missing ranges and ufw's commands for them.
    let rules = root.read("etc/ufw/user.rules").replace("5900:6100", "5900:5999");
    root.write("etc/ufw/user.rules", &rules);
    let r = cs.run(&Gatherer::new(root.path()).gather());
    let c = r.get("firewall-ports").unwrap();
    assert_eq!(c.status, Status::Fail);
    assert_eq!(c.message, "ufw (/etc/ufw/ufw.conf) does not open 5900-6100");
    assert_eq!(c.remedy.as_deref(), Some("ufw allow proto tcp from any to any port 5900:6100   # VNC/SPICE consoles"));
    // ufw disabled, iptables rules saved by netfilter-persistent with a DROP policy.
    root.write("etc/ufw/ufw.conf", "ENABLED=no\n");
    root.write(
        "etc/iptables/rules.v4",
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n\
         -A INPUT -p tcp -m multiport --dports 1798,16509,16514,5900:6100,49152:49216 -j ACCEPT\nCOMMIT\n",
    );
    let r = cs.run(&Gatherer::new(root.path()).gather());
    assert_eq!(r.get("firewall-ports").unwrap().status, Status::Pass, "{}", message(&r, "firewall-ports"));
    // nftables with a drop policy and a set lacking migration.
    std::fs::remove_file(root.join("etc/iptables/rules.v4")).unwrap();
    root.write(
        "etc/nftables.conf",
        "table inet filter {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    \
         tcp dport { 22, 1798, 16509, 16514, 5900-6100 } accept # consoles\n  }\n}\n",
    );
    root.write("etc/systemd/system/sysinit.target.wants/nftables.service", "");
    let r = cs.run(&Gatherer::new(root.path()).gather());
    let c = r.get("firewall-ports").unwrap();
    assert_eq!(c.message, "nftables (/etc/nftables.conf) does not open 49152-49216");
    assert!(c
        .remedy
        .as_deref()
        .unwrap()
        .starts_with("nft add rule inet filter input tcp dport { 49152-49216 } accept"));
    // firewalld, its zone opening everything but 1798.
    std::fs::remove_file(root.join("etc/nftables.conf")).unwrap();
    root.write("etc/firewalld/firewalld.conf", "DefaultZone=internal\n");
    root.write("etc/systemd/system/multi-user.target.wants/firewalld.service", "");
    root.write(
        "etc/firewalld/zones/internal.xml",
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<zone>\n  <short>Internal</short>\n  <service name=\"ssh\"/>\n  \
         <service name=\"libvirt\"/>\n  <service name=\"libvirt-tls\"/>\n  <port protocol=\"tcp\" port=\"5900-6100\"/>\n  \
         <port protocol=\"tcp\" port=\"49152-49216\"/>\n  <port protocol=\"udp\" port=\"1798\"/>\n</zone>\n",
    );
    let r = cs.run(&Gatherer::new(root.path()).gather());
    let c = r.get("firewall-ports").unwrap();
    assert_eq!(c.message, "firewalld (/etc/firewalld/firewalld.conf) does not open 1798", "UDP is not TCP");
    assert_eq!(
        c.remedy.as_deref(),
        Some("firewall-cmd --permanent --add-port=1798/tcp   # CloudStack agent\nfirewall-cmd --reload")
    );
    // No firewall configured, but iptables tables loaded at run time: unknown, not a pass.
    std::fs::remove_file(root.join("etc/systemd/system/multi-user.target.wants/firewalld.service")).unwrap();
    root.write("proc/net/ip_tables_names", "filter\n");
    let r = cs.run(&Gatherer::new(root.path()).gather());
    assert_eq!(r.get("firewall-ports").unwrap().status, Status::Unknown, "{}", message(&r, "firewall-ports"));
}

#[test]
fn hostile_roots_do_not_hang_or_crash() {
    let root = fixture("ready");
    // A FIFO where a configuration file is expected would block a plain open forever.
    for p in ["etc/libvirt/libvirtd.conf", "etc/hostname", "proc/1234/cmdline"] {
        let path = root.join(p);
        std::fs::remove_file(&path).unwrap();
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    }
    // A symlink loop and a directory where files are expected.
    std::os::unix::fs::symlink("loop", root.join("etc/loop")).unwrap();
    std::fs::rename(root.join("etc/loop"), root.join("etc/os-release")).unwrap();
    std::fs::remove_file(root.join("proc/meminfo")).unwrap();
    std::fs::create_dir(root.join("proc/meminfo")).unwrap();
    let f = Gatherer::new(root.path()).gather();
    let conf = f.libvirtd.conf.as_result().unwrap_err();
    assert!(conf.contains("not a regular file"), "{conf}");
    assert!(f.os.as_result().is_err());
    assert!(f.memory.as_result().is_err());
    let h = f.hostname.as_result().unwrap_err();
    assert!(h.contains("no host name"), "{h}");
    let r = Profile::cloudstack().run(&f);
    assert_eq!(status(&r, "libvirt-config"), Status::Fail);
    assert_eq!(status(&r, "memory"), Status::Unknown);
}
