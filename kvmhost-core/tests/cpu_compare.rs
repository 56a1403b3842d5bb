//! Every `compare` case of libvirt 9.0's tests/cputest.c (MANIFEST.tsv) gives libvirt's result.

mod common;

use kvmhost_core::cpu::{compare_defs, CompareResult, CpuDef};

#[test]
fn manifest_compare_cases() {
    let Some((corpus, map)) = common::corpus_and_map() else { return };
    let dir = corpus.join("cputest");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let load = |name: &str| {
        let xml = std::fs::read_to_string(dir.join(format!("x86_64-{name}.xml"))).unwrap();
        CpuDef::parse(&xml).unwrap()
    };
    let (mut total, mut failures) = (0, Vec::new());
    for line in manifest.lines().filter(|l| l.starts_with("compare\t")) {
        let f: Vec<&str> = line.split('\t').collect();
        let (host, guest, expected) = (f[1], f[2], f[3]);
        let got = match compare_defs(&map, &load(host), &load(guest)) {
            Ok(CompareResult::Identical) => "VIR_CPU_COMPARE_IDENTICAL".to_string(),
            Ok(CompareResult::Superset) => "VIR_CPU_COMPARE_SUPERSET".to_string(),
            Ok(CompareResult::Incompatible { .. }) => "VIR_CPU_COMPARE_INCOMPATIBLE".to_string(),
            Err(_) => "VIR_CPU_COMPARE_ERROR".to_string(),
        };
        total += 1;
        if got != expected {
            failures.push(format!("{host} vs {guest}: expected {expected}, got {got}"));
        }
    }
    assert_eq!(total, 29);
    assert!(failures.is_empty(), "{} of {total} failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn compare_details() {
    use kvmhost_core::cpu::{compare, CpuError};
    use kvmhost_core::domain::{Cpu, FeaturePolicy};
    let Some((corpus, map)) = common::corpus_and_map() else { return };
    let dir = corpus.join("cputest");
    let load = |name: &str| {
        let xml = std::fs::read_to_string(dir.join(format!("x86_64-{name}.xml"))).unwrap();
        CpuDef::parse(&xml).unwrap()
    };
    let host = load("host");
    let run = |guest: &str| compare_defs(&map, &host, &load(guest));
    let faulty = |r: Result<CompareResult, CpuError>| match r.unwrap() {
        CompareResult::Incompatible { reason, features } => (reason, features),
        other => panic!("expected Incompatible, got {other:?}"),
    };
    assert_eq!(run("bogus-model"), Err(CpuError::UnknownModel("Bogus".into())));
    assert_eq!(run("bogus-feature"), Err(CpuError::UnknownFeature("bogus".into())));
    let (reason, features) = faulty(run("exact-forbid"));
    assert_eq!((reason.as_str(), features), ("Host CPU provides forbidden features", vec!["vmx".to_string()]));
    let (reason, features) = faulty(run("exact-require-extra"));
    assert_eq!(reason, "Host CPU does not provide required features");
    assert_eq!(features, vec!["3dnowext"]);
    let (reason, features) = faulty(run("strict"));
    assert!(reason.contains("strictly"), "{reason}");
    for f in ["vmx", "dca", "xtpr", "vme"] {
        assert!(features.iter().any(|x| x == f), "{f} missing from {features:?}");
    }
    let (reason, _) = faulty(run("host-incomp-arch"));
    assert_eq!(reason, "CPU arch ia64 does not match host arch");
    let (reason, _) = faulty(run("pentium3-amd"));
    assert!(reason.contains("vendor"), "{reason}");
    // the plain-Cpu entry point: host features are what the host has
    let haswell = Cpu::custom("Haswell");
    assert_eq!(compare(&map, &haswell, &haswell), Ok(CompareResult::Identical));
    let sandy = Cpu::custom("SandyBridge");
    assert_eq!(compare(&map, &haswell, &sandy), Ok(CompareResult::Superset));
    let (_, missing) = faulty(compare(&map, &sandy, &haswell));
    assert!(missing.iter().any(|f| f == "avx2"));
    let opt = Cpu::custom("SandyBridge").with_feature("avx2", FeaturePolicy::Optional);
    assert_eq!(compare(&map, &sandy, &opt), Ok(CompareResult::Identical));
    let mut no_model = Cpu::custom("x");
    no_model.model = None;
    let (reason, _) = faulty(compare(&map, &no_model, &sandy));
    assert_eq!(reason, "unknown host CPU");
    let weird = Cpu::custom("Haswell").with_feature("avx2", FeaturePolicy::Other("weird".into()));
    assert!(matches!(compare(&map, &haswell, &weird), Err(CpuError::InvalidCpu(_))));
    assert!(matches!(CpuDef::parse("<notcpu/>"), Err(CpuError::InvalidCpu(_))));
    let r = CompareResult::Incompatible { reason: "r".into(), features: vec!["vmx".into()] };
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<CompareResult>(&json).unwrap(), r);
}
