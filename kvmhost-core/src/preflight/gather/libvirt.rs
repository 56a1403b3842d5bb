//! libvirt, QEMU and Open vSwitch: versions, configuration, daemons, running VMs.

use super::{LiveProbe, Proc, Root};
use crate::config::{ShellVars, Virconf};
use crate::preflight::{ConfFile, DaemonArgs, Fact, Libvirtd, Package, RunningVm, Version};
use std::collections::BTreeMap;

pub(crate) struct Versions {
    pub libvirt: Fact<Option<Package>>,
    pub qemu: Fact<Option<Package>>,
    pub ovs: Fact<Option<Package>>,
    pub spice: Fact<bool>,
}

const LIBVIRT_PKGS: &[&str] = &["libvirt-daemon", "libvirt-bin", "libvirt-daemon-system"];
const QEMU_PKGS: &[&str] =
    &["qemu-system-x86", "qemu-kvm", "qemu-system-arm", "qemu-system-ppc", "qemu-system-s390x", "qemu-system-misc"];
const OVS_PKGS: &[&str] = &["openvswitch-switch"];
const SPICE_PKGS: &[&str] = &["qemu-system-modules-spice"];
const LIB_DIRS: &[&str] = &[
    "/usr/lib64",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib/powerpc64le-linux-gnu",
    "/usr/lib/s390x-linux-gnu",
    "/usr/lib",
    "/lib64",
];
const QEMU_BINS: &[&str] =
    &["/usr/bin/qemu-system-x86_64", "/usr/libexec/qemu-kvm", "/usr/bin/qemu-kvm", "/usr/bin/qemu-system-aarch64"];

/// dpkg's database (`/var/lib/dpkg/status`).
struct Dpkg<'a> {
    r: &'a Root,
    text: String,
}

/// The stanza holding byte `pos` (skipping blank lines): its byte range.
fn stanza_at(text: &str, mut pos: usize) -> Option<(usize, usize)> {
    while !text.is_char_boundary(pos) {
        pos += 1;
    }
    let mut line = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    while text[line..].starts_with('\n') {
        line += 1;
    }
    if line >= text.len() {
        return None;
    }
    let start = text[..line].rfind("\n\n").map_or(0, |i| i + 2);
    let end = text[line..].find("\n\n").map_or(text.len(), |i| line + i + 1);
    Some((start, end))
}

fn stanza_name(stanza: &str) -> Option<&str> {
    stanza.strip_prefix("Package: ").map(|s| s.split('\n').next().unwrap_or("").trim())
}

impl Dpkg<'_> {
    /// `Ok(None)`: the package is not in the database (or not installed).
    fn version(&self, name: &str) -> Option<String> {
        let stanza = self.bisect(name).or_else(|| {
            // Not where a sorted file has it: absent, unless dpkg lists its files (an unsorted
            // file, never written by dpkg itself): then read the whole file.
            if !self.r.exists(&format!("/var/lib/dpkg/info/{name}.list")) {
                return None;
            }
            self.text.split("\n\n").find(|s| stanza_name(s.trim_start_matches('\n')) == Some(name))
        })?;
        let field = |f: &str| stanza.lines().find_map(|l| l.strip_prefix(f)).map(str::trim);
        if !field("Status: ").is_some_and(|s| s.ends_with(" installed")) {
            return None;
        }
        field("Version: ").map(str::to_string)
    }

    /// dpkg writes its status file sorted by package name: a binary search over the stanzas.
    fn bisect(&self, name: &str) -> Option<&str> {
        let text = self.text.as_str();
        let (mut lo, mut hi) = (0, text.len());
        while lo < hi {
            let Some((s, e)) = stanza_at(text, lo + (hi - lo) / 2) else {
                hi = lo + (hi - lo) / 2;
                continue;
            };
            match stanza_name(&text[s..e])?.cmp(name) {
                std::cmp::Ordering::Equal => return Some(&text[s..e]),
                std::cmp::Ordering::Less => lo = e.max(lo + 1),
                std::cmp::Ordering::Greater => hi = s.min(hi - 1),
            }
        }
        None
    }

    fn find(&self, names: &[&str]) -> Option<Package> {
        names.iter().find_map(|n| {
            let v = self.version(n)?;
            Some(Package::new(v.parse().ok()?, format!("dpkg: {n} {v}")))
        })
    }
}

fn dpkg(r: &Root) -> Result<Option<Dpkg<'_>>, String> {
    Ok(r.read("/var/lib/dpkg/status")?.map(|text| Dpkg { r, text }))
}

/// `libvirt.so.0.MAJMIN.MICRO` (libvirt's soname encodes its version: 9000 = 9.0).
fn libvirt_soname(r: &Root) -> Option<Package> {
    for dir in LIB_DIRS {
        for name in r.list(dir) {
            let Some(rest) = name.strip_prefix("libvirt.so.0.") else { continue };
            let mut it = rest.split('.');
            let (Some(Ok(mm)), Some(Ok(micro))) = (it.next().map(str::parse::<u32>), it.next().map(str::parse::<u32>))
            else {
                continue;
            };
            return Some(Package::new(Version::new(&[mm / 1000, mm % 1000, micro]), format!("{dir}/{name}")));
        }
    }
    None
}

/// libvirt's QEMU capability cache (`<version>7002000</version>`).
fn qemu_from_cache(r: &Root) -> Option<Package> {
    let dir = "/var/cache/libvirt/qemu/capabilities";
    for name in r.list(dir).into_iter().filter(|n| n.ends_with(".xml")) {
        let path = format!("{dir}/{name}");
        let Ok(Some(text)) = r.read(&path) else { continue };
        let Some(v) = text.split("<version>").nth(1).and_then(|s| s.split('<').next()) else { continue };
        if let Ok(raw) = v.trim().parse::<u64>() {
            return Some(Package::new(Version::from_libvirt(raw), format!("libvirt's capability cache {path}")));
        }
    }
    None
}

/// `BINARY --version`: the first version-looking word of its output.
fn command_version(r: &Root, bin: &str, enabled: bool) -> Option<Package> {
    if !enabled {
        return None;
    }
    let out = std::process::Command::new(r.path(bin)).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next()?;
    let v = line.split_whitespace().find(|w| w.starts_with(|c: char| c.is_ascii_digit()) && w.contains('.'))?;
    Some(Package::new(v.parse().ok()?, format!("{bin} --version: {}", line.trim())))
}

fn pick(
    r: &Root,
    db: &Result<Option<Dpkg<'_>>, String>,
    pkgs: &[&str],
    bins: &[&str],
    files: impl FnOnce() -> Option<Package>,
    commands: bool,
) -> Fact<Option<Package>> {
    if let Ok(Some(db)) = db {
        return Fact::Known(db.find(pkgs));
    }
    let Some(bin) = bins.iter().find(|b| r.exists(b)) else {
        return match db {
            Err(e) => Fact::Unknown(e.clone()),
            Ok(_) => Fact::Known(None),
        };
    };
    match files().or_else(|| command_version(r, bin, commands)) {
        Some(p) => Fact::Known(Some(p)),
        None => Fact::Unknown(format!("{} is installed but no file tells its version", r.show(bin))),
    }
}

pub(crate) fn versions(r: &Root, commands: bool) -> Versions {
    let db = dpkg(r);
    let libvirt =
        pick(r, &db, LIBVIRT_PKGS, &["/usr/sbin/libvirtd", "/usr/sbin/virtqemud"], || libvirt_soname(r), commands);
    let qemu = pick(r, &db, QEMU_PKGS, QEMU_BINS, || qemu_from_cache(r), commands);
    let ovs = pick(r, &db, OVS_PKGS, &["/usr/sbin/ovs-vswitchd"], || None, commands);
    let module_dirs =
        ["/usr/lib/x86_64-linux-gnu/qemu", "/usr/lib64/qemu", "/usr/lib/qemu", "/usr/lib/aarch64-linux-gnu/qemu"];
    let ui_modules = module_dirs.iter().any(|d| r.list(d).iter().any(|m| m.starts_with("ui-")));
    let spice_pkg = matches!(&db, Ok(Some(db)) if db.find(SPICE_PKGS).is_some());
    let spice = if spice_pkg || module_dirs.iter().any(|d| r.exists(&format!("{d}/ui-spice-core.so"))) {
        Fact::Known(true)
    } else if ui_modules {
        Fact::Known(false)
    } else {
        Fact::Unknown("QEMU has no module directory: SPICE may be built in, files cannot tell".into())
    };
    Versions { libvirt, qemu, ovs, spice }
}

fn conf_file(r: &Root, host: &str) -> Fact<ConfFile> {
    match r.read(host) {
        Err(e) => Fact::Unknown(e),
        Ok(None) => Fact::Known(ConfFile { path: host.to_string(), exists: false, settings: BTreeMap::new() }),
        Ok(Some(text)) => match Virconf::parse_named(&r.show(host), &text) {
            Err(e) => Fact::Unknown(e.to_string()),
            Ok(c) => {
                let mut settings = BTreeMap::new();
                for k in c.keys() {
                    if let (false, Some(v)) = (settings.contains_key(k), c.get(k)) {
                        settings.insert(k.to_string(), v.clone());
                    }
                }
                Fact::Known(ConfFile { path: host.to_string(), exists: true, settings })
            }
        },
    }
}

/// The daemon argument files, in the order they are looked for, with their variable.
pub(crate) const ARGS_FILES: &[(&str, &str)] = &[
    ("/etc/sysconfig/libvirtd", "LIBVIRTD_ARGS"),
    ("/etc/default/libvirtd", "LIBVIRTD_ARGS"),
    ("/etc/default/libvirt-bin", "libvirtd_opts"),
];

fn daemon_args(r: &Root) -> Fact<DaemonArgs> {
    for (file, var) in ARGS_FILES {
        match r.read(file) {
            Err(e) => return Fact::Unknown(e),
            Ok(None) => continue,
            Ok(Some(text)) => {
                return match ShellVars::parse_named(&r.show(file), &text) {
                    Err(e) => Fact::Unknown(e.to_string()),
                    Ok(v) => Fact::Known(DaemonArgs {
                        file: Some(file.to_string()),
                        variable: var.to_string(),
                        value: v.get(var).map(str::to_string),
                    }),
                };
            }
        }
    }
    Fact::Known(DaemonArgs { file: None, variable: "LIBVIRTD_ARGS".into(), value: None })
}

fn socket_units(r: &Root) -> Fact<Option<Vec<String>>> {
    let systemd = if r.live {
        r.is_dir("/run/systemd/system")
    } else {
        r.exists("/usr/lib/systemd/systemd") || r.exists("/lib/systemd/systemd")
    };
    if !systemd {
        return Fact::Known(None);
    }
    let units = r
        .list("/etc/systemd/system/sockets.target.wants")
        .into_iter()
        .filter(|u| u.starts_with("libvirtd") || u.starts_with("virtproxyd") || u.starts_with("virtqemud"))
        .collect();
    Fact::Known(Some(units))
}

fn listening(r: &Root, probe: &dyn LiveProbe) -> Fact<Vec<u16>> {
    if let Some(ports) = probe.tcp_listening() {
        return Fact::Known(ports);
    }
    if let Err(e) = r.pseudo("proc") {
        return Fact::Unknown(e);
    }
    let mut ports = Vec::new();
    let mut read_any = false;
    for f in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(Some(text)) = r.read(f) else { continue };
        read_any = true;
        for line in text.lines().skip(1) {
            let w: Vec<&str> = line.split_whitespace().collect();
            if w.len() > 3 && w[3] == "0A" {
                if let Some(p) = w[1].rsplit(':').next().and_then(|h| u16::from_str_radix(h, 16).ok()) {
                    ports.push(p);
                }
            }
        }
    }
    ports.sort_unstable();
    ports.dedup();
    if read_any {
        Fact::Known(ports)
    } else {
        Fact::Unknown(format!("{} cannot be read", r.show("/proc/net/tcp")))
    }
}

pub(crate) fn libvirtd(r: &Root, procs: &Result<Vec<Proc>, String>, probe: &dyn LiveProbe) -> Libvirtd {
    let running = match procs {
        Ok(p) => Fact::Known(
            p.iter()
                .filter(|p| matches!(p.comm.as_str(), "libvirtd" | "virtqemud" | "virtproxyd"))
                .map(|p| if p.cmdline.is_empty() { vec![p.comm.clone()] } else { p.cmdline.clone() })
                .collect(),
        ),
        Err(e) => Fact::Unknown(e.clone()),
    };
    Libvirtd {
        conf: conf_file(r, "/etc/libvirt/libvirtd.conf"),
        qemu_conf: conf_file(r, "/etc/libvirt/qemu.conf"),
        virtqemud_conf: conf_file(r, "/etc/libvirt/virtqemud.conf"),
        virtproxyd_conf: conf_file(r, "/etc/libvirt/virtproxyd.conf"),
        args: daemon_args(r),
        running,
        socket_units: socket_units(r),
        listening: listening(r, probe),
    }
}

/// QEMU's `-name guest=NAME,...` or `-name NAME`.
fn qemu_name(cmdline: &[String]) -> Option<String> {
    let i = cmdline.iter().position(|a| a == "-name")?;
    let v = cmdline.get(i + 1)?;
    let first = v.split(',').next()?;
    Some(first.strip_prefix("guest=").unwrap_or(first).to_string())
}

pub(crate) fn running_vms(r: &Root, procs: &Result<Vec<Proc>, String>) -> Fact<Vec<RunningVm>> {
    let mut vms: Vec<RunningVm> = Vec::new();
    let dir = "/run/libvirt/qemu";
    for name in r.list(dir) {
        let Some(vm) = name.strip_suffix(".pid") else { continue };
        let path = format!("{dir}/{name}");
        let pid = r.value(&path).and_then(|p| p.parse::<u32>().ok());
        let alive = match (procs, pid) {
            (Ok(p), Some(pid)) => p.iter().any(|p| p.pid == pid),
            _ => true,
        };
        if alive {
            vms.push(RunningVm::new(vm, path));
        }
    }
    match procs {
        Ok(list) => {
            for p in list {
                let qemu = p.comm.starts_with("qemu-system") || p.comm.starts_with("qemu-kvm") || p.comm == "kvm";
                if !qemu {
                    continue;
                }
                let name = qemu_name(&p.cmdline).unwrap_or_else(|| format!("pid {}", p.pid));
                if !vms.iter().any(|v| v.name == name) {
                    vms.push(RunningVm::new(name, format!("process {} ({})", p.pid, p.comm)));
                }
            }
            Fact::Known(vms)
        }
        Err(_) if !vms.is_empty() => Fact::Known(vms),
        Err(e) => Fact::Unknown(e.clone()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn qemu_names() {
        let a = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(super::qemu_name(&a("qemu -name guest=web1,debug-threads=on -m 1")), Some("web1".into()));
        assert_eq!(super::qemu_name(&a("qemu -name db")), Some("db".into()));
        assert_eq!(super::qemu_name(&a("qemu -name")), None);
    }
}
