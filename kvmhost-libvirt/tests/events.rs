//! Domain lifecycle events through the own `virConnectDomainEventRegisterAny` trampoline, on
//! libvirt's test driver (no daemon). `test:///default` is one shared host per process, so each
//! test uses its own domain names and filters on them.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use kvmhost_libvirt::events::{
    self, DefinedDetail, DomainEvent, DomainEvents, EventKind, ResumedDetail, StartedDetail, StoppedDetail,
    SuspendedDetail, UndefinedDetail,
};
use virt::connect::Connect;

const WAIT: Duration = Duration::from_secs(5);

fn open() -> Connect {
    virt::error::clear_error_callback();
    kvmhost_libvirt::event_loop::ensure_running().unwrap();
    Connect::open(Some("test:///default")).unwrap()
}

fn xml(name: &str) -> String {
    format!("<domain type='test'><name>{name}</name><memory>65536</memory><os><type>hvm</type></os></domain>")
}

/// The next event of domain `name` (others, from tests running in parallel, are skipped).
async fn next_of(events: &mut DomainEvents, name: &str) -> Option<DomainEvent> {
    loop {
        let ev = events.recv_timeout(WAIT).await?;
        if ev.domain == name {
            return Some(ev);
        }
    }
}

#[tokio::test]
async fn full_lifecycle_produces_the_expected_sequence() {
    let conn = open();
    let mut events = events::subscribe(&conn).unwrap();
    let name = "lvmig-ev-seq";
    let dom = conn.define_domain_xml(&xml(name)).unwrap();
    let uuid = dom.uuid_string().unwrap();
    dom.create().unwrap();
    dom.suspend().unwrap();
    dom.resume().unwrap();
    dom.destroy().unwrap();
    dom.undefine().unwrap();
    let expected = [
        EventKind::Defined(DefinedDetail::Added),
        EventKind::Started(StartedDetail::Booted),
        EventKind::Suspended(SuspendedDetail::Paused),
        EventKind::Resumed(ResumedDetail::Unpaused),
        EventKind::Stopped(StoppedDetail::Destroyed),
        EventKind::Undefined(UndefinedDetail::Removed),
    ];
    for want in expected {
        let ev = next_of(&mut events, name).await.unwrap_or_else(|| panic!("no {want:?} event"));
        assert_eq!(ev.kind, want);
        assert_eq!(ev.uuid, uuid);
    }
    // Nothing more for this domain.
    let extra = tokio::time::timeout(Duration::from_millis(200), next_of(&mut events, name)).await;
    assert!(matches!(extra, Err(_) | Ok(None)), "unexpected {extra:?}");
}

#[tokio::test]
async fn the_stream_trait_yields_events() {
    let conn = open();
    let mut events = events::subscribe(&conn).unwrap();
    let name = "lvmig-ev-stream";
    let dom = conn.define_domain_xml(&xml(name)).unwrap();
    let ev = loop {
        let next = tokio::time::timeout(WAIT, poll_fn(|cx| Pin::new(&mut events).poll_next(cx))).await;
        let ev = next.expect("timed out").expect("stream ended");
        if ev.domain == name {
            break ev;
        }
    };
    assert_eq!(ev.kind, EventKind::Defined(DefinedDetail::Added));
    dom.undefine().unwrap();
}

#[tokio::test]
async fn a_domain_filter_delivers_only_that_domain() {
    let conn = open();
    let watched = conn.define_domain_xml(&xml("lvmig-ev-watched")).unwrap();
    let other = conn.define_domain_xml(&xml("lvmig-ev-other")).unwrap();
    let mut events = events::subscribe_domain(&conn, "lvmig-ev-watched").unwrap();
    other.create().unwrap();
    watched.create().unwrap();
    // The definition's own event may still be queued when the filter registers: skip it.
    loop {
        let ev = events.recv_timeout(WAIT).await.expect("an event");
        assert_eq!(ev.domain, "lvmig-ev-watched", "{ev:?} passed the filter");
        if ev.kind == EventKind::Started(StartedDetail::Booted) {
            break;
        }
    }
    assert_eq!(events.recv_timeout(Duration::from_millis(200)).await, None);
    for d in [watched, other] {
        d.destroy().unwrap();
        d.undefine().unwrap();
    }
}

#[tokio::test]
async fn reregistering_on_a_new_connection_keeps_the_stream_without_duplicates() {
    let first = open();
    let mut events = events::subscribe(&first).unwrap();
    let second = open();
    events.reregister(&second).unwrap();
    drop(first);
    let name = "lvmig-ev-rereg";
    let dom = second.define_domain_xml(&xml(name)).unwrap();
    dom.create().unwrap();
    let a = next_of(&mut events, name).await.expect("defined");
    let b = next_of(&mut events, name).await.expect("started");
    assert_eq!((a.kind, b.kind), (EventKind::Defined(DefinedDetail::Added), EventKind::Started(StartedDetail::Booted)));
    // One registration only: the same event is not delivered twice.
    let dup = tokio::time::timeout(Duration::from_millis(200), next_of(&mut events, name)).await;
    assert!(matches!(dup, Err(_) | Ok(None)), "duplicate {dup:?}");
    dom.destroy().unwrap();
    dom.undefine().unwrap();
}

#[tokio::test]
async fn unregistering_stops_delivery() {
    let conn = open();
    let mut events = events::subscribe(&conn).unwrap();
    events.unregister();
    assert!(!events.is_registered());
    let name = "lvmig-ev-unreg";
    let dom = conn.define_domain_xml(&xml(name)).unwrap();
    let got = tokio::time::timeout(Duration::from_millis(300), next_of(&mut events, name)).await;
    assert!(matches!(got, Err(_) | Ok(None)), "event after unregister: {got:?}");
    dom.undefine().unwrap();
}

#[test]
fn subscribing_to_a_missing_domain_is_a_typed_error() {
    let conn = open();
    let err = events::subscribe_domain(&conn, "lvmig-no-such-domain").unwrap_err();
    assert!(matches!(err, kvmhost_libvirt::LibvirtError::NoSuchDomain { .. }), "{err:?}");
}
