//! Domain define / start / destroy / undefine cycles per second on libvirt's `test:///default`
//! driver (issue 4), three ways:
//!
//! * `raw_virt`: the four `virt` calls on one `virt::connect::Connect`, with the domain XML
//!   serialized once up front and the `virt::domain::Domain` object kept between calls;
//! * `raw_virt_on_blocking_pool`: the same four calls as one closure on tokio's blocking pool;
//! * `raw_virt_one_pool_call_per_op`: the same four calls, one blocking-pool hand-off each;
//! * `kvmhost_hypervisor`: the same cycle through `LibvirtHypervisor` (async trait, shared
//!   connection, each call on the blocking pool, a typed `Domain` serialized every cycle, the
//!   domain handle taken from the connection's cache by UUID), driven by `Runtime::block_on`;
//! * `kvmhost_hypervisor_in_place`: the same with `CallThread::InPlace` (each call through
//!   `block_in_place` on the calling thread instead of a blocking-pool hand-off);
//! * `virsh`: one `virsh -c test:///default 'define F; start N; destroy N; undefine N'` process
//!   per cycle (test:///default keeps no state across processes, so the four commands share one
//!   virsh invocation; a shell loop of four separate virsh calls is slower still).
//!
//! Run: `cargo bench --bench libvirt`; for instruction counts see [`counted`] (modes run without
//! criterion under `perf stat`). Numbers: BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use kvmhost::core::domain::{Display, DomainBuilder};
use kvmhost::libvirt::connection::CallThread;
use kvmhost::libvirt::{Hypervisor, LibvirtHypervisor, UndefineOptions};

fn domain() -> kvmhost::core::domain::Domain {
    DomainBuilder::new("bench-cycle")
        .memory_mib(256)
        .vcpus(1)
        .disk_file("/var/lib/libvirt/images/bench.qcow2")
        .bridge("cloudbr0")
        .display(Display::Headless)
        .build()
        .expect("builder")
}

fn main() {
    // Measured on a spawned thread, like every call of the async API (which runs on tokio's
    // blocking pool): the process's main thread allocates from glibc's main arena, which made
    // the same raw libvirt calls up to 2x slower there and would flatter the API.
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(run)
        .expect("bench thread")
        .join()
        .expect("bench thread panicked");
}

/// `KVMHOST_LIBVIRT_BENCH_MODE=none|raw|raw_pool|api|api_in_place` (and `KVMHOST_LIBVIRT_BENCH_CYCLES`, default
/// 2000): run that many cycles of one variant without criterion, for `perf stat` instruction and
/// CPU-time counts that the machine's load does not distort (`none` = the same setup, no cycles).
fn counted(mode: &str) {
    let cycles: usize = std::env::var("KVMHOST_LIBVIRT_BENCH_CYCLES").ok().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let d = domain();
    let xml = d.to_xml().expect("xml");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let hv = rt.block_on(LibvirtHypervisor::connect("test:///default")).expect("connect");
    let in_place = hv.clone().with_call_thread(CallThread::InPlace);
    let raw = std::sync::Arc::new(virt::connect::Connect::open(Some("test:///default")).expect("open"));
    let xml = std::sync::Arc::new(xml);
    let cycle = |conn: &virt::connect::Connect, xml: &str| {
        let dom = conn.define_domain_xml(xml).expect("define");
        dom.create().expect("start");
        dom.destroy().expect("destroy");
        dom.undefine().expect("undefine");
    };
    for _ in 0..cycles {
        match mode {
            "none" => {}
            "raw" => cycle(&raw, &xml),
            "raw_pool" => {
                let (conn, xml) = (raw.clone(), xml.clone());
                rt.block_on(rt.spawn_blocking(move || cycle(&conn, &xml))).expect("join")
            }
            "api" => rt.block_on(api_cycle(&hv, &d)),
            "api_in_place" => rt.block_on(api_cycle(&in_place, &d)),
            other => panic!("unknown KVMHOST_LIBVIRT_BENCH_MODE {other:?}"),
        }
    }
}

/// One define / start / destroy / undefine cycle through the API.
async fn api_cycle(hv: &LibvirtHypervisor, d: &kvmhost::core::domain::Domain) {
    let vm = hv.define(black_box(d)).await.expect("define");
    let id = vm.domain_id();
    hv.start(&id).await.expect("start");
    hv.destroy(&id).await.expect("destroy");
    hv.undefine(&id, UndefineOptions::default()).await.expect("undefine");
}

fn run() {
    if let Ok(mode) = std::env::var("KVMHOST_LIBVIRT_BENCH_MODE") {
        counted(&mode);
        return;
    }
    let mut c = Criterion::default().configure_from_args().measurement_time(Duration::from_secs(10));
    let d = domain();
    let xml = d.to_xml().expect("xml");
    let mut g = c.benchmark_group("libvirt_cycle");
    g.throughput(Throughput::Elements(1));

    // Both connections exist before either is measured, so both run with the same process-wide
    // setup (libvirt's event loop thread registered, as every kvmhost connection does first).
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let hv = rt.block_on(LibvirtHypervisor::connect("test:///default")).expect("connect");
    let raw = virt::connect::Connect::open(Some("test:///default")).expect("open");
    g.bench_function("raw_virt", |b| {
        b.iter(|| {
            let dom = raw.define_domain_xml(black_box(&xml)).expect("define");
            dom.create().expect("start");
            dom.destroy().expect("destroy");
            dom.undefine().expect("undefine");
        })
    });

    let raw_shared = std::sync::Arc::new(virt::connect::Connect::open(Some("test:///default")).expect("open"));
    let xml_shared = std::sync::Arc::new(xml.clone());
    g.bench_function("raw_virt_on_blocking_pool", |b| {
        b.iter(|| {
            let (conn, xml) = (raw_shared.clone(), xml_shared.clone());
            rt.block_on(rt.spawn_blocking(move || {
                let dom = conn.define_domain_xml(&xml).expect("define");
                dom.create().expect("start");
                dom.destroy().expect("destroy");
                dom.undefine().expect("undefine");
            }))
            .expect("join")
        })
    });

    // The same calls with one pool hand-off per operation (as the API makes): separates the
    // cost of the hand-offs from the cost of the API's own work.
    g.bench_function("raw_virt_one_pool_call_per_op", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (conn, xml) = (raw_shared.clone(), xml_shared.clone());
                let dom = tokio::task::spawn_blocking(move || conn.define_domain_xml(&xml).expect("define"))
                    .await
                    .expect("join");
                let dom =
                    tokio::task::spawn_blocking(move || dom.create().map(|_| dom).expect("start")).await.expect("join");
                let dom = tokio::task::spawn_blocking(move || dom.destroy().map(|_| dom).expect("destroy"))
                    .await
                    .expect("join");
                tokio::task::spawn_blocking(move || dom.undefine().expect("undefine")).await.expect("join");
            })
        })
    });

    g.bench_function("kvmhost_hypervisor", |b| b.iter(|| rt.block_on(api_cycle(&hv, &d))));
    let in_place = hv.clone().with_call_thread(CallThread::InPlace);
    g.bench_function("kvmhost_hypervisor_in_place", |b| b.iter(|| rt.block_on(api_cycle(&in_place, &d))));

    let virsh_ok = std::process::Command::new("virsh").arg("--version").output().is_ok_and(|o| o.status.success());
    if virsh_ok {
        let file = std::env::temp_dir().join(format!("kvmhost-bench-{}.xml", std::process::id()));
        std::fs::write(&file, &xml).expect("write xml");
        let script = format!("define {}; start bench-cycle; destroy bench-cycle; undefine bench-cycle", file.display());
        g.sample_size(10);
        g.bench_function("virsh", |b| {
            b.iter(|| {
                let out = std::process::Command::new("virsh")
                    .args(["-q", "-c", "test:///default", &script])
                    .output()
                    .expect("virsh");
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            })
        });
        let _ = std::fs::remove_file(&file);
    } else {
        eprintln!("virsh not found (apt-get install libvirt-clients): the virsh comparison is skipped");
    }
    g.finish();
    c.final_summary();
}
