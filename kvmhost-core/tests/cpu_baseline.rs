//! Every x86_64 `baseline` case of libvirt 9.0's tests/cputest.c (MANIFEST.tsv) gives libvirt's
//! expected `<cpu>` XML, compared semantically.

mod common;

use kvmhost_core::cpu::{baseline, compare_defs, migration_safe_cpu, BaselineOptions, ClusterHost, CpuDef, CpuKind};
use kvmhost_core::domain::FeaturePolicy;
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

/// Two QEMU-expanded AMD hosts (custom CPUs disabling what the host lacks): the disabled
/// features stay disabled in the baseline. Expected: libvirt 9.0's `virCPUBaseline` on the same
/// two files (`VIR_CPU_TYPE_AUTO`, as cputest.c loads them).
#[test]
fn qemu_expanded_cpus_keep_their_disabled_features() {
    let Some((corpus, map)) = common::corpus_and_map() else { return };
    let dir = corpus.join("cputest");
    let mut cpus = load_multi(&dir.join("x86_64-cpuid-EPYC-7601-32-Core-ibpb-json.xml"));
    cpus.extend(load_multi(&dir.join("x86_64-cpuid-EPYC-7502-32-Core-json.xml")));
    let got = baseline(&map, &cpus, &BaselineOptions::new()).unwrap();
    let want = "<cpu mode='custom' match='exact'>\n  <model fallback='allow'>EPYC-IBPB</model>\n  \
                <vendor>AMD</vendor>\n  <feature policy='require' name='x2apic'/>\n  \
                <feature policy='require' name='tsc-deadline'/>\n  <feature policy='require' name='hypervisor'/>\n  \
                <feature policy='require' name='tsc_adjust'/>\n  <feature policy='require' name='cmp_legacy'/>\n  \
                <feature policy='require' name='npt'/>\n  <feature policy='require' name='nrip-save'/>\n  \
                <feature policy='disable' name='rdtscp'/>\n  <feature policy='disable' name='svm'/>\n  \
                <feature policy='disable' name='monitor'/>\n</cpu>\n";
    assert_eq!(got.to_xml(), want);
    // read as host CPUs (virConnectBaselineCPU), the policies are ignored
    let hosts: Vec<CpuDef> = cpus.iter().map(|c| CpuDef { kind: CpuKind::Host, ..c.clone() }).collect();
    let got = baseline(&map, &hosts, &BaselineOptions::new()).unwrap();
    assert!(got.cpu.feature("rdtscp").is_none() && got.cpu.feature("svm").is_none(), "{}", got.to_xml());
    // a forbidden feature counts as a disabled one; an optional one is ignored
    let mut forbid = cpus[0].clone();
    for f in &mut forbid.cpu.features {
        if f.policy == Some(FeaturePolicy::Disable) {
            f.policy = Some(FeaturePolicy::Forbid);
        }
    }
    let got = baseline(&map, &[forbid, cpus[1].clone()], &BaselineOptions::new()).unwrap();
    assert_eq!(got.cpu.feature("svm").and_then(|f| f.policy.clone()), Some(FeaturePolicy::Disable));
    let mut optional = cpus[1].clone();
    optional.cpu.set_feature("sha-ni", FeaturePolicy::Optional);
    let with = baseline(&map, &[cpus[1].clone()], &BaselineOptions::new()).unwrap();
    assert_eq!(baseline(&map, &[optional], &BaselineOptions::new()).unwrap(), with);
}

#[test]
fn a_cpu_without_model_is_refused() {
    let Some((_, map)) = common::corpus_and_map() else { return };
    let a = CpuDef::parse("<cpu><arch>x86_64</arch><model>Penryn</model></cpu>").unwrap();
    let b = CpuDef::parse("<cpu><arch>x86_64</arch><feature name='sse2'/></cpu>").unwrap();
    let e = baseline(&map, &[a, b], &BaselineOptions::new()).unwrap_err();
    assert_eq!(e.to_string(), "invalid CPU definition: no CPU model specified at index 1");
}

/// `migration_safe_cpu` answers what libvirtd's QEMU driver answers to `virsh cpu-baseline
/// --migratable` (expected: libvirt 9.0 on `qemu:///embed` with this host CPU): no `invtsc`
/// (not migratable), no `osxsave` / `cmt` (`virQEMUCapsCPUFilterFeatures`).
#[test]
fn migration_safe_cpu_is_what_qemu_accepts() {
    let Some((corpus, map)) = common::corpus_and_map() else { return };
    let host = load_multi(&corpus.join("cputest/x86_64-cpuid-Xeon-E5-2650-v3-host.xml")).remove(0);
    for name in ["osxsave", "cmt", "invtsc"] {
        assert!(host.cpu.feature(name).is_some(), "{name}");
    }
    let safe = migration_safe_cpu(&map, &[ClusterHost::new("a", host.clone()), ClusterHost::new("b", host)]).unwrap();
    let names: Vec<&str> = safe.cpu.features.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(safe.cpu.model_name(), Some("Haswell-noTSX"));
    assert_eq!(
        names,
        [
            "vme",
            "ds",
            "acpi",
            "ss",
            "ht",
            "tm",
            "pbe",
            "dtes64",
            "monitor",
            "ds_cpl",
            "vmx",
            "smx",
            "est",
            "tm2",
            "xtpr",
            "pdcm",
            "dca",
            "f16c",
            "rdrand",
            "arat",
            "tsc_adjust",
            "xsaveopt",
            "pdpe1gb",
            "abm"
        ]
    );
    assert!(safe.cpu.features.iter().all(|f| f.policy == Some(FeaturePolicy::Require)));
}
