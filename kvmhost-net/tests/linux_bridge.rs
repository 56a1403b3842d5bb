//! Linux bridges with veth uplinks, for real, inside throwaway network namespaces (root).

mod common;

use common::fault::FaultyKernel;
use common::{TestNs, BRIDGE_ON_UPLINK};
use kvmhost_net::{engine, ApplyOptions, Engine, Error, HostNetwork, Kernel, LinkKind, NetlinkKernel};

#[test]
fn bridge_takes_over_address_and_default_route_then_reapply_is_noop() {
    let Some(ns) = TestNs::new("bridge_takes_over_address_and_default_route") else { return };
    ns.classic_host();
    let net = HostNetwork::from_yaml(BRIDGE_ON_UPLINK).unwrap();
    let engine = Engine::new(ns.netns());

    let plan = engine.plan(&net).unwrap();
    let text = plan.to_string();
    assert!(text.contains("ip link add br0"), "{text}");
    // The default route moves in one request, the address is added on br0 before it leaves eth0.
    assert!(text.contains("ip route replace default via 10.77.0.1 dev br0 metric 0"), "{text}");
    assert!(!text.contains("ip route del"), "{text}");
    assert!(text.contains("ip addr del 10.77.0.11/24 dev eth0"), "{text}");
    assert!(text.find("ip addr add 10.77.0.11/24 dev br0") < text.find("ip addr del 10.77.0.11/24 dev eth0"), "{text}");
    assert!(text.contains("ip link set eth0 master br0"), "{text}");
    assert!(text.contains("moves there"), "{text}");

    let report = engine.apply(&net).unwrap();
    assert_eq!(report.writes as usize, plan.len());
    let s = engine.read_state().unwrap();
    let br = s.link("br0").expect("br0 exists");
    assert!(matches!(br.kind, LinkKind::Bridge { stp: false, forward_delay_cs: 0, .. }), "{:?}", br.kind);
    assert!(br.up);
    assert_eq!(br.addresses, vec!["10.77.0.11/24".parse().unwrap()]);
    let eth0 = s.link("eth0").unwrap();
    assert_eq!(eth0.controller.as_deref(), Some("br0"));
    assert!(eth0.addresses.is_empty());
    let default: Vec<_> = s.routes.iter().filter(|r| r.destination.is_default()).collect();
    assert_eq!(default.len(), 1, "{:?}", s.routes);
    assert_eq!(default[0].device, "br0");
    assert_eq!(default[0].gateway, Some("10.77.0.1".parse().unwrap()));
    // What iproute2 sees agrees.
    assert!(ns.ip_out(&["route", "show", "default"]).contains("dev br0"));

    // Re-applying the same state performs zero writes.
    let again = engine.apply(&net).unwrap();
    assert_eq!(again.writes, 0);
    assert!(again.plan.is_empty());
    assert!(engine.plan(&net).unwrap().is_empty());

    // Tear down: the bridge goes, eth0 is released.
    let down = engine.teardown(&net).unwrap();
    assert!(down.writes >= 1);
    let s = engine.read_state().unwrap();
    assert!(s.link("br0").is_none());
    assert_eq!(s.link("eth0").unwrap().controller, None);
}

#[test]
fn rollback_after_kernel_refuses_a_step_restores_everything() {
    let Some(ns) = TestNs::new("rollback_after_kernel_refuses_a_step") else { return };
    ns.classic_host();
    // The last route's gateway is on no connected network: the kernel refuses it (ENETUNREACH)
    // after the address and the default route have already moved to br0 (the address is still
    // on eth0 too: it leaves eth0 last).
    let yaml = format!("{BRIDGE_ON_UPLINK}      - destination: 10.200.0.0/16\n        gateway: 198.51.100.1\n");
    let net = HostNetwork::from_yaml(&yaml).unwrap();
    let mut k = NetlinkKernel::open(&ns.netns()).unwrap();
    let before = k.read_state().unwrap();
    let plan = engine::plan(&mut k, &net).unwrap();
    let err = engine::apply(&mut k, &net, &ApplyOptions::default()).unwrap_err();
    let Error::Apply { index, rollback: Some(rb), source, .. } = &err else { panic!("{err}") };
    let refused = plan.steps.iter().position(|p| p.step.to_string().contains("198.51.100.1")).unwrap();
    assert_eq!(*index, refused, "{err}");
    assert!(matches!(**source, Error::Kernel { errno, .. } if errno != 0), "{source}");
    assert!(rb.restored && rb.errors.is_empty(), "{err}: {rb:?}");
    let after = k.read_state().unwrap();
    assert_eq!(after, before, "namespace differs after rollback");
    assert!(ns.ip_out(&["route", "show", "default"]).contains("dev eth0"));
}

#[test]
fn rollback_at_every_step_restores_everything() {
    let Some(ns) = TestNs::new("rollback_at_every_step") else { return };
    ns.classic_host();
    let mut net = HostNetwork::from_yaml(BRIDGE_ON_UPLINK).unwrap();
    net.veths.push(kvmhost_net::Veth::new("vm1", "vm1p"));
    net.bridges[0].ports.push("vm1".into());
    net.taps.push(kvmhost_net::Tap::new("vnet0"));
    net.bridges[0].ports.push("vnet0".into());
    let mut k = NetlinkKernel::open(&ns.netns()).unwrap();
    let before = k.read_state().unwrap();
    let n = engine::plan(&mut k, &net).unwrap().len();
    assert!(n >= 8);
    for i in 0..n {
        let mut faulty = FaultyKernel::failing_step(&mut k, i);
        let err = engine::apply(&mut faulty, &net, &ApplyOptions::default()).unwrap_err();
        let Error::Apply { rollback: Some(rb), .. } = &err else { panic!("{err}") };
        assert!(rb.restored && rb.errors.is_empty(), "step {i}: {err}: {rb:?}");
        assert_eq!(k.read_state().unwrap(), before, "namespace differs after rollback at step {i}");
    }
    // And without injected failure it applies, with taps and veths enslaved.
    engine::apply(&mut k, &net, &ApplyOptions::default()).unwrap();
    let s = k.read_state().unwrap();
    assert_eq!(s.link("vnet0").unwrap().controller.as_deref(), Some("br0"));
    assert_eq!(s.link("vm1").unwrap().controller.as_deref(), Some("br0"));
    assert_eq!(engine::apply(&mut k, &net, &ApplyOptions::default()).unwrap().writes, 0);
}

#[test]
fn namespace_by_fd_and_veths_with_mtu() {
    let Some(ns) = TestNs::new("namespace_by_fd") else { return };
    let f = std::fs::File::open(format!("/run/netns/{}", ns.name)).unwrap();
    let netns = kvmhost_net::Netns::Fd(std::sync::Arc::new(f.into()));
    let net = HostNetwork::from_yaml(
        "veths: [{name: va, peer: vb, mtu: 9000, addresses: [10.9.0.1/30], peer_addresses: [10.9.0.2/30]}]",
    )
    .unwrap();
    let engine = Engine::new(netns);
    engine.apply(&net).unwrap();
    let s = engine.read_state().unwrap();
    assert_eq!(s.link("va").unwrap().mtu, 9000);
    assert_eq!(s.link("vb").unwrap().mtu, 9000);
    assert_eq!(s.link("vb").unwrap().addresses, vec!["10.9.0.2/30".parse().unwrap()]);
    assert!(ns.ip_out(&["addr", "show", "dev", "va"]).contains("10.9.0.1/30"));
    // The root namespace was not touched.
    let root = Engine::default().read_state().unwrap();
    assert!(root.link("va").is_none());
    // MTU change is one write; then nothing.
    let mut net2 = net.clone();
    net2.veths[0].mtu = Some(1400);
    assert_eq!(engine.apply(&net2).unwrap().writes, 2);
    assert_eq!(engine.apply(&net2).unwrap().writes, 0);
}

#[test]
fn cloudstack_layout_with_veth_stand_ins_moves_the_host_address() {
    let Some(ns) = TestNs::new("cloudstack_layout_with_veth_stand_ins") else { return };
    // The host before: eth0 holds the management address and the default route.
    ns.ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]);
    ns.ip(&["link", "set", "eth0", "up"]);
    ns.ip(&["addr", "add", "192.168.42.11/24", "dev", "eth0"]);
    ns.ip(&["route", "add", "default", "via", "192.168.42.1"]);
    let layout = kvmhost_net::cloudstack::CloudStackLinux::new(
        "eth0",
        100,
        200,
        300,
        "192.168.42.11/24".parse().unwrap(),
        "192.168.42.1".parse().unwrap(),
    );
    // This kernel has no 802.1Q: the VLAN devices are veths of the same names.
    let net = kvmhost_testdata::net::vlans_as_veths(&layout.build());
    let engine = Engine::new(ns.netns());
    let plan = engine.plan(&net).unwrap();
    assert!(plan.to_string().contains("ip addr add 192.168.42.11/24 dev eth0.100"), "{plan}");
    engine.apply(&net).unwrap();
    let s = engine.read_state().unwrap();
    assert!(s.link("eth0").unwrap().addresses.is_empty());
    assert_eq!(s.link("eth0.100").unwrap().addresses, vec!["192.168.42.11/24".parse().unwrap()]);
    assert_eq!(s.link("eth0.200").unwrap().controller.as_deref(), Some("cloudbr0"));
    assert_eq!(s.link("eth0.300").unwrap().controller.as_deref(), Some("cloudbr1"));
    assert!(matches!(s.link("cloudbr1").unwrap().kind, LinkKind::Bridge { forward_delay_cs: 500, stp: false, .. }));
    let default: Vec<_> = s.routes.iter().filter(|r| r.destination.is_default()).map(|r| r.device.as_str()).collect();
    assert_eq!(default, vec!["eth0.100"]);
    assert_eq!(engine.apply(&net).unwrap().writes, 0);
}

#[test]
fn kernel_refusal_carries_errno_and_the_kernels_own_words() {
    let Some(ns) = TestNs::new("kernel_refusal_carries_words") else { return };
    ns.ip(&["link", "add", "br0", "type", "bridge"]);
    ns.ip(&["link", "add", "br1", "type", "bridge"]);
    let mut k = NetlinkKernel::open(&ns.netns()).unwrap();
    k.read_state().unwrap();
    let step = kvmhost_net::Step::SetController { name: "br1".into(), controller: Some("br0".into()) };
    let err = k.execute(&step).unwrap_err();
    let Error::Kernel { context, errno, message } = &err else { panic!("{err}") };
    // br_add_if: ELOOP, with the extended acknowledgement's text.
    assert_eq!(*errno, 40, "{err}");
    assert_eq!(context, "ip link set br1 master br0");
    assert!(message.contains("bridge to a bridge"), "{message}");
    // A name the kernel does not know is a missing device, not a kernel error.
    let step = kvmhost_net::Step::SetUp { name: "nosuch0".into(), up: true };
    assert!(matches!(k.execute(&step), Err(Error::MissingDevice { ref name, .. }) if name == "nosuch0"));
}
