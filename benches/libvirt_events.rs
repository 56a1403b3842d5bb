//! Domain event delivery latency through `kvmhost_libvirt::events` (issue 4).
//!
//! A running guest is paused and resumed in a loop; each call produces one lifecycle event
//! (`Suspended` / `Resumed`) that libvirt's event-loop thread hands to our trampoline, which
//! sends it into the async stream. Three measurements per driver:
//!
//! * `call_only`: `virDomainSuspend` + `virDomainResume`, events drained outside the timing;
//! * `call_then_event`: each call followed by waiting for its event on the stream;
//! * `event_after_return`: only the time from a call's return to its event's arrival (the
//!   delivery latency proper; an upper bound of the time the event spends in transit).
//!
//! Drivers: `test:///default` (in-process, no daemon) always; a real libvirtd + QEMU when
//! `KVMHOST_MIGRATION_SRC_URI` is set (`eval "$(scripts/services/libvirt-hosts.sh start)"`),
//! with a 64 MiB guest.
//!
//! Run: `cargo bench --bench libvirt_events`.

use std::time::{Duration, Instant};

use criterion::Criterion;
use kvmhost_libvirt::events::{self, DomainEvents};
use virt::connect::Connect;
use virt::domain::Domain;

const TEST_XML: &str =
    "<domain type='test'><name>bench-events</name><memory>65536</memory><os><type>hvm</type></os></domain>";

fn qemu_xml() -> String {
    let kind = if std::path::Path::new("/dev/kvm").exists() { "kvm" } else { "qemu" };
    format!(
        "<domain type='{kind}'><name>bench-events</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <devices><emulator>/usr/bin/qemu-system-x86_64</emulator><memballoon model='none'/></devices></domain>"
    )
}

struct Bench {
    rt: tokio::runtime::Runtime,
    dom: Domain,
    events: DomainEvents,
}

impl Bench {
    /// Waits for the next event of the bench domain with the given type name.
    fn wait(&mut self, name: &str) {
        let events = &mut self.events;
        let ev = self.rt.block_on(async {
            loop {
                match events.recv_timeout(Duration::from_secs(10)).await {
                    Some(ev) if ev.domain == "bench-events" && ev.kind.name() == name => return Some(ev),
                    Some(_) => continue,
                    None => return None,
                }
            }
        });
        assert!(ev.is_some(), "no {name} event within 10 s");
    }

    fn drain(&mut self) {
        while self.events.try_recv().is_some() {}
    }
}

fn setup(uri: &str, xml: &str) -> Bench {
    virt::error::clear_error_callback();
    kvmhost_libvirt::event_loop::ensure_running().unwrap();
    let conn = Connect::open(Some(uri)).unwrap();
    if let Ok(old) = conn.lookup_domain_by_name("bench-events") {
        let _ = old.destroy();
        let _ = old.undefine();
    }
    let dom = conn.define_domain_xml(xml).unwrap();
    dom.create().unwrap();
    let events = events::subscribe(&conn).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    Bench { rt, dom, events }
}

fn run(c: &mut Criterion, group: &str, uri: &str, xml: &str) {
    let mut b = setup(uri, xml);
    let mut g = c.benchmark_group(group);
    g.sample_size(30).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_millis(500));
    g.bench_function("call_only", |bench| {
        bench.iter(|| {
            b.dom.suspend().unwrap();
            b.dom.resume().unwrap();
        });
        b.drain();
    });
    std::thread::sleep(Duration::from_millis(200));
    b.drain();
    g.bench_function("call_then_event", |bench| {
        bench.iter(|| {
            b.dom.suspend().unwrap();
            b.wait("Suspended");
            b.dom.resume().unwrap();
            b.wait("Resumed");
        })
    });
    g.bench_function("event_after_return", |bench| {
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                b.dom.suspend().unwrap();
                let returned = Instant::now();
                b.wait("Suspended");
                total += returned.elapsed();
                b.dom.resume().unwrap();
                let returned = Instant::now();
                b.wait("Resumed");
                total += returned.elapsed();
            }
            // Two events per iteration: report the latency of one.
            total / 2
        })
    });
    g.finish();
    let _ = b.dom.destroy();
    let _ = b.dom.undefine();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    run(&mut c, "libvirt_events_test_driver", "test:///default", TEST_XML);
    match std::env::var("KVMHOST_MIGRATION_SRC_URI") {
        Ok(uri) if !uri.is_empty() => run(&mut c, "libvirt_events_qemu", &uri, &qemu_xml()),
        _ => println!(
            "SKIP: libvirt_events_qemu: KVMHOST_MIGRATION_SRC_URI unset (scripts/services/libvirt-hosts.sh start)"
        ),
    }
    c.final_summary();
}
