//! Every x86_64 `baseline` case of libvirt 9.0's tests/cputest.c (MANIFEST.tsv) gives libvirt's
//! expected `<cpu>` XML, compared semantically.

mod common;

use kvmhost_core::cpu::{baseline, compare_defs, BaselineOptions, CpuDef};
use kvmhost_core::xml::Document;

/// The `<cpu>` elements of a `<cpuTest>` file (or a single `<cpu>`).
fn load_multi(path: &std::path::Path) -> Vec<CpuDef> {
    let doc = Document::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    if doc.root.name == "cpu" {
        return vec![CpuDef::from_element(&doc.root).unwrap()];
    }
    doc.root.children_named("cpu").map(|c| CpuDef::from_element(c).unwrap()).collect()
}

#[test]
fn manifest_baseline_cases() {
    let Some((corpus, map)) = common::corpus_and_map() else { return };
    let dir = corpus.join("cputest");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let (mut total, mut failures) = (0, Vec::new());
    for line in manifest.lines().filter(|l| l.starts_with("baseline\t")) {
        let f: Vec<&str> = line.split('\t').collect();
        let (name, flags, expected) = (f[1], f[2], f[3]);
        let expand = flags.contains("EXPAND_FEATURES");
        let migratable = flags.contains("MIGRATABLE");
        let cpus = load_multi(&dir.join(format!("x86_64-baseline-{name}.xml")));
        total += 1;
        let got = baseline(&map, &cpus, &BaselineOptions::new().expand_features(expand).migratable(migratable));
        if expected == "-1" {
            if let Ok(cpu) = got {
                failures.push(format!("{name}: expected an error, got {}", cpu.to_xml()));
            }
            continue;
        }
        let cpu = match got {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name} {flags}: {e}"));
                continue;
            }
        };
        let suffix = if expand {
            "expanded"
        } else if migratable {
            "migratable"
        } else {
            "result"
        };
        let want = std::fs::read_to_string(dir.join(format!("x86_64-baseline-{name}-{suffix}.xml"))).unwrap();
        let want = Document::parse(&want).unwrap();
        let ours = Document::parse(&cpu.to_xml()).unwrap();
        if let Some(d) = ours.root.first_difference(&want.root, "") {
            failures.push(format!("{name} {flags}: {d}\n{}", cpu.to_xml()));
        }
        // as cputest.c checks: every input CPU runs the baseline
        for (i, c) in cpus.iter().enumerate() {
            let r = compare_defs(&map, c, &cpu).unwrap();
            if !r.is_compatible() {
                failures.push(format!("{name}: input {i} cannot run the baseline: {r:?}"));
            }
        }
    }
    assert_eq!(total, 9);
    assert!(failures.is_empty(), "{} of {total} failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn baseline_errors_are_explained() {
    let Some((corpus, map)) = common::corpus_and_map() else { return };
    let cpus = load_multi(&corpus.join("cputest/x86_64-baseline-incompatible-vendors.xml"));
    let e = baseline(&map, &cpus, &BaselineOptions::new()).unwrap_err();
    assert_eq!(e.to_string(), "CPU vendors do not match");
    assert!(baseline(&map, &[], &BaselineOptions::new()).is_err());
    let bogus = CpuDef::parse("<cpu><arch>x86_64</arch><model>Penryn</model><vendor>Bogus</vendor></cpu>").unwrap();
    assert_eq!(baseline(&map, &[bogus], &BaselineOptions::new()).unwrap_err().to_string(), "Unknown CPU vendor Bogus");
    let bad = CpuDef::parse("<cpu><arch>x86_64</arch><model>Nope</model></cpu>").unwrap();
    assert!(baseline(&map, &[bad], &BaselineOptions::new()).is_err());
    let amd_model =
        CpuDef::parse("<cpu><arch>x86_64</arch><model>Opteron_G3</model><vendor>Intel</vendor></cpu>").unwrap();
    let intel = CpuDef::parse("<cpu><arch>x86_64</arch><model>Penryn</model><vendor>Intel</vendor></cpu>").unwrap();
    let e = baseline(&map, &[intel, amd_model], &BaselineOptions::new()).unwrap_err();
    assert!(e.to_string().contains("differs from vendor Intel"), "{e}");
}
