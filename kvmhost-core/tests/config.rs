//! `kvmhost_core::config`: golden edits of libvirt and shell-variable files, comment
//! preservation, idempotence, hostile input, atomic writes that fail cleanly.

use kvmhost_core::config::firewall::{kvm_host_ports, render, FirewallKind};
use kvmhost_core::config::{ConfigError, FailPoint, FileEdit, SelinuxMode, ShellVars, Value, Virconf, WriteOptions};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn data(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/config").join(name)).unwrap()
}

fn edit_libvirtd(c: &mut Virconf) {
    assert!(c.set("listen_tls", Value::Int(0)).unwrap());
    assert!(c.set("listen_tcp", Value::Int(1)).unwrap());
    assert!(c.set("tcp_port", Value::from("16510")).unwrap());
    assert!(c.set("auth_tcp", Value::from("none")).unwrap());
    assert!(c.set("tls_allowed_dn_list", Value::List(vec!["DN1".into(), "DN3".into()])).unwrap());
    assert!(c.set("max_clients", Value::Int(200)).unwrap());
    assert!(c.unset("max_workers").unwrap());
    assert!(c.unset("log_level").unwrap());
    assert!(c.set("mdns_adv", Value::Int(0)).unwrap());
}

#[test]
fn libvirtd_conf_golden() {
    let text = data("libvirtd.conf");
    let mut c = Virconf::parse_named("libvirtd.conf", &text).unwrap();
    assert_eq!(c.text(), text, "an unedited document is kept byte for byte");
    assert_eq!(c.get_str("tcp_port").unwrap(), Some("16509"));
    assert_eq!(c.get_str_list("tls_allowed_dn_list").unwrap().unwrap(), ["DN1", "DN2"]);
    assert_eq!(c.get_u32("min_workers").unwrap(), Some(5));
    assert_eq!(c.get_str("log_outputs").unwrap(), Some("3:syslog:libvirtd\n1:file:/var/log/libvirt/libvirtd.log"));
    edit_libvirtd(&mut c);
    assert_eq!(c.text(), data("libvirtd.conf.golden"));
    // Every comment line of the input is still there.
    for line in text.lines().filter(|l| l.starts_with('#')) {
        let kept = c.text().lines().any(|l| l == line) || line == "#listen_tcp = 1";
        assert!(kept, "comment lost: {line}");
    }
    // The same edits again change nothing.
    let once = c.text().to_string();
    let mut again = Virconf::parse(&once).unwrap();
    for (k, v) in [("listen_tls", Value::Int(0)), ("listen_tcp", Value::Int(1)), ("max_clients", Value::Int(200))] {
        assert!(!again.set(k, v).unwrap());
    }
    assert!(!again.unset("log_level").unwrap());
    assert_eq!(again.text(), once);
}

#[test]
fn typed_errors_name_line_and_column() {
    let c = Virconf::parse_named("qemu.conf", "a = 1\nvnc_listen = 0\nmax_clients = \"20\"").unwrap();
    let e = c.get_str("vnc_listen").unwrap_err();
    assert_eq!(e.to_string(), "qemu.conf:2:14: vnc_listen: expected a string, found the integer 0");
    assert!(matches!(e, ConfigError::Type { line: 2, column: 14, .. }));
    assert!(c.get_u32("max_clients").is_err());
    assert_eq!(c.position("max_clients"), Some((3, 15)));
}

#[test]
fn shell_file_golden() {
    let text = data("default-libvirtd");
    let mut f = ShellVars::parse_named("/etc/default/libvirtd", &text).unwrap();
    assert_eq!(f.text(), text);
    assert!(f.set("LIBVIRTD_ARGS", "--listen").unwrap());
    assert!(f.set("KRB5_KTNAME", "/etc/libvirt/krb5 tab").unwrap());
    assert_eq!(f.text(), data("default-libvirtd.golden"));
    assert!(!f.set("LIBVIRTD_ARGS", "--listen").unwrap());
    let back = ShellVars::parse(f.text()).unwrap();
    assert_eq!(back.get("KRB5_KTNAME"), Some("/etc/libvirt/krb5 tab"));
}

#[test]
fn selinux_config() {
    let text = "# This file controls the state of SELinux\nSELINUX=enforcing\nSELINUXTYPE=targeted\n";
    let mut f = ShellVars::parse(text).unwrap();
    assert_eq!(f.get("SELINUX").unwrap().parse::<SelinuxMode>().unwrap(), SelinuxMode::Enforcing);
    f.set("SELINUX", &SelinuxMode::Permissive.to_string()).unwrap();
    assert_eq!(f.text(), "# This file controls the state of SELinux\nSELINUX=permissive\nSELINUXTYPE=targeted\n");
}

#[test]
fn firewall_rules_golden() {
    let mut out = String::new();
    for k in [FirewallKind::Nftables, FirewallKind::Iptables, FirewallKind::Ufw, FirewallKind::Firewalld] {
        out.push_str(&format!("# {k}\n{}", render(k, &kvm_host_ports())));
    }
    assert_eq!(out, data("firewall.golden"));
}

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("kvmhost-config-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn failed_writes_leave_the_old_file_and_no_temporary_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new("crash");
    let path = dir.0.join("libvirtd.conf");
    std::fs::write(&path, "listen_tcp = 0\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let edit =
        FileEdit::text(&path, "/etc/libvirt/libvirtd.conf", Some("listen_tcp = 0\n".into()), "listen_tcp = 1\n".into());
    for point in [FailPoint::AfterTempWrite, FailPoint::BeforeRename] {
        let e = edit.apply(&WriteOptions::default().failing_at(point)).unwrap_err();
        assert!(e.to_string().contains(".kvmhost-tmp."), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "listen_tcp = 0\n", "{point:?}");
        assert_eq!(dir.names(), ["libvirtd.conf"], "{point:?}: no temporary file, no backup");
    }
    let done = edit.apply(&WriteOptions::default()).unwrap();
    assert!(done.changed);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "listen_tcp = 1\n");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the mode is kept");
    assert_eq!(dir.names(), ["libvirtd.conf", "libvirtd.conf.kvmhost-bak"]);
    // Planned against an older text: refused.
    let stale = FileEdit::text(&path, "x", Some("listen_tcp = 0\n".into()), "listen_tcp = 2\n".into());
    assert!(matches!(stale.apply(&WriteOptions::default()), Err(ConfigError::Conflict { .. })));
    // A second backup does not overwrite the first (the original).
    let next = FileEdit::text(&path, "x", Some("listen_tcp = 1\n".into()), "listen_tcp = 3\n".into());
    let done = next.apply(&WriteOptions::default()).unwrap();
    assert_eq!(done.backup.unwrap(), dir.0.join("libvirtd.conf.kvmhost-bak.1"));
    assert_eq!(std::fs::read_to_string(dir.0.join("libvirtd.conf.kvmhost-bak")).unwrap(), "listen_tcp = 0\n");
}

#[test]
fn oversized_and_binary_files_are_refused() {
    let dir = Dir::new("limits");
    let big = dir.0.join("big.conf");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(kvmhost_core::config::MAX_FILE_SIZE + 1).unwrap();
    assert!(matches!(Virconf::load(&big), Err(ConfigError::TooLarge { .. })));
    let bin = dir.0.join("bin.conf");
    std::fs::write(&bin, b"a = 1\n\xff\xfe").unwrap();
    assert!(matches!(ShellVars::load(&bin), Err(ConfigError::NotUtf8 { offset: 6, .. })));
    assert!(Virconf::load(dir.0.join("absent.conf")).unwrap().is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn virconf_never_panics_and_round_trips(text in "[a-z_ =#;,\"'\\[\\]0-9\\-+\n\t]{0,120}") {
        if let Ok(mut c) = Virconf::parse(&text) {
            prop_assert_eq!(c.text(), text.as_str());
            let keys: Vec<String> = c.keys().map(str::to_string).collect();
            for k in keys {
                c.set(&k, Value::from("x y")).unwrap();
                prop_assert_eq!(c.get_str(&k).unwrap(), Some("x y"));
            }
            c.set("added_key", Value::List(vec![Value::Int(-1), "q".into()])).unwrap();
            prop_assert!(Virconf::parse(c.text()).is_ok());
            c.unset("added_key").unwrap();
            prop_assert!(c.get("added_key").is_none());
        }
    }

    #[test]
    fn shellvars_never_panic_and_round_trip(text in "[A-Za-z_ =#\"'$\\\\0-9\n;.-]{0,120}", value in "[ -~]{0,20}") {
        if let Ok(mut f) = ShellVars::parse(&text) {
            prop_assert_eq!(f.text(), text.as_str());
            f.set("KVMHOST_X", &value).unwrap();
            let back = ShellVars::parse(f.text()).unwrap();
            prop_assert_eq!(back.get("KVMHOST_X"), Some(value.as_str()));
        }
    }
}
