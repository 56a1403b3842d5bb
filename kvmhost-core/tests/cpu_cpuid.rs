//! Every x86_64 `cpuid` case of libvirt 9.0's tests/cputest.c (MANIFEST.tsv): raw CPUID data
//! decoded into the host CPU (`-host.xml`), the guest CPU (`-guest.xml`, limited to the models
//! QEMU reported in the `.json` replies when the case has them) and the signature (`.sig`).

mod common;

use kvmhost_core::cpu::{decode_guest, decode_host, CpuidData, HvModel};
use kvmhost_core::xml::Document;
use std::path::Path;

/// The models of QEMU's `query-cpu-definitions` reply in a cputest `.json` file, with their
/// `unavailable-features` as blockers (libvirt's `virQEMUCapsGetCPUModels`).
fn qemu_models(path: &Path) -> Vec<HvModel> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
        let v = v.unwrap();
        if v["id"] != "definitions" {
            continue;
        }
        for m in v["return"].as_array().unwrap() {
            let blockers = m["unavailable-features"]
                .as_array()
                .map(|a| a.iter().filter_map(|f| f.as_str().map(String::from)).collect())
                .unwrap_or_default();
            out.push(HvModel { name: m["name"].as_str().unwrap().to_string(), blockers });
        }
    }
    out
}

fn same(ours: &str, expected_file: &Path) -> Option<String> {
    let want = Document::parse(&std::fs::read_to_string(expected_file).unwrap()).unwrap();
    let got = Document::parse(ours).unwrap();
    got.root.first_difference(&want.root, "").map(|d| format!("{d}\n{ours}"))
}

#[test]
fn manifest_cpuid_cases() {
    let Some((corpus, map)) = common::corpus_and_map() else { return };
    let dir = corpus.join("cputest");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let (mut total, mut failures) = (0, Vec::new());
    for line in manifest.lines().filter(|l| l.starts_with("cpuid\t")) {
        let f: Vec<&str> = line.split('\t').collect();
        let (name, json) = (f[1], f[2]);
        let file = |suffix: &str| dir.join(format!("x86_64-cpuid-{name}{suffix}"));
        let data = CpuidData::parse_cpudata(&std::fs::read_to_string(file(".xml")).unwrap()).unwrap();
        total += 1;
        match decode_host(&map, &data) {
            Ok(host) => failures.extend(same(&host.to_xml(), &file("-host.xml")).map(|d| format!("{name} host: {d}"))),
            Err(e) => failures.push(format!("{name} host: {e}")),
        }
        let models = matches!(json, "JSON_MODELS" | "JSON_MODELS_REQUIRED").then(|| qemu_models(&file(".json")));
        match decode_guest(&map, &data, models.as_deref()) {
            Ok(guest) => {
                failures.extend(same(&guest.to_xml(), &file("-guest.xml")).map(|d| format!("{name} guest: {d}")))
            }
            Err(e) => failures.push(format!("{name} guest: {e}")),
        }
        let sig = decode_host(&map, &data).unwrap().signature.unwrap();
        let want = std::fs::read_to_string(file(".sig")).unwrap();
        let got = format!(
            "{:06x}\nfamily:   {:3} (0x{:02x})\nmodel:    {:3} (0x{:02x})\nstepping: {:3} (0x{:02x})\n",
            sig.to_eax(),
            sig.family,
            sig.family,
            sig.model,
            sig.model,
            sig.stepping,
            sig.stepping
        );
        if got != want {
            failures.push(format!("{name} signature: {got} vs {want}"));
        }
    }
    assert_eq!(total, 34);
    assert!(failures.is_empty(), "{} failures in {total} cases:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn cpudata_round_trip_and_errors() {
    let Some(corpus) = kvmhost_testdata::libvirt_corpus() else {
        println!("SKIP: libvirt test corpus not found");
        return;
    };
    let text = std::fs::read_to_string(corpus.join("cputest/x86_64-cpuid-Xeon-E5-2650-v3.xml")).unwrap();
    let data = CpuidData::parse_cpudata(&text).unwrap();
    assert_eq!(CpuidData::parse_cpudata(&data.to_cpudata()).unwrap(), data);
    assert!(CpuidData::parse_cpudata("<cpu/>").is_err());
    assert!(CpuidData::parse_cpudata("<cpudata arch='x86'><cpuid eax_in='zz'/></cpudata>").is_err());
    assert!(CpuidData::parse_cpudata("<cpudata arch='x86'><cpuid/></cpudata>").is_err());
    assert!(CpuidData::parse_cpudata("<cpudata arch='ppc64'><cpuid eax_in='1'/></cpudata>").is_err());
}

#[test]
fn live_host_cpuid_decodes() {
    if !cfg!(target_arch = "x86_64") {
        println!("SKIP: not an x86_64 host");
        return;
    }
    let Some((_, map)) = common::corpus_and_map() else { return };
    let data = kvmhost_core::cpu::host_cpuid().unwrap();
    let host = decode_host(&map, &data).unwrap();
    let model = host.cpu.model_name().unwrap().to_string();
    assert!(map.model(&model).is_some(), "{model}");
    // /proc/cpuinfo's flags agree with what the decoder says this CPU has
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if let Some(flags) = cpuinfo.lines().find(|l| l.starts_with("flags")) {
        let has = |f: &str| flags.split_whitespace().any(|x| x == f);
        let hd = kvmhost_core::cpu::CpuDef { kind: kvmhost_core::cpu::CpuKind::Host, ..host.clone() };
        for (linux, libvirt) in [("sse4_2", "sse4.2"), ("avx2", "avx2"), ("aes", "aes"), ("vmx", "vmx"), ("svm", "svm")]
        {
            let ours = kvmhost_core::cpu::has_feature(&map, &hd, libvirt).unwrap();
            assert_eq!(ours, has(linux), "{libvirt} vs /proc/cpuinfo {linux}");
        }
    }
    println!("this host: {}", host.to_xml());
}
