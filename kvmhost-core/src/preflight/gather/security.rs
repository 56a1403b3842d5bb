//! SELinux, AppArmor and host firewalls.

use super::Root;
use crate::config::firewall::{FirewallKind, PortRange};
use crate::config::{SelinuxMode, ShellVars};
use crate::preflight::{AppArmor, Fact, Firewall, Selinux};

pub(crate) fn selinux(r: &Root) -> Fact<Selinux> {
    let runtime = match r.pseudo("sys") {
        Err(e) => Fact::Unknown(e),
        Ok(()) => match r.value("/sys/fs/selinux/enforce").as_deref() {
            Some("1") => Fact::Known(SelinuxMode::Enforcing),
            Some("0") => Fact::Known(SelinuxMode::Permissive),
            Some(other) => Fact::Unknown(format!("{} holds {other:?}", r.show("/sys/fs/selinux/enforce"))),
            None => Fact::Known(SelinuxMode::Disabled),
        },
    };
    let config = match r.read("/etc/selinux/config") {
        Err(e) => Fact::Unknown(e),
        Ok(None) => Fact::Known(None),
        Ok(Some(text)) => match ShellVars::parse_named(&r.show("/etc/selinux/config"), &text) {
            Err(e) => Fact::Unknown(e.to_string()),
            Ok(v) => match v.get("SELINUX") {
                None => Fact::Known(None),
                Some(m) => m
                    .parse::<SelinuxMode>()
                    .map(Some)
                    .map_err(|e| format!("{}: SELINUX: {e}", r.show("/etc/selinux/config")))
                    .into(),
            },
        },
    };
    Fact::Known(Selinux { runtime, config })
}

fn is_libvirt_profile(name: &str) -> bool {
    name.contains("libvirt") || name.contains("virt-aa-helper")
}

pub(crate) fn apparmor(r: &Root) -> Fact<AppArmor> {
    let installed: Vec<String> = r
        .list("/etc/apparmor.d")
        .into_iter()
        .filter(|n| is_libvirt_profile(n) && !r.is_dir(&format!("/etc/apparmor.d/{n}")))
        .collect();
    let disabled: Vec<String> =
        r.list("/etc/apparmor.d/disable").into_iter().filter(|n| is_libvirt_profile(n)).collect();
    let (enabled, loaded) = match r.pseudo("sys") {
        Err(e) => (Fact::Unknown(e.clone()), Fact::Unknown(e)),
        Ok(()) => {
            let on = r.value("/sys/module/apparmor/parameters/enabled").is_some_and(|v| v.starts_with('Y'));
            let loaded = if !on {
                Fact::Known(Vec::new())
            } else {
                match r.read("/sys/kernel/security/apparmor/profiles") {
                    Ok(Some(list)) => Fact::Known(
                        list.lines().filter(|l| is_libvirt_profile(l)).map(|l| l.trim().to_string()).collect(),
                    ),
                    Ok(None) => Fact::Unknown(format!(
                        "{} is missing (securityfs not mounted)",
                        r.show("/sys/kernel/security/apparmor/profiles")
                    )),
                    Err(e) => Fact::Unknown(e),
                }
            };
            (Fact::Known(on), loaded)
        }
    };
    Fact::Known(AppArmor { enabled, loaded, installed, disabled })
}

/// Adds the ports of `spec` (`22`, `5900:6100`, `5900-6100`, `22,80`) to `open`.
fn add_ports(open: &mut Vec<PortRange>, spec: &str) {
    for p in spec.split(',') {
        if let Ok(range) = p.trim().parse::<PortRange>() {
            open.push(range);
        }
    }
}

fn systemd_enabled(r: &Root, unit: &str) -> bool {
    ["multi-user.target.wants", "sysinit.target.wants", "basic.target.wants"]
        .iter()
        .any(|t| r.exists(&format!("/etc/systemd/system/{t}/{unit}")))
}

fn ufw(r: &Root) -> Option<Firewall> {
    let conf = r.read("/etc/ufw/ufw.conf").ok()??;
    let enabled = ShellVars::parse(&conf).ok().and_then(|v| v.get("ENABLED").map(|e| e == "yes")).unwrap_or(false);
    let policy = r.read("/etc/default/ufw").ok().flatten().and_then(|t| ShellVars::parse(&t).ok());
    let default_deny = policy.and_then(|v| v.get("DEFAULT_INPUT_POLICY").map(|p| p != "ACCEPT")).unwrap_or(true);
    let mut open = Vec::new();
    for f in ["/etc/ufw/user.rules", "/etc/ufw/user6.rules"] {
        let Ok(Some(text)) = r.read(f) else { continue };
        for line in text.lines() {
            let Some(t) = line.strip_prefix("### tuple ### ") else { continue };
            let w: Vec<&str> = t.split_whitespace().collect();
            if w.len() > 2 && w[0].starts_with("allow") && (w[1] == "tcp" || w[1] == "any") && w[2] != "any" {
                add_ports(&mut open, w[2]);
            }
        }
    }
    Some(Firewall { kind: FirewallKind::Ufw, source: "/etc/ufw/ufw.conf".into(), enabled, default_deny, open })
}

fn firewalld(r: &Root) -> Option<Firewall> {
    let conf = r.read("/etc/firewalld/firewalld.conf").ok()??;
    let zone = ShellVars::parse(&conf).ok().and_then(|v| v.get("DefaultZone").map(str::to_string));
    let zone = zone.unwrap_or_else(|| "public".into());
    let enabled = systemd_enabled(r, "firewalld.service");
    let file = [format!("/etc/firewalld/zones/{zone}.xml"), format!("/usr/lib/firewalld/zones/{zone}.xml")]
        .into_iter()
        .find(|f| r.exists(f));
    let mut open = Vec::new();
    let mut default_deny = true;
    if let Some(doc) = file.and_then(|f| r.read(&f).ok().flatten()).and_then(|t| crate::xml::Document::parse(&t).ok()) {
        default_deny = !matches!(doc.root.attr("target"), Some("ACCEPT"));
        for el in doc.root.elements() {
            match el.name.as_str() {
                "port" if el.attr("protocol") == Some("tcp") => add_ports(&mut open, el.attr("port").unwrap_or("")),
                "service" => match el.attr("name") {
                    Some("ssh") => open.push(PortRange::single(22)),
                    Some("libvirt") => open.push(PortRange::single(16509)),
                    Some("libvirt-tls") => open.push(PortRange::single(16514)),
                    Some("vnc-server") => open.push(PortRange { first: 5900, last: 5903 }),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    let source = "/etc/firewalld/firewalld.conf".into();
    Some(Firewall { kind: FirewallKind::Firewalld, source, enabled, default_deny, open })
}

fn nftables(r: &Root) -> Option<Firewall> {
    let text = r.read("/etc/nftables.conf").ok()??;
    let enabled = systemd_enabled(r, "nftables.service");
    let code: String = text.lines().map(|l| l.split('#').next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let default_deny = code.contains("hook input") && code.contains("policy drop");
    let mut open = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("tcp dport") {
        rest = &rest[i + 9..];
        let stmt = rest.split(['\n', ';']).next().unwrap_or("");
        if !stmt.contains("accept") {
            continue;
        }
        let ports = match stmt.trim_start().strip_prefix('{') {
            Some(set) => set.split('}').next().unwrap_or(""),
            None => stmt.split_whitespace().next().unwrap_or(""),
        };
        add_ports(&mut open, ports);
    }
    Some(Firewall { kind: FirewallKind::Nftables, source: "/etc/nftables.conf".into(), enabled, default_deny, open })
}

fn iptables(r: &Root) -> Option<Firewall> {
    let (file, text) = ["/etc/iptables/rules.v4", "/etc/sysconfig/iptables"]
        .into_iter()
        .find_map(|f| r.read(f).ok().flatten().map(|t| (f, t)))?;
    let mut open = Vec::new();
    let mut default_deny = false;
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.first().is_some_and(|c| *c == ":INPUT") && w.get(1).is_some_and(|p| *p == "DROP" || *p == "REJECT") {
            default_deny = true;
        }
        if w.len() < 2 || w[0] != "-A" || w[1] != "INPUT" {
            continue;
        }
        let arg = |k: &str| w.iter().position(|x| *x == k).and_then(|i| w.get(i + 1)).copied();
        match arg("-j") {
            Some("ACCEPT") if arg("-p") == Some("tcp") => {
                if let Some(p) = arg("--dport").or_else(|| arg("--dports")) {
                    add_ports(&mut open, p);
                }
            }
            Some("DROP" | "REJECT") if arg("-p").is_none() && arg("-s").is_none() && arg("-i").is_none() => {
                default_deny = true;
            }
            _ => {}
        }
    }
    let enabled = file == "/etc/iptables/rules.v4" || systemd_enabled(r, "iptables.service");
    Some(Firewall { kind: FirewallKind::Iptables, source: file.into(), enabled, default_deny, open })
}

pub(crate) fn firewall(r: &Root) -> Fact<Vec<Firewall>> {
    Fact::Known([ufw(r), firewalld(r), nftables(r), iptables(r)].into_iter().flatten().collect())
}

pub(crate) fn iptables_tables(r: &Root) -> Fact<Vec<String>> {
    if let Err(e) = r.pseudo("proc") {
        return Fact::Unknown(e);
    }
    match r.value("/proc/net/ip_tables_names") {
        Some(v) => Fact::Known(v.split_whitespace().map(str::to_string).collect()),
        None => Fact::Known(Vec::new()),
    }
}
