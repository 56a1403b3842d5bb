//! `examples/host_setup` end to end, against a temporary root directory and a network namespace
//! made for the test (never the machine's own files or network):
//!
//! - the root holds Debian's real `/etc/libvirt/libvirtd.conf`, `qemu.conf` and
//!   `/etc/default/libvirtd` (realistic copies when libvirt is not installed) and libvirt's
//!   AppArmor profile;
//! - the namespace `kvmhost-hs-PID-N` holds a veth `eth0` with 192.168.42.11/24 and a default
//!   route, and runs a private ovsdb-server + ovs-vswitchd (userspace datapath `netdev`: this
//!   kernel has no openvswitch module);
//! - a dry run changes nothing; `--apply` changes exactly the guide's lines (a line diff of each
//!   file), keeps backups, builds the OVS layout and the firewall rules inside the namespace; a
//!   second `--apply` has nothing to do; `--rollback` brings files (byte for byte), links,
//!   addresses, routes, OVSDB and iptables back as they were. `--persist networkd` writes the
//!   layout's systemd-networkd files too (and the rollback removes them and their directories).
//!
//! The Linux-bridge layout needs 802.1Q VLAN devices, which this kernel lacks: its plan is
//! checked from a dry run, and an `--apply` is shown to fail cleanly (every step undone).
//!
//! Needs root (network namespaces), iproute2, nsenter, iptables and Open vSwitch
//! (`scripts/install-deps.sh test`); without them the tests print `SKIP:` and why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe.parent().and_then(|d| d.parent()).expect("target/<profile>").join("examples").join("host_setup");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/host_setup");
    let newest_src = std::fs::read_dir(&src)
        .expect("examples/host_setup")
        .filter_map(|e| e.ok()?.metadata().ok()?.modified().ok())
        .max();
    let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
    if built.is_none() || built < newest_src {
        // Built in the profile this test was built in (target/<profile>/examples).
        let release = bin.ancestors().nth(2).is_some_and(|p| p.ends_with("release"));
        let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
            .args(["build", "--quiet", "--example", "host_setup"])
            .args(release.then_some("--release"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build --example host_setup");
        assert!(status.success(), "cargo build --example host_setup failed");
    }
    bin
}

fn have(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// Why the end-to-end tests cannot run here, if they cannot.
fn missing() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if uid.ok().as_deref() != Some("0") {
        return Some("needs root to make network namespaces".into());
    }
    ["ip", "nsenter", "iptables", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovsdb-tool"]
        .into_iter()
        .find(|p| !have(p))
        .map(|p| format!("{p} is not installed (scripts/install-deps.sh test)"))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A temporary root, a namespace with `eth0`, and (optionally) OVS in it; all removed on drop,
/// also when the test fails.
struct Host {
    dir: tempfile::TempDir,
    ns: String,
    ovs: bool,
}

impl Host {
    fn new(with_ovs: bool) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let ns = format!("kvmhost-hs-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        run(Command::new("ip").args(["netns", "add", &ns]));
        let host = Host { dir, ns, ovs: false };
        // No duplicate address detection: IPv6 link-local addresses would show `tentative` for a
        // second or two, and the snapshots compare `ip addr` output.
        for conf in ["all", "default"] {
            host.in_ns("sysctl", &["-qw", &format!("net.ipv6.conf.{conf}.accept_dad=0")]);
        }
        host.ip(&["link", "set", "lo", "up"]);
        host.ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]);
        host.ip(&["link", "set", "eth0", "up"]);
        host.ip(&["link", "set", "eth0p", "up"]);
        host.ip(&["addr", "add", "192.168.42.11/24", "dev", "eth0"]);
        host.ip(&["route", "add", "default", "via", "192.168.42.1", "dev", "eth0"]);
        host.make_root();
        let mut host = host;
        if with_ovs {
            host.ovs = true; // from here on, drop stops whatever started
            host.start_ovs();
        }
        host
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn ovs_dir(&self) -> PathBuf {
        self.dir.path().join("ovs")
    }

    fn sock(&self) -> String {
        format!("unix:{}", self.ovs_dir().join("db.sock").display())
    }

    fn ip(&self, args: &[&str]) -> String {
        run(Command::new("ip").arg("-n").arg(&self.ns).args(args))
    }

    fn in_ns(&self, program: &str, args: &[&str]) -> String {
        run(Command::new("ip").args(["netns", "exec", &self.ns, program]).args(args))
    }

    fn ovs_cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        let d = self.ovs_dir();
        c.env("OVS_RUNDIR", &d).env("OVS_DBDIR", &d).env("OVS_LOGDIR", &d).env("OVS_SYSCONFDIR", &d);
        c
    }

    fn vsctl(&self, args: &[&str]) -> String {
        run(self.ovs_cmd("ovs-vsctl").arg(format!("--db={}", self.sock())).arg("--timeout=20").args(args))
    }

    /// libvirt's two files (Debian's own when installed) and AppArmor profile under the root.
    fn make_root(&self) {
        let etc = self.root().join("etc");
        std::fs::create_dir_all(etc.join("libvirt")).unwrap();
        std::fs::create_dir_all(etc.join("apparmor.d")).unwrap();
        for (name, fallback) in [("libvirtd.conf", LIBVIRTD_CONF), ("qemu.conf", QEMU_CONF)] {
            let text = std::fs::read(Path::new("/etc/libvirt").join(name)).unwrap_or_else(|_| fallback.into());
            std::fs::write(etc.join("libvirt").join(name), text).unwrap();
        }
        std::fs::create_dir_all(etc.join("default")).unwrap();
        let args = std::fs::read("/etc/default/libvirtd").unwrap_or_else(|_| DEFAULT_LIBVIRTD.into());
        std::fs::write(etc.join("default/libvirtd"), args).unwrap();
        let profile = std::fs::read("/etc/apparmor.d/usr.sbin.libvirtd")
            .unwrap_or_else(|_| b"#include <tunables/global>\nprofile libvirtd /usr/sbin/libvirtd {\n}\n".to_vec());
        std::fs::write(etc.join("apparmor.d/usr.sbin.libvirtd"), profile).unwrap();
    }

    /// ovsdb-server (its database and socket in the temporary directory) and ovs-vswitchd inside
    /// the namespace, so the internal ports' devices appear there.
    fn start_ovs(&self) {
        let d = self.ovs_dir();
        std::fs::create_dir_all(&d).unwrap();
        let db = d.join("conf.db");
        run(self.ovs_cmd("ovsdb-tool").arg("create").arg(&db).arg("/usr/share/openvswitch/vswitch.ovsschema"));
        run(self
            .ovs_cmd("ovsdb-server")
            .arg(&db)
            .arg(format!("--remote=p{}", self.sock()))
            .arg(format!("--pidfile={}", d.join("ovsdb-server.pid").display()))
            .arg(format!("--unixctl={}", d.join("ovsdb-server.ctl").display()))
            .arg(format!("--log-file={}", d.join("ovsdb-server.log").display()))
            .arg("--detach")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()));
        run(self.ovs_cmd("ovs-vsctl").arg(format!("--db={}", self.sock())).args(["--no-wait", "init"]));
        run(self
            .ovs_cmd("ip")
            .args(["netns", "exec", &self.ns, "ovs-vswitchd", &self.sock()])
            .arg(format!("--pidfile={}", d.join("ovs-vswitchd.pid").display()))
            .arg(format!("--unixctl={}", d.join("ovs-vswitchd.ctl").display()))
            .arg(format!("--log-file={}", d.join("ovs-vswitchd.log").display()))
            .arg("--detach")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()));
        // Up once it has applied the configuration (the wait makes ovs-vsctl wait for it).
        self.vsctl(&["set", "Open_vSwitch", ".", "external_ids:kvmhost-test=host_setup"]);
    }

    /// Runs the program; its output.
    fn program(&self, args: &[&str]) -> Output {
        let mut c = Command::new(binary());
        c.arg("--root").arg(self.root()).args(["--netns", &self.ns]).args(args);
        let started = Instant::now();
        let out = c.output().expect("run host_setup");
        println!(
            "host_setup {} -> {:?} in {:?}\n{}{}",
            args.join(" "),
            out.status.code(),
            started.elapsed(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Everything the program may change: the files under ROOT/etc (bytes, or a link's target),
    /// the namespace's links, addresses, routes and iptables rules, OVS's configuration.
    fn snapshot(&self) -> Snapshot {
        let mut files = BTreeMap::new();
        walk(&self.root().join("etc"), &self.root(), &mut files);
        Snapshot {
            files,
            links: self.ip(&["-d", "link"]),
            addrs: self.ip(&["addr"]),
            routes: self.ip(&["route"]) + &self.ip(&["-6", "route"]),
            iptables: self.in_ns("iptables", &["-S"]),
            ovs: if self.ovs { self.vsctl(&["show"]) } else { String::new() },
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if self.ovs {
            for name in ["ovs-vswitchd.pid", "ovsdb-server.pid"] {
                let Ok(pid) = std::fs::read_to_string(self.ovs_dir().join(name)) else { continue };
                let pid = pid.trim().to_string();
                let _ = Command::new("kill").arg(&pid).status();
                let deadline = Instant::now() + Duration::from_secs(5);
                while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = Command::new("kill").args(["-9", &pid]).status();
                }
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

#[derive(PartialEq, Eq, Clone)]
struct Snapshot {
    files: BTreeMap<String, Vec<u8>>,
    links: String,
    addrs: String,
    routes: String,
    iptables: String,
    ovs: String,
}

/// Only what differs, as text (the files by name, then their contents).
impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |b: &Vec<u8>| String::from_utf8_lossy(b).into_owned();
        let files: BTreeMap<&String, usize> = self.files.iter().map(|(k, v)| (k, v.len())).collect();
        writeln!(f, "files (bytes): {files:?}")?;
        for (k, v) in &self.files {
            if k.ends_with(".conf") {
                writeln!(f, "{k}: {} lines", text(v).lines().count())?;
            }
        }
        write!(
            f,
            "links:\n{}addrs:\n{}routes:\n{}iptables:\n{}ovs:\n{}",
            self.links, self.addrs, self.routes, self.iptables, self.ovs
        )
    }
}

fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.strip_prefix(root).unwrap().display().to_string();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.file_type().is_symlink() {
            out.insert(name, format!("-> {}", std::fs::read_link(&p).unwrap().display()).into_bytes());
        } else if meta.is_dir() {
            out.insert(format!("{name}/"), Vec::new());
            walk(&p, root, out);
        } else {
            out.insert(name, std::fs::read(&p).unwrap());
        }
    }
}

/// The lines removed from `a` and added in `b` (a longest-common-subsequence line diff).
fn line_diff(a: &str, b: &str) -> (Vec<String>, Vec<String>) {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut removed, mut added) = (0, 0, Vec::new(), Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            added.push(b[j].to_string());
            j += 1;
        } else {
            removed.push(a[i].to_string());
            i += 1;
        }
    }
    (removed, added)
}

/// Only the guide's settings changed in `file`: the added lines are exactly `want`, and each
/// removed line is the commented example of one of them (`#listen_tcp = 1`).
fn assert_only_lines(file: &str, before: &[u8], after: &[u8], want: &[&str]) {
    let (removed, added) = line_diff(std::str::from_utf8(before).unwrap(), std::str::from_utf8(after).unwrap());
    let mut added_sorted = added.clone();
    added_sorted.sort();
    let mut want_sorted: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want_sorted.sort();
    assert_eq!(added_sorted, want_sorted, "{file}: lines added");
    for r in &removed {
        let uncommented = r.trim_start_matches('#').trim();
        assert!(
            r.starts_with('#') && want.contains(&uncommented),
            "{file}: line {r:?} removed, which is not the commented example of a setting"
        );
    }
    println!("{file}: -{} +{} lines: {removed:?} -> {added:?}", removed.len(), added.len());
}

const LIBVIRTD_SETTINGS: [&str; 5] =
    ["listen_tls = 0", "listen_tcp = 1", "tcp_port = \"16509\"", "auth_tcp = \"none\"", "mdns_adv = 0"];
const QEMU_SETTINGS: [&str; 1] = ["vnc_listen = \"0.0.0.0\""];

#[test]
fn help_prints_usage() {
    let out = Command::new(binary()).arg("--help").output().expect("run host_setup --help");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for want in ["Usage:", "--root", "--netns", "--apply", "--rollback", "--json", "--backend", "--ovsdb"] {
        assert!(text.contains(want), "--help lacks {want}:\n{text}");
    }
    let out = Command::new(binary()).args(["--apply", "--rollback"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "--apply with --rollback is a usage error");
}

#[test]
fn ovs_layout_dry_run_apply_and_rollback() {
    if let Some(why) = missing() {
        println!("SKIP: ovs_layout_dry_run_apply_and_rollback: {why}");
        return;
    }
    let host = Host::new(true);
    let sock = host.sock();
    let args = ["--backend", "ovs", "--datapath", "netdev", "--ovsdb", sock.as_str(), "--persist", "networkd"];
    let before = host.snapshot();
    let state = host.root().join("var/lib/kvmhost/host-setup");
    let libvirtd = "etc/libvirt/libvirtd.conf".to_string();
    let qemu = "etc/libvirt/qemu.conf".to_string();

    // 1. The dry run (JSON) plans every step and changes nothing.
    let out = host.program(&[&args[..], &["--json"]].concat());
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["mode"], "dry-run");
    assert_eq!(v["ok"], true);
    assert_eq!(v["preflight"]["profile"], "cloudstack");
    let files: Vec<&str> =
        v["config"]["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap()).collect();
    assert_eq!(
        files,
        [
            "/etc/libvirt/libvirtd.conf",
            "/etc/libvirt/qemu.conf",
            "/etc/default/libvirtd",
            "/etc/apparmor.d/disable/usr.sbin.libvirtd"
        ]
    );
    assert!(v["config"]["files"][0]["diff"].as_str().unwrap().contains("\n+listen_tcp = 1\n"), "{v}");
    let plan = v["network"]["plan"].as_str().unwrap();
    for want in
        ["add bridge br0", "add fake bridge cloudbr0 on br0, VLAN 200", "ip addr add 192.168.42.11/24 dev mgmt0"]
    {
        assert!(plan.contains(want), "plan lacks {want:?}:\n{plan}");
    }
    assert_eq!(v["firewall"]["commands"].as_array().unwrap().len(), 8, "{v}");
    let persisted: Vec<&str> =
        v["network"]["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap()).collect();
    assert!(persisted.contains(&"/etc/systemd/network/20-mgmt0.network"), "{persisted:?}");
    assert_eq!(host.snapshot(), before, "the dry run changed something");
    assert!(!state.exists(), "the dry run wrote a record");

    // 2. Applied: the guide's lines and only them, backups, OVS layout, firewall.
    let out = host.program(&[&args[..], &["--apply"]].concat());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("applied and verified"), "{text}");
    let applied = host.snapshot();
    assert_only_lines(&libvirtd, &before.files[&libvirtd], &applied.files[&libvirtd], &LIBVIRTD_SETTINGS);
    assert_only_lines(&qemu, &before.files[&qemu], &applied.files[&qemu], &QEMU_SETTINGS);
    let defaults = "etc/default/libvirtd".to_string();
    assert_only_lines(&defaults, &before.files[&defaults], &applied.files[&defaults], &["LIBVIRTD_ARGS=\"--listen\""]);
    for f in [&libvirtd, &qemu, &defaults] {
        assert_eq!(applied.files[&format!("{f}.kvmhost-bak")], before.files[f], "backup of {f}");
    }
    assert_eq!(
        applied.files["etc/apparmor.d/disable/usr.sbin.libvirtd"],
        b"-> /etc/apparmor.d/usr.sbin.libvirtd".to_vec()
    );
    assert_eq!(host.vsctl(&["list-br"]).trim(), "br0\ncloudbr0\ncloudbr1\nmgmt0");
    for (fake, vlan) in [("mgmt0", "100"), ("cloudbr0", "200"), ("cloudbr1", "300")] {
        assert_eq!(host.vsctl(&["br-to-parent", fake]).trim(), "br0");
        assert_eq!(host.vsctl(&["br-to-vlan", fake]).trim(), vlan);
    }
    assert!(host.vsctl(&["list-ports", "br0"]).lines().any(|p| p == "eth0"));
    assert!(host.ip(&["-o", "addr", "show", "dev", "mgmt0"]).contains("inet 192.168.42.11/24"));
    assert!(!host.ip(&["-o", "addr", "show", "dev", "eth0"]).contains("inet "), "the address left eth0");
    assert!(host.ip(&["route", "show", "default"]).starts_with("default via 192.168.42.1 dev mgmt0"));
    for rule in [
        "-A INPUT -j KVMHOST-CLOUDSTACK",
        "-A KVMHOST-CLOUDSTACK -p tcp -m tcp --dport 22 -j ACCEPT",
        "-A KVMHOST-CLOUDSTACK -p tcp -m tcp --dport 1798 -j ACCEPT",
        "-A KVMHOST-CLOUDSTACK -p tcp -m tcp --dport 16509 -j ACCEPT",
        "-A KVMHOST-CLOUDSTACK -p tcp -m tcp --dport 16514 -j ACCEPT",
        "-A KVMHOST-CLOUDSTACK -p tcp -m tcp --dport 5900:6100 -j ACCEPT",
        "-A KVMHOST-CLOUDSTACK -p tcp -m tcp --dport 49152:49216 -j ACCEPT",
    ] {
        assert!(applied.iptables.lines().any(|l| l == rule), "missing {rule:?} in:\n{}", applied.iptables);
    }
    let mgmt0 = String::from_utf8_lossy(&applied.files["etc/systemd/network/20-mgmt0.network"]).into_owned();
    assert!(mgmt0.contains("Address=192.168.42.11/24") && mgmt0.contains("Gateway=192.168.42.1"), "{mgmt0}");
    assert!(state.join("last-run.json").is_file(), "no run record");

    // 3. Applying again changes nothing (and keeps the first run's record).
    let out = host.program(&[&args[..], &["--apply"]].concat());
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to do"));
    assert_eq!(host.snapshot(), applied, "a second --apply changed something");

    // 4. Rolled back: files byte for byte, namespace, OVSDB and firewall as before.
    let out = host.program(&["--rollback", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["rollback"]["network"]["restored"], true, "{v}");
    assert_eq!(v["rollback"]["firewall"]["restored"], true, "{v}");
    // ovs-vswitchd deletes the devices of removed ports shortly after the OVSDB change.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = host.snapshot();
    while after != before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        after = host.snapshot();
    }
    assert_eq!(after.files, before.files, "files (and backups) as before");
    assert_eq!(after, before, "the namespace, OVSDB and firewall as before");
    assert!(!state.join("last-run.json").exists(), "the record is archived");

    // 5. Nothing left to roll back.
    let out = host.program(&["--rollback"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to roll back"));

    // 6. Part of the layout made by someone else: --apply refuses before changing anything
    // (a rollback would tear that part down too).
    host.vsctl(&["add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev"]);
    let someone_elses = host.snapshot();
    let out = host.program(&[&args[..], &["--apply"]].concat());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("part of the layout exists already (br0)"), "{text}");
    assert_eq!(host.snapshot(), someone_elses, "the refused run changed something");
    assert!(!state.join("last-run.json").exists(), "the refused run left a record");
    host.vsctl(&["del-br", "br0"]);
}

/// Whether the kernel makes 802.1Q devices (probed inside the test's namespace).
fn vlan_supported(host: &Host) -> bool {
    let ok = Command::new("ip")
        .args(["-n", &host.ns, "link", "add", "link", "eth0", "name", "probe.7", "type", "vlan", "id", "7"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        host.ip(&["link", "del", "probe.7"]);
    }
    ok
}

#[test]
fn linux_layout_plan_and_a_failed_apply_undone() {
    if let Some(why) = missing() {
        println!("SKIP: linux_layout_plan_and_a_failed_apply_undone: {why}");
        return;
    }
    let host = Host::new(false);
    let before = host.snapshot();

    // The plan: VLAN devices 100/200/300 on eth0, bridges cloudbr0/cloudbr1, the address moved.
    let out = host.program(&["--backend", "linux", "--persist", "interfaces"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    for want in ["+++ b/etc/network/interfaces", "+iface eth0.100 inet static", "+    bridge_ports eth0.200"] {
        assert!(text.contains(want), "the persistent configuration lacks {want:?}:\n{text}");
    }
    for want in [
        "ip link add cloudbr0 up type bridge",
        "ip link add cloudbr1 up type bridge",
        "ip link add link eth0 name eth0.100 up type vlan id 100",
        "ip link add link eth0 name eth0.200 master cloudbr0 up type vlan id 200",
        "ip link add link eth0 name eth0.300 master cloudbr1 up type vlan id 300",
        "ip addr add 192.168.42.11/24 dev eth0.100",
        "default via 192.168.42.1 dev eth0.100",
    ] {
        assert!(text.contains(want), "the Linux plan lacks {want:?}:\n{text}");
    }
    assert_eq!(host.snapshot(), before, "the dry run changed something");

    if vlan_supported(&host) {
        println!("this kernel has 802.1Q: the Linux layout is applied for real and rolled back");
        let out = host.program(&["--backend", "linux", "--apply"]);
        assert_eq!(out.status.code(), Some(0));
        assert!(host.ip(&["-o", "addr", "show", "dev", "eth0.100"]).contains("inet 192.168.42.11/24"));
        assert_eq!(host.program(&["--rollback"]).status.code(), Some(0));
    } else {
        println!(
            "this kernel has no 802.1Q (VLAN devices: Operation not supported), so the Linux layout \
             cannot be applied here: its plan is checked above, and --apply must fail with every step \
             undone (the libvirt files are edited before the network step)"
        );
        let out = host.program(&["--backend", "linux", "--apply"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains("error: network:"), "{text}");
        assert!(text.contains("/etc/libvirt/libvirtd.conf: original restored"), "{text}");
    }
    assert_eq!(host.snapshot(), before, "files, namespace and firewall as before");
    let state = host.root().join("var/lib/kvmhost/host-setup");
    assert!(!state.join("last-run.json").exists(), "nothing is left to roll back");
}

/// A chain of the program's name that an admin made before: the run adds the missing rules and
/// the jump, the rollback gives the chain back its former rules (not deleted: it was not ours).
#[test]
fn firewall_chain_made_before_is_given_back() {
    if let Some(why) = missing() {
        println!("SKIP: firewall_chain_made_before_is_given_back: {why}");
        return;
    }
    let host = Host::new(false);
    host.in_ns("iptables", &["-N", "KVMHOST-CLOUDSTACK"]);
    host.in_ns("iptables", &["-A", "KVMHOST-CLOUDSTACK", "-p", "tcp", "-m", "tcp", "--dport", "22", "-j", "ACCEPT"]);
    host.in_ns("iptables", &["-A", "KVMHOST-CLOUDSTACK", "-p", "tcp", "-m", "tcp", "--dport", "8080", "-j", "ACCEPT"]);
    let before = host.snapshot();
    let eth0 = host.ip(&["-o", "addr", "show", "dev", "eth0"]);

    let out = host.program(&["--skip-network", "--firewall", "iptables", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let commands: Vec<&str> =
        v["firewall"]["commands"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(commands.len(), 6, "no -N and no rule for port 22: {commands:?}");
    assert!(!commands.iter().any(|c| c.contains(" -N ") || c.contains("--dport 22 ")), "{commands:?}");

    assert_eq!(host.program(&["--skip-network", "--firewall", "iptables", "--apply"]).status.code(), Some(0));
    let rules = host.in_ns("iptables", &["-S", "KVMHOST-CLOUDSTACK"]);
    assert_eq!(rules.lines().filter(|l| l.starts_with("-A ")).count(), 7, "22 once, 8080 and five more:\n{rules}");
    assert_eq!(host.ip(&["-o", "addr", "show", "dev", "eth0"]), eth0, "--skip-network left eth0 alone");

    assert_eq!(host.program(&["--rollback"]).status.code(), Some(0));
    assert_eq!(host.snapshot(), before);
}

/// Realistic copies of Debian 12's files (the parts the program edits), for machines without
/// libvirt installed.
const LIBVIRTD_CONF: &str = "# Master libvirt daemon configuration file
#
#################################################################
#
# Network connectivity controls
#

# Flag listening for secure TLS connections on the public TCP/IP port.
#
# This is enabled by default, uncomment this to disable it
#listen_tls = 0

# Listen for unencrypted TCP connections on the public TCP/IP port.
#
# This is disabled by default, uncomment this to enable it.
#listen_tcp = 1

# Override the port for accepting secure TLS connections
#tls_port = \"16514\"

# Override the port for accepting insecure TCP connections
#tcp_port = \"16509\"

# Change the authentication scheme for TCP sockets.
#auth_tcp = \"sasl\"

# Maximum number of concurrent client connections to allow
#max_clients = 5000
";

const DEFAULT_LIBVIRTD: &str = "# Customizations for the libvirtd.service systemd unit

#LIBVIRTD_ARGS=\"--timeout 120\"

# If systemd socket activation is disabled, then the following
# can be used to listen on TCP/TLS sockets
#LIBVIRTD_ARGS=\"--listen\"
";

const QEMU_CONF: &str = "# Main configuration file for the QEMU driver
#
# VNC is configured to listen on 127.0.0.1 by default.
# To make it listen on all public interfaces, uncomment
# this next option.
#
#vnc_listen = \"0.0.0.0\"

# Enable use of TLS encryption on the VNC server.
#vnc_tls = 1
#security_driver = \"selinux\"
";
