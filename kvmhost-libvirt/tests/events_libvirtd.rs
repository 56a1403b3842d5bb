//! Lifecycle events from a real libvirtd + QEMU (the source host of
//! `scripts/services/libvirt-hosts.sh`); skips unless `KVMHOST_MIGRATION_SRC_URI` is set.

use std::time::Duration;

use kvmhost_libvirt::events::{
    self, DefinedDetail, DomainEvents, EventKind, ResumedDetail, StartedDetail, StoppedDetail, SuspendedDetail,
    UndefinedDetail,
};
use virt::connect::Connect;

fn open(test: &str) -> Option<Connect> {
    let Some(uri) = std::env::var("KVMHOST_MIGRATION_SRC_URI").ok().filter(|v| !v.is_empty()) else {
        println!("SKIP: {test}: libvirt-hosts not started (run ./scripts/test.sh)");
        return None;
    };
    virt::error::clear_error_callback();
    kvmhost_libvirt::event_loop::ensure_running().unwrap();
    Some(Connect::open(Some(&uri)).unwrap())
}

fn xml(name: &str) -> String {
    let kind = if std::path::Path::new("/dev/kvm").exists() { "kvm" } else { "qemu" };
    format!(
        "<domain type='{kind}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <devices><emulator>/usr/bin/qemu-system-x86_64</emulator><memballoon model='none'/></devices></domain>"
    )
}

/// Events of `name` until `last` (or a 20 s silence).
async fn collect(events: &mut DomainEvents, name: &str, last: EventKind) -> Vec<EventKind> {
    let mut seen = vec![];
    while let Some(ev) = events.recv_timeout(Duration::from_secs(20)).await {
        if ev.domain == name {
            seen.push(ev.kind);
            if ev.kind == last {
                break;
            }
        }
    }
    seen
}

#[tokio::test]
async fn a_qemu_guest_lifecycle_is_delivered_in_order_after_reregistering() {
    let Some(first) = open("libvirtd events") else { return };
    let name = "lvmig-ev-qemu";
    if let Ok(old) = first.lookup_domain_by_name(name) {
        let _ = old.destroy();
        let _ = old.undefine();
    }
    let mut stream = events::subscribe(&first).unwrap();
    // Move the stream to a second connection, as after a reconnect, and close the first.
    let conn = open("libvirtd events").unwrap();
    stream.reregister(&conn).unwrap();
    drop(first);

    let dom = conn.define_domain_xml(&xml(name)).unwrap();
    dom.create().unwrap();
    dom.suspend().unwrap();
    dom.resume().unwrap();
    dom.destroy().unwrap();
    dom.undefine().unwrap();
    let seen = collect(&mut stream, name, EventKind::Undefined(UndefinedDetail::Removed)).await;
    let expected = [
        EventKind::Defined(DefinedDetail::Added),
        EventKind::Started(StartedDetail::Booted),
        EventKind::Suspended(SuspendedDetail::Paused),
        EventKind::Resumed(ResumedDetail::Unpaused),
        EventKind::Stopped(StoppedDetail::Destroyed),
        EventKind::Undefined(UndefinedDetail::Removed),
    ];
    // In this order (QEMU adds others, e.g. a resume at boot and a host shutdown on destroy).
    let mut rest = seen.iter();
    for k in &expected {
        assert!(rest.any(|s| s == k), "{k:?} missing or out of order in {seen:?}");
    }
    for once in [expected[0], expected[1], expected[4], expected[5]] {
        assert_eq!(seen.iter().filter(|s| **s == once).count(), 1, "{once:?} not exactly once in {seen:?}");
    }
}
