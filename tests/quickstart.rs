//! The quickstart tour (`examples/quickstart.rs`) runs end to end on libvirt's embedded
//! `test:///default` driver: preflight, a domain defined and started with its events, a VMCast
//! template packed, a clone instantiated from it and started, everything cleaned up.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_tour_runs_on_the_test_driver() {
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe.parent().and_then(|d| d.parent()).expect("target/<profile>").join("examples").join("quickstart");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart.rs");
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&bin).is_none() || modified(&bin) < modified(&src) {
        // Built in the profile this test was built in (target/<profile>/examples).
        let release = bin.ancestors().nth(2).is_some_and(|p| p.ends_with("release"));
        let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
            .args(["build", "--quiet", "--example", "quickstart"])
            .args(release.then_some("--release"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build --example quickstart");
        assert!(status.success(), "cargo build --example quickstart failed");
    }
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(&bin).arg("--work").arg(work.path()).output().expect("run quickstart");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "quickstart failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    for want in [
        "checks:",
        "event: kvmhost-quickstart Defined",
        "event: kvmhost-quickstart Started",
        "event: kvmhost-quickstart Stopped",
        "kvmhost-quickstart-clone is Running",
        "event: kvmhost-quickstart-clone Started",
        "event: kvmhost-quickstart-clone Undefined",
        "event: kvmhost-quickstart Undefined",
        "done.",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
    // The template holds the 8 MiB of data, not the 256 MiB apparent size; the clone's disk is
    // sparse like the original.
    let template = std::fs::metadata(work.path().join("quickstart.vmcast")).unwrap().len();
    assert!(template > 1 << 20 && template < 8 << 20, "template of {template} bytes");
    use std::os::unix::fs::MetadataExt;
    let clone = std::fs::metadata(work.path().join("clone/quickstart.img")).unwrap();
    assert_eq!(clone.len(), 256 << 20);
    assert!(clone.blocks() * 512 < 32 << 20, "clone disk uses {} bytes", clone.blocks() * 512);
}
