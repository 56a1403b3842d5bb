//! Checkpoints for real, in a namespace of their own (root): a change not confirmed before its
//! deadline is rolled back by the guard — also when the process that made it has died — and the
//! namespace comes back byte for byte as `ip` prints it; a confirmed change stays.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{TestNs, BRIDGE_ON_UPLINK};
use kvmhost_net::engine::{checkpoint_state, CheckpointOptions, CheckpointState};
use kvmhost_net::{Engine, Error, HostNetwork, Netns};

/// Everything `ip` prints about the namespace's links, addresses and routes, once IPv6
/// duplicate address detection is over (no address `tentative`).
fn picture(ns: &TestNs) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = ["-d link show", "addr show", "route show", "-6 route show"]
            .iter()
            .map(|a| ns.ip_out(&a.split(' ').collect::<Vec<_>>()))
            .collect::<Vec<_>>()
            .join("---\n");
        if !text.contains("tentative") || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn options(dir: &Path, seconds: u64) -> CheckpointOptions {
    CheckpointOptions::new(Duration::from_secs(seconds)).in_dir(dir)
}

/// Wait until the guard has finished rolling back (its log ends with its exit status).
fn wait_for_rollback(dir: &Path, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let log = std::fs::read_to_string(dir.join("rollback.log")).unwrap_or_default();
        if log.contains("exit ") {
            return log;
        }
        assert!(Instant::now() < deadline, "no rollback within {within:?} in {}", dir.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn applied(ns: &TestNs) -> bool {
    ns.ip_out(&["-4", "addr", "show", "dev", "br0"]).contains("10.77.0.11/24")
}

/// The only checkpoint directory made under `root`.
fn the_checkpoint(root: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

#[test]
fn an_unconfirmed_change_is_rolled_back_at_the_deadline() {
    let Some(ns) = TestNs::new("checkpoint_expires") else { return };
    ns.classic_host();
    let before = picture(&ns);
    let root = tempfile::tempdir().unwrap();
    let net = HostNetwork::from_yaml(BRIDGE_ON_UPLINK).unwrap();
    let cp = Engine::new(ns.netns()).apply_with_checkpoint(&net, &options(root.path(), 1)).unwrap();
    assert!(applied(&ns), "the change is in place while the checkpoint is pending");
    assert_eq!(checkpoint_state(cp.dir()), Some(CheckpointState::Pending));
    let script = std::fs::read_to_string(cp.dir().join("rollback.sh")).unwrap();
    println!("rollback.sh:\n{script}");
    assert!(script.contains("ip addr add 10.77.0.11/24 dev eth0"), "{script}");
    let log = wait_for_rollback(cp.dir(), Duration::from_secs(15));
    println!("rollback.log:\n{log}");
    assert!(log.ends_with("exit 0\n"), "{log}");
    assert_eq!(checkpoint_state(cp.dir()), Some(CheckpointState::Expired));
    assert_eq!(picture(&ns), before, "the namespace is back byte for byte");
    let dir = cp.dir().to_path_buf();
    match cp.confirm() {
        Err(Error::CheckpointExpired { dir: d }) => assert_eq!(d, dir.display().to_string()),
        other => panic!("a confirmation after the deadline must fail: {other:?}"),
    }
}

#[test]
fn a_confirmed_change_stays_and_its_guard_is_gone() {
    let Some(ns) = TestNs::new("checkpoint_confirmed") else { return };
    ns.classic_host();
    let root = tempfile::tempdir().unwrap();
    let net = HostNetwork::from_yaml(BRIDGE_ON_UPLINK).unwrap();
    let engine = Engine::new(ns.netns());
    let cp = engine.apply_with_checkpoint(&net, &options(root.path(), 1)).unwrap();
    let (dir, pid) = (cp.dir().to_path_buf(), cp.guard_pid());
    assert!(Path::new(&format!("/proc/{pid}")).exists(), "the guard runs");
    cp.confirm().unwrap();
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "the guard is stopped");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(checkpoint_state(&dir), Some(CheckpointState::Confirmed));
    assert!(!dir.join("rollback.log").exists());
    assert!(applied(&ns), "a confirmed change stays past the deadline");
    assert_eq!(engine.apply(&net).unwrap().writes, 0);
}

#[test]
fn rollback_on_request_restores_at_once() {
    let Some(ns) = TestNs::new("checkpoint_rollback") else { return };
    ns.classic_host();
    let before = picture(&ns);
    let root = tempfile::tempdir().unwrap();
    let net = HostNetwork::from_yaml(BRIDGE_ON_UPLINK).unwrap();
    let cp = Engine::new(ns.netns()).apply_with_checkpoint(&net, &options(root.path(), 60)).unwrap();
    let dir = cp.dir().to_path_buf();
    assert!(applied(&ns));
    cp.rollback().unwrap();
    assert_eq!(checkpoint_state(&dir), Some(CheckpointState::RolledBack));
    assert_eq!(picture(&ns), before);
}

/// The process that applied dies (SIGABRT) right after the apply: its guard, in a process
/// group of its own, still rolls the change back at the deadline.
#[test]
fn the_guard_rolls_back_after_the_caller_died() {
    let Some(ns) = TestNs::new("checkpoint_caller_dies") else { return };
    ns.classic_host();
    let before = picture(&ns);
    let root = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "apply_with_a_checkpoint_then_abort", "--ignored", "--nocapture", "--test-threads=1"])
        .env("KVMHOST_CHECKPOINT_NETNS", &ns.name)
        .env("KVMHOST_CHECKPOINT_DIR", root.path())
        .output()
        .unwrap();
    println!("caller: {:?}\n{}", out.status, String::from_utf8_lossy(&out.stdout));
    assert!(!out.status.success(), "the caller must have died");
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied; aborting"));
    assert!(applied(&ns), "the change outlives its caller until the deadline");
    let dir = the_checkpoint(root.path());
    let log = wait_for_rollback(&dir, Duration::from_secs(15));
    assert!(log.ends_with("exit 0\n"), "{log}");
    assert_eq!(picture(&ns), before);
}

/// The caller of `the_guard_rolls_back_after_the_caller_died`, run as its own process (does
/// nothing unless that test starts it).
#[test]
#[ignore = "run by the_guard_rolls_back_after_the_caller_died"]
fn apply_with_a_checkpoint_then_abort() {
    let (Ok(ns), Ok(dir)) = (std::env::var("KVMHOST_CHECKPOINT_NETNS"), std::env::var("KVMHOST_CHECKPOINT_DIR")) else {
        return;
    };
    let net = HostNetwork::from_yaml(BRIDGE_ON_UPLINK).unwrap();
    let cp = Engine::new(Netns::named(&ns)).apply_with_checkpoint(&net, &options(dir.as_ref(), 2)).unwrap();
    println!("applied; aborting (guard {})", cp.guard_pid());
    std::process::abort();
}

/// A recorded `NetState` is enough to put the namespace back (`Engine::restore`), byte for
/// byte as `ip` prints it; restoring again writes nothing.
#[test]
fn a_recorded_state_is_restored() {
    let Some(ns) = TestNs::new("restore_recorded") else { return };
    ns.classic_host();
    let before = picture(&ns);
    let engine = Engine::new(ns.netns());
    let recorded = kvmhost_net::NetState::from_yaml(&engine.read_state().unwrap().to_yaml()).unwrap();
    engine.apply(&HostNetwork::from_yaml(BRIDGE_ON_UPLINK).unwrap()).unwrap();
    assert!(applied(&ns));
    let report = engine.restore(&recorded).unwrap();
    println!("{}", report.plan);
    assert!(report.writes > 0);
    assert_eq!(picture(&ns), before);
    assert_eq!(engine.restore(&recorded).unwrap().writes, 0);
}

/// 60 veth pairs with addresses: a few hundred steps, long enough to kill the caller inside.
fn many_veths() -> HostNetwork {
    let mut yaml = String::from("veths:\n");
    for i in 0..60 {
        yaml +=
            &format!("  - {{name: kvc{i}a, peer: kvc{i}b, addresses: [10.{}.{}.1/30]}}\n", 100 + i / 60, i % 60 * 4);
    }
    HostNetwork::from_yaml(&yaml).unwrap()
}

/// The caller is killed (SIGKILL) while its apply runs — at whatever step the kill lands: the
/// guard, armed before the first write, runs the script the last step left and the namespace
/// comes back byte for byte.
#[test]
fn the_guard_rolls_back_a_caller_killed_during_the_apply() {
    let Some(ns) = TestNs::new("checkpoint_killed_mid_apply") else { return };
    ns.classic_host();
    let before = picture(&ns);
    let root = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "apply_many_with_a_checkpoint", "--ignored", "--nocapture", "--test-threads=1"])
        .env("KVMHOST_CHECKPOINT_NETNS", &ns.name)
        .env("KVMHOST_CHECKPOINT_DIR", root.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once some links exist (the apply is under way): early, or after a third or two
    // thirds of the veths, depending on this run's process id.
    let at = format!(" kvc{}a@", [3, 20, 40][std::process::id() as usize % 3]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ns.ip_out(&["-o", "link", "show"]).contains(&at) {
        assert!(Instant::now() < deadline, "the apply did not start");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let made = ns.ip_out(&["-o", "link", "show"]).lines().filter(|l| l.contains("kvc")).count();
    println!("killed with {made} of 120 links made");
    assert!(made < 120, "the kill landed after the apply; nothing mid-apply was tested");
    let dir = the_checkpoint(root.path());
    let log = wait_for_rollback(&dir, Duration::from_secs(20));
    println!("rollback.log:\n{log}");
    assert!(log.ends_with("exit 0\n"), "{log}");
    assert_eq!(picture(&ns), before, "the namespace is back byte for byte");
}

/// The caller of `the_guard_rolls_back_a_caller_killed_during_the_apply`.
#[test]
#[ignore = "run by the_guard_rolls_back_a_caller_killed_during_the_apply"]
fn apply_many_with_a_checkpoint() {
    let (Ok(ns), Ok(dir)) = (std::env::var("KVMHOST_CHECKPOINT_NETNS"), std::env::var("KVMHOST_CHECKPOINT_DIR")) else {
        return;
    };
    let engine = Engine::new(Netns::named(&ns));
    let _ = engine.apply_with_checkpoint(&many_veths(), &options(dir.as_ref(), 2));
}
