//! CPU model engine throughput (issue 3), side by side with libvirt's own C implementation.
//!
//! The same pre-generated input for both sides: 1,000 Intel host CPUs (libvirt models with
//! extra features, deterministic) and 10,000 host/guest pairs drawn from them.
//!
//! * `baseline_1000/kvmhost`: parse the 1,000 `<cpu>` documents and compute their baseline
//!   (`kvmhost_core::cpu::baseline`);
//! * `baseline_1000/libvirt`: `virConnectBaselineCPU` on `test:///default` with the same
//!   documents (libvirt 9.0's `virCPUx86Baseline`, called through the `virt` crate);
//! * `compare_10000/kvmhost`: parse and compare 10,000 host/guest pairs (`compare_defs`);
//! * `compare_10000_same_host/{kvmhost,libvirt}`: `test:///default` does not implement
//!   `virConnectCompareCPU`, which compares a guest CPU with the driver's own host CPU. libvirt's
//!   side runs in-process on the embedded QEMU driver (`qemu:///embed`, no daemon; needs
//!   `qemu-system-x86_64`), or on `KVMHOST_QEMU_URI` when set (a real libvirtd, RPC included);
//!   kvmhost's side compares the same 10,000 guests (vendor removed, so the features decide)
//!   with that driver's host CPU from its capabilities.
//!
//! Run: `cargo bench --bench cpu` (needs libvirt's test data like the tests; prints why and
//! measures nothing without it).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use kvmhost_core::cpu::{baseline, compare_defs, BaselineOptions, ClusterHost, CpuDef, CpuMap};

struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// 1,000 Intel host CPUs from Nehalem on, each with up to 8 extra features.
fn host_cpus(map: &CpuMap, n: usize) -> Vec<String> {
    let mut rng = Lcg(42);
    let models: Vec<&str> = map
        .models()
        .iter()
        .filter(|m| m.vendor.as_deref() == Some("Intel") && m.decode_host)
        .map(|m| m.name.as_str())
        .skip_while(|m| *m != "Nehalem")
        .collect();
    let feats: Vec<&str> = ["vmx", "ss", "pcid", "x2apic", "tsc-deadline", "hypervisor", "invtsc", "pdpe1gb", "aes"]
        .into_iter()
        .filter(|f| map.feature(f).is_some())
        .collect();
    (0..n)
        .map(|_| {
            let m = models[rng.next(models.len())];
            let mut fs: Vec<&str> = (0..rng.next(8)).map(|_| feats[rng.next(feats.len())]).collect();
            fs.sort_unstable();
            fs.dedup();
            let f: String = fs.iter().map(|f| format!("  <feature name='{f}'/>\n")).collect();
            format!("<cpu>\n  <arch>x86_64</arch>\n  <model>{m}</model>\n  <vendor>Intel</vendor>\n{f}</cpu>\n")
        })
        .collect()
}

/// A guest CPU (`match='exact'`) of the same model and features as a host CPU.
fn as_guest(host_xml: &str) -> String {
    host_xml
        .replace("<cpu>", "<cpu match='exact'>")
        .replace("  <arch>x86_64</arch>\n", "")
        .replace("<feature name", "<feature policy='require' name")
}

fn parse_all(xmls: &[&str]) -> Vec<CpuDef> {
    xmls.iter().map(|x| CpuDef::parse(x).unwrap()).collect()
}

fn main() {
    let Some(corpus) = kvmhost_testdata::libvirt_corpus() else {
        println!("libvirt test data not found (set KVMHOST_TESTDATA): nothing measured");
        return;
    };
    // test:///default uses the installed map; use the same one when it is there
    let map_dir =
        if CpuMap::default_path().join("index.xml").exists() { CpuMap::default_path() } else { corpus.join("cpu_map") };
    let map = CpuMap::load(&map_dir).unwrap();
    let hosts = host_cpus(&map, 1000);
    let host_refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let mut rng = Lcg(7);
    let pairs: Vec<(String, String)> =
        (0..10_000).map(|_| (hosts[rng.next(hosts.len())].clone(), as_guest(&hosts[rng.next(hosts.len())]))).collect();

    let mut c = Criterion::default().configure_from_args().sample_size(10).measurement_time(Duration::from_secs(5));
    let conn = virt::connect::Connect::open(Some("test:///default")).ok();
    // both sides must agree on the input before they are timed
    let ours = baseline(&map, &parse_all(&host_refs), &BaselineOptions::new()).unwrap().to_xml();
    if let Some(conn) = &conn {
        let theirs = conn.baseline_cpu(&host_refs, 0).unwrap();
        let same = kvmhost_core::xml::Document::parse(&ours)
            .unwrap()
            .root
            .semantically_eq(&kvmhost_core::xml::Document::parse(&theirs).unwrap().root);
        assert!(same, "baselines differ:\n{ours}\n{theirs}");
    }

    let mut g = c.benchmark_group("baseline_1000");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("kvmhost", |b| {
        b.iter(|| baseline(&map, &parse_all(black_box(&host_refs)), &BaselineOptions::new()).unwrap())
    });
    if let Some(conn) = &conn {
        g.bench_function("libvirt", |b| b.iter(|| conn.baseline_cpu(black_box(&host_refs), 0).unwrap()));
    }
    g.finish();

    let mut g = c.benchmark_group("compare_10000");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("kvmhost", |b| {
        b.iter(|| {
            pairs
                .iter()
                .filter(|(h, gst)| {
                    let (h, gst) = (CpuDef::parse(h).unwrap(), CpuDef::parse(gst).unwrap());
                    compare_defs(&map, &h, &gst).unwrap().is_compatible()
                })
                .count()
        })
    });
    g.finish();

    let embed_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench/qemu-embed");
    let uri =
        std::env::var("KVMHOST_QEMU_URI").unwrap_or_else(|_| format!("qemu:///embed?root={}", embed_root.display()));
    if uri.starts_with("qemu:///embed") {
        std::fs::create_dir_all(&embed_root).unwrap();
        // SAFETY: registers libvirt's default event loop implementation, which the embedded
        // driver requires; called once, before any connection is opened.
        unsafe {
            virt::sys::virEventRegisterDefaultImpl();
        }
    }
    match virt::connect::Connect::open(Some(&uri)) {
        Ok(qemu) => {
            let host = ClusterHost::from_capabilities("qemu", &qemu.capabilities().unwrap()).unwrap().cpu;
            let guests: Vec<String> = pairs.iter().map(|(_, g)| g.replace("  <vendor>Intel</vendor>\n", "")).collect();
            // same answers first
            for g in guests.iter().take(200) {
                let ours = compare_defs(&map, &host, &CpuDef::parse(g).unwrap()).unwrap();
                let theirs = qemu.compare_cpu(g, 0).unwrap();
                let ours = match ours {
                    kvmhost_core::cpu::CompareResult::Incompatible { .. } => 0,
                    kvmhost_core::cpu::CompareResult::Identical => 1,
                    kvmhost_core::cpu::CompareResult::Superset => 2,
                };
                assert_eq!(ours, theirs, "{g}");
            }
            let mut g = c.benchmark_group("compare_10000_same_host");
            g.throughput(Throughput::Elements(10_000));
            g.bench_function("kvmhost", |b| {
                b.iter(|| {
                    guests.iter().filter_map(|x| compare_defs(&map, &host, &CpuDef::parse(x).unwrap()).ok()).count()
                })
            });
            g.bench_function("libvirt", |b| {
                b.iter(|| guests.iter().filter_map(|x| qemu.compare_cpu(x, 0).ok()).count())
            });
            g.finish();
        }
        Err(e) => println!("compare_10000_same_host: SKIP ({uri} does not open: {e})"),
    }
    c.final_summary();
}
