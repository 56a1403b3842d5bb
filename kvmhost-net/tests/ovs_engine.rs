//! The Open vSwitch engine against real ovsdb-server + ovs-vswitchd (userspace datapath) started
//! by scripts/services/ovs.sh: the CloudStack layout, VLAN traffic between network namespaces,
//! rollback after injected failures, idempotence.
//!
//! The tests share one OVS instance, so they take a lock and each restores the rows it found.

use std::process::{Command, Output};
use std::sync::Mutex;

use kvmhost_net::engine::{Backend, Goal};
use kvmhost_net::ovs::{
    apply, plan, restore, CloudStackOvs, DatapathType, FakeBridge, OvsConfig, OvsPort, OvsStep as Step, OvsdbBackend,
    Snapshot,
};
use kvmhost_net::ovsdb::{self, Client, Condition, Operation, Value};
use kvmhost_net::{ApplyMode, ApplyOptions, Error, HostNetwork, PlannedStep, RollbackReport};

static LOCK: Mutex<()> = Mutex::new(());

struct Env {
    sock: String,
    /// The namespace ovs-vswitchd runs in (its system ports must be there).
    svc_ns: String,
}

fn env() -> Option<Env> {
    match std::env::var("KVMHOST_OVSDB_SOCK") {
        Ok(sock) => {
            Some(Env { sock, svc_ns: std::env::var("KVMHOST_OVS_NETNS").unwrap_or_else(|_| "kvmhost-ovs-svc".into()) })
        }
        Err(_) => {
            println!("SKIP: ovs not started (run ./scripts/test.sh, or eval \"$(scripts/services/ovs.sh start)\")");
            None
        }
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn vsctl(env: &Env, args: &[&str]) -> String {
    let db = format!("--db=unix:{}", env.sock);
    let mut cmd = vec!["ovs-vsctl", db.as_str(), "--no-wait"];
    cmd.extend_from_slice(args);
    ok(&cmd)
}

/// Runs `body` with a client, then restores OVSDB to the rows found before and deletes the
/// namespaces and devices the test made, also when the body panics.
fn with_ovs<F>(namespaces: &[&str], devices: &[&str], body: F)
where
    F: FnOnce(Env, Client),
{
    let Some(env) = env() else { return };
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let sock = env.sock.clone();
    let svc_ns = env.svc_ns.clone();
    let mut client = Client::connect(&sock).expect("connect to ovsdb-server");
    let before = Snapshot::capture(&mut client).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(env, client)));
    let mut c = Client::connect(&sock).unwrap();
    restore(&mut c, &before).expect("restore OVSDB after the test");
    for ns in namespaces {
        let _ = run(&["ip", "netns", "del", ns]);
    }
    for dev in devices {
        let _ = run(&["ip", "-n", &svc_ns, "link", "del", dev]);
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// An uplink device inside ovs-vswitchd's namespace (a veth whose peer stays unused).
fn make_uplink(env: &Env, name: &str) {
    let peer = format!("{name}p");
    let _ = run(&["ip", "-n", &env.svc_ns, "link", "del", name]);
    ok(&["ip", "-n", &env.svc_ns, "link", "add", name, "type", "veth", "peer", "name", &peer]);
    ok(&["ip", "-n", &env.svc_ns, "link", "set", name, "up"]);
    ok(&["ip", "-n", &env.svc_ns, "link", "set", &peer, "up"]);
}

fn layout() -> OvsConfig {
    OvsConfig::cloudstack(&CloudStackOvs::new("eth0").datapath(DatapathType::Netdev))
}

fn port_row(c: &mut Client, name: &str) -> kvmhost_net::ovsdb::Row {
    let r = c
        .transact(
            "Open_vSwitch",
            &[Operation::select(
                "Port",
                vec![Condition::eq("name", name)],
                Some(&["tag", "trunks", "fake_bridge", "vlan_mode"]),
            )],
        )
        .unwrap();
    r[0].rows().first().cloned().unwrap_or_else(|| panic!("no Port row {name}"))
}

#[test]
fn cloudstack_layout_vlan_tags_and_zero_write_reapply() {
    with_ovs(&[], &["eth0"], |env, mut c| {
        make_uplink(&env, "eth0");
        let cfg = layout();
        let before = Snapshot::capture(&mut c).unwrap();
        let p = plan(&cfg, &before).unwrap();
        println!("plan:\n{p}");
        assert_eq!(p.steps.len(), 5, "{p}");
        assert!(matches!(p.ovs_changes()[0], Step::AddBridge { name, .. } if name == "br0"));

        let report = apply(&mut c, &cfg, &ApplyOptions::default()).unwrap();
        assert_eq!((report.plan.ovs_len(), report.ovs_writes), (5, 1));

        // VLAN tags as OVSDB holds them.
        for (name, vlan) in [("mgmt0", 100i64), ("cloudbr0", 200), ("cloudbr1", 300)] {
            let row = port_row(&mut c, name);
            assert_eq!(row["tag"].normalized(), Value::from(vlan), "{name}");
            assert_eq!(row["fake_bridge"], Value::from(true), "{name}");
        }
        let uplink = port_row(&mut c, "eth0");
        assert_eq!(uplink["vlan_mode"].as_str(), Some("trunk"));
        assert_eq!(
            uplink["trunks"].normalized(),
            Value::set([100, 200, 300].map(kvmhost_net::ovsdb::Atom::Integer)).normalized()
        );
        // The same seen by ovs-vsctl.
        for (name, vlan) in [("mgmt0", "100"), ("cloudbr0", "200"), ("cloudbr1", "300")] {
            assert_eq!(vsctl(&env, &["br-to-vlan", name]), vlan);
            assert_eq!(vsctl(&env, &["br-to-parent", name]), "br0");
        }
        assert_eq!(vsctl(&env, &["get", "port", "eth0", "trunks"]), "[100, 200, 300]");
        assert_eq!(vsctl(&env, &["get", "bridge", "br0", "datapath_type"]), "netdev");
        // ovs-vswitchd created the internal devices (the apply waited for it).
        ok(&["ip", "-n", &env.svc_ns, "link", "show", "cloudbr0"]);

        // The model read back is the configuration applied.
        let current = kvmhost_net::ovs::read(&mut c).unwrap();
        let br = current.find_bridge("br0").unwrap();
        assert_eq!(br.ports, cfg.bridges[0].ports);
        assert_eq!(br.fake_bridges.len(), 3);

        // Idempotent: the same configuration again writes nothing.
        let writes = c.stats().write_transactions;
        let again = apply(&mut c, &cfg, &ApplyOptions::default()).unwrap();
        assert_eq!((again.plan.ovs_len(), again.ovs_writes), (0, 0));
        assert_eq!(c.stats().write_transactions, writes);
        assert!(plan(&cfg, &Snapshot::capture(&mut c).unwrap()).unwrap().is_empty());

        // A change is a minimal plan: one fake bridge's VLAN.
        let mut changed = cfg.clone();
        changed.bridges[0].fake_bridges[1].vlan = 201;
        changed.bridges[0].ports[0].trunks = vec![100, 201, 300];
        let p = plan(&changed, &Snapshot::capture(&mut c).unwrap()).unwrap();
        assert_eq!(p.steps.len(), 2, "{p}");
        apply(&mut c, &changed, &ApplyOptions::default()).unwrap();
        assert_eq!(vsctl(&env, &["br-to-vlan", "cloudbr0"]), "201");
    });
}

fn netns_with_veth(env: &Env, ns: &str, ovs_end: &str, addr: &str) {
    let _ = run(&["ip", "netns", "del", ns]);
    ok(&["ip", "netns", "add", ns]);
    ok(&["ip", "-n", ns, "link", "set", "lo", "up"]);
    ok(&["ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", ovs_end, "netns", &env.svc_ns]);
    ok(&["ip", "-n", ns, "addr", "add", addr, "dev", "eth0"]);
    ok(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
    ok(&["ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off"]);
    ok(&["ip", "-n", &env.svc_ns, "link", "set", ovs_end, "up"]);
}

/// Pings `to` from inside `ns` (addresses of the test's own namespaces only): true once one
/// reply arrives within 5 s.
fn ping(ns: &str, to: &str) -> bool {
    run(&["ip", "netns", "exec", ns, "ping", "-c", "1", "-w", "5", to]).status.success()
}

/// Pings twice, one second each: true if a reply came.
fn ping_briefly(ns: &str, to: &str) -> bool {
    run(&["ip", "netns", "exec", ns, "ping", "-c", "2", "-W", "1", to]).status.success()
}

#[test]
fn traffic_flows_within_a_vlan_and_not_across() {
    let (a, b, x) = ("kvmhost-ovs-a", "kvmhost-ovs-b", "kvmhost-ovs-x");
    with_ovs(&[a, b, x], &["eth0", "kvo-a", "kvo-b", "kvo-x"], |env, mut c| {
        make_uplink(&env, "eth0");
        netns_with_veth(&env, a, "kvo-a", "10.77.0.1/24");
        netns_with_veth(&env, b, "kvo-b", "10.77.0.2/24");
        netns_with_veth(&env, x, "kvo-x", "10.77.0.3/24");
        let mut cfg = layout();
        let br = &mut cfg.bridges[0];
        br.ports.push(OvsPort::access("kvo-a", 200));
        br.ports.push(OvsPort::new("kvo-b").on_fake_bridge("cloudbr0")); // VLAN 200 too
        br.ports.push(OvsPort::access("kvo-x", 300));
        apply(&mut c, &cfg, &ApplyOptions::default()).unwrap();
        assert_eq!(vsctl(&env, &["get", "port", "kvo-b", "tag"]), "200");

        assert!(ping(a, "10.77.0.2"), "VLAN 200 -> VLAN 200 must pass");
        assert!(ping(b, "10.77.0.1"), "and back");
        assert!(!ping_briefly(a, "10.77.0.3"), "VLAN 200 -> VLAN 300 must not pass");
        assert!(!ping_briefly(x, "10.77.0.2"), "VLAN 300 -> VLAN 200 must not pass");

        // The isolation is the VLAN's doing: the same port moved to VLAN 200 answers.
        cfg.bridges[0].ports[3] = OvsPort::access("kvo-x", 200);
        let r = apply(&mut c, &cfg, &ApplyOptions::default()).unwrap();
        assert_eq!(r.plan.ovs_len(), 1);
        for ns in [a, x] {
            ok(&["ip", "-n", ns, "neigh", "flush", "dev", "eth0"]);
        }
        assert!(ping(a, "10.77.0.3"), "after moving the port to VLAN 200");
    });
}

/// A target configuration touching every kind of step: fake bridge removed, one re-tagged, one
/// added, the trunk changed, a port added.
fn changed_layout() -> OvsConfig {
    let mut cfg = layout();
    let br = &mut cfg.bridges[0];
    br.fake_bridges.retain(|f| f.name != "cloudbr1");
    br.fake_bridges[1].vlan = 250;
    br.fake_bridges.push(FakeBridge::new("cloudbr2", 400));
    br.ports[0].trunks = vec![100, 250, 400];
    br.ports.push(OvsPort::internal("kvo-int0"));
    cfg
}

#[test]
fn injected_failure_mid_plan_restores_the_exact_rows() {
    with_ovs(&[], &["eth0"], |env, mut c| {
        make_uplink(&env, "eth0");
        apply(&mut c, &layout(), &ApplyOptions::default()).unwrap();
        let prior = Snapshot::capture(&mut c).unwrap();
        let shown = vsctl(&env, &["show"]);

        let mut p = plan(&changed_layout(), &prior).unwrap();
        println!("plan:\n{p}");
        assert!(p.steps.len() >= 5, "{p}");
        // Inject a step OVSDB refuses (Port.tag is 0..4095) in the middle of the plan, and run
        // the plan through the engine's OVSDB backend as the engine does: execute, then restore.
        let k = p.steps.len() / 2;
        let refused = Step::SetPort { bridge: "br0".into(), port: OvsPort::access("cloudbr0", 5000) };
        p.steps.insert(k, PlannedStep::new(kvmhost_net::Step::Ovs { change: refused }, "injected (test)"));
        let mut net = HostNetwork::new();
        net.ovs = Some(changed_layout());

        for mode in [ApplyMode::Stepwise, ApplyMode::Atomic] {
            let writes = c.stats().write_transactions;
            let mut backend = OvsdbBackend::new(&mut c);
            backend.capture(&net).unwrap();
            assert_eq!(backend.captured(), Some(&prior));
            backend.plan(&net, Goal::Apply, false).unwrap();
            let (index, err) = backend.execute(&p.steps, &ApplyOptions::default().with_ovs_mode(mode)).unwrap_err();
            assert_eq!(index, k, "{mode:?}: {err}");
            match &err {
                Error::StepFailed { index, source: ovsdb::Error::Operation { error, .. }, .. } => {
                    assert_eq!(*index, k, "{mode:?}: {err}");
                    assert_eq!(error, "constraint violation");
                }
                other => panic!("{mode:?}: expected StepFailed, got {other:?}"),
            }
            let mut rollback = RollbackReport::default();
            backend.restore(&net, &mut rollback);
            assert!(rollback.errors.is_empty(), "{:?}", rollback.errors);
            assert!(backend.check_restored(&net, &mut rollback));
            let written = c.stats().write_transactions - writes;
            match mode {
                // k steps committed, the failing one, then one restoring transaction.
                ApplyMode::Stepwise => assert_eq!(written, k as u64 + 2),
                // OVSDB refused the whole transaction: nothing to restore.
                ApplyMode::Atomic => assert_eq!(written, 1),
            }
            let after = Snapshot::capture(&mut c).unwrap();
            assert_eq!(after, prior, "{mode:?}: OVSDB rows (UUIDs included) differ from before");
            assert_eq!(vsctl(&env, &["show"]), shown);
        }

        // Without the injected step the same plan applies.
        p.steps.remove(k);
        let writes = c.stats().write_transactions;
        let mut backend = OvsdbBackend::new(&mut c);
        backend.capture(&net).unwrap();
        backend.plan(&net, Goal::Apply, false).unwrap();
        backend.execute(&p.steps, &ApplyOptions::default().with_ovs_mode(ApplyMode::Stepwise)).unwrap();
        assert_eq!(c.stats().write_transactions - writes, p.steps.len() as u64);
        assert_eq!(vsctl(&env, &["br-to-vlan", "cloudbr2"]), "400");
        assert!(plan(&changed_layout(), &Snapshot::capture(&mut c).unwrap()).unwrap().is_empty());
    });
}

#[test]
fn vswitchd_refusing_a_device_rolls_back() {
    with_ovs(&[], &["eth0"], |env, mut c| {
        make_uplink(&env, "eth0");
        apply(&mut c, &layout(), &ApplyOptions::default()).unwrap();
        let prior = Snapshot::capture(&mut c).unwrap();
        let mut cfg = layout();
        cfg.bridges[0].ports.push(OvsPort::access("kvo-missing", 200)); // no such device
        cfg.bridges[0].fake_bridges.push(FakeBridge::new("cloudbr9", 900));
        let err = apply(&mut c, &cfg, &ApplyOptions::default()).unwrap_err();
        let Error::Apply { source, rollback, .. } = &err else { panic!("expected Apply, got {err:?}") };
        match &**source {
            Error::InterfaceErrors(errs) => assert!(errs.iter().any(|e| e.starts_with("kvo-missing:")), "{errs:?}"),
            other => panic!("expected InterfaceErrors, got {other:?}"),
        }
        assert!(rollback.as_ref().is_some_and(|r| r.restored && r.ovs_operations.is_some()), "{err}");
        assert_eq!(Snapshot::capture(&mut c).unwrap(), prior);
        let missing = run(&["ovs-vsctl", &format!("--db=unix:{}", env.sock), "br-exists", "cloudbr9"]);
        assert_eq!(missing.status.code(), Some(2), "cloudbr9 must be gone");
    });
}

#[test]
fn invalid_configuration_touches_nothing() {
    with_ovs(&[], &[], |_env, mut c| {
        let (writes, reads) = (c.stats().write_transactions, c.stats().transactions);
        let mut cfg = layout();
        cfg.bridges[0].fake_bridges.push(FakeBridge::new("cloudbr0", 4095));
        let err = apply(&mut c, &cfg, &ApplyOptions::default()).unwrap_err();
        let Error::Invalid(errs) = err else { panic!("expected Invalid") };
        let fields: Vec<&str> = errs.iter().map(|e| e.field()).collect();
        assert_eq!(fields, ["bridges[0].fake_bridges[3].name", "bridges[0].fake_bridges[3].vlan"]);
        assert_eq!(c.stats().write_transactions, writes);
        assert_eq!(c.stats().transactions, reads, "not even read");
    });
}

/// The Debian stanzas, run the way openvswitch-switch's ifupdown hook runs them
/// (`/usr/share/openvswitch/scripts/ifupdown.sh`: `add-br NAME` + `ovs_extra`, `add-port BRIDGE
/// NAME OVS_OPTIONS`, internal ports typed `internal`), give exactly the configuration rendered:
/// reading OVSDB afterwards plans nothing.
#[test]
fn debian_stanzas_replayed_like_ifupdown_give_the_same_state() {
    with_ovs(&[], &[], |env, mut c| {
        let mut cfg = layout();
        cfg.bridges[0].ports.push(OvsPort::access("kvo-vnet0", 200));
        cfg.bridges[0].ports.push(OvsPort::internal("kvo-int0").vlan(kvmhost_net::ovs::VlanMode::Access, Some(300)));
        for st in kvmhost_net::ovs::interfaces_stanzas(&cfg) {
            let get = |k: &str| st.options.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
            let options = get("ovs_options").unwrap_or_default();
            let mut args: Vec<String> = match get("ovs_type").as_deref() {
                Some("OVSBridge") => vec!["--".into(), "--may-exist".into(), "add-br".into(), st.name.clone()],
                Some("OVSPort") | Some("OVSIntPort") => {
                    let mut a = vec![
                        "--".into(),
                        "--may-exist".into(),
                        "add-port".into(),
                        get("ovs_bridge").unwrap(),
                        st.name.clone(),
                    ];
                    a.extend(options.split_whitespace().map(str::to_string));
                    if get("ovs_type").as_deref() == Some("OVSIntPort") {
                        a.extend(["--", "set", "Interface", &st.name, "type=internal"].map(str::to_string));
                    }
                    a
                }
                other => panic!("unexpected stanza type {other:?}"),
            };
            if let Some(extra) = get("ovs_extra") {
                args.push("--".into());
                args.extend(extra.replace("${IFACE}", &st.name).split_whitespace().map(str::to_string));
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            vsctl(&env, &refs);
        }
        let now = Snapshot::capture(&mut c).unwrap();
        let p = plan(&cfg, &now).unwrap();
        assert!(p.is_empty(), "replayed stanzas differ from the configuration:\n{p}");
        assert_eq!(vsctl(&env, &["br-to-vlan", "cloudbr1"]), "300");
    });
}
