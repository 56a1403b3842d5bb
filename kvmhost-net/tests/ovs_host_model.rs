//! A HostNetwork with an Open vSwitch section, without any daemon: loading from YAML / JSON /
//! TOML, validation across the Linux and OVS parts (every error naming its field), the combined
//! plan (OVS steps first), and the persistence formats with the OVS stanzas.

use kvmhost_net::cloudstack::CloudStackLinux;
use kvmhost_net::engine::plan_against;
use kvmhost_net::ovs::DatapathType;
use kvmhost_net::render::{render, Format};
use kvmhost_net::{HostNetwork, LinkKind, LinkState, NetState, RouteState, ValidationError};

fn layout() -> HostNetwork {
    CloudStackLinux::new("eth0", 100, 200, 300, "192.168.42.11/24".parse().unwrap(), "192.168.42.1".parse().unwrap())
        .build_ovs(DatapathType::System)
}

const YAML: &str = r#"
uplinks: [{name: eth0}]
ovs:
  bridges:
    - name: br0
      ports: [{name: eth0, trunks: [100, 200, 300], vlan_mode: trunk}]
      fake_bridges:
        - {name: mgmt0, vlan: 100}
        - {name: cloudbr0, vlan: 200}
        - {name: cloudbr1, vlan: 300}
ovs_interfaces:
  - name: mgmt0
    addresses: [192.168.42.11/24]
    routes: [{gateway: 192.168.42.1}]
  - name: cloudbr0
  - name: cloudbr1
"#;

#[test]
fn the_cloudstack_ovs_layout_round_trips_through_yaml_json_and_toml() {
    let net = layout();
    net.validate().unwrap();
    assert_eq!(HostNetwork::from_yaml(YAML).unwrap(), net);
    assert_eq!(HostNetwork::from_yaml(&net.to_yaml()).unwrap(), net);
    assert_eq!(HostNetwork::from_json(&serde_json::to_string(&net).unwrap()).unwrap(), net);
    assert_eq!(HostNetwork::from_toml(&toml::to_string(&net).unwrap()).unwrap(), net);
}

fn errors(yaml: &str) -> Vec<ValidationError> {
    HostNetwork::from_yaml(yaml).unwrap().validate().unwrap_err().into_vec()
}

fn has(errs: &[ValidationError], field: &str) -> bool {
    errs.iter().any(|e| e.field() == field)
}

#[test]
fn validation_spans_both_parts_and_names_the_field() {
    // A name used by a Linux bridge and an OVS fake bridge.
    let e = errors(
        "bridges: [{name: cloudbr0}]\novs: {bridges: [{name: br0, fake_bridges: [{name: cloudbr0, vlan: 200}]}]}",
    );
    assert!(
        e.iter().any(|e| matches!(e, ValidationError::Duplicate { field, first, .. }
            if field == "ovs.bridges[0].fake_bridges[0].name" && first == "bridges[0]")),
        "{e:?}"
    );
    // Errors of the OVS section itself, prefixed `ovs.`.
    let e = errors("ovs: {bridges: [{name: br0, fake_bridges: [{name: mgmt0, vlan: 5000}]}]}");
    assert!(has(&e, "ovs.bridges[0].fake_bridges[0].vlan"), "{e:?}");
    assert!(e[0].to_string().starts_with("ovs.bridges[0].fake_bridges[0].vlan: "), "{}", e[0]);
    // The uplink keeps the address that belongs on mgmt0 (the classic mistake).
    let e = errors(&YAML.replace("uplinks: [{name: eth0}]", "uplinks: [{name: eth0, addresses: [192.168.42.12/24]}]"));
    assert!(
        e.iter().any(|e| matches!(e, ValidationError::AddressOnPort { field, bridge, .. }
            if field == "uplinks[0].addresses[0]" && bridge == "br0")),
        "{e:?}"
    );
    // Routes on an OVS port.
    let e = errors(&YAML.replace("uplinks: [{name: eth0}]", "uplinks: [{name: eth0, routes: [{gateway: 10.0.0.1}]}]"));
    assert!(has(&e, "uplinks[0].routes"), "{e:?}");
    // The same address on mgmt0 and a Linux bridge.
    let e = errors(&format!("{YAML}bridges: [{{name: br9, addresses: [192.168.42.11/24]}}]\n"));
    assert!(has(&e, "ovs_interfaces[0].addresses[0]"), "{e:?}");
    // An ovs_interfaces entry that OVS does not make.
    let e = errors(&format!("{YAML}  - name: eth9\n"));
    assert!(
        e.iter()
            .any(|e| matches!(e, ValidationError::UnknownDevice { field, .. } if field == "ovs_interfaces[3].name")),
        "{e:?}"
    );
    // Twice the same interface, and a bad MTU.
    let e = errors(&format!("{YAML}  - {{name: mgmt0, mtu: 20}}\n"));
    assert!(has(&e, "ovs_interfaces[3].name") && has(&e, "ovs_interfaces[3].mtu"), "{e:?}");
    // A device both a Linux bridge port and an OVS port.
    let e = errors(&format!("{YAML}bridges: [{{name: br9, ports: [eth0]}}]\n"));
    assert!(has(&e, "ovs.bridges[0].ports[0].name"), "{e:?}");
    // An OVS internal interface as a Linux bridge port.
    let e = errors(&format!("{YAML}bridges: [{{name: br9, ports: [cloudbr0]}}]\n"));
    assert!(has(&e, "bridges[0].ports[0]"), "{e:?}");
    // ovs_interfaces without an ovs section.
    let e = errors("ovs_interfaces: [{name: mgmt0}]");
    assert!(has(&e, "ovs_interfaces[0].name"), "{e:?}");
}

fn classic_host() -> NetState {
    let mut s = NetState::default();
    let mut eth0 = LinkState::new("eth0", LinkKind::Other { kind: String::new() });
    eth0.up = true;
    eth0.addresses.push("192.168.42.11/24".parse().unwrap());
    s.links.insert("eth0".into(), eth0);
    s.routes.push(RouteState::new("0.0.0.0/0".parse().unwrap(), Some("192.168.42.1".parse().unwrap()), "eth0"));
    s
}

#[test]
fn the_combined_plan_makes_the_ovs_devices_before_addressing_them() {
    let plan = plan_against(&layout(), &classic_host()).unwrap();
    let text = plan.to_string();
    println!("{text}");
    assert_eq!(plan.ovs_len(), 5);
    assert_eq!(plan.len(), 5 + plan.of(kvmhost_net::BackendKind::Netlink).count());
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("no {s:?} in\n{text}"));
    assert!(at(" 1. OVS: add bridge br0") < at("OVS: add fake bridge mgmt0"));
    // The address and the default route move onto mgmt0 before they leave eth0 (the route in
    // one request): the host is never without them.
    assert!(at("OVS: add fake bridge cloudbr1") < at("ip addr add 192.168.42.11/24 dev mgmt0"));
    assert!(at("ip addr add 192.168.42.11/24 dev mgmt0") < at("ip route replace default via 192.168.42.1 dev mgmt0"));
    assert!(at("ip route replace default via 192.168.42.1 dev mgmt0") < at("ip addr del 192.168.42.11/24 dev eth0"));
    assert!(!text.contains("ip route del"), "{text}");
    assert_eq!(plan.describe(0).unwrap(), format!("OVS: {}", plan.ovs_changes()[0]));
    let script = plan.to_script();
    assert!(script.contains("\novs-vsctl add-br mgmt0 br0 100\n"), "{script}");
    // Planned against a state where OVS is configured already, only the netlink part remains.
    let mut done = classic_host();
    done.links.get_mut("eth0").unwrap().addresses.clear();
    done.routes.clear();
    let mut mgmt = LinkState::new("mgmt0", LinkKind::Tap);
    mgmt.up = true;
    mgmt.addresses.push("192.168.42.11/24".parse().unwrap());
    done.links.insert("mgmt0".into(), mgmt);
    for n in ["cloudbr0", "cloudbr1"] {
        let mut l = LinkState::new(n, LinkKind::Tap);
        l.up = true;
        done.links.insert(n.into(), l);
    }
    done.routes.push(RouteState::new("0.0.0.0/0".parse().unwrap(), Some("192.168.42.1".parse().unwrap()), "mgmt0"));
    let snap = kvmhost_net::ovs::Snapshot::synthetic(layout().ovs.as_ref().unwrap());
    let p = kvmhost_net::engine::plan_against_ovs(&layout(), &done, &snap).unwrap();
    assert!(p.is_empty(), "{p}");
}

#[test]
fn interfaces_has_the_ovs_stanzas_with_the_host_address_on_mgmt0() {
    let text = &render(&layout(), Format::Interfaces)[0].contents;
    println!("{text}");
    assert!(text.contains("allow-ovs br0\niface br0 inet manual\n    ovs_type OVSBridge\n    ovs_ports eth0 mgmt0 cloudbr0 cloudbr1\n"), "{text}");
    assert!(text.contains("allow-br0 eth0\niface eth0 inet manual\n    ovs_bridge br0\n    ovs_type OVSPort\n    ovs_options trunks=100,200,300 vlan_mode=trunk\n"), "{text}");
    assert!(text.contains("allow-br0 mgmt0\niface mgmt0 inet static\n    ovs_bridge br0\n    ovs_type OVSIntPort\n    ovs_options tag=100 fake_bridge=true\n    address 192.168.42.11/24\n    gateway 192.168.42.1\n"), "{text}");
    // eth0 appears once, as an OVS port, not as a plain interface too.
    assert_eq!(text.matches("iface eth0 ").count(), 1, "{text}");
}

#[test]
fn ifcfg_has_devicetype_ovs_files_with_the_host_address_on_mgmt0() {
    let files = render(&layout(), Format::Ifcfg);
    let get = |n: &str| {
        files
            .iter()
            .find(|f| f.path == format!("/etc/sysconfig/network-scripts/{n}"))
            .unwrap_or_else(|| panic!("no {n}: {files:#?}"))
    };
    let mgmt = &get("ifcfg-mgmt0").contents;
    assert!(mgmt.contains("DEVICETYPE=ovs\nTYPE=OVSIntPort\n"), "{mgmt}");
    assert!(mgmt.contains("OVS_BRIDGE=br0\nOVS_OPTIONS=\"tag=100 fake_bridge=true\"\nIPADDR=192.168.42.11\nPREFIX=24\nGATEWAY=192.168.42.1\n"), "{mgmt}");
    assert!(get("ifcfg-br0").contents.contains("TYPE=OVSBridge\n"));
    assert!(get("ifcfg-eth0").contents.contains("TYPE=OVSPort\nBOOTPROTO=none\nHOTPLUG=no\nOVS_BRIDGE=br0\nOVS_OPTIONS=\"trunks=100,200,300 vlan_mode=trunk\"\n"));
    assert_eq!(files.iter().filter(|f| f.path.ends_with("ifcfg-eth0")).count(), 1);
}

#[test]
fn networkd_gets_network_files_and_an_ovs_vsctl_script() {
    let files = render(&layout(), Format::Networkd);
    let mgmt = &files.iter().find(|f| f.path.ends_with("20-mgmt0.network")).unwrap().contents;
    assert!(mgmt.contains("Address=192.168.42.11/24\n") && mgmt.contains("[Route]\nGateway=192.168.42.1\n"), "{mgmt}");
    let script = &files.iter().find(|f| f.path == "/etc/openvswitch/kvmhost-ovs.sh").unwrap().contents;
    println!("{script}");
    assert!(
        script.contains("ovs-vsctl --may-exist add-br br0 -- set bridge br0 datapath_type=system stp_enable=false\n")
    );
    assert!(script.contains("ovs-vsctl --may-exist add-port br0 eth0 trunks=100,200,300 vlan_mode=trunk\n"));
    assert!(script.contains("ovs-vsctl --may-exist add-br cloudbr1 br0 300\n"));
}

#[test]
fn the_ovs_layout_moves_ipv6_with_ipv4_onto_mgmt0() {
    // The uplink also holds an IPv6 address and default route the layout does not mention:
    // mgmt0 takes over eth0's addresses (its IPv4 one is declared there), so they move along,
    // each added on mgmt0 before it leaves eth0; nothing is deleted outright.
    let mut s = classic_host();
    s.links.get_mut("eth0").unwrap().addresses.push("2001:db8:42::11/64".parse().unwrap());
    let mut d6 = RouteState::new("::/0".parse().unwrap(), Some("fe80::1".parse().unwrap()), "eth0");
    d6.metric = 1024;
    s.routes.push(d6);
    let plan = plan_against(&layout(), &s).unwrap();
    let text = plan.to_string();
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("no {s:?} in\n{text}"));
    assert!(at("ip addr add 2001:db8:42::11/64 dev mgmt0") < at("ip addr del 2001:db8:42::11/64 dev eth0"));
    assert!(at("ip link set mgmt0 up") < at("ip route replace default via fe80::1 dev mgmt0 metric 1024"));
    assert!(at("ip route replace default via fe80::1 dev mgmt0") < at("ip addr del 2001:db8:42::11/64 dev eth0"));
    assert!(!text.contains("ip route del"), "{text}");
}
