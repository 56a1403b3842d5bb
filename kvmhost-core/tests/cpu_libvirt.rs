//! The same baselines and compares through libvirt 9.0 itself:
//! - `virConnectBaselineCPU` on `test:///default` (libvirt's own x86 CPU driver, no daemon) for
//!   libvirt's cputest baselines and 400 generated CPU sets: identical XML;
//! - libvirt's embedded QEMU driver (`qemu:///embed`, in-process in `virsh`, no daemon; needs
//!   `qemu-system-x86_64`): this machine's host CPU as libvirt decodes it equals ours from the
//!   `cpuid` instruction, and `virsh cpu-compare` of libvirt's test guest CPUs against it gives
//!   our answers;
//! - with `KVMHOST_QEMU_URI` (a real libvirtd), the same compares and `virsh cpu-baseline`.

use kvmhost_core::cpu::{
    baseline, compare_defs, filter_qemu_unsupported, BaselineOptions, CompareResult, CpuDef, CpuMap,
};
use kvmhost_core::xml::Document;
use virt::connect::Connect;

/// A small deterministic generator (no external crate needed for reproducible cases).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// Random host CPUs: a model, maybe a vendor, some extra features.
pub fn random_cpu_set(map: &CpuMap, rng: &mut impl FnMut(usize) -> usize) -> Vec<String> {
    let vendors = [Some("Intel"), Some("AMD"), None];
    let vendor = vendors[rng(3)];
    let n = [1, 1, 2, 2, 3][rng(5)];
    (0..n)
        .map(|_| {
            let models: Vec<_> = map
                .models()
                .iter()
                .filter(|m| vendor.is_none() || m.vendor.is_none() || m.vendor.as_deref() == vendor)
                .collect();
            let m = models[rng(models.len())];
            let v = match (vendor, rng(10)) {
                (Some(v), 0..=7) => format!("<vendor>{v}</vendor>"),
                _ => String::new(),
            };
            let nf = [0, 2, 5, 15, 40][rng(5)];
            let mut names: Vec<&str> =
                (0..nf).map(|_| map.features()[rng(map.features().len())].name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            let feats: String = names.iter().map(|n| format!("<feature name='{n}'/>")).collect();
            format!("<cpu><arch>x86_64</arch><model>{}</model>{v}{feats}</cpu>", m.name)
        })
        .collect()
}

fn ours(map: &CpuMap, xmls: &[String], expand: bool) -> Result<String, String> {
    let cpus = xmls.iter().map(|x| CpuDef::parse(x)).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    baseline(map, &cpus, &BaselineOptions::new().expand_features(expand)).map(|c| c.to_xml()).map_err(|e| e.to_string())
}

fn same(a: &str, b: &str) -> bool {
    match (Document::parse(a), Document::parse(b)) {
        (Ok(x), Ok(y)) => x.root.semantically_eq(&y.root),
        _ => false,
    }
}

#[test]
fn baselines_match_libvirt_test_driver() {
    let Some(corpus) = kvmhost_testdata::libvirt_corpus() else {
        println!("SKIP: libvirt test corpus not found");
        return;
    };
    // test:///default uses the installed /usr/share/libvirt/cpu_map: compare with the same map
    let map_dir = CpuMap::default_path();
    if !map_dir.join("index.xml").exists() {
        println!("SKIP: libvirt's cpu_map is not installed");
        return;
    }
    let map = CpuMap::load(&map_dir).unwrap();
    // Errors are compared below as values; libvirt must not also print them to stderr.
    virt::error::clear_error_callback();
    let conn = Connect::open(Some("test:///default")).expect("test:///default opens");
    let mut cases: Vec<(String, Vec<String>, bool)> = Vec::new();
    for name in ["no-vendor", "some-vendors", "simple", "features", "Westmere+Nehalem", "incompatible-vendors"] {
        let text = std::fs::read_to_string(corpus.join(format!("cputest/x86_64-baseline-{name}.xml"))).unwrap();
        let doc = Document::parse(&text).unwrap();
        let cpus: Vec<String> =
            doc.root.children_named("cpu").map(|c| Document::new(c.clone()).to_xml().unwrap()).collect();
        cases.push((name.into(), cpus.clone(), false));
        cases.push((format!("{name} expanded"), cpus, true));
    }
    let mut lcg = Lcg(0x5eed);
    for i in 0..400 {
        let cpus = random_cpu_set(&map, &mut |n| lcg.next(n));
        cases.push((format!("generated #{i}"), cpus, i % 3 == 0));
    }
    let mut failures = Vec::new();
    let (mut ok, mut errors) = (0, 0);
    for (name, cpus, expand) in &cases {
        let refs: Vec<&str> = cpus.iter().map(String::as_str).collect();
        let flags = if *expand { virt::sys::VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES } else { 0 };
        let theirs = conn.baseline_cpu(&refs, flags).map_err(|e| e.to_string());
        let mine = ours(&map, cpus, *expand);
        match (&theirs, &mine) {
            (Ok(t), Ok(m)) if same(t, m) => ok += 1,
            (Err(_), Err(_)) => errors += 1,
            _ => failures.push(format!("{name}:\n{}\n--- libvirt\n{theirs:?}\n--- kvmhost\n{mine:?}", cpus.join("\n"))),
        }
    }
    assert!(ok >= 300, "too few successful cases: {ok}: {}", failures.first().cloned().unwrap_or_default());
    println!("{ok} identical baselines, {errors} refused by both, {} differences", failures.len());
    assert!(failures.is_empty(), "{}", failures.iter().take(3).cloned().collect::<Vec<_>>().join("\n\n"));
}

fn virsh(uri: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("virsh").arg("-c").arg(uri).args(args).output().expect("virsh runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// The host `<cpu>` of a capabilities document without what CPUID does not tell
/// (microcode, TSC counter, topology, address size, pages).
fn caps_host_cpu(caps: &str) -> CpuDef {
    let mut h = kvmhost_core::cpu::ClusterHost::from_capabilities("libvirt", caps).unwrap().cpu;
    h.cpu.topology = None;
    h.cpu.maxphysaddr = None;
    h
}

#[test]
fn live_host_and_compares_match_embedded_libvirt() {
    if !cfg!(target_arch = "x86_64") || !std::path::Path::new("/usr/bin/qemu-system-x86_64").exists() {
        println!("SKIP: needs an x86_64 host with qemu-system-x86_64 for qemu:///embed");
        return;
    }
    let root = std::env::temp_dir().join(format!("kvmhost-cpu-embed-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let uri = format!("qemu:///embed?root={}", root.display());
    let (ok, caps) = virsh(&uri, &["capabilities"]);
    if !ok {
        std::fs::remove_dir_all(&root).ok();
        println!("SKIP: qemu:///embed does not open here: {caps}");
        return;
    }
    let map = CpuMap::load(CpuMap::default_path()).unwrap();
    let theirs = caps_host_cpu(&caps);
    let ours = kvmhost_core::cpu::decode_host(&map, &kvmhost_core::cpu::host_cpuid().unwrap()).unwrap();
    // libvirt also reads MSRs (e.g. arch-capabilities bits) that plain CPUID cannot see
    let msr_features: Vec<&str> =
        map.features().iter().filter(|f| !f.data.msr().is_empty()).map(|f| f.name.as_str()).collect();
    let mut t = theirs.clone();
    t.cpu.features.retain(|f| !msr_features.contains(&f.name.as_str()));
    assert_eq!(ours.cpu.model_name(), t.cpu.model_name(), "libvirt: {}\nkvmhost: {}", theirs.to_xml(), ours.to_xml());
    assert_eq!(ours.cpu.vendor, t.cpu.vendor);
    assert_eq!(ours.signature, t.signature);
    let names = |c: &CpuDef| c.cpu.features.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&t), "libvirt: {}\nkvmhost: {}", theirs.to_xml(), ours.to_xml());
    let compared = compare_with(&uri, &map, &theirs);
    std::fs::remove_dir_all(&root).ok();
    println!("host CPU {} decoded identically; {compared} compares identical", ours.cpu.model_name().unwrap());
}

/// libvirt's test guest CPUs compared with `host` by us and by `virsh cpu-compare` on `uri`.
fn compare_with(uri: &str, map: &CpuMap, host: &CpuDef) -> usize {
    let corpus = kvmhost_testdata::libvirt_corpus().unwrap();
    let mut compared = 0;
    for name in [
        "min",
        "pentium3",
        "exact",
        "exact-forbid",
        "strict",
        "guest",
        "penryn-force",
        "host-SandyBridge",
        "host-amd",
        "pentium3-amd",
        "bogus-model",
        "exact-require-extra",
    ] {
        let file = corpus.join(format!("cputest/x86_64-{name}.xml"));
        let guest = CpuDef::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let guest = CpuDef { kind: kvmhost_core::cpu::CpuKind::Guest, ..guest };
        let mine = match compare_defs(map, host, &guest) {
            Ok(CompareResult::Identical) => "identical",
            Ok(CompareResult::Superset) => "superset",
            Ok(CompareResult::Incompatible { .. }) => "incompatible",
            Err(_) => "error",
        };
        let (_, out) = virsh(uri, &["cpu-compare", file.to_str().unwrap()]);
        let theirs = if out.contains("identical") {
            "identical"
        } else if out.contains("superset") {
            "superset"
        } else if out.contains("incompatible") {
            "incompatible"
        } else {
            "error"
        };
        assert_eq!(mine, theirs, "{name}: virsh said {out}");
        compared += 1;
    }
    compared
}

#[test]
fn compares_and_baselines_match_a_real_libvirtd() {
    let Ok(uri) = std::env::var("KVMHOST_QEMU_URI") else {
        println!("SKIP: KVMHOST_QEMU_URI is not set (no real libvirtd)");
        return;
    };
    if kvmhost_testdata::libvirt_corpus().is_none() {
        println!("SKIP: libvirt test corpus not found");
        return;
    }
    let map = CpuMap::load(CpuMap::default_path()).unwrap();
    let (ok, caps) = virsh(&uri, &["capabilities"]);
    assert!(ok, "{caps}");
    let host = caps_host_cpu(&caps);
    let dir = std::env::temp_dir().join(format!("kvmhost-cpu-libvirt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let compared = compare_with(&uri, &map, &host);
    // baseline of this host with libvirt's cputest hosts of the same vendor
    let host_xml = host.to_xml();
    let f = dir.join("host.xml");
    std::fs::write(&f, &host_xml).unwrap();
    let (ok, out) = virsh(&uri, &["cpu-baseline", f.to_str().unwrap()]);
    // libvirtd's QEMU driver filters a few features out of the generic baseline
    // (virQEMUCapsCPUFilterFeatures); the engine offers the same filter.
    let mine = baseline(&map, &[host], &BaselineOptions::new()).map(|mut c| {
        filter_qemu_unsupported(&mut c);
        c.to_xml()
    });
    match mine {
        Ok(m) => assert!(ok && same(&m, out.trim()), "virsh: {out}\nkvmhost: {m}"),
        Err(e) => assert!(!ok, "kvmhost refused ({e}) but virsh gave {out}"),
    }
    std::fs::remove_dir_all(&dir).ok();
    println!("{compared} compares and 1 baseline identical to {uri}");
}
