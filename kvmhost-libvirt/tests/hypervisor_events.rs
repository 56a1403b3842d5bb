//! `Hypervisor::events` on `test:///default` (no daemon): filtered and unfiltered streams, the
//! `Stream` impl, deregistration on drop, and the domain-handle cache seen from the API
//! (operations by UUID after a redefinition, undefine then NoSuchDomain).

use std::time::Duration;

use futures_util::StreamExt;
use kvmhost_core::domain::DomainBuilder;
use kvmhost_libvirt::events::{EventKind, StartedDetail, StoppedDetail};
use kvmhost_libvirt::{DomainId, DomainState, Hypervisor, LibvirtError, LibvirtHypervisor, UndefineOptions};

const WAIT: Duration = Duration::from_secs(5);

fn vm(name: &str) -> kvmhost_core::domain::Domain {
    DomainBuilder::new(name).memory_mib(64).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_delivers_lifecycle_in_order_and_filters_by_uuid() {
    let host = LibvirtHypervisor::connect("test:///default").await.unwrap();
    let a = host.define(&vm("hvev-a")).await.unwrap();
    let b = host.define(&vm("hvev-b")).await.unwrap();
    let mut all = host.events(None).await.unwrap();
    let mut only_a = host.events(Some(a.domain_id())).await.unwrap();
    assert_eq!(all.registered_generation(), host.connection().generation());

    host.start(&b.domain_id()).await.unwrap();
    host.start(&a.domain_id()).await.unwrap();
    host.destroy(&a.domain_id()).await.unwrap();

    let first = only_a.recv_timeout(WAIT).await.expect("a's start");
    assert_eq!((first.domain.as_str(), first.kind), ("hvev-a", EventKind::Started(StartedDetail::Booted)));
    assert_eq!(first.uuid, a.uuid);
    let second = only_a.next().await.expect("a's stop");
    assert_eq!(second.kind, EventKind::Stopped(StoppedDetail::Destroyed));
    assert!(only_a.recv_timeout(Duration::from_millis(200)).await.is_none(), "b's events were filtered out");

    let mut seen = vec![];
    while let Some(ev) = all.recv_timeout(Duration::from_millis(500)).await {
        if ev.domain == "hvev-a" || ev.domain == "hvev-b" {
            seen.push((ev.domain, ev.kind.name()));
        }
    }
    assert_eq!(seen, vec![("hvev-b".into(), "Started"), ("hvev-a".into(), "Started"), ("hvev-a".into(), "Stopped")]);

    // A name filter works as well; a dropped stream no longer receives (nor blocks anything).
    let mut by_name = host.events(Some(DomainId::name("hvev-b"))).await.unwrap();
    drop(all);
    host.destroy(&b.domain_id()).await.unwrap();
    assert_eq!(by_name.recv_timeout(WAIT).await.unwrap().kind, EventKind::Stopped(StoppedDetail::Destroyed));
    for d in [&a, &b] {
        host.undefine(&d.domain_id(), UndefineOptions::default()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_domain_handles_follow_undefine_and_redefinition() {
    let host = LibvirtHypervisor::connect("test:///default").await.unwrap();
    let first = host.define(&vm("hvev-cache")).await.unwrap();
    let id = first.domain_id();
    host.start(&id).await.unwrap();
    assert_eq!(host.state(&id).await.unwrap().state, DomainState::Running);
    host.destroy(&id).await.unwrap();
    host.undefine(&id, UndefineOptions::default()).await.unwrap();
    // Gone: the UUID no longer resolves, cached or not.
    assert!(matches!(host.state(&id).await, Err(LibvirtError::NoSuchDomain { .. })));
    assert!(matches!(host.start(&id).await, Err(LibvirtError::NoSuchDomain { .. })));

    // Undefined behind the API's back (raw call on the same shared connection): the cached
    // handle's NoSuchDomain is answered by one fresh lookup, which fails too.
    let second = host.define(&vm("hvev-cache")).await.unwrap();
    assert_ne!(second.uuid, first.uuid);
    let id2 = second.domain_id();
    assert_eq!(host.state(&id2).await.unwrap().state, DomainState::Shutoff);
    host.connection().call(|c| Ok(c.lookup_domain_by_name("hvev-cache")?.undefine()?)).await.unwrap();
    assert!(matches!(host.state(&id2).await, Err(LibvirtError::NoSuchDomain { .. })));

    // Redefined with the same UUID behind the API's back: the UUID addresses it again.
    let xml = DomainBuilder::new("hvev-cache").memory_mib(64).uuid(&second.uuid).build().unwrap().to_xml().unwrap();
    host.connection().call(move |c| Ok(c.define_domain_xml(&xml).map(|_| ())?)).await.unwrap();
    host.start(&id2).await.unwrap();
    assert_eq!(host.state(&id2).await.unwrap().state, DomainState::Running);
    host.destroy(&id2).await.unwrap();
    host.undefine(&id2, UndefineOptions::default()).await.unwrap();
}
