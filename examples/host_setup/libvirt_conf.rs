//! The CloudStack KVM guide's libvirt settings and security-module edits, through kvmhost-core's
//! configuration editors: each edit changes only the lines it changes (the shipped example line
//! `#listen_tcp = 1` is uncommented); `files` writes them with a backup and a record.
//!
//! - `/etc/libvirt/libvirtd.conf`: `listen_tls = 0`, `listen_tcp = 1`, `tcp_port = "16509"`,
//!   `auth_tcp = "none"`, `mdns_adv = 0`.
//! - `/etc/libvirt/qemu.conf`: `vnc_listen = "0.0.0.0"` (or `--vnc-listen`).
//! - `/etc/default/libvirtd` (`/etc/sysconfig/libvirtd`): `--listen` in the daemon's arguments
//!   when it is not socket activated (kvmhost-core's fix of the `libvirtd-tcp` check).
//! - AppArmor (Debian, Ubuntu): libvirt's profiles linked into `/etc/apparmor.d/disable/`.
//! - SELinux (RHEL): `SELINUX=permissive` in `/etc/selinux/config` when it says `enforcing`.

use crate::error_chain::chain;
use std::path::{Path, PathBuf};

use kvmhost::core::config::{apparmor_disable, read_text, FileEdit, ShellVars, Value, Virconf};
use kvmhost::core::preflight::{plan_fixes, Report};

/// One `key = value` of a libvirt configuration file.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The file, as on the host.
    pub file: &'static str,
    /// The key.
    pub key: &'static str,
    /// The value the guide wants.
    pub value: Value,
}

/// The guide's settings, in its order.
pub fn guide_settings(vnc_listen: &str) -> Vec<Setting> {
    const LIBVIRTD: &str = "/etc/libvirt/libvirtd.conf";
    vec![
        Setting { file: LIBVIRTD, key: "listen_tls", value: Value::Int(0) },
        Setting { file: LIBVIRTD, key: "listen_tcp", value: Value::Int(1) },
        Setting { file: LIBVIRTD, key: "tcp_port", value: Value::from("16509") },
        Setting { file: LIBVIRTD, key: "auth_tcp", value: Value::from("none") },
        Setting { file: LIBVIRTD, key: "mdns_adv", value: Value::Int(0) },
        Setting { file: "/etc/libvirt/qemu.conf", key: "vnc_listen", value: Value::from(vnc_listen) },
    ]
}

/// libvirt's AppArmor profiles the guide disables.
const APPARMOR_PROFILES: [&str; 2] = ["usr.sbin.libvirtd", "usr.lib.libvirt.virt-aa-helper"];

/// The edits of this step, and what a person still has to do.
#[derive(Debug, Clone, Default)]
pub struct ConfigPlan {
    /// File edits (no-ops left out).
    pub edits: Vec<FileEdit>,
    /// Commands the program does not run (they act on the running host, not on files).
    pub manual: Vec<String>,
}

fn under(root: &Path, file: &str) -> PathBuf {
    root.join(file.trim_start_matches('/'))
}

/// Plans the guide's edits of the files under `root`; `preflight` (the report on the same root)
/// contributes the fix of its `libvirtd-tcp` check for the daemon's arguments file
/// (`LIBVIRTD_ARGS="--listen"` in `/etc/default/libvirtd` when libvirtd is not socket activated).
pub fn plan(root: &Path, vnc_listen: &str, preflight: &Report) -> Result<ConfigPlan, String> {
    let mut plan = ConfigPlan::default();
    let settings = guide_settings(vnc_listen);
    let mut files: Vec<&str> = settings.iter().map(|s| s.file).collect();
    files.dedup();
    for file in files {
        let path = under(root, file);
        let text = read_text(&path).map_err(|e| chain(&e))?.ok_or_else(|| {
            format!("{} does not exist: is libvirt installed under {}?", path.display(), root.display())
        })?;
        let mut conf = Virconf::parse_named(file, &text).map_err(|e| e.to_string())?;
        for s in settings.iter().filter(|s| s.file == file) {
            conf.set(s.key, s.value.clone()).map_err(|e| format!("{file}: {e}"))?;
        }
        if conf.text() != text {
            plan.edits.push(FileEdit::text(&path, file, Some(text.clone()), conf.text().to_string()));
        }
    }
    // The daemon's arguments: kvmhost-core's own fix (it knows socket activation and the file's
    // name on each distribution); the libvirtd.conf part of that fix is already planned above.
    let mut tcp = Report::default();
    tcp.checks = preflight.checks.iter().filter(|c| c.id == "libvirtd-tcp").cloned().collect();
    let fixes = plan_fixes(root, &tcp);
    for edit in fixes.edits {
        if !plan.edits.iter().any(|e| e.path == edit.path) && !settings.iter().any(|s| under(root, s.file) == edit.path)
        {
            plan.edits.push(edit);
        }
    }
    if let Some(r) = fixes.refused.first() {
        return Err(format!("{}: {}", r.file, r.reason));
    }
    // AppArmor: only the profiles this host ships.
    let profiles: Vec<&str> =
        APPARMOR_PROFILES.into_iter().filter(|p| under(root, &format!("/etc/apparmor.d/{p}")).is_file()).collect();
    for edit in apparmor_disable(root, &profiles) {
        if !edit.is_noop() {
            plan.edits.push(edit);
        }
    }
    for p in &profiles {
        plan.manual.push(format!("apparmor_parser -R /etc/apparmor.d/{p}   # unload the running profile"));
    }
    // SELinux: permissive at boot when the configuration enforces.
    let selinux = "/etc/selinux/config";
    if let Some(mut vars) = ShellVars::load(under(root, selinux)).map_err(|e| chain(&e))? {
        if vars.get("SELINUX").is_some_and(|m| m.eq_ignore_ascii_case("enforcing")) {
            let before = vars.text().to_string();
            vars.set("SELINUX", "permissive").map_err(|e| e.to_string())?;
            plan.edits.push(FileEdit::text(under(root, selinux), selinux, Some(before), vars.text().to_string()));
            plan.manual.push("setenforce permissive   # now; the file takes effect at boot".into());
        }
    }
    for m in fixes.manual {
        plan.manual.push(format!("{}   # {}", m.remedy, m.id));
    }
    plan.manual.push("systemctl restart libvirtd   # to take the new settings".into());
    Ok(plan)
}
