//! `--fix`: the fixes of failed checks planned as file edits on copies of the fixture roots —
//! golden diffs and files, dry runs changing nothing, backups, a second run changing nothing,
//! malformed files refused.

mod preflight_support;

use kvmhost_core::config::{Content, WriteOptions, BACKUP_SUFFIX};
use kvmhost_core::preflight::{plan_fixes, Gatherer, Profile, Report, Status};
use preflight_support::{data, fixture, TempRoot};
use std::path::Path;

fn run(root: &TempRoot, profile: &Profile) -> Report {
    profile.run(&Gatherer::new(root.path()).gather())
}

/// Every regular file under `dir`, relative, with its content.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                let body = if m.file_type().is_symlink() {
                    std::fs::read_link(&p).unwrap().display().to_string().into_bytes()
                } else {
                    std::fs::read(&p).unwrap()
                };
                out.push((rel, body));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn no_tcp_fix_matches_the_golden_files_and_is_idempotent() {
    let root = fixture("no-tcp");
    let cs = Profile::cloudstack();
    let report = run(&root, &cs);
    let plan = plan_fixes(root.path(), &report);
    assert!(plan.refused.is_empty());
    let golden = data().join("golden");
    assert_eq!(plan.diff(), std::fs::read_to_string(golden.join("no-tcp-cloudstack.diff")).unwrap());
    let files = ["etc/libvirt/libvirtd.conf", "etc/libvirt/qemu.conf", "etc/default/libvirtd"];
    let shown: Vec<_> = plan.edits.iter().map(|e| e.display.trim_start_matches('/')).collect();
    assert_eq!(shown, ["etc/libvirt/libvirtd.conf", "etc/default/libvirtd", "etc/libvirt/qemu.conf"]);
    // Problems with no file edit are left as manual steps (with their remedies).
    let manual: Vec<_> = plan.manual.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(manual, ["secure-guest"]);

    // A dry run (planning and diffing) changed nothing.
    let before = snapshot(root.path());
    let originals: Vec<String> = files.iter().map(|f| root.read(f)).collect();

    let applied = plan.apply(&WriteOptions::default()).unwrap();
    assert!(applied.iter().all(|a| a.changed));
    for (f, original) in files.iter().zip(&originals) {
        let want = std::fs::read_to_string(golden.join("no-tcp").join(f)).unwrap();
        assert_eq!(root.read(f), want, "{f}");
        assert_eq!(&root.read(&format!("{f}{BACKUP_SUFFIX}")), original, "backup of {f}");
    }
    let after = snapshot(root.path());
    assert_eq!(after.len(), before.len() + 3, "three backups, no temporary file left");

    // Checked again: the settings pass; libvirtd must still be restarted to listen.
    let again = run(&root, &cs);
    for id in ["libvirtd-listen-tls", "libvirtd-auth-tcp", "vnc-listen"] {
        assert_eq!(again.get(id).unwrap().status, Status::Pass, "{id}");
    }
    let tcp = again.get("libvirtd-tcp").unwrap();
    assert_eq!(tcp.status, Status::Fail);
    assert!(tcp.message.contains("nothing listens on port 16509"), "{}", tcp.message);
    assert_eq!(tcp.remedy.as_deref(), Some("restart libvirtd"));
    assert!(tcp.fixes.is_empty());

    // A second --fix changes nothing.
    let plan2 = plan_fixes(root.path(), &again);
    assert!(plan2.edits.is_empty(), "{:?}", plan2.edits);
    assert_eq!(plan2.diff(), "");
    assert_eq!(snapshot(root.path()), after);
    // Applying the first plan again writes nothing either (its result is there).
    assert!(plan.apply(&WriteOptions::default()).unwrap().iter().all(|a| !a.changed));
    assert_eq!(snapshot(root.path()), after);
}

#[test]
fn dry_run_changes_nothing() {
    let root = fixture("no-tcp");
    let before = snapshot(root.path());
    let plan = plan_fixes(root.path(), &run(&root, &Profile::archipel()));
    let diff = plan.diff();
    assert_eq!(
        diff,
        "--- a/etc/libvirt/qemu.conf\n+++ b/etc/libvirt/qemu.conf\n@@ -6,4 +6,4 @@\n \n # SPICE is configured to listen on \
         127.0.0.1 by default.\n #\n-# spice_listen = \"0.0.0.0\"\n+spice_listen = \"0.0.0.0\"\n"
    );
    assert_eq!(snapshot(root.path()), before);
}

#[test]
fn selinux_config_fixed_runtime_left_to_the_admin() {
    let root = fixture("selinux-enforcing");
    let cs = Profile::cloudstack();
    let plan = plan_fixes(root.path(), &run(&root, &cs));
    assert_eq!(plan.edits.len(), 1);
    assert!(plan.diff().contains("-SELINUX=enforcing\n+SELINUX=permissive\n"), "{}", plan.diff());
    plan.apply(&WriteOptions::default()).unwrap();
    let config = root.read("etc/selinux/config");
    assert!(config.contains("\nSELINUX=permissive\n# SELINUXTYPE="), "comments and order kept: {config}");
    let again = run(&root, &cs);
    let c = again.get("selinux").unwrap();
    assert_eq!(c.status, Status::Fail, "still enforcing until setenforce");
    assert_eq!(c.remedy.as_deref(), Some("setenforce permissive"));
    assert!(c.fixes.is_empty());
    assert!(plan_fixes(root.path(), &again).edits.is_empty());
}

#[test]
fn apparmor_profiles_disabled_by_links() {
    let root = fixture("apparmor-loaded");
    let cs = Profile::cloudstack();
    let plan = plan_fixes(root.path(), &run(&root, &cs));
    assert_eq!(
        plan.diff(),
        "symlink /etc/apparmor.d/disable/usr.lib.libvirt.virt-aa-helper -> /etc/apparmor.d/usr.lib.libvirt.virt-aa-helper\n\
         symlink /etc/apparmor.d/disable/usr.sbin.libvirtd -> /etc/apparmor.d/usr.sbin.libvirtd\n"
    );
    assert!(plan.edits.iter().all(|e| matches!(e.after, Content::Symlink(_))));
    plan.apply(&WriteOptions::default()).unwrap();
    let link = std::fs::read_link(root.join("etc/apparmor.d/disable/usr.sbin.libvirtd")).unwrap();
    assert_eq!(link, Path::new("/etc/apparmor.d/usr.sbin.libvirtd"));
    let again = run(&root, &cs);
    let c = again.get("apparmor").unwrap();
    assert_eq!(c.status, Status::Fail, "the profiles stay loaded until unloaded");
    assert!(c.remedy.as_deref().unwrap().contains("apparmor_parser -R"));
    assert!(plan_fixes(root.path(), &again).edits.is_empty());
}

#[test]
fn malformed_files_are_never_rewritten() {
    let root = fixture("malformed");
    // The settings the fixes would touch are unknown (the files do not parse): plant fixes by
    // running a profile on the no-tcp facts against this root.
    let notcp = fixture("no-tcp");
    let report = run(&notcp, &Profile::cloudstack());
    let before = snapshot(root.path());
    let plan = plan_fixes(root.path(), &report);
    let refused: Vec<_> = plan.refused.iter().map(|r| (r.file.as_str(), r.reason.as_str())).collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(refused.iter().any(|(f, r)| *f == "/etc/libvirt/libvirtd.conf" && r.contains("4:12: unterminated string")));
    assert!(refused.iter().any(|(f, r)| *f == "/etc/default/libvirtd" && r.contains("2:1: expecting NAME=VALUE")));
    assert!(plan.edits.is_empty());
    plan.apply(&WriteOptions::default()).unwrap();
    assert_eq!(snapshot(root.path()), before);
}
