//! tracing, as a user with a subscriber sees it (root; a namespace of its own): spans and one
//! event per step with its iproute2 equivalent.

mod common;

use common::fault::FaultyKernel;
use common::{TestNs, BRIDGE_ON_UPLINK};
use kvmhost_net::{engine, ApplyOptions, HostNetwork, NetlinkKernel};
use kvmhost_testdata::capture::Captured;

/// tracing: an `apply` span, one event per executed step naming its iproute2 equivalent, and
/// on failure a `rollback` span with its own steps; the library installs no subscriber (this
/// one is local to the test).
#[test]
fn apply_and_rollback_emit_spans_and_an_event_per_step_with_its_ip_command() {
    let Some(ns) = TestNs::new("tracing") else { return };
    ns.classic_host();
    let net = HostNetwork::from_yaml(BRIDGE_ON_UPLINK).unwrap();
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    // The global default, in a test binary of its own: a scoped (`with_default`) subscriber
    // races with the callsite-interest cache of tests running on other threads.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let mut k = NetlinkKernel::open(&ns.netns()).unwrap();
    let mut faulty = FaultyKernel::failing_step(&mut k, 3);
    engine::apply(&mut faulty, &net, &ApplyOptions::default()).unwrap_err();
    engine::apply(&mut k, &net, &ApplyOptions::default()).unwrap();
    let log = out.text();
    println!("{log}");
    assert!(log.contains("apply{steps="), "{log}");
    assert!(log.contains("iproute2=ip link add br0 up type bridge"), "{log}");
    assert!(log.contains("netlink step refused"), "{log}");
    assert!(log.contains(":rollback: "), "{log}");
}
