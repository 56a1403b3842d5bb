//! The combined engine (Open vSwitch through OVSDB, then netlink) for real: the CloudStack OVS
//! layout on a veth uplink, the management address and default route moved onto `mgmt0`'s
//! internal interface, verification, zero-write re-apply, and rollback of both sides.
//!
//! Needs scripts/services/ovs.sh (KVMHOST_OVSDB_SOCK, KVMHOST_OVS_NETNS). ovs-vswitchd runs in
//! the namespace $KVMHOST_OVS_NETNS, made by the script for this run: the internal interfaces
//! appear there, so the netlink part works inside that namespace too. Each test restores the
//! OVSDB rows and deletes the devices it made, also when it fails.

use std::process::Command;
use std::sync::Mutex;

use kvmhost_net::cloudstack::CloudStackLinux;
use kvmhost_net::ovs::{DatapathType, OvsdbSession, Snapshot};
use kvmhost_net::{engine, ApplyOptions, Engine, Error, HostNetwork, NetState, NetlinkBackend, Netns, Step};

mod common;
use common::fault::{failing_backend, FaultyKernel};

static LOCK: Mutex<()> = Mutex::new(());

/// Where the test backends fail.
#[derive(Clone, Copy)]
enum Fault {
    /// The OVS step with this index (the OVS part is one transaction).
    OvsStep(usize),
    /// The netlink step with this index (after the OVS part).
    NetlinkStep(usize),
    /// The verification, once both sides changed.
    Verification,
}

struct Env {
    sock: String,
    ns: String,
}

fn env(test: &str) -> Option<Env> {
    match std::env::var("KVMHOST_OVSDB_SOCK") {
        Ok(sock) => {
            Some(Env { sock, ns: std::env::var("KVMHOST_OVS_NETNS").unwrap_or_else(|_| "kvmhost-ovs-svc".into()) })
        }
        Err(_) => {
            println!("SKIP: {test}: ovs not started (eval \"$(scripts/services/ovs.sh start)\")");
            None
        }
    }
}

fn run(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Env {
    fn ip(&self, args: &[&str]) -> String {
        let mut a = vec!["ip", "-n", self.ns.as_str()];
        a.extend_from_slice(args);
        run(&a)
    }
    fn vsctl(&self, args: &[&str]) -> String {
        let db = format!("--db=unix:{}", self.sock);
        let mut a = vec!["ovs-vsctl", db.as_str(), "--timeout=20"];
        a.extend_from_slice(args);
        run(&a)
    }
    fn engine(&self) -> Engine {
        Engine::new(Netns::named(&self.ns)).with_ovsdb(format!("unix:{}", self.sock))
    }
    /// Apply through the engine with a fault injected by the test backends (`common::fault`).
    fn apply_faulty(&self, net: &HostNetwork, fault: Fault) -> Result<kvmhost_net::ApplyReport, Error> {
        let engine = self.engine();
        let mut k = engine.connect().unwrap();
        let mut db = engine.connect_ovsdb().unwrap().unwrap();
        let ovs_at = if let Fault::OvsStep(i) = fault { Some(i) } else { None };
        let mut ovs = failing_backend(db.backend(), ovs_at);
        let mut faulty = match fault {
            Fault::NetlinkStep(i) => FaultyKernel::failing_step(&mut k, i),
            Fault::Verification => FaultyKernel::failing_verification(&mut k),
            Fault::OvsStep(_) => FaultyKernel::passthrough(&mut k),
        };
        let mut netlink = NetlinkBackend::new(&mut faulty);
        engine::apply_on(&mut [&mut ovs, &mut netlink], net, &ApplyOptions::default())
    }
    fn snapshot(&self) -> Snapshot {
        OvsdbSession::connect(self.sock.as_ref()).unwrap().capture().unwrap()
    }
}

/// Runs `body` on a host whose uplink `eth0` (a veth to `eth0p`) holds 192.168.42.11/24 and
/// the default route via 192.168.42.1, inside ovs-vswitchd's namespace; afterwards restores
/// OVSDB and deletes the veth.
fn with_host(test: &str, body: impl FnOnce(&Env)) {
    let Some(env) = env(test) else { return };
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    wait_for_ovs_devices_gone(&env);
    let before = env.snapshot();
    let _ = Command::new("ip").args(["-n", &env.ns, "link", "del", "eth0"]).output();
    env.ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]);
    env.ip(&["link", "set", "eth0", "up"]);
    env.ip(&["link", "set", "eth0p", "up"]);
    env.ip(&["addr", "add", "192.168.42.11/24", "dev", "eth0"]);
    env.ip(&["route", "add", "default", "via", "192.168.42.1", "dev", "eth0"]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&env)));
    OvsdbSession::connect(env.sock.as_ref()).unwrap().restore(&before).expect("restore OVSDB after the test");
    let _ = Command::new("ip").args(["-n", &env.ns, "link", "del", "eth0"]).output();
    wait_for_ovs_devices_gone(&env);
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

/// ovs-vswitchd removes the devices of deleted ports after the OVSDB change: wait for it, so
/// that the next test's "before" is the namespace without them.
fn wait_for_ovs_devices_gone(env: &Env) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let names = ["br0", "mgmt0", "cloudbr0", "cloudbr1", "ovs-netdev"];
    let present = || {
        let out = Command::new("ip").args(["-n", &env.ns, "-o", "link", "show"]).output().expect("ip link");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        names.iter().any(|n| text.contains(&format!(": {n}:")))
    };
    while present() {
        assert!(std::time::Instant::now() < deadline, "ovs-vswitchd did not remove its devices");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn layout() -> HostNetwork {
    CloudStackLinux::new("eth0", 100, 200, 300, "192.168.42.11/24".parse().unwrap(), "192.168.42.1".parse().unwrap())
        .build_ovs(DatapathType::Netdev)
}

/// The state of the namespace without interface indexes (devices made again get new ones).
fn comparable(s: &NetState) -> NetState {
    let mut s = s.clone();
    for l in s.links.values_mut() {
        l.index = 0;
    }
    s
}

#[test]
fn cloudstack_ovs_layout_moves_the_host_onto_mgmt0_and_reapplies_with_zero_writes() {
    with_host("cloudstack_ovs_layout", |env| {
        let net = layout();
        let engine = env.engine();
        let plan = engine.plan(&net).unwrap();
        let text = plan.to_string();
        println!("plan:\n{text}");
        // OVS first: br0 on eth0 and the three fake bridges, in one transaction.
        assert_eq!(plan.ovs_len(), 5, "{text}");
        // Then the move, planned so the host is never cut off: mgmt0 gets the address, the
        // default route moves in one request, and only then the uplink loses the address.
        let steps: Vec<String> = plan.steps.iter().map(|p| p.step.to_string()).collect();
        let pos = |s: &str| steps.iter().position(|t| t == s).unwrap_or_else(|| panic!("no step {s:?} in\n{text}"));
        let add_addr = pos("ip addr add 192.168.42.11/24 dev mgmt0");
        let up = pos("ip link set mgmt0 up");
        let move_route = pos("ip route replace default via 192.168.42.1 dev mgmt0 metric 0");
        let del_addr = pos("ip addr del 192.168.42.11/24 dev eth0");
        assert!(add_addr < move_route && up < move_route && move_route < del_addr, "{text}");
        assert!(!text.contains("ip route del"), "{text}");
        assert!(
            text.find("OVS: add fake bridge mgmt0").unwrap()
                < text.find("ip addr add 192.168.42.11/24 dev mgmt0").unwrap()
        );

        let report = engine.apply(&net).unwrap();
        assert_eq!(report.ovs_writes, 1, "one OVSDB transaction");
        assert_eq!(report.writes, report.ovs_writes + plan.of(kvmhost_net::BackendKind::Netlink).count() as u64);

        // OVSDB: trunk uplink, fake bridges with their VLANs.
        assert_eq!(env.vsctl(&["get", "port", "eth0", "trunks"]), "[100, 200, 300]");
        assert_eq!(env.vsctl(&["get", "port", "eth0", "vlan_mode"]), "trunk");
        for (fake, vlan) in [("mgmt0", "100"), ("cloudbr0", "200"), ("cloudbr1", "300")] {
            assert_eq!(env.vsctl(&["br-to-vlan", fake]), vlan);
            assert_eq!(env.vsctl(&["br-to-parent", fake]), "br0");
        }
        // The namespace: the host's address and default route on mgmt0, none left on eth0.
        let s = engine.read_state().unwrap();
        let mgmt = s.link("mgmt0").expect("mgmt0 made by ovs-vswitchd");
        assert!(mgmt.up);
        assert_eq!(mgmt.addresses.iter().map(ToString::to_string).collect::<Vec<_>>(), ["192.168.42.11/24"]);
        assert!(s.link("eth0").unwrap().addresses.is_empty());
        assert!(s.link("cloudbr0").unwrap().up && s.link("cloudbr1").unwrap().up);
        assert_eq!(env.ip(&["route", "show", "default"]), "default via 192.168.42.1 dev mgmt0 proto static");
        assert!(env.ip(&["-4", "addr", "show", "dev", "mgmt0"]).contains("inet 192.168.42.11/24"));

        // Idempotent on both sides.
        let again = engine.apply(&net).unwrap();
        assert_eq!((again.writes, again.ovs_writes), (0, 0), "{}", again.plan);
        assert!(engine.plan(&net).unwrap().is_empty());
    });
}

/// Sets `net.ipv6.conf.{all,default}.accept_dad` in the namespace (no tentative addresses, no
/// timers); returns the previous values.
fn set_accept_dad(env: &Env, values: [&str; 2]) -> [String; 2] {
    let mut old = [String::new(), String::new()];
    for (i, conf) in ["all", "default"].into_iter().enumerate() {
        let key = format!("net.ipv6.conf.{conf}.accept_dad");
        old[i] = run(&["ip", "netns", "exec", &env.ns, "sysctl", "-n", &key]);
        run(&["ip", "netns", "exec", &env.ns, "sysctl", "-qw", &format!("{key}={}", values[i])]);
    }
    old
}

#[test]
fn cloudstack_ovs_layout_moves_ipv6_with_ipv4_onto_mgmt0_and_rolls_back() {
    with_host("cloudstack_ovs_dual_stack", |env| {
        let old = set_accept_dad(env, ["0", "0"]);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            env.ip(&["-6", "addr", "add", "2001:db8:42::11/64", "dev", "eth0", "nodad"]);
            env.ip(&["-6", "route", "add", "default", "via", "2001:db8:42::1", "dev", "eth0"]);
            let net = layout();
            let engine = env.engine();
            let before = comparable(&engine.read_state().unwrap());
            let plan = engine.plan(&net).unwrap();
            let text = plan.to_string();
            println!("plan:\n{text}");
            // mgmt0 takes over eth0's addresses: the IPv6 ones (not in the layout) move along.
            let pos = |s: &str| text.find(s).unwrap_or_else(|| panic!("no {s:?} in\n{text}"));
            assert!(pos("ip addr add 2001:db8:42::11/64 dev mgmt0") < pos("ip addr del 2001:db8:42::11/64 dev eth0"));
            assert!(
                pos("ip route replace default via 2001:db8:42::1 dev mgmt0")
                    < pos("ip addr del 2001:db8:42::11/64 dev eth0")
            );
            assert!(!text.contains("ip route del"), "{text}");

            // Verification made to fail once both sides changed: everything rolls back.
            let err = env.apply_faulty(&net, Fault::Verification).unwrap_err();
            let Error::Apply { rollback: Some(rb), .. } = &err else { panic!("{err}") };
            assert!(rb.restored && rb.errors.is_empty(), "{rb:?}");
            assert_eq!(comparable(&engine.read_state().unwrap()), before);
            assert!(env.ip(&["-6", "route", "show", "default"]).contains("via 2001:db8:42::1 dev eth0"));

            // For good: both families on mgmt0, nothing left on eth0, then zero writes.
            engine.apply(&net).unwrap();
            let s = engine.read_state().unwrap();
            let mgmt: Vec<String> = s.link("mgmt0").unwrap().addresses.iter().map(ToString::to_string).collect();
            assert_eq!(mgmt, ["192.168.42.11/24", "2001:db8:42::11/64"]);
            assert!(s.link("eth0").unwrap().addresses.is_empty());
            assert!(env.ip(&["-6", "route", "show", "default"]).contains("via 2001:db8:42::1 dev mgmt0"));
            assert!(env.ip(&["-4", "route", "show", "default"]).contains("via 192.168.42.1 dev mgmt0"));
            let again = engine.apply(&net).unwrap();
            assert_eq!((again.writes, again.ovs_writes), (0, 0), "{}", again.plan);
        }));
        set_accept_dad(env, [old[0].as_str(), old[1].as_str()]);
        if let Err(p) = result {
            std::panic::resume_unwind(p);
        }
    });
}

#[test]
fn netlink_failure_after_the_ovs_steps_restores_ovsdb_and_the_namespace() {
    with_host("combined_rollback", |env| {
        let net = layout();
        let engine = env.engine();
        let ovs_before = env.snapshot();
        let ns_before = comparable(&engine.read_state().unwrap());
        let routes_before = env.ip(&["route", "show"]);
        let plan = engine.plan(&net).unwrap();
        // Fail at the address going onto mgmt0: OVS has made the fake bridges, the uplink has
        // already lost its address and default route (the cut-off half done).
        let k = plan.ovs_len();
        let at =
            plan.steps.iter().position(|p| matches!(&p.step, Step::AddAddress { device, .. } if device == "mgmt0"));
        let at = at.expect("an address step for mgmt0");
        assert!(at >= k, "netlink steps come after the OVS steps");
        let err = env.apply_faulty(&net, Fault::NetlinkStep(at - k)).unwrap_err();
        println!("{err}");
        let Error::Apply { index, rollback: Some(rb), .. } = &err else {
            panic!("expected Apply with rollback: {err:?}")
        };
        assert_eq!(*index, at);
        assert!(rb.restored && rb.errors.is_empty(), "{rb:?}");
        assert!(rb.ovs_operations.unwrap() > 0, "the OVS rows were restored: {rb:?}");
        assert!(err.to_string().contains("OVSDB operations"), "{err}");
        // OVSDB exactly as before (rows and UUIDs), the namespace too.
        assert_eq!(env.snapshot(), ovs_before);
        assert_eq!(comparable(&engine.read_state().unwrap()), ns_before);
        assert_eq!(env.ip(&["route", "show"]), routes_before);
        assert!(env.ip(&["-4", "addr", "show", "dev", "eth0"]).contains("inet 192.168.42.11/24"));

        // Failing in the OVS part (one transaction): nothing written anywhere.
        let err = env.apply_faulty(&net, Fault::OvsStep(2)).unwrap_err();
        assert!(matches!(&err, Error::Apply { index: 2, rollback: Some(rb), .. } if rb.restored), "{err:?}");
        assert_eq!(env.snapshot(), ovs_before);
        assert_eq!(comparable(&engine.read_state().unwrap()), ns_before);

        // A failed verification once both sides have changed: both restored.
        let err = env.apply_faulty(&net, Fault::Verification).unwrap_err();
        assert!(
            matches!(&err, Error::Apply { source, rollback: Some(rb), .. }
                if matches!(**source, Error::Verify { .. }) && rb.restored && rb.ovs_operations > Some(0)),
            "{err:?}"
        );
        assert_eq!(env.snapshot(), ovs_before);
        assert_eq!(comparable(&engine.read_state().unwrap()), ns_before);
        assert_eq!(env.ip(&["route", "show"]), routes_before);

        // The same model without an injected failure applies.
        engine.apply(&net).unwrap();
        assert_eq!(env.ip(&["route", "show", "default"]), "default via 192.168.42.1 dev mgmt0 proto static");
    });
}

#[test]
fn ovs_refusing_a_device_leaves_the_namespace_untouched() {
    with_host("ovs_refusal", |env| {
        let mut net = layout();
        // A port whose device does not exist: ovs-vswitchd reports it, the OVS part fails.
        let cfg = net.ovs.as_mut().unwrap();
        cfg.bridges[0].ports.push(kvmhost_net::ovs::OvsPort::access("kvi-missing", 200));
        let engine = env.engine();
        let ovs_before = env.snapshot();
        let ns_before = comparable(&engine.read_state().unwrap());
        let err = engine.apply(&net).unwrap_err();
        println!("{err}");
        let Error::Apply { source, rollback: Some(rb), .. } = &err else { panic!("{err:?}") };
        assert!(matches!(**source, Error::InterfaceErrors(_)), "{source:?}");
        assert!(rb.restored);
        assert_eq!(env.snapshot(), ovs_before);
        // No netlink step ran, and the engine waited for ovs-vswitchd to remove the devices of
        // the undone transaction: the namespace is as before.
        assert_eq!(comparable(&engine.read_state().unwrap()), ns_before);
    });
}

#[test]
fn an_ovs_section_without_an_ovsdb_socket_is_refused_before_anything_runs() {
    let net = layout();
    let Some(ns) = std::env::var("KVMHOST_OVS_NETNS").ok() else {
        // Needs no service: the refusal comes before any I/O, in the current namespace.
        let err = Engine::new(Netns::Current).plan(&net).unwrap_err();
        assert!(matches!(err, Error::OvsdbRequired), "{err:?}");
        return;
    };
    let err = Engine::new(Netns::named(&ns)).plan(&net).unwrap_err();
    assert!(matches!(err, Error::OvsdbRequired), "{err:?}");
}

#[test]
fn teardown_removes_the_ovs_bridges_and_their_devices_then_writes_nothing() {
    with_host("ovs_teardown", |env| {
        let net = layout();
        let engine = env.engine();
        // Another bridge OVSDB holds, not declared by the model: teardown leaves it.
        env.vsctl(&["add-br", "kvt-other", "--", "set", "bridge", "kvt-other", "datapath_type=netdev"]);
        engine.apply(&net).unwrap();
        assert_eq!(env.snapshot().bridge_names(), ["br0", "kvt-other"]);
        let down = engine.teardown(&net).unwrap();
        assert_eq!(down.ovs_writes, 1, "{}", down.plan);
        assert_eq!(env.snapshot().bridge_names(), ["kvt-other"]);
        let s = engine.read_state().unwrap();
        for gone in ["br0", "mgmt0", "cloudbr0", "cloudbr1"] {
            assert!(s.link(gone).is_none(), "{gone} still in the namespace");
        }
        assert!(s.link("eth0").is_some() && s.link("kvt-other").is_some());
        assert_eq!(engine.teardown(&net).unwrap().writes, 0);
        env.vsctl(&["del-br", "kvt-other"]);
    });
}

/// The engine and both backends are blocking and own no runtime, so an orchestrator may call
/// them from async code: here from a `#[tokio::test]` (a current-thread runtime, where a private
/// runtime's `block_on` would panic). The layout is applied with a failing verification (both
/// sides changed, both rolled back), then applied for real; no namespace switch is held across
/// the `.await`s (each netlink socket is opened inside the namespace and the thread switches
/// back before the call returns).
#[tokio::test]
async fn apply_and_rollback_with_ovs_from_inside_a_tokio_runtime() {
    tokio::task::yield_now().await;
    with_host("tokio_runtime", |env| {
        let net = layout();
        let engine = env.engine();
        let ovs_before = env.snapshot();
        let ns_before = comparable(&engine.read_state().unwrap());
        let err = env.apply_faulty(&net, Fault::Verification).unwrap_err();
        assert!(
            matches!(&err, Error::Apply { rollback: Some(rb), .. } if rb.restored && rb.ovs_operations > Some(0)),
            "{err:?}"
        );
        assert_eq!(env.snapshot(), ovs_before);
        assert_eq!(comparable(&engine.read_state().unwrap()), ns_before);
        let report = engine.apply(&net).unwrap();
        assert!(report.ovs_writes > 0 && report.writes > report.ovs_writes, "{report:?}");
        assert_eq!(env.ip(&["route", "show", "default"]), "default via 192.168.42.1 dev mgmt0 proto static");
    });
    tokio::task::yield_now().await;
}

/// A checkpoint over both backends: the CloudStack OVS layout applied, not confirmed; at the
/// deadline the guard's script (iproute2 commands, then one `ovsdb-client transact`) puts back
/// the namespace and exactly the OVSDB rows (UUIDs included).
#[test]
fn an_unconfirmed_ovs_layout_is_rolled_back_by_the_checkpoint_guard() {
    with_host("ovs_checkpoint", |env| {
        let net = layout();
        let engine = env.engine();
        let ovs_before = env.snapshot();
        let ns_before = comparable(&engine.read_state().unwrap());
        let routes_before = env.ip(&["route", "show"]);
        let root = tempfile::tempdir().unwrap();
        let options =
            kvmhost_net::engine::CheckpointOptions::new(std::time::Duration::from_secs(1)).in_dir(root.path());
        let cp = engine.apply_with_checkpoint(&net, &options).unwrap();
        assert_eq!(env.ip(&["route", "show", "default"]), "default via 192.168.42.1 dev mgmt0 proto static");
        let script = std::fs::read_to_string(cp.dir().join("rollback.sh")).unwrap();
        println!("rollback.sh:\n{script}");
        assert!(script.contains("ovsdb-client transact"), "{script}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let log = loop {
            let log = std::fs::read_to_string(cp.dir().join("rollback.log")).unwrap_or_default();
            if log.contains("exit ") {
                break log;
            }
            assert!(std::time::Instant::now() < deadline, "no rollback");
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert!(log.ends_with("exit 0\n"), "{log}");
        assert_eq!(env.snapshot(), ovs_before, "OVSDB rows (UUIDs included) as before");
        wait_for_ovs_devices_gone(env);
        assert_eq!(comparable(&engine.read_state().unwrap()), ns_before);
        assert_eq!(env.ip(&["route", "show"]), routes_before);
    });
}
