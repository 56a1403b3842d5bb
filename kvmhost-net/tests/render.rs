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
