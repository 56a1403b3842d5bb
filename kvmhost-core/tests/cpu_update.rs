//! The x86_64 `update`, `guestcpu` and `hasfeature` cases of libvirt 9.0's tests/cputest.c
//! (MANIFEST.tsv) give libvirt's results and expected XML.

use kvmhost_core::cpu::{
    compare_defs, copy_migratable, guest_cpu, has_feature, update, CompareResult, CpuDef, CpuMap, HvModel,
};
use kvmhost_core::xml::Document;
use std::path::{Path, PathBuf};

fn setup() -> Option<(CpuMap, PathBuf, String)> {
    let Some(corpus) = kvmhost_testdata::libvirt_corpus() else {
        println!("SKIP: libvirt test corpus not found");
        return None;
    };
    let map = CpuMap::load(corpus.join("cpu_map")).unwrap();
    let dir = corpus.join("cputest");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    Some((map, dir, manifest))
}

fn load(dir: &Path, name: &str) -> CpuDef {
    CpuDef::parse(&std::fs::read_to_string(dir.join(format!("x86_64-{name}.xml"))).unwrap()).unwrap()
}

fn diff(ours: &CpuDef, dir: &Path, expected: &str) -> Option<String> {
    let want = Document::parse(&std::fs::read_to_string(dir.join(format!("x86_64-{expected}.xml"))).unwrap()).unwrap();
    let got = Document::parse(&ours.to_xml()).unwrap();
    got.root.first_difference(&want.root, "").map(|d| format!("{expected}: {d}\n{}", ours.to_xml()))
}

fn result_name(r: &Result<CompareResult, kvmhost_core::cpu::CpuError>) -> &'static str {
    match r {
        Ok(CompareResult::Identical) => "VIR_CPU_COMPARE_IDENTICAL",
        Ok(CompareResult::Superset) => "VIR_CPU_COMPARE_SUPERSET",
        Ok(CompareResult::Incompatible { .. }) => "VIR_CPU_COMPARE_INCOMPATIBLE",
        Err(_) => "VIR_CPU_COMPARE_ERROR",
    }
}

#[test]
fn manifest_update_cases() {
    let Some((map, dir, manifest)) = setup() else { return };
    let (mut total, mut failures) = (0, Vec::new());
    for line in manifest.lines().filter(|l| l.starts_with("update\t")) {
        let f: Vec<&str> = line.split('\t').collect();
        let (host_name, cpu_name, expected) = (f[1], f[2], f[3]);
        total += 1;
        let host = load(&dir, host_name);
        let mut cpu = load(&dir, cpu_name);
        let mig = copy_migratable(&map, &host);
        if let Err(e) = update(&map, &mut cpu, Some(&mig)) {
            failures.push(format!("{host_name}+{cpu_name}: {e}"));
            continue;
        }
        failures.extend(diff(&cpu, &dir, &format!("{host_name}+{cpu_name}")));
        // then libvirt compares the host with the expected updated CPU
        let r = compare_defs(&map, &host, &load(&dir, &format!("{host_name}+{cpu_name}")));
        if result_name(&r) != expected {
            failures.push(format!("{host_name}+{cpu_name}: compare {r:?}, expected {expected}"));
        }
        // and with ours, which must agree
        let ours = compare_defs(&map, &host, &cpu);
        if result_name(&ours) != expected {
            failures.push(format!("{host_name}+{cpu_name}: compare (ours) {ours:?}, expected {expected}"));
        }
    }
    // the two update-only cases: host-passthrough is left alone
    for name in ["host-passthrough", "host-passthrough-features"] {
        let mut cpu = load(&dir, name);
        update(&map, &mut cpu, Some(&load(&dir, "host"))).unwrap();
        failures.extend(diff(&cpu, &dir, &format!("host+{name}")));
    }
    assert_eq!(total, 6);
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

fn models(list: &str) -> Option<Vec<HvModel>> {
    let names: &[&str] = match list {
        "NULL" => return None,
        "model486" => &["486"],
        "nomodel" => &["nomodel"],
        "models" => &["qemu64", "core2duo", "Nehalem"],
        "haswell" => &["SandyBridge", "Haswell"],
        other => panic!("unknown model list {other}"),
    };
    Some(names.iter().map(|n| HvModel { name: n.to_string(), blockers: vec![] }).collect())
}

#[test]
fn manifest_guestcpu_cases() {
    let Some((map, dir, manifest)) = setup() else { return };
    let (mut total, mut failures) = (0, Vec::new());
    for line in manifest.lines().filter(|l| l.starts_with("guestcpu\t")) {
        let f: Vec<&str> = line.split('\t').collect();
        let (host_name, cpu_name, list, expected) = (f[1], f[2], f[3], f[4]);
        total += 1;
        let host = load(&dir, host_name);
        let cpu = load(&dir, cpu_name);
        let models = models(list);
        match (guest_cpu(&map, &host, &cpu, models.as_deref()), expected) {
            (Ok(c), "0") => {
                let suffix = if list == "NULL" { String::new() } else { format!(",{list}") };
                failures.extend(diff(&c, &dir, &format!("{host_name}+{cpu_name}{suffix}-result")));
            }
            (Err(_), "-1") => {}
            (Ok(c), _) => failures.push(format!("{line}: expected failure, got {}", c.to_xml())),
            (Err(e), _) => failures.push(format!("{line}: {e}")),
        }
    }
    assert_eq!(total, 15);
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn manifest_hasfeature_cases() {
    let Some((map, dir, manifest)) = setup() else { return };
    let mut total = 0;
    for line in manifest.lines().filter(|l| l.starts_with("hasfeature\t")) {
        let f: Vec<&str> = line.split('\t').collect();
        let got = match has_feature(&map, &load(&dir, f[1]), f[2]) {
            Ok(true) => "YES",
            Ok(false) => "NO",
            Err(_) => "FAIL",
        };
        assert_eq!(got, f[3], "{line}");
        total += 1;
    }
    assert_eq!(total, 6);
}
