//! 802.1Q subinterfaces and Linux-bridge VLAN filtering. The netlink requests are checked byte by
//! byte against the kernel ABI (always); the features are run for real in a throwaway namespace
//! when the kernel has them, and the test says `SKIP (kernel): …` when it does not.

mod common;

use common::TestNs;
use kvmhost_net::netlink::is_unsupported;
use kvmhost_net::netlink::message::request_bytes;
use kvmhost_net::{cloudstack, Engine, Error, HostNetwork, LinkKind, Step};

use common::nla::{attrs, get, link_request, u16_of, u32_of};

// Kernel ABI constants (linux/rtnetlink.h, if_link.h, netlink.h, if_bridge.h).
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_SETLINK: u16 = 19;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINK: u16 = 5;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_AF_SPEC: u16 = 26;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_VLAN_ID: u16 = 1;
const IFLA_BR_STP_STATE: u16 = 5;
const IFLA_BR_VLAN_FILTERING: u16 = 7;
const IFLA_BR_VLAN_DEFAULT_PVID: u16 = 39;
const IFLA_BRIDGE_FLAGS: u16 = 0;
const IFLA_BRIDGE_VLAN_INFO: u16 = 2;
const BRIDGE_FLAGS_SELF: u16 = 2;
const BRIDGE_VLAN_INFO_PVID: u16 = 2;
const BRIDGE_VLAN_INFO_UNTAGGED: u16 = 4;
const AF_BRIDGE: u8 = 7;
const AF_UNSPEC: u8 = 0;
const IFF_UP: u32 = 1;

fn index(n: &str) -> Result<u32, Error> {
    Ok(match n {
        "eth0" => 2,
        "cloudbr0" => 7,
        "eth0.200" => 9,
        other => panic!("unexpected name {other}"),
    })
}

#[test]
fn vlan_subinterface_request_bytes() {
    let step = Step::CreateVlan {
        name: "eth0.200".into(),
        parent: "eth0".into(),
        id: 200,
        mtu: None,
        controller: Some("cloudbr0".into()),
    };
    let bytes = request_bytes(&step, &index).unwrap().unwrap();
    let (ty, flags, family, idx, ifi_flags, change, a) = link_request(&bytes);
    assert_eq!(ty, RTM_NEWLINK);
    assert_eq!(flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    assert_eq!((family, idx, ifi_flags & IFF_UP, change & IFF_UP), (AF_UNSPEC, 0, IFF_UP, IFF_UP));
    assert_eq!(get(&a, IFLA_IFNAME), b"eth0.200\0");
    assert_eq!(u32_of(&get(&a, IFLA_LINK)), 2, "IFLA_LINK is the parent's index");
    assert_eq!(u32_of(&get(&a, IFLA_MASTER)), 7, "enslaved to cloudbr0 at creation");
    let info = attrs(&get(&a, IFLA_LINKINFO));
    assert_eq!(get(&info, IFLA_INFO_KIND), b"vlan\0");
    let data = attrs(&get(&info, IFLA_INFO_DATA));
    assert_eq!(data.len(), 1);
    assert_eq!(u16_of(&get(&data, IFLA_VLAN_ID)), 200);
}

#[test]
fn bridge_vlan_filtering_request_bytes() {
    let create = Step::CreateBridge {
        name: "cloudbr0".into(),
        stp: false,
        forward_delay_cs: None,
        vlan_filtering: Some(true),
        mtu: None,
        mac: None,
    };
    let (ty, _, _, _, _, _, a) = link_request(&request_bytes(&create, &index).unwrap().unwrap());
    assert_eq!(ty, RTM_NEWLINK);
    let info = attrs(&get(&a, IFLA_LINKINFO));
    assert_eq!(get(&info, IFLA_INFO_KIND), b"bridge\0");
    let data = attrs(&get(&info, IFLA_INFO_DATA));
    assert_eq!(u32_of(&get(&data, IFLA_BR_STP_STATE)), 0);
    assert_eq!(get(&data, IFLA_BR_VLAN_FILTERING), vec![1]);
    assert_eq!(u16_of(&get(&data, IFLA_BR_VLAN_DEFAULT_PVID)), 0);

    // bridge vlan add dev eth0 vid 200 pvid untagged
    let add = Step::AddBridgeVlan { port: "eth0".into(), vid: 200, pvid: true, untagged: true, bridge_self: false };
    let (ty, flags, family, idx, _, _, a) = link_request(&request_bytes(&add, &index).unwrap().unwrap());
    assert_eq!((ty, flags, family, idx), (RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, AF_BRIDGE, 2));
    let spec = attrs(&get(&a, IFLA_AF_SPEC));
    assert_eq!(spec.len(), 1);
    let vi = get(&spec, IFLA_BRIDGE_VLAN_INFO);
    assert_eq!((u16_of(&vi[0..2]), u16_of(&vi[2..4])), (BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, 200));

    // bridge vlan add dev cloudbr0 vid 300 self
    let add_self =
        Step::AddBridgeVlan { port: "cloudbr0".into(), vid: 300, pvid: false, untagged: false, bridge_self: true };
    let (_, _, family, idx, _, _, a) = link_request(&request_bytes(&add_self, &index).unwrap().unwrap());
    assert_eq!((family, idx), (AF_BRIDGE, 7));
    let spec = attrs(&get(&a, IFLA_AF_SPEC));
    assert_eq!(u16_of(&get(&spec, IFLA_BRIDGE_FLAGS)), BRIDGE_FLAGS_SELF);
    let vi = get(&spec, IFLA_BRIDGE_VLAN_INFO);
    assert_eq!((u16_of(&vi[0..2]), u16_of(&vi[2..4])), (0, 300));

    // bridge vlan del dev eth0 vid 200
    let del = Step::DelBridgeVlan { port: "eth0".into(), vid: 200, bridge_self: false };
    let (ty, _, family, idx, _, _, a) = link_request(&request_bytes(&del, &index).unwrap().unwrap());
    assert_eq!((ty, family, idx), (RTM_DELLINK, AF_BRIDGE, 2));
    let vi = get(&attrs(&get(&a, IFLA_AF_SPEC)), IFLA_BRIDGE_VLAN_INFO);
    assert_eq!(u16_of(&vi[2..4]), 200);
}

#[test]
fn plan_for_vlan_filtering_lists_every_port_vlan() {
    let net = HostNetwork::from_yaml(
        r#"
uplinks: [{name: eth0}]
bridges:
  - name: br0
    ports: [eth0]
    vlan_filtering:
      ports:
        - {port: eth0, vids: [200, 300]}
        - {port: br0, vids: [100], pvid: 100, untagged: [100]}
"#,
    )
    .unwrap();
    let mut state = kvmhost_net::NetState::default();
    state.links.insert("eth0".into(), kvmhost_net::LinkState::new("eth0", LinkKind::Other { kind: String::new() }));
    let plan = kvmhost_net::engine::plan_against(&net, &state).unwrap().to_string();
    for line in [
        "vlan_filtering 1",
        "bridge vlan add dev eth0 vid 200",
        "bridge vlan add dev eth0 vid 300",
        "bridge vlan add dev br0 vid 100 pvid untagged self",
    ] {
        assert!(plan.contains(line), "{line:?} missing in\n{plan}");
    }
}

const SKIP_8021Q: &str = "SKIP (kernel): 802.1Q not supported by this kernel, message assertions ran";
const SKIP_FILTERING: &str =
    "SKIP (kernel): bridge vlan_filtering not supported by this kernel, message assertions ran";

#[test]
fn vlan_subinterfaces_for_real_where_supported() {
    let Some(ns) = TestNs::new("vlan_subinterfaces_for_real") else { return };
    ns.ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]);
    let net = cloudstack::CloudStackLinux::new(
        "eth0",
        100,
        200,
        300,
        "192.168.42.11/24".parse().unwrap(),
        "192.168.42.1".parse().unwrap(),
    )
    .build();
    let engine = Engine::new(ns.netns());
    let before = engine.read_state().unwrap();
    match engine.apply(&net) {
        Err(Error::Apply { source, rollback, .. }) if is_unsupported(&source) => {
            // A typed error naming the missing module.
            assert!(
                matches!(&*source, Error::Unsupported { kind, module, .. } if kind == "vlan" && module == "8021q"),
                "{source}"
            );
            // Even the refusal leaves the namespace as it was.
            assert!(rollback.is_some_and(|r| r.restored));
            assert_eq!(engine.read_state().unwrap(), before);
            println!("{SKIP_8021Q}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => {
            let s = engine.read_state().unwrap();
            assert_eq!(s.link("eth0.200").unwrap().kind, LinkKind::Vlan { parent: Some("eth0".into()), id: 200 });
            assert_eq!(s.link("eth0.200").unwrap().controller.as_deref(), Some("cloudbr0"));
            assert_eq!(s.link("eth0.100").unwrap().addresses, vec!["192.168.42.11/24".parse().unwrap()]);
            assert_eq!(engine.apply(&net).unwrap().writes, 0);
        }
    }
}

#[test]
fn bridge_vlan_filtering_for_real_where_supported() {
    let Some(ns) = TestNs::new("bridge_vlan_filtering_for_real") else { return };
    ns.ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]);
    let net = HostNetwork::from_yaml(
        "uplinks: [{name: eth0}]\nbridges: [{name: br0, ports: [eth0], vlan_filtering: {ports: [{port: eth0, vids: [200, 300], pvid: 100}]}}]",
    )
    .unwrap();
    let engine = Engine::new(ns.netns());
    let before = engine.read_state().unwrap();
    match engine.apply(&net) {
        Err(Error::Apply { source, rollback, .. }) if is_unsupported(&source) => {
            assert!(rollback.is_some_and(|r| r.restored));
            assert_eq!(engine.read_state().unwrap(), before);
            println!("{SKIP_FILTERING}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => {
            let s = engine.read_state().unwrap();
            assert!(matches!(s.link("br0").unwrap().kind, LinkKind::Bridge { vlan_filtering: true, .. }));
            let vids: Vec<u16> = s.link("eth0").unwrap().vlans.iter().map(|e| e.vid).collect();
            assert_eq!(vids, vec![100, 200, 300]);
            assert_eq!(engine.apply(&net).unwrap().writes, 0);
        }
    }
}
