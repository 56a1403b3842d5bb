//! Persistence renderers: the CloudStack layout in each format, as the guide writes it by hand.

use kvmhost_net::cloudstack::{BridgeNaming, CloudStackLinux};
use kvmhost_net::render::{render, Format};
use kvmhost_net::HostNetwork;

fn layout() -> HostNetwork {
    CloudStackLinux::new("eth0", 100, 200, 300, "192.168.42.11/24".parse().unwrap(), "192.168.42.1".parse().unwrap())
        .build()
}

fn file<'a>(files: &'a [kvmhost_net::render::RenderedFile], suffix: &str) -> &'a str {
    &files.iter().find(|f| f.path.ends_with(suffix)).unwrap_or_else(|| panic!("no {suffix}: {files:#?}")).contents
}

#[test]
fn interfaces_matches_the_guide() {
    let files = render(&layout(), Format::Interfaces);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].path, "/etc/network/interfaces");
    let expected = "auto lo
iface lo inet loopback

auto eth0
iface eth0 inet manual

auto cloudbr0
iface cloudbr0 inet manual
    bridge_ports eth0.200
    bridge_fd 5
    bridge_stp off
    bridge_maxwait 1

auto cloudbr1
iface cloudbr1 inet manual
    bridge_ports eth0.300
    bridge_fd 5
    bridge_stp off
    bridge_maxwait 1

auto eth0.100
iface eth0.100 inet static
    address 192.168.42.11/24
    gateway 192.168.42.1
    vlan-raw-device eth0

auto eth0.200
iface eth0.200 inet manual
    vlan-raw-device eth0

auto eth0.300
iface eth0.300 inet manual
    vlan-raw-device eth0
";
    assert_eq!(files[0].contents, expected);
}

#[test]
fn networkd_files() {
    let files = render(&layout().clone(), Format::Networkd);
    assert_eq!(
        file(&files, "10-cloudbr0.netdev"),
        "[NetDev]\nName=cloudbr0\nKind=bridge\n\n[Bridge]\nSTP=no\nForwardDelaySec=5\n"
    );
    assert_eq!(file(&files, "10-eth0.200.netdev"), "[NetDev]\nName=eth0.200\nKind=vlan\n\n[VLAN]\nId=200\n");
    let eth0 = file(&files, "20-eth0.network");
    for l in ["Name=eth0", "VLAN=eth0.100", "VLAN=eth0.200", "VLAN=eth0.300", "LinkLocalAddressing=no"] {
        assert!(eth0.contains(l), "{l} missing:\n{eth0}");
    }
    assert!(file(&files, "20-eth0.200.network").contains("Bridge=cloudbr0\n"));
    let mgmt = file(&files, "20-eth0.100.network");
    assert!(mgmt.contains("Address=192.168.42.11/24\n\n[Route]\nGateway=192.168.42.1\n"), "{mgmt}");
    assert_eq!(files.iter().filter(|f| f.path.ends_with(".netdev")).count(), 5);
    assert_eq!(files.iter().filter(|f| f.path.ends_with(".network")).count(), 6);
}

#[test]
fn ifcfg_files() {
    let net = CloudStackLinux::new(
        "eth0",
        100,
        200,
        300,
        "192.168.42.11/24".parse().unwrap(),
        "192.168.42.1".parse().unwrap(),
    )
    .naming(BridgeNaming::PifVlan)
    .build();
    let files = render(&net, Format::Ifcfg);
    assert_eq!(
        file(&files, "ifcfg-eth0.100"),
        "DEVICE=eth0.100\nONBOOT=yes\nBOOTPROTO=none\nNM_CONTROLLED=no\nVLAN=yes\nPHYSDEV=eth0\nVLAN_ID=100\nIPADDR=192.168.42.11\nPREFIX=24\nGATEWAY=192.168.42.1\n"
    );
    assert_eq!(
        file(&files, "ifcfg-breth0-200"),
        "DEVICE=breth0-200\nONBOOT=yes\nBOOTPROTO=none\nNM_CONTROLLED=no\nTYPE=Bridge\nSTP=no\nDELAY=5\n"
    );
    assert!(file(&files, "ifcfg-eth0.300").contains("BRIDGE=breth0-300\n"));
}

#[test]
fn ipv6_extra_routes_and_vlan_filtering() {
    let net = HostNetwork::from_yaml(
        r#"
uplinks: [{name: eth1}]
bridges:
  - name: br1
    ports: [eth1]
    mtu: 9000
    addresses: [10.1.0.2/24, 10.1.1.2/24, "fd00::2/64"]
    routes:
      - gateway: 10.1.0.1
      - {destination: 10.50.0.0/16, gateway: 10.1.0.254, metric: 10}
      - gateway: "fd00::1"
    vlan_filtering:
      ports: [{port: eth1, vids: [200, 300], pvid: 100}]
"#,
    )
    .unwrap();
    net.validate().unwrap();
    let i = &render(&net, Format::Interfaces)[0].contents;
    for l in [
        "    up ip addr add 10.1.1.2/24 dev br1",
        "    up ip route add 10.50.0.0/16 via 10.1.0.254 dev br1 metric 10",
        "iface br1 inet6 static\n    address fd00::2/64\n    gateway fd00::1",
        "    bridge-vlan-aware yes",
        "    bridge-vids 200 300\n    bridge-pvid 100",
        "    mtu 9000",
    ] {
        assert!(i.contains(l), "{l:?} missing:\n{i}");
    }
    let f = render(&net, Format::Ifcfg);
    assert!(file(&f, "ifcfg-br1").contains(
        "IPADDR1=10.1.1.2\nPREFIX1=24\nIPV6INIT=yes\nIPV6ADDR=fd00::2/64\nGATEWAY=10.1.0.1\nIPV6_DEFAULTGW=fd00::1\n"
    ));
    assert_eq!(file(&f, "route-br1"), "10.50.0.0/16 via 10.1.0.254 dev br1 metric 10\n");
    let n = render(&net, Format::Networkd);
    assert!(
        file(&n, "10-br1.netdev").contains("MTUBytes=9000\n\n[Bridge]\nSTP=no\nVLANFiltering=yes\nDefaultPVID=none\n")
    );
    let port = file(&n, "20-eth1.network");
    assert!(
        port.contains("[BridgeVLAN]\nVLAN=200\n") && port.contains("[BridgeVLAN]\nPVID=100\nEgressUntagged=100\n"),
        "{port}"
    );
}

#[test]
fn bonds_in_each_format() {
    let net = HostNetwork::from_yaml(
        r#"
uplinks: [{name: eth1}, {name: eth2}]
bonds:
  - name: bond0
    mode: 802.3ad
    miimon: 100
    lacp_rate: fast
    members: [eth1, eth2]
    mtu: 9000
  - {name: bond1, mode: active-backup, members: []}
bridges:
  - name: cloudbr0
    ports: [bond0]
    addresses: [192.168.42.11/24]
    routes: [{gateway: 192.168.42.1}]
"#,
    )
    .unwrap();
    net.validate().unwrap();

    let i = &render(&net, Format::Interfaces)[0].contents;
    assert!(
        i.contains(
            "auto eth1\niface eth1 inet manual\n\nauto eth2\niface eth2 inet manual\n\nauto bond0\niface bond0 inet manual\n    bond-slaves eth1 eth2\n    bond-mode 802.3ad\n    bond-miimon 100\n    bond-lacp-rate fast\n    mtu 9000\n\n"
        ),
        "{i}"
    );
    assert!(i.contains("iface bond1 inet manual\n    bond-slaves none\n    bond-mode active-backup\n"), "{i}");
    assert!(i.contains("iface cloudbr0 inet static\n    address 192.168.42.11/24\n    gateway 192.168.42.1\n    bridge_ports bond0\n"), "{i}");
    // Members come before the bond, the bond before the bridge it is a port of.
    assert!(i.find("iface eth2").unwrap() < i.find("iface bond0").unwrap());
    assert!(i.find("iface bond0").unwrap() < i.find("iface cloudbr0").unwrap());

    let n = render(&net, Format::Networkd);
    assert_eq!(
        file(&n, "10-bond0.netdev"),
        "[NetDev]\nName=bond0\nKind=bond\nMTUBytes=9000\n\n[Bond]\nMode=802.3ad\nMIIMonitorSec=100ms\nLACPTransmitRate=fast\n"
    );
    assert_eq!(file(&n, "10-bond1.netdev"), "[NetDev]\nName=bond1\nKind=bond\n\n[Bond]\nMode=active-backup\n");
    for m in ["eth1", "eth2"] {
        let f = file(&n, &format!("20-{m}.network"));
        assert!(f.contains("Bond=bond0\n") && !f.contains("Bridge="), "{f}");
    }
    assert!(file(&n, "20-bond0.network").contains("Bridge=cloudbr0\n"));

    let f = render(&net, Format::Ifcfg);
    assert_eq!(
        file(&f, "ifcfg-bond0"),
        "DEVICE=bond0\nONBOOT=yes\nBOOTPROTO=none\nNM_CONTROLLED=no\nTYPE=Bond\nBONDING_MASTER=yes\nBONDING_OPTS=\"mode=802.3ad miimon=100 lacp_rate=fast\"\nMTU=9000\nBRIDGE=cloudbr0\n"
    );
    assert!(file(&f, "ifcfg-bond1").contains("BONDING_OPTS=\"mode=active-backup\"\n"));
    for m in ["eth1", "eth2"] {
        assert_eq!(
            file(&f, &format!("ifcfg-{m}")),
            format!("DEVICE={m}\nONBOOT=yes\nBOOTPROTO=none\nNM_CONTROLLED=no\nMASTER=bond0\nSLAVE=yes\n")
        );
    }
}

#[test]
fn bond_under_vlans_and_balance_xor() {
    let net = HostNetwork::from_yaml(
        r#"
uplinks: [{name: eth1}, {name: eth2}]
bonds: [{name: bond0, mode: balance-xor, miimon: 50, members: [eth1, eth2], addresses: ["fd00::2/64"]}]
vlans: [{name: bond0.100, parent: bond0, id: 100, addresses: [10.0.0.2/24]}]
"#,
    )
    .unwrap();
    net.validate().unwrap();
    let n = render(&net, Format::Networkd);
    let bond = file(&n, "20-bond0.network");
    assert!(bond.contains("VLAN=bond0.100\n") && bond.contains("Address=fd00::2/64\n"), "{bond}");
    assert!(file(&n, "10-bond0.netdev").contains("[Bond]\nMode=balance-xor\nMIIMonitorSec=50ms\n"));
    let i = &render(&net, Format::Interfaces)[0].contents;
    assert!(i.contains("iface bond0.100 inet static\n    address 10.0.0.2/24\n    vlan-raw-device bond0\n"), "{i}");
    assert!(i.contains("iface bond0 inet6 static\n    address fd00::2/64\n"), "{i}");
    let f = render(&net, Format::Ifcfg);
    assert!(file(&f, "ifcfg-bond0")
        .contains("BONDING_OPTS=\"mode=balance-xor miimon=50\"\nIPV6INIT=yes\nIPV6ADDR=fd00::2/64\n"));
    assert!(file(&f, "ifcfg-bond0.100").contains("VLAN=yes\nPHYSDEV=bond0\nVLAN_ID=100\n"));
}

/// An uplink's IPv6 address and route that the model does not mention move along onto the
/// interface taking its IPv4 address (the partial-state rule); `with_kept_addresses` writes
/// them into the model, so each format persists them and the host keeps IPv6 after a reboot.
#[test]
fn moved_ipv6_addresses_and_routes_are_persisted_in_every_format() {
    use kvmhost_net::{LinkKind, LinkState, NetState, RouteState};
    let mut eth0 = LinkState::new("eth0", LinkKind::Other { kind: String::new() });
    eth0.up = true;
    eth0.addresses = vec!["192.168.42.11/24".parse().unwrap(), "fd00:42::11/64".parse().unwrap()];
    let mut state = NetState::default();
    state.links.insert("eth0".into(), eth0);
    let mut v6_default = RouteState::new("::/0".parse().unwrap(), Some("fd00:42::1".parse().unwrap()), "eth0");
    v6_default.metric = 1024;
    state.routes.push(v6_default);
    let net = CloudStackLinux::new(
        "eth0",
        100,
        200,
        300,
        "192.168.42.11/24".parse().unwrap(),
        "192.168.42.1".parse().unwrap(),
    )
    .build();
    let plain = render(&net, Format::Networkd);
    assert!(!kvmhost_net::render::to_text(&plain).contains("fd00:42::11"), "the model alone does not know it");
    let kept = net.with_kept_addresses(&state);
    // The management VLAN (eth0.100) takes eth0's IPv4 address: the IPv6 one goes with it.
    let host = &kept.vlans[0];
    assert!(host.addresses.iter().any(|a| a.to_string() == "192.168.42.11/24"), "{host:?}");
    assert!(host.addresses.iter().any(|a| a.to_string() == "fd00:42::11/64"), "{host:?}");
    assert!(host.routes.iter().any(|r| r.destination.to_string() == "::/0"), "{host:?}");
    for format in [Format::Networkd, Format::Interfaces, Format::Ifcfg] {
        let text = kvmhost_net::render::to_text(&render(&kept, format));
        assert!(text.contains("fd00:42::11/64"), "{format:?}:\n{text}");
        assert!(text.contains("fd00:42::1"), "{format:?}: the IPv6 gateway\n{text}");
    }
}
