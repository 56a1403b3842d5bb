//! The crate reports what it does through `tracing` (it never installs a subscriber itself):
//! a subscriber installed by the application sees the connection opened and each failed call,
//! with the object it was about. Events of calls on the blocking pool reach it too.

use kvmhost_libvirt::{DomainId, Hypervisor, LibvirtHypervisor};
use kvmhost_testdata::capture::Captured;

#[test]
fn connection_and_failed_calls_are_traced() {
    let captured = Captured::default();
    let sink = captured.clone();
    // Global: libvirt calls run on tokio's blocking pool, not on this thread.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("kvmhost_libvirt=debug"))
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let hv = LibvirtHypervisor::connect("test:///default").await.unwrap();
        assert!(hv.lookup(&DomainId::name("traced-missing-vm")).await.is_err());
    });
    let log = captured.text();
    assert!(log.contains("libvirt connection opened") && log.contains("test:///default"), "{log}");
    let failed = log.lines().find(|l| l.contains("libvirt call failed")).unwrap_or_else(|| panic!("{log}"));
    assert!(failed.contains("no such domain 'traced-missing-vm'"), "{failed}");
    assert!(failed.contains("DEBUG"), "failed calls are debug events: {failed}");
}
