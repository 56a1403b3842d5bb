//! `examples/cpu.rs` (the `cpu` CLI), run through cargo on libvirt's test data.

use std::path::{Path, PathBuf};
use std::process::Command;

fn cli(args: &[&str]) -> (i32, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["run", "--quiet", "--example", "cpu", "--"])
        .args(args)
        .output()
        .expect("cargo runs");
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), s(&out.stdout), s(&out.stderr))
}

fn same_xml(a: &str, b: &Path) -> bool {
    use kvmhost_core::xml::Document;
    let want = Document::parse(&std::fs::read_to_string(b).unwrap()).unwrap();
    Document::parse(a).unwrap().root.semantically_eq(&want.root)
}

#[test]
fn cpu_cli_commands() {
    let Some(corpus) = kvmhost_testdata::libvirt_corpus() else {
        println!("SKIP: libvirt test corpus not found");
        return;
    };
    let map = corpus.join("cpu_map");
    let map = map.to_str().unwrap();
    let t = |n: &str| -> PathBuf { corpus.join("cputest").join(format!("x86_64-{n}.xml")) };
    let p = |b: &PathBuf| b.to_str().unwrap().to_string();

    let (code, out, _) = cli(&["compare", "--cpu-map", map, &p(&t("host")), &p(&t("host-worse"))]);
    assert_eq!((code, out.as_str()), (0, "SUPERSET\n"));
    let (_, out, _) = cli(&["compare", "--cpu-map", map, &p(&t("host")), &p(&t("exact-forbid"))]);
    assert_eq!(out, "INCOMPATIBLE\nHost CPU provides forbidden features: vmx\n");
    let (_, out, _) = cli(&["compare", "--cpu-map", map, &p(&t("host")), &p(&t("bogus-model"))]);
    assert!(out.starts_with("ERROR\n"), "{out}");

    let (code, out, err) = cli(&["baseline", "--cpu-map", map, "--migratable", &p(&t("baseline-Westmere+Nehalem"))]);
    assert_eq!(code, 0, "{err}");
    assert!(same_xml(&out, &t("baseline-Westmere+Nehalem-migratable")), "{out}");
    let (code, out, _) = cli(&["baseline", "--cpu-map", map, "--expand-features", &p(&t("baseline-features"))]);
    assert_eq!(code, 0);
    assert!(same_xml(&out, &t("baseline-features-expanded")), "{out}");
    let (code, out, err) = cli(&["baseline", "--cpu-map", map, &p(&t("baseline-incompatible-vendors"))]);
    assert_eq!((code, out.as_str(), err.as_str()), (1, "", "CPU vendors do not match\n"));

    let (code, out, _) = cli(&["decode", "--cpu-map", map, &p(&t("cpuid-Xeon-Gold-6148"))]);
    assert_eq!(code, 0);
    assert!(same_xml(&out, &t("cpuid-Xeon-Gold-6148-host")), "{out}");

    if cfg!(target_arch = "x86_64") {
        let (code, out, err) = cli(&["host", "--cpu-map", map]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("<arch>x86_64</arch>") && out.contains("<model>"), "{out}");
    }
    let (code, _, err) = cli(&["frobnicate"]);
    assert_eq!(code, 2, "a usage error exits 2, as clap does: {err}");
    assert!(err.contains("unrecognized subcommand 'frobnicate'") && err.contains("Usage: cpu"), "{err}");
    let (code, out, _) = cli(&["baseline", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--expand-features") && out.contains("--cpu-map <DIR>"), "{out}");
}
