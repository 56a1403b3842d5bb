//! CPU, memory, OS, network interfaces, host name, NTP, processes.

use super::{Proc, Root};
use crate::config::ShellVars;
use crate::preflight::{CpuInfo, Fact, Hostname, Interface, Memory, OsRelease, TimeDaemon};

/// Processes whose command line is read.
const WATCHED: &[&str] = &["qemu", "kvm", "libvirtd", "virtqemud", "virtproxyd"];

/// The host's processes: on a live root the name of `/proc/PID/exe` (one `readlink` a process;
/// kernel threads have none and are skipped; `comm` when it may not be read), otherwise
/// `/proc/PID/comm`; names are cut to 15 bytes as the kernel cuts `comm`. The command line is
/// read for the processes preflight looks at.
pub(crate) fn processes(r: &Root) -> Result<Vec<Proc>, String> {
    r.pseudo("proc")?;
    let mut out = Vec::new();
    for name in r.list("/proc") {
        let Ok(pid) = name.parse::<u32>() else { continue };
        let exe = if r.live {
            std::fs::read_link(r.path(&format!("/proc/{pid}/exe")))
        } else {
            Err(std::io::ErrorKind::Other.into())
        };
        let comm = match exe {
            Ok(path) => {
                let path = path.to_string_lossy().into_owned();
                let base = path.trim_end_matches(" (deleted)").rsplit('/').next().unwrap_or("").to_string();
                let mut end = base.len().min(15);
                while !base.is_char_boundary(end) {
                    end -= 1;
                }
                base[..end].to_string()
            }
            Err(e) if r.live && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => match r.value(&format!("/proc/{pid}/comm")) {
                Some(c) => c,
                None => continue,
            },
        };
        let mut cmdline = Vec::new();
        if WATCHED.iter().any(|w| comm.starts_with(w)) {
            if let Some(bytes) = r.bytes(&format!("/proc/{pid}/cmdline"), 64 * 1024) {
                cmdline = bytes
                    .split(|b| *b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
            }
        }
        out.push(Proc { pid, comm, cmdline });
    }
    Ok(out)
}

pub(crate) fn cpuinfo(r: &Root) -> Fact<CpuInfo> {
    if let Err(e) = r.pseudo("proc") {
        return Fact::Unknown(e);
    }
    let text = match r.read("/proc/cpuinfo") {
        Ok(Some(t)) => t,
        Ok(None) => return Fact::Unknown(format!("{} does not exist", r.show("/proc/cpuinfo"))),
        Err(e) => return Fact::Unknown(e),
    };
    let mut info = CpuInfo::default();
    let mut have_flags = false;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => info.logical_cpus += 1,
            "vendor_id" if info.vendor.is_none() => info.vendor = Some(v.to_string()),
            "model name" if info.model_name.is_none() => info.model_name = Some(v.to_string()),
            "flags" | "Features" | "features" | "facilities" if !have_flags => {
                info.flags = v.split_whitespace().map(str::to_string).collect();
                have_flags = true;
            }
            _ => {}
        }
    }
    Fact::Known(info)
}

pub(crate) fn memory(r: &Root) -> Fact<Memory> {
    if let Err(e) = r.pseudo("proc") {
        return Fact::Unknown(e);
    }
    let text = match r.read("/proc/meminfo") {
        Ok(Some(t)) => t,
        Ok(None) => return Fact::Unknown(format!("{} does not exist", r.show("/proc/meminfo"))),
        Err(e) => return Fact::Unknown(e),
    };
    let field = |name: &str| {
        text.lines().find_map(|l| {
            let v = l.strip_prefix(name)?.strip_prefix(':')?.trim();
            let kib: u64 = v.trim_end_matches("kB").trim().parse().ok()?;
            kib.checked_mul(1024)
        })
    };
    match field("MemTotal") {
        Some(total_bytes) => Fact::Known(Memory { total_bytes, available_bytes: field("MemAvailable") }),
        None => Fact::Unknown(format!("{} has no MemTotal line", r.show("/proc/meminfo"))),
    }
}

pub(crate) fn os_release(r: &Root) -> Fact<OsRelease> {
    for p in ["/etc/os-release", "/usr/lib/os-release"] {
        match r.read(p) {
            Ok(None) => continue,
            Err(e) => return Fact::Unknown(e),
            Ok(Some(text)) => {
                let vars = match ShellVars::parse_named(&r.show(p), &text) {
                    Ok(v) => v,
                    Err(e) => return Fact::Unknown(e.to_string()),
                };
                let get = |k: &str| vars.get(k).map(str::to_string);
                return Fact::Known(OsRelease {
                    id: get("ID").unwrap_or_else(|| "linux".into()),
                    id_like: get("ID_LIKE")
                        .map(|s| s.split_whitespace().map(str::to_string).collect())
                        .unwrap_or_default(),
                    version_id: get("VERSION_ID"),
                    pretty_name: get("PRETTY_NAME"),
                });
            }
        }
    }
    Fact::Unknown(format!("neither {} nor {} exists", r.show("/etc/os-release"), r.show("/usr/lib/os-release")))
}

pub(crate) fn interfaces(r: &Root) -> Fact<Vec<Interface>> {
    if let Err(e) = r.pseudo("sys") {
        return Fact::Unknown(e);
    }
    if !r.is_dir("/sys/class/net") {
        return Fact::Unknown(format!("{} does not exist", r.show("/sys/class/net")));
    }
    let out = r
        .list("/sys/class/net")
        .into_iter()
        .map(|name| {
            let base = format!("/sys/class/net/{name}");
            let target = std::fs::read_link(r.path(&base)).map(|t| t.display().to_string()).unwrap_or_default();
            let physical = r.exists(&format!("{base}/device")) && !target.contains("/virtual/");
            Interface {
                physical,
                bridge: r.is_dir(&format!("{base}/bridge")),
                operstate: r.value(&format!("{base}/operstate")),
                name,
            }
        })
        .collect();
    Fact::Known(out)
}

pub(crate) fn hostname(r: &Root) -> Fact<Hostname> {
    let mut found = None;
    if r.live {
        found = r.value("/proc/sys/kernel/hostname").map(|h| (h, "/proc/sys/kernel/hostname"));
    }
    if found.is_none() {
        found = r.value("/etc/hostname").map(|h| (h, "/etc/hostname"));
    }
    if found.is_none() {
        let net = r.read("/etc/sysconfig/network").ok().flatten();
        let name = net.and_then(|t| ShellVars::parse(&t).ok()).and_then(|v| v.get("HOSTNAME").map(str::to_string));
        found = name.map(|h| (h, "/etc/sysconfig/network"));
    }
    let Some((raw, source)) = found else {
        return Fact::Unknown(format!(
            "no host name: {} and {} are missing",
            r.show("/etc/hostname"),
            r.show("/etc/sysconfig/network")
        ));
    };
    let name = raw.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("").to_string();
    if name.is_empty() {
        return Fact::Unknown(format!("{} is empty", r.show(source)));
    }
    let mut h = Hostname {
        name: name.clone(),
        source: source.to_string(),
        fqdn: None,
        fqdn_source: None,
        search_domains: Vec::new(),
    };
    if name.trim_end_matches('.').contains('.') {
        h.fqdn = Some(name.trim_end_matches('.').to_string());
        h.fqdn_source = Some(format!("the host name itself ({source})"));
    } else if let Ok(Some(hosts)) = r.read("/etc/hosts") {
        let short = name.split('.').next().unwrap_or(&name);
        for (n, line) in hosts.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let Some(_addr) = words.next() else { continue };
            let names: Vec<&str> = words.collect();
            if names.iter().any(|w| w.eq_ignore_ascii_case(&name) || w.eq_ignore_ascii_case(short)) {
                // The resolver's canonical name is the first name of the first matching line.
                let canonical = names[0].trim_end_matches('.');
                if canonical.contains('.') {
                    h.fqdn = Some(canonical.to_string());
                    h.fqdn_source = Some(format!("/etc/hosts line {}", n + 1));
                }
                break;
            }
        }
    }
    if let Ok(Some(resolv)) = r.read("/etc/resolv.conf") {
        for line in resolv.lines() {
            let mut w = line.split_whitespace();
            if matches!(w.next(), Some("search" | "domain")) {
                h.search_domains.extend(w.filter(|d| *d != ".").map(str::to_string));
            }
        }
        h.search_domains.dedup();
    }
    Fact::Known(h)
}

/// An NTP daemon: name, process names, configuration files, systemd units.
type TimeDaemonSpec = (&'static str, &'static [&'static str], &'static [&'static str], &'static [&'static str]);

const TIME_DAEMONS: &[TimeDaemonSpec] = &[
    ("chronyd", &["chronyd"], &["/etc/chrony/chrony.conf", "/etc/chrony.conf"], &["chrony.service", "chronyd.service"]),
    ("ntpd", &["ntpd"], &["/etc/ntpsec/ntp.conf", "/etc/ntp.conf"], &["ntpsec.service", "ntp.service", "ntpd.service"]),
    ("openntpd", &["openntpd"], &["/etc/openntpd/ntpd.conf"], &["openntpd.service"]),
    ("systemd-timesyncd", &["systemd-timesyn"], &[], &["systemd-timesyncd.service"]),
];

pub(crate) fn time_daemons(r: &Root, procs: &Result<Vec<Proc>, String>) -> Fact<Vec<TimeDaemon>> {
    let systemd = r.is_dir("/etc/systemd/system");
    let mut out = Vec::new();
    for (name, comms, configs, units) in TIME_DAEMONS {
        let config = configs.iter().find(|c| r.exists(c)).map(|c| c.to_string());
        let enabled = systemd.then(|| {
            units.iter().any(|u| {
                ["multi-user.target.wants", "sysinit.target.wants"]
                    .iter()
                    .any(|t| r.exists(&format!("/etc/systemd/system/{t}/{u}")))
            })
        });
        let running = match procs {
            Ok(p) if r.live || !p.is_empty() => Some(p.iter().any(|p| comms.contains(&p.comm.as_str()))),
            _ => None,
        };
        if config.is_some() || enabled == Some(true) || running == Some(true) {
            out.push(TimeDaemon { name: name.to_string(), config, enabled, running });
        }
    }
    Fact::Known(out)
}
