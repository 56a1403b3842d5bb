//! The Open vSwitch model without a database: validation (every error names its field), plans
//! computed against synthetic snapshots, serde, and the Debian/RHEL renderers.

use kvmhost_net::ovs::{
    ifcfg_files, plan, render_interfaces, CloudStackOvs, DatapathType, FailMode, FakeBridge, OvsBridge, OvsConfig,
    OvsPort, OvsStep as Step, PortKind, Snapshot, VlanMode,
};
use kvmhost_net::{Error, ValidationError};

fn layout() -> OvsConfig {
    OvsConfig::cloudstack(&CloudStackOvs::new("eth0"))
}

fn fields(cfg: &OvsConfig) -> Vec<String> {
    cfg.validation_errors().iter().map(|e| e.field().to_string()).collect()
}

#[test]
fn every_validation_error_names_its_field() {
    let cfg = OvsConfig::new()
        .bridge(
            OvsBridge::new("br0")
                .port(OvsPort::new("a-name-longer-than-15"))
                .port(OvsPort::new("bad/name"))
                .port(OvsPort::new(""))
                .port(OvsPort::access("p0", 0))
                .port(OvsPort::access("p1", 4095))
                .port(OvsPort::trunk("p2", [10, 20, 10]))
                .port(OvsPort::new("p3").kind(PortKind::Patch { peer: "nowhere".into() }))
                .port(OvsPort::trunk("p4", [5]).vlan(VlanMode::Trunk, Some(7)))
                .port(OvsPort::new("p5").vlan(VlanMode::Access, None))
                .fake_bridge(FakeBridge::new("p0", 30))
                .fake_bridge(FakeBridge::new("v1", 30)),
        )
        .bridge(OvsBridge::new("br0"));
    let errs = cfg.validation_errors();
    for e in &errs {
        println!("{e}");
    }
    let expect = [
        // One name rule for Linux and OVS devices (`validate::check_name`).
        ValidationError::Name {
            field: "bridges[0].ports[0].name".into(),
            name: "a-name-longer-than-15".into(),
            reason: "it is 21 bytes long, at most 15 are allowed".into(),
        },
        ValidationError::Name {
            field: "bridges[0].ports[1].name".into(),
            name: "bad/name".into(),
            reason: "it contains '/'".into(),
        },
        ValidationError::Name {
            field: "bridges[0].ports[2].name".into(),
            name: "".into(),
            reason: "it is empty".into(),
        },
        ValidationError::VlanId { field: "bridges[0].ports[3].tag".into(), id: 0 },
        ValidationError::VlanId { field: "bridges[0].ports[4].tag".into(), id: 4095 },
        ValidationError::DuplicateVlan { field: "bridges[0].ports[5].trunks[2]".into(), vlan: 10 },
        ValidationError::VlanModeConflict {
            field: "bridges[0].ports[7].vlan_mode".into(),
            reason: "a trunk port has no tag (use native-tagged or native-untagged for a native VLAN)".into(),
        },
        ValidationError::VlanModeConflict {
            field: "bridges[0].ports[8].vlan_mode".into(),
            reason: "an access port needs a tag".into(),
        },
        ValidationError::Duplicate {
            field: "bridges[0].fake_bridges[0].name".into(),
            name: "p0".into(),
            first: "bridges[0].ports[3].name".into(),
        },
        ValidationError::DuplicateVlan { field: "bridges[0].fake_bridges[1].vlan".into(), vlan: 30 },
        ValidationError::Duplicate {
            field: "bridges[1].name".into(),
            name: "br0".into(),
            first: "bridges[0].name".into(),
        },
        ValidationError::UnknownPeer { field: "bridges[0].ports[6].kind.patch.peer".into(), peer: "nowhere".into() },
    ];
    assert_eq!(errs, expect);
    // `plan` refuses the same configuration before looking at any state.
    let empty = Snapshot::synthetic(&OvsConfig::new());
    assert!(matches!(plan(&cfg, &empty), Err(Error::Invalid(e)) if e.len() == expect.len()));
}

#[test]
fn names_vlans_and_peers_that_are_fine() {
    assert!(fields(&layout()).is_empty());
    let max = OvsConfig::new().bridge(
        OvsBridge::new("exactly15bytes_")
            .port(OvsPort::access("v1", 1))
            .port(OvsPort::access("v4094", 4094))
            .port(OvsPort::trunk("up", [200]).vlan(VlanMode::NativeUntagged, Some(100)))
            .port(OvsPort::new("pa").kind(PortKind::Patch { peer: "pb".into() })),
    );
    let cfg = max.bridge(OvsBridge::new("br1").port(OvsPort::new("pb").kind(PortKind::Patch { peer: "pa".into() })));
    assert_eq!(fields(&cfg), Vec::<String>::new());
    // A name that is a bridge elsewhere is a duplicate too (the bridge's local port has it).
    let clash = OvsConfig::new().bridge(OvsBridge::new("br0")).bridge(OvsBridge::new("br1").port(OvsPort::new("br0")));
    assert_eq!(fields(&clash), ["bridges[1].ports[0].name"]);
    let colon = OvsConfig::new().bridge(OvsBridge::new("eth0:1"));
    assert_eq!(fields(&colon), ["bridges[0].name"]);
}

#[test]
fn plans_are_ordered_minimal_and_empty_when_in_place() {
    let cfg = layout();
    let empty = Snapshot::synthetic(&OvsConfig::new());
    let p = plan(&cfg, &empty).unwrap();
    let text = p.to_string();
    println!("{text}");
    let steps: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
    assert_eq!(
        steps,
        [
            "1. OVS: add bridge br0 (ovs-vsctl add-br br0 -- set bridge br0 datapath_type=system stp_enable=false)",
            "2. OVS: add port eth0 to br0 (ovs-vsctl add-port br0 eth0 trunks=100,200,300 vlan_mode=trunk)",
            "3. OVS: add fake bridge mgmt0 on br0, VLAN 100 (ovs-vsctl add-br mgmt0 br0 100)",
            "4. OVS: add fake bridge cloudbr0 on br0, VLAN 200 (ovs-vsctl add-br cloudbr0 br0 200)",
            "5. OVS: add fake bridge cloudbr1 on br0, VLAN 300 (ovs-vsctl add-br cloudbr1 br0 300)",
        ]
    );
    assert!(text.lines().nth(1).is_some_and(|l| l.contains("# ovs: one OVSDB transaction")), "{text}");
    // The operations: the bridge goes into Open_vSwitch.bridges, ports into Bridge.ports.
    let ops = p.ovs_changes()[0].operations(0);
    let json: Vec<_> = ops.iter().map(|o| o.to_json()).collect();
    assert_eq!(json[3]["table"], "Open_vSwitch");
    assert_eq!(json[3]["mutations"][0], serde_json::json!(["bridges", "insert", ["set", [["named-uuid", "bridge0"]]]]));
    let ops = p.ovs_changes()[1].operations(1);
    assert_eq!(ops[2].to_json()["where"], serde_json::json!([["name", "==", "br0"]]));
    assert_eq!(ops[2].to_json()["mutations"][0][0], "ports");

    // Already in place: nothing to do, trunk order does not matter.
    let mut shuffled = cfg.clone();
    shuffled.bridges[0].ports[0].trunks = vec![300, 100, 200];
    assert!(plan(&shuffled, &Snapshot::synthetic(&cfg)).unwrap().is_empty());

    // Removals first, then bridge changes, port changes, fake bridges.
    let mut next = cfg.clone();
    let br = &mut next.bridges[0];
    br.fail_mode = Some(FailMode::Secure);
    br.fake_bridges.remove(0); // mgmt0 goes
    br.fake_bridges[0].vlan = 201;
    br.ports[0] = OvsPort::new("eth0").kind(PortKind::Internal); // kind change: remove + add
    br.ports.push(OvsPort::access("vnet0", 300));
    let p = plan(&next, &Snapshot::synthetic(&cfg)).unwrap();
    println!("{p}");
    let kinds: Vec<String> = p
        .ovs_changes()
        .into_iter()
        .map(|s| match s {
            Step::RemovePort { name, .. } => format!("-{name}"),
            Step::SetBridge { name, .. } => format!("~{name}"),
            Step::AddPort { port, .. } => format!("+{}", port.name),
            Step::SetFakeBridge { fake, .. } => format!("~{}", fake.name),
            other => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(kinds, ["-eth0", "-mgmt0", "~br0", "+eth0", "+vnet0", "~cloudbr0"]);
}

#[test]
fn unlisted_bridges_are_kept_unless_pruned_and_ports_move() {
    let other = OvsBridge::new("br-ex").port(OvsPort::new("eth1")).port(OvsPort::new("vnet7"));
    let current = Snapshot::synthetic(&layout().bridge(other));
    // br-ex is not listed: left alone.
    assert!(plan(&layout(), &current).unwrap().is_empty());
    // Pruned: removed as a whole (one step, its ports go with it).
    let p = plan(&layout().pruning(true), &current).unwrap();
    assert!(matches!(p.ovs_changes().as_slice(), [Step::RemoveBridge { name, .. }] if name == "br-ex"), "{p}");
    // A port moving from an unlisted bridge: removed there first, then added.
    let mut moved = layout();
    moved.bridges[0].ports.push(OvsPort::access("vnet7", 200));
    let p = plan(&moved, &current).unwrap();
    assert!(
        matches!(p.ovs_changes()[0], Step::RemovePort { bridge, name, .. } if bridge == "br-ex" && name == "vnet7"),
        "{p}"
    );
    assert!(
        matches!(p.ovs_changes()[1], Step::AddPort { bridge, port } if bridge == "br0" && port.tag == Some(200)),
        "{p}"
    );
}

#[test]
fn ports_on_fake_bridges() {
    let mut cfg = layout();
    cfg.bridges[0].ports.push(OvsPort::new("vnet0").on_fake_bridge("cloudbr1"));
    let p = plan(&cfg, &Snapshot::synthetic(&layout())).unwrap();
    assert!(
        matches!(p.ovs_changes().as_slice(), [Step::AddPort { port, .. }] if port.tag == Some(300) && port.fake_bridge.is_none()),
        "{p}"
    );
    // Read back, the port has the tag: the same configuration plans nothing.
    let resolved = {
        let mut c = cfg.clone();
        c.bridges[0].ports[1] = OvsPort::new("vnet0").vlan(VlanMode::Access, None);
        c.bridges[0].ports[1].vlan_mode = None;
        c.bridges[0].ports[1].tag = Some(300);
        c
    };
    assert!(plan(&cfg, &Snapshot::synthetic(&resolved)).unwrap().is_empty());
    assert!(render_interfaces(&cfg)
        .contains("iface vnet0 inet manual\n    ovs_bridge br0\n    ovs_type OVSPort\n    ovs_options tag=300\n"));

    let mut bad = layout();
    bad.bridges[0].ports.push(OvsPort::new("vnet0").on_fake_bridge("cloudbr7"));
    bad.bridges[0].ports.push(OvsPort::access("vnet1", 5).on_fake_bridge("cloudbr0"));
    assert_eq!(
        bad.validation_errors(),
        [
            ValidationError::UnknownParent {
                field: "bridges[0].ports[1].fake_bridge".into(),
                parent: "cloudbr7".into()
            },
            ValidationError::VlanModeConflict {
                field: "bridges[0].ports[2].fake_bridge".into(),
                reason: "a port on fake bridge cloudbr0 is an access port on VLAN 200: no other tag, no trunks".into()
            },
        ]
    );
}

#[test]
fn serde_round_trip_and_readable_names() {
    let cfg = OvsConfig::cloudstack(&CloudStackOvs::new("eth0").datapath(DatapathType::Netdev).vlans(10, 20, 30));
    let json = serde_json::to_string(&cfg).unwrap();
    assert!(json.contains(r#""datapath_type":"netdev""#), "{json}");
    assert!(json.contains(r#""vlan_mode":"trunk""#), "{json}");
    assert_eq!(serde_json::from_str::<OvsConfig>(&json).unwrap(), cfg);
    let typed: OvsConfig = serde_json::from_str(
        r#"{"bridges": [{"name": "br0", "fail_mode": "secure", "ports": [
            {"name": "up", "trunks": [200], "tag": 100, "vlan_mode": "native-untagged"},
            {"name": "px", "kind": {"patch": {"peer": "py"}}},
            {"name": "i0", "kind": "internal", "tag": 5}]}]}"#,
    )
    .unwrap();
    let br = &typed.bridges[0];
    assert_eq!(br.fail_mode, Some(FailMode::Secure));
    assert_eq!(br.ports[0].vlan_mode, Some(VlanMode::NativeUntagged));
    assert_eq!(br.ports[1].kind, PortKind::Patch { peer: "py".into() });
    assert_eq!(br.ports[2].kind, PortKind::Internal);
    assert!(serde_json::from_str::<OvsConfig>(r#"{"bridges": [{"name": "b", "datapath_type": "dpdk"}]}"#).is_err());
}

#[test]
fn debian_interfaces_stanzas() {
    let mut cfg = OvsConfig::cloudstack(&CloudStackOvs::new("eth0").datapath(DatapathType::Netdev));
    cfg.bridges[0].ports.push(OvsPort::access("vnet0", 200));
    let text = render_interfaces(&cfg);
    println!("{text}");
    assert_eq!(
        text,
        "allow-ovs br0\niface br0 inet manual\n    ovs_type OVSBridge\n    ovs_ports eth0 vnet0 mgmt0 cloudbr0 cloudbr1\n    \
         ovs_extra set bridge ${IFACE} datapath_type=netdev\n\n\
         allow-br0 eth0\niface eth0 inet manual\n    ovs_bridge br0\n    ovs_type OVSPort\n    ovs_options trunks=100,200,300 vlan_mode=trunk\n\n\
         allow-br0 vnet0\niface vnet0 inet manual\n    ovs_bridge br0\n    ovs_type OVSPort\n    ovs_options tag=200 vlan_mode=access\n\n\
         allow-br0 mgmt0\niface mgmt0 inet manual\n    ovs_bridge br0\n    ovs_type OVSIntPort\n    ovs_options tag=100 fake_bridge=true\n\n\
         allow-br0 cloudbr0\niface cloudbr0 inet manual\n    ovs_bridge br0\n    ovs_type OVSIntPort\n    ovs_options tag=200 fake_bridge=true\n\n\
         allow-br0 cloudbr1\niface cloudbr1 inet manual\n    ovs_bridge br0\n    ovs_type OVSIntPort\n    ovs_options tag=300 fake_bridge=true\n"
    );
}

#[test]
fn rhel_ifcfg_files() {
    let files = ifcfg_files(&layout());
    let names: Vec<String> = files.iter().map(|f| f.file_name()).collect();
    assert_eq!(names, ["ifcfg-br0", "ifcfg-eth0", "ifcfg-mgmt0", "ifcfg-cloudbr0", "ifcfg-cloudbr1"]);
    assert_eq!(
        files[0].to_string(),
        "DEVICE=br0\nONBOOT=yes\nDEVICETYPE=ovs\nTYPE=OVSBridge\nBOOTPROTO=none\nHOTPLUG=no\n"
    );
    assert_eq!(
        files[1].to_string(),
        "DEVICE=eth0\nONBOOT=yes\nDEVICETYPE=ovs\nTYPE=OVSPort\nBOOTPROTO=none\nHOTPLUG=no\nOVS_BRIDGE=br0\n\
         OVS_OPTIONS=\"trunks=100,200,300 vlan_mode=trunk\"\n"
    );
    assert_eq!(
        files[3].to_string(),
        "DEVICE=cloudbr0\nONBOOT=yes\nDEVICETYPE=ovs\nTYPE=OVSIntPort\nBOOTPROTO=none\nHOTPLUG=no\nOVS_BRIDGE=br0\n\
         OVS_OPTIONS=\"tag=200 fake_bridge=true\"\n"
    );
}
