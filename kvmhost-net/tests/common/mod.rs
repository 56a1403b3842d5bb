//! Throwaway network namespaces for the root tests: unique names prefixed `kvmhost-nc-`, always
//! deleted (on drop, also when a test fails).

#![allow(dead_code)]

pub mod fault;
pub mod nla;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use kvmhost_net::Netns;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The classic host's layout: `eth0` (see [`TestNs::classic_host`]) becomes the port of `br0`,
/// which takes its address and default route.
pub const BRIDGE_ON_UPLINK: &str = r#"
uplinks:
  - name: eth0
bridges:
  - name: br0
    stp: false
    forward_delay: 0
    ports: [eth0]
    addresses: [10.77.0.11/24]
    routes:
      - gateway: 10.77.0.1
"#;

/// A namespace made with `ip netns add`, deleted on drop.
pub struct TestNs {
    pub name: String,
}

impl TestNs {
    /// A fresh namespace, or `None` (after printing SKIP) when not root or `ip netns` fails.
    pub fn new(test: &str) -> Option<TestNs> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("kvmhost-nc-{}-{n}", std::process::id());
        let ok = Command::new("ip").args(["netns", "add", &name]).status().map(|s| s.success()).unwrap_or(false);
        if !ok {
            println!("SKIP: {test}: `ip netns add` failed (needs root and network namespaces)");
            return None;
        }
        let ns = TestNs { name };
        ns.ip(&["link", "set", "lo", "up"]);
        Some(ns)
    }

    pub fn netns(&self) -> Netns {
        Netns::named(&self.name)
    }

    /// Run `ip -n NS ARGS`, panicking on failure (test setup).
    pub fn ip(&self, args: &[&str]) {
        let out = Command::new("ip").arg("-n").arg(&self.name).args(args).output().expect("run ip");
        assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `ip -n NS ARGS` output.
    pub fn ip_out(&self, args: &[&str]) -> String {
        let out = Command::new("ip").arg("-n").arg(&self.name).args(args).output().expect("run ip");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The classic host: uplink `eth0` (a veth to `eth0p`) holding 10.77.0.11/24 and the default
    /// route via 10.77.0.1.
    pub fn classic_host(&self) {
        self.ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]);
        self.ip(&["link", "set", "eth0", "up"]);
        self.ip(&["link", "set", "eth0p", "up"]);
        self.ip(&["addr", "add", "10.77.0.11/24", "dev", "eth0"]);
        self.ip(&["route", "add", "default", "via", "10.77.0.1", "dev", "eth0"]);
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}
