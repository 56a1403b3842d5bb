//! The diff, without a kernel: exact steps and order from a given state.

use kvmhost_net::{engine::plan_against, HostNetwork, LinkKind, LinkState, NetState, RouteState, Step};

fn classic_state() -> NetState {
    let mut s = NetState::default();
    let mut eth0 = LinkState::new("eth0", LinkKind::Other { kind: String::new() });
    eth0.index = 2;
    eth0.up = true;
    eth0.addresses = vec!["192.168.42.11/24".parse().unwrap()];
    s.links.insert("eth0".into(), eth0);
    let mut connected = RouteState::new("192.168.42.0/24".parse().unwrap(), None, "eth0");
    connected.protocol = 2;
    let mut default = RouteState::new("0.0.0.0/0".parse().unwrap(), Some("192.168.42.1".parse().unwrap()), "eth0");
    default.protocol = 3;
    s.routes = vec![default, connected];
    s
}

const NET: &str = r#"
uplinks: [{name: eth0}]
bridges:
  - name: cloudbr0
    forward_delay: 0
    ports: [eth0, vnet0]
    addresses: [192.168.42.11/24]
    routes: [{gateway: 192.168.42.1}]
taps: [{name: vnet0}]
"#;

#[test]
fn classic_move_is_ordered_and_explained() {
    let net = HostNetwork::from_yaml(NET).unwrap();
    let plan = plan_against(&net, &classic_state()).unwrap();
    let lines: Vec<String> = plan.steps.iter().map(|p| p.step.to_string()).collect();
    assert_eq!(
        lines,
        vec![
            "ip route del default via 192.168.42.1 dev eth0 metric 0",
            "ip addr del 192.168.42.11/24 dev eth0",
            "ip link add cloudbr0 up type bridge stp_state 0 forward_delay 0",
            "ip tuntap add vnet0 mode tap",
            "ip link set eth0 master cloudbr0",
            "ip link set vnet0 master cloudbr0",
            "ip link set vnet0 up",
            "ip addr add 192.168.42.11/24 dev cloudbr0",
            "ip route add default via 192.168.42.1 dev cloudbr0",
        ]
    );
    assert!(plan.steps[1].reason.contains("belongs on cloudbr0"), "{}", plan.steps[1].reason);
    assert!(plan.steps[7].reason.contains("moved from eth0"), "{}", plan.steps[7].reason);
    // The kernel's connected route is never touched.
    assert!(!plan.steps.iter().any(|p| matches!(&p.step, Step::DelRoute(r) if !r.destination.is_default())));
}

#[test]
fn kind_conflicts_and_foreign_addresses_are_errors() {
    let net = HostNetwork::from_yaml(NET).unwrap();
    let mut s = classic_state();
    s.links.insert("cloudbr0".into(), LinkState::new("cloudbr0", LinkKind::Veth { peer: None }));
    let err = plan_against(&net, &s).unwrap_err().to_string();
    assert!(err.starts_with("bridges[0]: cloudbr0 cannot be used"), "{err}");

    // The address is held by a device the model does not manage.
    let mut s = classic_state();
    let mut eth1 = LinkState::new("eth1", LinkKind::Other { kind: String::new() });
    eth1.addresses = vec!["192.168.42.11/24".parse().unwrap()];
    s.links.insert("eth1".into(), eth1);
    s.links.get_mut("eth0").unwrap().addresses.clear();
    let err = plan_against(&net, &s).unwrap_err().to_string();
    assert_eq!(err, "bridges[0]: address 192.168.42.11/24 is held by eth1, which this host network does not manage");
}

#[test]
fn guest_ports_of_a_managed_bridge_are_left_alone() {
    // A guest's vnet on cloudbr0 that the model does not declare stays where it is.
    let net = HostNetwork::from_yaml("uplinks: [{name: eth0}]\nbridges: [{name: cloudbr0, ports: [eth0]}]").unwrap();
    let mut s = NetState::default();
    let mut br =
        LinkState::new("cloudbr0", LinkKind::Bridge { stp: false, forward_delay_cs: 1500, vlan_filtering: false });
    br.up = true;
    s.links.insert("cloudbr0".into(), br);
    for n in ["eth0", "vnet7"] {
        let mut l = LinkState::new(n, LinkKind::Other { kind: String::new() });
        l.up = true;
        l.controller = Some("cloudbr0".into());
        s.links.insert(n.into(), l);
    }
    assert!(plan_against(&net, &s).unwrap().is_empty());
}
