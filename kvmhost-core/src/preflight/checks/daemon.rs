//! libvirt daemon settings: TCP listening for migration, its authentication and port, mDNS,
//! console listen addresses, the client limit.

use super::{known, remote_daemon};
use crate::config::Value;
use crate::preflight::{Check, ConfFile, Fact, Fix, HostFacts, Severity, Verdict, Version};

/// The TCP port libvirt listens on by default.
pub const LIBVIRT_TCP_PORT: u16 = 16509;

/// Whether libvirt's main socket is systemd-activated (then `libvirtd-tcp.socket` decides TCP).
fn socket_activated(f: &HostFacts) -> Option<&Vec<String>> {
    match &f.libvirtd.socket_units {
        Fact::Known(Some(u)) if u.iter().any(|u| u == "libvirtd.socket" || u == "virtproxyd.socket") => Some(u),
        _ => None,
    }
}

fn args_file(f: &HostFacts) -> (String, String) {
    if let Fact::Known(a) = &f.libvirtd.args {
        if let Some(file) = &a.file {
            return (file.clone(), a.variable.clone());
        }
    }
    let rhel = f.os.known().is_some_and(|o| o.is_like("rhel") || o.is_like("fedora") || o.is_like("centos"));
    let file = if rhel { "/etc/sysconfig/libvirtd" } else { "/etc/default/libvirtd" };
    (file.into(), "LIBVIRTD_ARGS".into())
}

fn shown(v: &Value) -> String {
    v.to_string()
}

/// `libvirtd-tcp`: libvirt accepts TCP connections (live migration between hosts).
pub fn tcp() -> Check {
    Check::new("libvirtd-tcp", "libvirt listens for TCP (migration)", Severity::Required, |f: &HostFacts| {
        let (daemon, conf) = remote_daemon(f);
        let conf = match known(conf, daemon) {
            Ok(c) => c,
            Err(v) => return v,
        };
        let port = conf.str("tcp_port").and_then(|p| p.parse::<u16>().ok()).unwrap_or(LIBVIRT_TCP_PORT);
        let listening = f.libvirtd.listening.known().map(|l| l.contains(&port));
        let (configured, how, remedy, fixes) = if let Some(units) = socket_activated(f) {
            let unit = format!("{daemon}-tcp.socket");
            let on = units.contains(&unit);
            let remedy = format!(
                "systemctl stop {daemon}.service && systemctl enable --now {unit} && systemctl start {daemon}.service"
            );
            (
                on,
                format!("systemd socket activation, {unit} {}", if on { "enabled" } else { "not enabled" }),
                remedy,
                vec![],
            )
        } else {
            let args = match known(&f.libvirtd.args, "the daemon's arguments") {
                Ok(a) => a,
                Err(v) => return v,
            };
            let tcp_on = conf.int("listen_tcp") == Some(1);
            let (file, var) = args_file(f);
            let arg = if var == "libvirtd_opts" { "-l" } else { "--listen" };
            let mut fixes = Vec::new();
            let mut steps = Vec::new();
            if !tcp_on {
                fixes.push(Fix::Virconf { file: conf.path.clone(), key: "listen_tcp".into(), value: Value::Int(1) });
                steps.push(format!("set listen_tcp = 1 in {}", conf.path));
            }
            if !args.listen() {
                fixes.push(Fix::ShellArg {
                    file: file.clone(),
                    name: var.clone(),
                    arg: arg.into(),
                    present: vec!["--listen".into(), "-l".into()],
                });
                steps.push(format!("add {arg} to {var} in {file}"));
            }
            steps.push(format!("restart {daemon}"));
            let how = format!(
                "listen_tcp {} in {}, {} {}",
                conf.int("listen_tcp").map_or("unset (libvirt's default 0)".to_string(), |v| format!("= {v}")),
                conf.path,
                var,
                args.value.as_deref().map_or("unset".to_string(), |v| format!("= {v:?}")),
            );
            (tcp_on && args.listen(), how, steps.join(", "), fixes)
        };
        match (configured, listening) {
            (true, Some(true)) | (true, None) => {
                let now = if listening.is_some() { format!("; port {port} is listening") } else { String::new() };
                Verdict::Pass(format!("{daemon} is configured to listen on TCP port {port} ({how}){now}"))
            }
            (true, Some(false)) => Verdict::problem(
                format!("{daemon} is configured to listen on TCP ({how}) but nothing listens on port {port}: not restarted since, or not running"),
                format!("restart {daemon}"),
            ),
            (false, Some(true)) => Verdict::Advice {
                message: format!("port {port} listens now, but the configuration does not make {daemon} listen after a restart ({how})"),
                remedy,
                fixes,
            },
            (false, _) => Verdict::Problem {
                message: format!("{daemon} does not listen on TCP ({how}): live migration between hosts fails"),
                remedy,
                fixes,
            },
        }
    })
}

/// A setting of the remote daemon's file (or `qemu.conf` when `qemu` is set): passes when
/// `ok` accepts the effective value (libvirt's `default` when unset), else fixes it to `want`.
#[allow(clippy::too_many_arguments)]
pub fn setting(
    id: &str,
    title: &str,
    severity: Severity,
    qemu: bool,
    key: &'static str,
    default: Value,
    want: Value,
    ok: fn(&Value) -> bool,
    why: &'static str,
) -> Check {
    Check::new(id, title, severity, move |f: &HostFacts| {
        let (daemon, conf): (&str, &Fact<ConfFile>) =
            if qemu { ("QEMU driver", &f.libvirtd.qemu_conf) } else { remote_daemon(f) };
        let conf = match known(conf, daemon) {
            Ok(c) => c,
            Err(v) => return v,
        };
        let (value, whence) = match conf.get(key) {
            Some(v) => (v.clone(), format!("set in {}", conf.path)),
            None => (default.clone(), format!("libvirt's default, unset in {}", conf.path)),
        };
        if ok(&value) {
            return Verdict::Pass(format!("{key} = {} ({whence})", shown(&value)));
        }
        Verdict::Problem {
            message: format!("{key} is {} ({whence}): {why}", shown(&value)),
            remedy: format!("set {key} = {} in {}, then restart libvirt", shown(&want), conf.path),
            fixes: vec![Fix::Virconf { file: conf.path.clone(), key: key.into(), value: want.clone() }],
        }
    })
}

fn any_address(v: &Value) -> bool {
    matches!(v, Value::String(s) if s == "0.0.0.0" || s == "::" || s == "[::]")
}

/// `libvirtd-listen-tls`: `listen_tls = 0`, as the guide sets it.
pub fn listen_tls() -> Check {
    Check::new(
        "libvirtd-listen-tls",
        "libvirt's TLS listener off (listen_tls = 0)",
        Severity::Recommended,
        |f: &HostFacts| {
            if let Some(units) = socket_activated(f) {
                let on = units.iter().any(|u| u.ends_with("-tls.socket"));
                return Verdict::Pass(format!(
                    "systemd socket activation: listen_tls is ignored, the TLS socket unit is {}",
                    if on { "enabled" } else { "not enabled" }
                ));
            }
            let c = setting(
                "libvirtd-listen-tls",
                "",
                Severity::Recommended,
                false,
                "listen_tls",
                Value::Int(1),
                Value::Int(0),
                |v| *v == Value::Int(0),
                "with --listen, libvirtd refuses to start without TLS certificates (/etc/pki/libvirt/servercert.pem); \
             the CloudStack guide turns TLS off",
            );
            c.verdict(f)
        },
    )
}

/// `libvirtd-auth-tcp`: `auth_tcp = "none"` (the CloudStack agent connects without SASL).
pub fn auth_tcp() -> Check {
    setting(
        "libvirtd-auth-tcp",
        "libvirt TCP without SASL (auth_tcp = \"none\")",
        Severity::Required,
        false,
        "auth_tcp",
        Value::from("sasl"),
        Value::from("none"),
        |v| *v == Value::from("none"),
        "CloudStack's agents connect to each other over qemu+tcp without credentials, so migrations fail \
         (the guide sets auth_tcp = \"none\"; keep the port firewalled to the cluster)",
    )
}

/// `libvirtd-tcp-port`: libvirt's TCP port is 16509.
pub fn tcp_port() -> Check {
    setting(
        "libvirtd-tcp-port",
        "libvirt TCP port 16509",
        Severity::Recommended,
        false,
        "tcp_port",
        Value::from("16509"),
        Value::from("16509"),
        |v| *v == Value::from("16509"),
        "CloudStack and the firewall rules expect 16509",
    )
}

/// `libvirtd-mdns`: no mDNS advertisement (`mdns_adv = 0`).
pub fn mdns() -> Check {
    Check::new("libvirtd-mdns", "no mDNS advertisement (mdns_adv = 0)", Severity::Recommended, |f: &HostFacts| {
        let (daemon, conf) = remote_daemon(f);
        let conf = match known(conf, daemon) {
            Ok(c) => c,
            Err(v) => return v,
        };
        let version = f.libvirt.known().and_then(|p| p.as_ref()).map(|p| &p.version);
        if let Some(v) = version.filter(|v| **v >= Version::new(&[5, 5])) {
            return Verdict::Pass(format!(
                "libvirt {v} has no mDNS advertisement (removed in 5.5): mdns_adv is ignored"
            ));
        }
        let fix = vec![Fix::Virconf { file: conf.path.clone(), key: "mdns_adv".into(), value: Value::Int(0) }];
        let remedy = format!("set mdns_adv = 0 in {}, then restart libvirt", conf.path);
        match conf.int("mdns_adv") {
            Some(0) => Verdict::Pass(format!("mdns_adv = 0 in {}", conf.path)),
            Some(v) => Verdict::Problem {
                message: format!("mdns_adv = {v} in {}: libvirt advertises itself over mDNS", conf.path),
                remedy,
                fixes: fix,
            },
            None => Verdict::Advice {
                message: format!(
                    "mdns_adv is unset in {}: older libvirt advertised over mDNS; the guide sets it to 0",
                    conf.path
                ),
                remedy,
                fixes: fix,
            },
        }
    })
}

/// `vnc-listen`: QEMU's VNC consoles listen on every address (`vnc_listen = "0.0.0.0"`).
pub fn vnc_listen() -> Check {
    setting(
        "vnc-listen",
        "VNC consoles reachable (vnc_listen = \"0.0.0.0\")",
        Severity::Required,
        true,
        "vnc_listen",
        Value::from("127.0.0.1"),
        Value::from("0.0.0.0"),
        any_address,
        "guest consoles are reachable from this host only, not from the console proxy",
    )
}

/// `spice-listen`: QEMU's SPICE consoles listen on every address (`spice_listen = "0.0.0.0"`).
pub fn spice_listen() -> Check {
    setting(
        "spice-listen",
        "SPICE consoles reachable (spice_listen = \"0.0.0.0\")",
        Severity::Required,
        true,
        "spice_listen",
        Value::from("127.0.0.1"),
        Value::from("0.0.0.0"),
        any_address,
        "SPICE consoles are reachable from this host only (Archipel's notes set 0.0.0.0)",
    )
}

/// Clients Archipel's notes ask libvirt to accept.
pub const ARCHIPEL_MAX_CLIENTS: i64 = 200;

/// `max-clients`: libvirt accepts enough clients for many managed VMs.
pub fn max_clients() -> Check {
    Check::new("max-clients", "libvirt accepts 200 clients (max_clients)", Severity::Recommended, |f: &HostFacts| {
        let (daemon, conf) = remote_daemon(f);
        let conf = match known(conf, daemon) {
            Ok(c) => c,
            Err(v) => return v,
        };
        let fixes = vec![Fix::Virconf {
            file: conf.path.clone(),
            key: "max_clients".into(),
            value: Value::Int(ARCHIPEL_MAX_CLIENTS),
        }];
        let remedy = format!("set max_clients = {ARCHIPEL_MAX_CLIENTS} in {}, then restart libvirt", conf.path);
        match conf.int("max_clients") {
            Some(n) if n >= ARCHIPEL_MAX_CLIENTS => Verdict::Pass(format!("max_clients = {n} in {}", conf.path)),
            Some(n) => Verdict::Problem {
                message: format!(
                    "max_clients = {n} in {}: with many VMs, clients fail with \"Failed to reconnect to the hypervisor\"",
                    conf.path
                ),
                remedy,
                fixes,
            },
            None => match f.libvirt.known().and_then(|p| p.as_ref()) {
                Some(p) if p.version >= Version::new(&[2]) => Verdict::Pass(format!(
                    "max_clients unset in {}: libvirt {}'s default is 5000",
                    conf.path, p.version
                )),
                _ => Verdict::Problem {
                    message: format!(
                        "max_clients unset in {}: the libvirt of Archipel's notes allowed only 20 clients by default",
                        conf.path
                    ),
                    remedy,
                    fixes,
                },
            },
        }
    })
}
