//! Bonds (active-backup, 802.3ad, balance-xor): model, validation, plan, the netlink messages
//! and the apply against a kernel.
//!
//! This kernel has no bonding module, so the kernel part is covered by asserting the netlink
//! requests byte by byte against the kernel ABI (as for 802.1Q in `vlan_kernel.rs`): the
//! create request (`RTM_NEWLINK`, kind `bond`, `IFLA_BOND_MODE` / `IFLA_BOND_MIIMON` /
//! `IFLA_BOND_AD_LACP_RATE`) and the enslave sequence (down, `IFLA_MASTER`, up). A real apply
//! in a throwaway namespace then checks that a kernel without bonding gives a typed
//! [`Error::Unsupported`] naming the `bonding` module and that the rollback leaves the namespace
//! as it was; where the kernel has bonding, the same test checks the bond for real.

mod common;

use common::TestNs;
use kvmhost_net::netlink::message::request_bytes;
use kvmhost_net::{
    engine::plan_against, Bond, BondMode, Engine, Error, HostNetwork, LacpRate, LinkKind, LinkState, NetState,
    RouteState, Step, ValidationError as V,
};

const BOND: &str = r#"
uplinks: [{name: eth1}, {name: eth2}]
bonds:
  - name: bond0
    mode: 802.3ad
    miimon: 100
    lacp_rate: fast
    members: [eth1, eth2]
    addresses: [192.168.42.11/24]
    routes: [{gateway: 192.168.42.1}]
"#;

#[test]
fn model_reads_and_writes_bonds_in_every_format() {
    let net = HostNetwork::from_yaml(BOND).unwrap();
    net.validate().unwrap();
    let b = &net.bonds[0];
    assert_eq!((b.mode, b.miimon, b.lacp_rate), (BondMode::Ieee8023ad, Some(100), Some(LacpRate::Fast)));
    assert_eq!(b.members, vec!["eth1", "eth2"]);
    assert_eq!(net.role_of("bond0"), Some(kvmhost_net::DeviceRole::Bond));
    assert_eq!(net.bond_of("eth2").map(|b| b.name.as_str()), Some("bond0"));
    let yaml = net.to_yaml();
    assert!(yaml.contains("mode: 802.3ad") && yaml.contains("lacp_rate: fast"), "{yaml}");
    assert_eq!(HostNetwork::from_yaml(&yaml).unwrap(), net);
    let json = serde_json::to_string(&net).unwrap();
    assert_eq!(HostNetwork::from_json(&json).unwrap(), net);
    let toml =
        "[[uplinks]]\nname = \"eth1\"\n[[bonds]]\nname = \"bond0\"\nmode = \"active-backup\"\nmembers = [\"eth1\"]\n";
    let t = HostNetwork::from_toml(toml).unwrap();
    assert_eq!(t.bonds[0].mode, BondMode::ActiveBackup);
    for mode in ["active-backup", "balance-xor", "802.3ad"] {
        let n = HostNetwork::from_yaml(&format!("bonds: [{{name: bond0, mode: {mode}}}]")).unwrap();
        assert_eq!(n.bonds[0].mode.to_string(), mode);
    }
    assert!(HostNetwork::from_yaml("bonds: [{name: bond0, mode: balance-rr}]").is_err());
    assert!(HostNetwork::from_yaml("bonds: [{name: bond0, mode: 802.3ad, lacp_rate: medium}]").is_err());
    // A model without bonds writes no `bonds` key (files written before bonds read the same).
    assert!(!HostNetwork::new().to_yaml().contains("bonds"));
    // Built in code.
    let mut n = HostNetwork::new();
    let mut b = Bond::new("bond1", BondMode::BalanceXor);
    b.members.push("eth1".into());
    n.uplinks.push(kvmhost_net::Uplink::new("eth1"));
    n.bonds.push(b);
    n.validate().unwrap();
}

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
fn bond_validation() {
    // Name rule and duplicates, as for every device.
    let e = errors(
        "uplinks: [{name: bond0}]\nbonds: [{name: bond0, mode: active-backup}, {name: 'a bond', mode: active-backup}]",
    );
    has(&e, "bonds[0].name", |e| matches!(e, V::Duplicate { first, .. } if first == "uplinks[0]"));
    has(&e, "bonds[1].name", |e| matches!(e, V::Name { .. }));
    // Options: lacp_rate only with 802.3ad, miimon within the kernel's int, MTU.
    let e = errors("bonds: [{name: bond0, mode: active-backup, lacp_rate: fast, miimon: 3000000000, mtu: 10}]");
    has(&e, "bonds[0].lacp_rate", |e| matches!(e, V::BondOption { reason, .. } if reason.contains("802.3ad")));
    has(&e, "bonds[0].miimon", |e| matches!(e, V::BondOption { .. }));
    has(&e, "bonds[0].mtu", |e| matches!(e, V::Mtu { mtu: 10, .. }));
    assert!(HostNetwork::from_yaml("bonds: [{name: bond0, mode: 802.3ad, lacp_rate: slow, miimon: 0}]")
        .unwrap()
        .validate()
        .is_ok());
    // Members: declared, uplinks or veths, in one bond, not a bridge port or OVS port.
    let e = errors(
        r#"
uplinks: [{name: eth1}, {name: eth2}, {name: eth3}]
taps: [{name: vnet0}]
bonds:
  - {name: bond0, mode: active-backup, members: [eth1, nope, vnet0, eth3]}
  - {name: bond1, mode: balance-xor, members: [eth1, eth2, bond0]}
bridges: [{name: br0, ports: [eth2, bond0]}]
ovs: {bridges: [{name: ovsbr0, ports: [{name: eth3}]}]}
"#,
    );
    has(&e, "bonds[0].members[1]", |e| matches!(e, V::UnknownDevice { name, .. } if name == "nope"));
    has(&e, "bonds[0].members[2]", |e| matches!(e, V::BondMember { reason, .. } if reason.contains("tap")));
    has(&e, "bonds[0].members[3]", |e| matches!(e, V::BondMember { reason, .. } if reason.contains("ovsbr0")));
    has(
        &e,
        "bonds[1].members[0]",
        |e| matches!(e, V::BondMember { reason, bond, .. } if reason.contains("bonds[0].members[0]") && bond == "bond1"),
    );
    has(&e, "bonds[1].members[1]", |e| matches!(e, V::BondMember { reason, .. } if reason.contains("bridge br0")));
    has(&e, "bonds[1].members[2]", |e| matches!(e, V::BondMember { reason, .. } if reason.contains("bond")));
    // bond0 itself may be a bridge port: no error at bridges[0].ports[1].
    assert!(!e.iter().any(|e| e.field() == "bridges[0].ports[1]"), "{e:#?}");
    // Addresses and routes of a member belong on the bond.
    let e = errors(
        "uplinks: [{name: eth1, addresses: [10.0.0.2/24], routes: [{gateway: 10.0.0.1}]}]\nbonds: [{name: bond0, mode: active-backup, members: [eth1]}]",
    );
    has(&e, "uplinks[0].addresses[0]", |e| matches!(e, V::BondMember { reason, .. } if reason.contains("bond0")));
    has(&e, "uplinks[0].routes[0]", |e| matches!(e, V::BondMember { .. }));
    // A bond carries VLANs and is a bridge port like an uplink.
    HostNetwork::from_yaml(
        r#"
uplinks: [{name: eth1}, {name: eth2}]
bonds: [{name: bond0, mode: 802.3ad, members: [eth1, eth2]}]
vlans: [{name: bond0.100, parent: bond0, id: 100, addresses: [10.0.0.2/24]}]
bridges: [{name: cloudbr0, ports: [bond0]}]
"#,
    )
    .unwrap()
    .validate()
    .unwrap();
}

/// eth1 (up, holding the host's address and default route) and eth2 (down).
fn two_nics() -> NetState {
    let mut s = NetState::default();
    let mut eth1 = LinkState::new("eth1", LinkKind::Other { kind: String::new() });
    eth1.index = 2;
    eth1.up = true;
    eth1.addresses = vec!["192.168.42.11/24".parse().unwrap()];
    s.links.insert("eth1".into(), eth1);
    let mut eth2 = LinkState::new("eth2", LinkKind::Other { kind: String::new() });
    eth2.index = 3;
    s.links.insert("eth2".into(), eth2);
    let mut connected = RouteState::new("192.168.42.0/24".parse().unwrap(), None, "eth1");
    connected.protocol = 2;
    let mut default = RouteState::new("0.0.0.0/0".parse().unwrap(), Some("192.168.42.1".parse().unwrap()), "eth1");
    default.protocol = 3;
    s.routes = vec![default, connected];
    s
}

#[test]
fn plan_creates_the_bond_and_enslaves_members_down() {
    let net = HostNetwork::from_yaml(BOND).unwrap();
    let plan = plan_against(&net, &two_nics()).unwrap();
    let lines: Vec<String> = plan.steps.iter().map(|p| p.step.to_string()).collect();
    assert_eq!(
        lines,
        vec![
            "ip link add bond0 up type bond mode 802.3ad miimon 100 lacp_rate fast",
            "ip addr add 192.168.42.11/24 dev bond0",
            "ip addr del 192.168.42.11/24 dev eth1",
            "ip link set eth1 down",
            "ip link set eth1 master bond0",
            "ip link set eth2 master bond0",
            "ip link set eth1 up",
            "ip link set eth2 up",
            "ip route replace default via 192.168.42.1 dev bond0 metric 0",
        ],
        "{plan}"
    );
    // The address is on the bond before it leaves the member, and leaves it before the member
    // goes down (which would flush IPv6 addresses).
    assert!(plan.steps[2].reason.contains("belongs on bond0"), "{}", plan.steps[2].reason);
    assert!(plan.steps[3].reason.contains("needs it down"), "{}", plan.steps[3].reason);
    assert!(plan.steps[4].reason.contains("member of bond bond0"), "{}", plan.steps[4].reason);
    // Already there (bond made, members enslaved and up): nothing to do.
    let mut s = two_nics();
    let mut bond0 = LinkState::new("bond0", LinkKind::Other { kind: "bond".into() });
    bond0.up = true;
    bond0.addresses = vec!["192.168.42.11/24".parse().unwrap()];
    s.links.insert("bond0".into(), bond0);
    for m in ["eth1", "eth2"] {
        let l = s.links.get_mut(m).unwrap();
        l.controller = Some("bond0".into());
        l.up = true;
        l.addresses.clear();
    }
    for r in &mut s.routes {
        r.device = "bond0".into();
    }
    s.routes[0].protocol = 4;
    assert!(plan_against(&net, &s).unwrap().is_empty(), "{}", plan_against(&net, &s).unwrap());
    // A link of that name that is not a bond is a conflict.
    let mut s = two_nics();
    s.links.insert(
        "bond0".into(),
        LinkState::new("bond0", LinkKind::Bridge { stp: false, forward_delay_cs: 0, vlan_filtering: false }),
    );
    assert!(matches!(plan_against(&net, &s), Err(Error::Conflict { ref name, .. }) if name == "bond0"));
    // Other modes print as iproute2 writes them; a bond on a bridge and under a VLAN.
    let net = HostNetwork::from_yaml(
        r#"
uplinks: [{name: eth1}, {name: eth2}]
bonds: [{name: bond0, mode: active-backup, miimon: 200, members: [eth1, eth2], mtu: 9000}]
vlans: [{name: bond0.200, parent: bond0, id: 200}]
bridges: [{name: cloudbr0, ports: [bond0.200]}]
"#,
    )
    .unwrap();
    net.validate().unwrap();
    let text = plan_against(&net, &two_nics()).unwrap().to_string();
    let bond = text.find("ip link add bond0 mtu 9000 up type bond mode active-backup miimon 200").expect(&text);
    let vlan = text.find("ip link add link bond0 name bond0.200").expect(&text);
    assert!(bond < vlan, "the bond is made before the VLAN on it:\n{text}");
}

#[test]
fn ipv6_and_ipv4_move_from_a_member_to_the_bond_before_it_goes_down() {
    let net = HostNetwork::from_yaml(BOND).unwrap();
    let mut s = two_nics();
    let eth1 = s.links.get_mut("eth1").unwrap();
    eth1.addresses.push("fd00::11/64".parse().unwrap());
    let v6 = RouteState::new("::/0".parse().unwrap(), Some("fd00::1".parse().unwrap()), "eth1");
    s.routes.push(v6);
    let lines: Vec<String> = plan_against(&net, &s).unwrap().steps.iter().map(|p| p.step.to_string()).collect();
    let at = |l: &str| lines.iter().position(|x| x == l).unwrap_or_else(|| panic!("{l:?} missing in {lines:#?}"));
    // The model declares IPv4 on the bond: the IPv6 address and route move along with the member.
    assert!(at("ip addr add fd00::11/64 dev bond0") < at("ip addr del fd00::11/64 dev eth1"));
    assert!(at("ip addr del fd00::11/64 dev eth1") < at("ip link set eth1 down"));
    assert!(at("ip addr del 192.168.42.11/24 dev eth1") < at("ip link set eth1 down"));
    assert!(at("ip link set eth1 master bond0") < at("ip route replace default via fd00::1 dev bond0 metric 0"));
}

// Kernel ABI constants (linux/rtnetlink.h, if_link.h, netlink.h; bonding: include/uapi/linux/if_link.h
// and if_bonding.h).
const RTM_NEWLINK: u16 = 16;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_BOND_MODE: u16 = 1;
const IFLA_BOND_MIIMON: u16 = 3;
const IFLA_BOND_AD_LACP_RATE: u16 = 21;
const BOND_MODE_ACTIVEBACKUP: u8 = 1;
const BOND_MODE_XOR: u8 = 2;
const BOND_MODE_8023AD: u8 = 4;
const AD_LACP_FAST: u8 = 1;
const AD_LACP_SLOW: u8 = 0;
const AF_UNSPEC: u8 = 0;
const IFF_UP: u32 = 1;

fn index(n: &str) -> Result<u32, Error> {
    Ok(match n {
        "eth1" => 2,
        "eth2" => 3,
        "bond0" => 9,
        other => panic!("unexpected name {other}"),
    })
}

const SKIP_BONDING: &str =
    "SKIP (kernel): bonding not supported by this kernel (no bonding module): typed error and rollback checked, bond_request_bytes asserts the create and enslave messages";
const NOTE_BYTES: &str = "NOTE: bond create and enslave requests checked byte by byte against the kernel ABI (kernels without the bonding module, like the test host's, cannot run them: see bond_apply_without_bonding_is_a_typed_error_and_rolls_back)";

#[test]
fn bond_request_bytes() {
    use common::nla::{attrs, get, link_request, u32_of};
    // ip link add bond0 up type bond mode 802.3ad miimon 100 lacp_rate fast
    let step = Step::CreateBond {
        name: "bond0".into(),
        mode: BondMode::Ieee8023ad,
        miimon: Some(100),
        lacp_rate: Some(LacpRate::Fast),
        mtu: Some(9000),
    };
    let bytes = request_bytes(&step, &index).unwrap().unwrap();
    let (ty, flags, family, idx, ifi_flags, change, a) = link_request(&bytes);
    assert_eq!(ty, RTM_NEWLINK);
    assert_eq!(flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    assert_eq!((family, idx, ifi_flags & IFF_UP, change & IFF_UP), (AF_UNSPEC, 0, IFF_UP, IFF_UP));
    assert_eq!(get(&a, IFLA_IFNAME), b"bond0\0");
    assert_eq!(u32_of(&get(&a, IFLA_MTU)), 9000);
    let info = attrs(&get(&a, IFLA_LINKINFO));
    assert_eq!(get(&info, IFLA_INFO_KIND), b"bond\0");
    let data = attrs(&get(&info, IFLA_INFO_DATA));
    assert_eq!(data.len(), 3, "{data:?}");
    assert_eq!(get(&data, IFLA_BOND_MODE), vec![BOND_MODE_8023AD]);
    assert_eq!(u32_of(&get(&data, IFLA_BOND_MIIMON)), 100);
    assert_eq!(get(&data, IFLA_BOND_AD_LACP_RATE), vec![AD_LACP_FAST]);

    // The other modes and rates; unset options are not sent (the kernel keeps its defaults).
    for (mode, byte) in [(BondMode::ActiveBackup, BOND_MODE_ACTIVEBACKUP), (BondMode::BalanceXor, BOND_MODE_XOR)] {
        let step = Step::CreateBond { name: "bond0".into(), mode, miimon: None, lacp_rate: None, mtu: None };
        let (_, _, _, _, _, _, a) = link_request(&request_bytes(&step, &index).unwrap().unwrap());
        assert!(a.iter().all(|(t, _)| *t != IFLA_MTU));
        let data = attrs(&get(&attrs(&get(&a, IFLA_LINKINFO)), IFLA_INFO_DATA));
        assert_eq!(data, vec![(IFLA_BOND_MODE, vec![byte])]);
    }
    let slow = Step::CreateBond {
        name: "bond0".into(),
        mode: BondMode::Ieee8023ad,
        miimon: None,
        lacp_rate: Some(LacpRate::Slow),
        mtu: None,
    };
    let (_, _, _, _, _, _, a) = link_request(&request_bytes(&slow, &index).unwrap().unwrap());
    let data = attrs(&get(&attrs(&get(&a, IFLA_LINKINFO)), IFLA_INFO_DATA));
    assert_eq!(get(&data, IFLA_BOND_AD_LACP_RATE), vec![AD_LACP_SLOW]);

    // Enslaving, as the plan does it: ip link set eth1 down; ip link set eth1 master bond0;
    // ip link set eth1 up.
    let down = Step::SetUp { name: "eth1".into(), up: false };
    let (ty, flags, _, idx, ifi_flags, change, a) = link_request(&request_bytes(&down, &index).unwrap().unwrap());
    assert_eq!(
        (ty, flags, idx, ifi_flags & IFF_UP, change & IFF_UP),
        (RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 2, 0, IFF_UP)
    );
    assert!(a.is_empty(), "{a:?}");
    let master = Step::SetController { name: "eth1".into(), controller: Some("bond0".into()) };
    let (ty, flags, _, idx, _, change, a) = link_request(&request_bytes(&master, &index).unwrap().unwrap());
    assert_eq!((ty, flags, idx, change), (RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 2, 0));
    assert_eq!(a.len(), 1);
    assert_eq!(u32_of(&get(&a, IFLA_MASTER)), 9, "IFLA_MASTER is the bond's index");
    let up = Step::SetUp { name: "eth1".into(), up: true };
    let (_, _, _, idx, ifi_flags, change, _) = link_request(&request_bytes(&up, &index).unwrap().unwrap());
    assert_eq!((idx, ifi_flags & IFF_UP, change & IFF_UP), (2, IFF_UP, IFF_UP));
    // Releasing: IFLA_MASTER 0.
    let release = Step::SetController { name: "eth1".into(), controller: None };
    let (_, _, _, _, _, _, a) = link_request(&request_bytes(&release, &index).unwrap().unwrap());
    assert_eq!(u32_of(&get(&a, IFLA_MASTER)), 0);
    println!("{NOTE_BYTES}");
}

#[test]
fn bond_apply_without_bonding_is_a_typed_error_and_rolls_back() {
    let Some(ns) = TestNs::new("bond_apply") else { return };
    for (a, b) in [("eth1", "eth1p"), ("eth2", "eth2p")] {
        ns.ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
        ns.ip(&["link", "set", a, "up"]);
        ns.ip(&["link", "set", b, "up"]);
    }
    ns.ip(&["addr", "add", "10.77.0.11/24", "dev", "eth1"]);
    ns.ip(&["route", "add", "default", "via", "10.77.0.1", "dev", "eth1"]);
    // The bridge is made first, then the bond fails: the rollback deletes the bridge again.
    let net = HostNetwork::from_yaml(
        r#"
uplinks: [{name: eth1}, {name: eth2}]
bonds: [{name: bond0, mode: active-backup, miimon: 100, members: [eth1, eth2]}]
bridges:
  - name: cloudbr0
    ports: [bond0]
    forward_delay: 0
    addresses: [10.77.0.11/24]
    routes: [{gateway: 10.77.0.1}]
"#,
    )
    .unwrap();
    net.validate().unwrap();
    let engine = Engine::new(ns.netns());
    let before = engine.read_state().unwrap();
    match engine.apply(&net) {
        Err(Error::Apply { index, step, source, rollback }) => {
            let Error::Unsupported { kind, module, context, .. } = &*source else { panic!("{source}") };
            assert_eq!((kind.as_str(), module.as_str()), ("bond", "bonding"));
            assert!(context.contains("type bond mode active-backup miimon 100"), "{context}");
            assert!(source.to_string().contains("module bonding missing"), "{source}");
            assert!(kvmhost_net::netlink::is_unsupported(&source));
            assert!(step.contains("type bond"), "{step}");
            assert!(index > 0, "the bridge was made before the bond");
            let rb = rollback.expect("a rollback ran");
            assert!(rb.restored && rb.errors.is_empty(), "{rb:?}");
            assert_eq!(engine.read_state().unwrap(), before, "namespace differs after rollback");
            assert!(ns.ip_out(&["route", "show", "default"]).contains("dev eth1"));
            println!("{SKIP_BONDING}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => {
            // A kernel with bonding: the bond is there with its members, the address on the bridge.
            let s = engine.read_state().unwrap();
            assert_eq!(s.link("bond0").unwrap().kind.name(), "bond");
            assert_eq!(s.link("bond0").unwrap().controller.as_deref(), Some("cloudbr0"));
            for m in ["eth1", "eth2"] {
                assert_eq!(s.link(m).unwrap().controller.as_deref(), Some("bond0"));
            }
            assert_eq!(s.link("cloudbr0").unwrap().addresses, vec!["10.77.0.11/24".parse().unwrap()]);
            assert_eq!(engine.apply(&net).unwrap().writes, 0);
        }
    }
}

/// An existing bond's settings are read back (the dump parser reads `IFLA_BOND_MODE`,
/// `IFLA_BOND_MIIMON`, `IFLA_BOND_AD_LACP_RATE`): a different `miimon` or LACP rate is one
/// `ip link set bond0 type bond …` request; a different mode is a typed conflict (the kernel
/// changes it only on a bond that is down and has no members); a bond deleted by a change is
/// made again with its settings by the rollback.
#[test]
fn existing_bond_settings_are_read_back_and_changed() {
    use common::nla::{attrs, get, link_request, u32_of};
    let net = HostNetwork::from_yaml(BOND).unwrap();
    let made = |mode, miimon, lacp_rate| {
        let mut s = two_nics();
        let mut bond0 = LinkState::new("bond0", LinkKind::Bond { mode: Some(mode), miimon, lacp_rate });
        bond0.up = true;
        bond0.addresses = vec!["192.168.42.11/24".parse().unwrap()];
        s.links.insert("bond0".into(), bond0);
        for m in ["eth1", "eth2"] {
            let l = s.links.get_mut(m).unwrap();
            l.controller = Some("bond0".into());
            l.up = true;
            l.addresses.clear();
        }
        for r in &mut s.routes {
            r.device = "bond0".into();
        }
        s.routes[0].protocol = 4; // the default route, as the plan adds it (static)
        s
    };
    // As declared: nothing to do.
    let same = made(BondMode::Ieee8023ad, Some(100), Some(LacpRate::Fast));
    assert!(plan_against(&net, &same).unwrap().is_empty(), "{}", plan_against(&net, &same).unwrap());
    // Other monitoring interval and rate: one change request.
    let plan = plan_against(&net, &made(BondMode::Ieee8023ad, Some(50), Some(LacpRate::Slow))).unwrap();
    assert_eq!(plan.len(), 1, "{plan}");
    assert_eq!(plan.steps[0].step.to_string(), "ip link set bond0 type bond miimon 100 lacp_rate fast");
    let bytes = request_bytes(&plan.steps[0].step, &index).unwrap().unwrap();
    let (ty, flags, _, idx, _, _, a) = link_request(&bytes);
    assert_eq!((ty, flags, idx), (RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 9));
    let data = attrs(&get(&attrs(&get(&a, IFLA_LINKINFO)), IFLA_INFO_DATA));
    assert_eq!(u32_of(&get(&data, IFLA_BOND_MIIMON)), 100);
    assert_eq!(get(&data, IFLA_BOND_AD_LACP_RATE), vec![AD_LACP_FAST]);
    assert!(data.iter().all(|(t, _)| *t != IFLA_BOND_MODE), "the mode is not sent: {data:?}");
    // Only what differs is sent.
    let plan = plan_against(&net, &made(BondMode::Ieee8023ad, Some(100), Some(LacpRate::Slow))).unwrap();
    assert_eq!(plan.steps[0].step.to_string(), "ip link set bond0 type bond lacp_rate fast");
    // Another mode: a conflict naming the field.
    match plan_against(&net, &made(BondMode::ActiveBackup, Some(100), None)) {
        Err(Error::Conflict { name, field, reason }) => {
            assert_eq!((name.as_str(), field.as_str()), ("bond0", "bonds[0].mode"));
            assert!(reason.contains("active-backup") && reason.contains("802.3ad"), "{reason}");
        }
        other => panic!("expected a conflict: {other:?}"),
    }
    // (The dump parser's reading of these attributes is checked in kvmhost-net's unit tests,
    // netlink::tests, on the bytes of a create request.)
    // Teardown deletes the bond; its rollback makes it again with its settings.
    let mut gone = made(BondMode::Ieee8023ad, Some(50), Some(LacpRate::Slow));
    gone.links.remove("bond0");
    let restore = kvmhost_net::engine::plan_restore(&made(BondMode::Ieee8023ad, Some(50), Some(LacpRate::Slow)), &gone);
    let text = restore.unwrap().to_string();
    assert!(text.contains("ip link add bond0 mtu 1500 up type bond mode 802.3ad miimon 50 lacp_rate slow"), "{text}");
}
