//! Bad input: every validation error, each naming its field. Pure (no kernel).

use kvmhost_net::{cloudstack, engine, HostNetwork, NetState, ValidationError as V};

fn errors(yaml: &str) -> Vec<V> {
    HostNetwork::from_yaml(yaml).expect("parses").validate().expect_err("must be invalid").into_vec()
}

fn has(errs: &[V], field: &str, pred: impl Fn(&V) -> bool) {
    assert!(errs.iter().any(|e| e.field() == field && pred(e)), "no matching error at {field}: {errs:#?}");
    for e in errs {
        assert!(e.to_string().starts_with(e.field()), "message does not name the field: {e}");
    }
}

#[test]
fn interface_names() {
    let e = errors(
        "bridges: [{name: a-name-far-too-long}, {name: 'bad name'}, {name: 'x/y'}, {name: ''}, {name: 'eth0:1'}]",
    );
    has(&e, "bridges[0].name", |e| matches!(e, V::Name { reason, .. } if reason.contains("15")));
    has(&e, "bridges[1].name", |e| matches!(e, V::Name { .. }));
    has(&e, "bridges[2].name", |e| matches!(e, V::Name { .. }));
    has(&e, "bridges[3].name", |e| matches!(e, V::Name { reason, .. } if reason.contains("empty")));
    has(&e, "bridges[4].name", |e| matches!(e, V::Name { .. }));
    // 15 bytes is fine, 16 is not (bytes, not characters).
    assert!(errors("bridges: [{name: abcdefghijklmnop}]").len() == 1);
    assert!(HostNetwork::from_yaml("bridges: [{name: abcdefghijklmno}]").unwrap().validate().is_ok());
    has(&errors("veths: [{name: ok0, peer: 'ééééééééé'}]"), "veths[0].peer", |e| matches!(e, V::Name { .. }));
}

#[test]
fn vlan_ids() {
    let e = errors("uplinks: [{name: eth0}]\nvlans: [{name: eth0.0, parent: eth0, id: 0}, {name: eth0.4095, parent: eth0, id: 4095}]");
    has(&e, "vlans[0].id", |e| matches!(e, V::VlanId { id: 0, .. }));
    has(&e, "vlans[1].id", |e| matches!(e, V::VlanId { id: 4095, .. }));
    let e = errors(
        "uplinks: [{name: eth0}]\nbridges: [{name: br0, ports: [eth0], vlan_filtering: {ports: [{port: eth0, vids: [5000], pvid: 0, untagged: [7]}]}}]",
    );
    has(&e, "bridges[0].vlan_filtering.ports[0].vids[0]", |e| matches!(e, V::VlanId { id: 5000, .. }));
    has(&e, "bridges[0].vlan_filtering.ports[0].pvid", |e| matches!(e, V::VlanId { id: 0, .. }));
    has(&e, "bridges[0].vlan_filtering.ports[0].untagged[0]", |e| matches!(e, V::Bridge { .. }));
}

#[test]
fn duplicates() {
    let e = errors("uplinks: [{name: eth0}]\nbridges: [{name: eth0}]\nveths: [{name: v0, peer: v0}]");
    has(&e, "bridges[0].name", |e| matches!(e, V::Duplicate { first, .. } if first == "uplinks[0]"));
    has(&e, "veths[0].peer", |e| matches!(e, V::Duplicate { .. }));
    let e = errors("uplinks: [{name: eth0}]\nvlans: [{name: a, parent: eth0, id: 5}, {name: b, parent: eth0, id: 5}]");
    has(&e, "vlans[1].id", |e| matches!(e, V::Duplicate { first, .. } if first == "vlans[0]"));
}

#[test]
fn unknown_parents_and_ports() {
    let e = errors("vlans: [{name: eth9.5, parent: eth9, id: 5}]\nbridges: [{name: br0, ports: [nope]}]");
    has(&e, "vlans[0].parent", |e| matches!(e, V::UnknownDevice { name, .. } if name == "eth9"));
    has(&e, "bridges[0].ports[0]", |e| matches!(e, V::UnknownDevice { name, .. } if name == "nope"));
    let e = errors("uplinks: [{name: eth0}]\nbridges: [{name: br0, ports: [eth0]}, {name: br1, ports: [eth0, br0]}]");
    has(&e, "bridges[1].ports[0]", |e| matches!(e, V::Port { reason, .. } if reason.contains("bridges[0].ports[0]")));
    has(&e, "bridges[1].ports[1]", |e| matches!(e, V::Port { .. }));
    let e =
        errors("uplinks: [{name: eth0}]\nbridges: [{name: br0, vlan_filtering: {ports: [{port: eth0, vids: [5]}]}}]");
    has(&e, "bridges[0].vlan_filtering.ports[0].port", |e| matches!(e, V::UnknownDevice { .. }));
}

#[test]
fn address_conflicts_and_addresses_left_on_the_wrong_device() {
    let e = errors(
        "bridges: [{name: br0, addresses: [10.0.0.1/24]}, {name: br1, addresses: [10.0.0.1/16, 10.1.0.0/24, 224.0.0.1/4]}]",
    );
    has(
        &e,
        "bridges[1].addresses[0]",
        |e| matches!(e, V::AddressConflict { other, .. } if other == "bridges[0].addresses[0]"),
    );
    has(&e, "bridges[1].addresses[1]", |e| matches!(e, V::Address { .. }));
    has(&e, "bridges[1].addresses[2]", |e| matches!(e, V::Address { .. }));
    // The classic mistake: the uplink keeps the address that must move to the bridge.
    let e = errors(
        "uplinks: [{name: eth0, addresses: [192.168.42.11/24], routes: [{gateway: 192.168.42.1}]}]\nbridges: [{name: cloudbr0, ports: [eth0]}]",
    );
    has(
        &e,
        "uplinks[0].addresses[0]",
        |e| matches!(e, V::AddressOnPort { device, bridge, .. } if device == "eth0" && bridge == "cloudbr0"),
    );
    has(&e, "uplinks[0].routes[0]", |e| matches!(e, V::Route { .. }));
}

#[test]
fn mtu_routes_bridge_settings() {
    let e = errors(
        r#"
bridges:
  - name: br0
    mtu: 40
    stp: true
    forward_delay: 1
    mac: "01:00:5e:00:00:01"
    routes:
      - gateway: fd00::1
        destination: 10.0.0.0/8
      - destination: 10.1.2.3/8
      - gateway: 10.0.0.1
      - gateway: 10.0.0.2
"#,
    );
    has(&e, "bridges[0].mtu", |e| matches!(e, V::Mtu { mtu: 40, .. }));
    has(&e, "bridges[0].forward_delay", |e| matches!(e, V::Bridge { reason, .. } if reason.contains("STP")));
    has(&e, "bridges[0].mac", |e| matches!(e, V::Bridge { .. }));
    has(&e, "bridges[0].routes[0].gateway", |e| matches!(e, V::Route { .. }));
    has(
        &e,
        "bridges[0].routes[1].destination",
        |e| matches!(e, V::Route { reason, .. } if reason.contains("10.0.0.0/8")),
    );
    has(&e, "bridges[0].routes[3]", |e| matches!(e, V::Route { reason, .. } if reason.contains("default")));
}

#[test]
fn parse_errors_are_typed() {
    for bad in ["bridges: [{name: br0, bogus: 1}]", "bridges: [{name: br0, addresses: [10.0.0.1]}]", "uplinks: 5"] {
        let err = HostNetwork::from_yaml(bad).unwrap_err();
        assert!(matches!(err, kvmhost_net::Error::Parse { format: "YAML", .. }), "{err}");
    }
    assert!(HostNetwork::from_json("{\"bridges\": [{\"name\": 1}]}").is_err());
    assert!(HostNetwork::from_toml("bridges = 3").is_err());
}

#[test]
fn formats_agree_and_cloudstack_layout_is_valid() {
    let net = cloudstack::CloudStackLinux::new(
        "eth0",
        100,
        200,
        300,
        "192.168.42.11/24".parse().unwrap(),
        "192.168.42.1".parse().unwrap(),
    )
    .build();
    net.validate().unwrap();
    let yaml = net.to_yaml();
    assert_eq!(HostNetwork::from_yaml(&yaml).unwrap(), net);
    let json = serde_json::to_string(&net).unwrap();
    assert_eq!(HostNetwork::from_json(&json).unwrap(), net);
    let toml = toml::to_string(&net).unwrap();
    assert_eq!(HostNetwork::from_toml(&toml).unwrap(), net);
    // Invalid VLAN ids from the constructor are caught, with the field.
    let bad = cloudstack::CloudStackLinux::new(
        "eth0",
        100,
        0,
        300,
        "10.0.0.2/24".parse().unwrap(),
        "10.0.0.1".parse().unwrap(),
    )
    .build();
    let e = bad.validate().unwrap_err();
    has(&e, "vlans[1].id", |e| matches!(e, V::VlanId { .. }));
    // Planning refuses invalid input before reading anything.
    assert!(matches!(engine::plan_against(&bad, &NetState::default()), Err(kvmhost_net::Error::Invalid(_))));
    // A missing uplink is a plan-time error naming the field.
    let err = engine::plan_against(&net, &NetState::default()).unwrap_err();
    assert_eq!(err.to_string(), "uplinks[0]: device eth0 does not exist");
}

/// Uplinks and OVS interfaces are one type (`IpInterface`) with one check: a route of an OVS
/// interface is checked as an uplink's is.
#[test]
fn ovs_interface_routes_are_checked_like_uplink_routes() {
    let errs = errors(
        "ovs: {bridges: [{name: br0, fake_bridges: [{name: mgmt0, vlan: 100}]}]}\n\
         ovs_interfaces: [{name: mgmt0, addresses: [10.0.0.2/24], routes: [{destination: 10.1.0.0/16, gateway: 'fd00::1'}], mtu: 10}]",
    );
    has(&errs, "ovs_interfaces[0].routes[0].gateway", |e| matches!(e, V::Route { .. }));
    has(&errs, "ovs_interfaces[0].mtu", |e| matches!(e, V::Mtu { .. }));
    let errs = errors("uplinks: [{name: eth0, routes: [{destination: 10.1.0.0/16, gateway: 'fd00::1'}], mtu: 10}]");
    has(&errs, "uplinks[0].routes[0].gateway", |e| matches!(e, V::Route { .. }));
    has(&errs, "uplinks[0].mtu", |e| matches!(e, V::Mtu { .. }));
}
