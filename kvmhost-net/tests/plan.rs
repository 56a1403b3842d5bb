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
            "ip link add cloudbr0 up type bridge stp_state 0 forward_delay 0",
            "ip tuntap add vnet0 mode tap",
            "ip addr add 192.168.42.11/24 dev cloudbr0",
            "ip link set eth0 master cloudbr0",
            "ip link set vnet0 master cloudbr0",
            "ip link set vnet0 up",
            "ip route replace default via 192.168.42.1 dev cloudbr0 metric 0",
            "ip addr del 192.168.42.11/24 dev eth0",
        ]
    );
    assert!(plan.steps[7].reason.contains("belongs on cloudbr0"), "{}", plan.steps[7].reason);
    assert!(plan.steps[2].reason.contains("moved from eth0"), "{}", plan.steps[2].reason);
    assert!(plan.steps[6].reason.contains("moved from eth0"), "{}", plan.steps[6].reason);
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

// --- Never cut a host off (issue 14): both families move, adds come before deletes, and what
// the model does not mention is left alone.

/// `eth0` holding an IPv4 and an IPv6 address and a default route of each family (as `ip`
/// adds them: protocol boot; IPv6's default metric 1024), with the kernel's connected routes.
fn dual_stack_state() -> NetState {
    let mut s = classic_state();
    s.links.get_mut("eth0").unwrap().addresses.push("2001:db8:42::11/64".parse().unwrap());
    let mut connected6 = RouteState::new("2001:db8:42::/64".parse().unwrap(), None, "eth0");
    connected6.protocol = 2;
    connected6.metric = 256;
    let mut default6 = RouteState::new("::/0".parse().unwrap(), Some("2001:db8:42::1".parse().unwrap()), "eth0");
    default6.protocol = 3;
    default6.metric = 1024;
    s.routes.extend([connected6, default6]);
    s.routes.sort();
    s
}

const MGMT4: &str = "192.168.42.11/24";
const MGMT6: &str = "2001:db8:42::11/64";

/// Runs the plan's address and route steps on a copy of the state, as the kernel would (the
/// last IPv4 address of a device going takes the device's IPv4 routes with it; a deleted link
/// takes its addresses and routes), and checks after every step that both management addresses
/// and a default route of each family exist. Returns the state at the end.
fn run_and_check_never_cut_off(plan: &kvmhost_net::Plan, state: &NetState) -> NetState {
    let mut s = state.clone();
    let mgmt: Vec<kvmhost_net::IpCidr> = [MGMT4, MGMT6].iter().map(|a| a.parse().unwrap()).collect();
    for (i, p) in plan.steps.iter().enumerate() {
        match &p.step {
            Step::CreateBridge { name, .. } => {
                let k = LinkKind::Bridge { stp: false, forward_delay_cs: 0, vlan_filtering: false };
                s.links.insert(name.clone(), LinkState::new(name, k));
            }
            Step::CreateVlan { name, parent, id, .. } => {
                let k = LinkKind::Vlan { parent: Some(parent.clone()), id: *id };
                s.links.insert(name.clone(), LinkState::new(name, k));
            }
            Step::CreateTap { name } => {
                s.links.insert(name.clone(), LinkState::new(name, LinkKind::Tap));
            }
            Step::DeleteLink { name } => {
                s.links.remove(name);
                s.routes.retain(|r| &r.device != name);
            }
            Step::AddAddress { device, address } => {
                let l = s.links.get_mut(device).expect("address on an existing link");
                assert!(!l.addresses.contains(address), "step {}: {} added twice", i + 1, p.step);
                l.addresses.push(*address);
            }
            Step::DelAddress { device, address } => {
                let l = s.links.get_mut(device).expect("link");
                l.addresses.retain(|a| a != address);
                if !address.is_ipv6() && !l.addresses.iter().any(|a| !a.is_ipv6()) {
                    s.routes.retain(|r| &r.device != device || r.destination.is_ipv6());
                }
            }
            Step::AddRoute(r) => {
                let dup = s.routes.iter().any(|h| {
                    h.destination == r.destination
                        && h.metric == r.metric.unwrap_or(if r.destination.is_ipv6() { 1024 } else { 0 })
                });
                assert!(!dup, "step {}: {} would be refused (EEXIST: same destination and metric)", i + 1, p.step);
                let mut n = RouteState::new(r.destination, r.gateway, &r.device);
                n.metric = r.metric.unwrap_or(if r.destination.is_ipv6() { 1024 } else { 0 });
                s.routes.push(n);
            }
            Step::DelRoute(r) => {
                s.routes.retain(|h| {
                    !(h.destination == r.destination && h.device == r.device && r.metric.is_none_or(|m| m == h.metric))
                });
            }
            other => replace_route(&mut s, other),
        }
        for m in &mgmt {
            assert!(
                s.links.values().any(|l| l.addresses.contains(m)),
                "after step {} ({}), {m} is on no link:\n{plan}",
                i + 1,
                p.step
            );
        }
        for v6 in [false, true] {
            assert!(
                s.routes.iter().any(|r| r.destination == kvmhost_net::IpCidr::default_route(v6)),
                "after step {} ({}), no {} default route:\n{plan}",
                i + 1,
                p.step,
                if v6 { "IPv6" } else { "IPv4" }
            );
        }
    }
    s
}

/// `ip route replace`: the route of the same destination and metric is swapped in one request;
/// other steps neither add nor remove addresses or routes.
fn replace_route(s: &mut NetState, step: &Step) {
    if let Step::ReplaceRoute { route, .. } = step {
        let metric = route.metric.unwrap_or(if route.destination.is_ipv6() { 1024 } else { 0 });
        s.routes.retain(|h| !(h.destination == route.destination && h.metric == metric));
        let mut n = RouteState::new(route.destination, route.gateway, &route.device);
        n.metric = metric;
        s.routes.push(n);
    }
}

fn addresses_of(s: &NetState, dev: &str) -> Vec<String> {
    s.link(dev).map(|l| l.addresses.iter().map(|a| a.to_string()).collect()).unwrap_or_default()
}

fn default_route_devices(s: &NetState, v6: bool) -> Vec<String> {
    s.routes
        .iter()
        .filter(|r| r.destination == kvmhost_net::IpCidr::default_route(v6))
        .map(|r| r.device.clone())
        .collect()
}

#[test]
fn bridge_plan_moves_ipv6_address_and_default_route_with_ipv4() {
    let net = HostNetwork::from_yaml(NET).unwrap();
    let state = dual_stack_state();
    let plan = plan_against(&net, &state).unwrap();
    assert!(
        !plan.steps.iter().any(|p| matches!(&p.step, Step::DelAddress { address, .. } if address.is_ipv6())
            && !plan.steps.iter().any(
                |q| matches!(&q.step, Step::AddAddress { device, address } if device == "cloudbr0" && address.is_ipv6())
            )),
        "the IPv6 address is deleted, not moved:\n{plan}"
    );
    let end = run_and_check_never_cut_off(&plan, &state);
    assert_eq!(addresses_of(&end, "cloudbr0"), vec![MGMT4.to_string(), MGMT6.to_string()], "{plan}");
    assert!(addresses_of(&end, "eth0").is_empty(), "{plan}");
    assert_eq!(default_route_devices(&end, false), vec!["cloudbr0"], "{plan}");
    assert_eq!(default_route_devices(&end, true), vec!["cloudbr0"], "{plan}");
}

#[test]
fn cloudstack_plan_moves_ipv6_address_and_default_route_with_ipv4() {
    use kvmhost_net::cloudstack::CloudStackLinux;
    let net =
        CloudStackLinux::new("eth0", 100, 200, 300, MGMT4.parse().unwrap(), "192.168.42.1".parse().unwrap()).build();
    let state = dual_stack_state();
    let plan = plan_against(&net, &state).unwrap();
    println!("{plan}");
    let end = run_and_check_never_cut_off(&plan, &state);
    assert_eq!(addresses_of(&end, "eth0.100"), vec![MGMT4.to_string(), MGMT6.to_string()], "{plan}");
    assert!(addresses_of(&end, "eth0").is_empty(), "{plan}");
    assert_eq!(default_route_devices(&end, false), vec!["eth0.100"], "{plan}");
    assert_eq!(default_route_devices(&end, true), vec!["eth0.100"], "{plan}");
}

#[test]
fn add_comes_before_delete_for_address_and_default_route() {
    let net = HostNetwork::from_yaml(NET).unwrap();
    let plan = plan_against(&net, &dual_stack_state()).unwrap();
    let pos = |f: &dyn Fn(&Step) -> bool| plan.steps.iter().position(|p| f(&p.step));
    for a in [MGMT4, MGMT6] {
        let a: kvmhost_net::IpCidr = a.parse().unwrap();
        let add = pos(&|s| matches!(s, Step::AddAddress { device, address } if device == "cloudbr0" && *address == a));
        let del = pos(&|s| matches!(s, Step::DelAddress { device, address } if device == "eth0" && *address == a));
        let (Some(add), Some(del)) = (add, del) else { panic!("{a} is not moved:\n{plan}") };
        assert!(
            add < del,
            "{a} is deleted from eth0 (step {}) before it is on cloudbr0 (step {}):\n{plan}",
            del + 1,
            add + 1
        );
    }
    // No default route is deleted from eth0 before one is on cloudbr0 (a deletion, if any, comes
    // after the route is in place; a replace moves it in one request).
    for v6 in [false, true] {
        let dflt = kvmhost_net::IpCidr::default_route(v6);
        let del = pos(&|s| matches!(s, Step::DelRoute(r) if r.destination == dflt && r.device == "eth0"));
        let add =
            pos(&|s| s.device() == "cloudbr0" && s.to_string().contains("default") && !matches!(s, Step::DelRoute(_)));
        let Some(add) = add else { panic!("no default route goes onto cloudbr0:\n{plan}") };
        if let Some(del) = del {
            assert!(
                add < del,
                "default route deleted (step {}) before it is on cloudbr0 (step {}):\n{plan}",
                del + 1,
                add + 1
            );
        }
    }
}

#[test]
fn interfaces_and_families_not_mentioned_are_left_alone() {
    // eth0 declares only IPv4; eth1 is not in the model. eth0's IPv6 address and IPv6 default
    // route, and everything on eth1, stay; an IPv4 address eth0 does not declare goes (eth0
    // declares IPv4, so it owns that family).
    let net = HostNetwork::from_yaml("uplinks: [{name: eth0, addresses: [192.168.42.11/24]}]").unwrap();
    let mut s = dual_stack_state();
    s.links.get_mut("eth0").unwrap().addresses.push("192.168.42.99/24".parse().unwrap());
    s.links.get_mut("eth0").unwrap().addresses.sort();
    let mut eth1 = LinkState::new("eth1", LinkKind::Other { kind: String::new() });
    eth1.up = true;
    eth1.addresses = vec!["10.9.0.2/24".parse().unwrap(), "2001:db8:9::2/64".parse().unwrap()];
    s.links.insert("eth1".into(), eth1);
    s.routes.push(RouteState::new("10.10.0.0/16".parse().unwrap(), Some("10.9.0.1".parse().unwrap()), "eth1"));
    let plan = plan_against(&net, &s).unwrap();
    let lines: Vec<String> = plan.steps.iter().map(|p| p.step.to_string()).collect();
    assert_eq!(lines, vec!["ip addr del 192.168.42.99/24 dev eth0"], "{plan}");
}

#[test]
fn a_family_the_model_owns_is_exactly_what_it_declares() {
    // eth0 declares IPv4 only but says it owns IPv6 too: its IPv6 address and route go.
    let net = HostNetwork::from_yaml(
        "uplinks: [{name: eth0, addresses: [192.168.42.11/24], routes: [{gateway: 192.168.42.1}], owns: [ipv6]}]",
    )
    .unwrap();
    let plan = plan_against(&net, &dual_stack_state()).unwrap();
    let lines: Vec<String> = plan.steps.iter().map(|p| p.step.to_string()).collect();
    assert_eq!(
        lines,
        vec!["ip route del default via 2001:db8:42::1 dev eth0 metric 1024", "ip addr del 2001:db8:42::11/64 dev eth0"],
        "{plan}"
    );
    // It reads and writes back.
    assert!(net.to_yaml().contains("owns:\n  - ipv6"), "{}", net.to_yaml());
    assert_eq!(HostNetwork::from_yaml(&net.to_yaml()).unwrap(), net);

    // A device that takes over addresses and owns the family keeps only what it declares: an
    // IPv4 address of the port declared nowhere goes, the IPv6 one (not owned) moves along.
    let mut s = dual_stack_state();
    s.links.get_mut("eth0").unwrap().addresses.push("192.168.42.99/24".parse().unwrap());
    let plan = plan_against(&HostNetwork::from_yaml(NET).unwrap(), &s).unwrap();
    let end = run_and_check_never_cut_off(&plan, &s);
    assert_eq!(addresses_of(&end, "cloudbr0"), vec![MGMT4.to_string(), MGMT6.to_string()], "{plan}");
    assert!(addresses_of(&end, "eth0").is_empty(), "{plan}");
    assert!(
        plan.to_string().contains("ip addr del 192.168.42.99/24 dev eth0\n    # uplinks[0]: address not declared"),
        "{plan}"
    );
}
