//! kvmhost-net against the shell script a CloudStack agent runs (modifyvlan.sh style: one `ip`
//! process per change), inside a throwaway network namespace (root):
//! - the CloudStack Linux-bridge layout (veths stand in for the VLAN devices: no 802.1Q here),
//! - a 200-VLAN plan (200 bridges `breth0-N`, each with its port `eth0.N`),
//! - the no-op re-apply of the 200-VLAN state.
//!
//! Two peers each: a script of the very commands of the plan (`Plan::to_script`: one `ip`
//! process per step, the cheapest script doing the same changes), and CloudStack's own
//! procedure — `benches/peers/modifyvlan-ip.sh` (modifyvlan.sh's checks and changes written with
//! `ip`) once per VLAN as the agent runs it, and, for the layout, the CloudStack guide's
//! interfaces file applied action by action as ifupdown does (one `ip` command per action). Each measured apply starts from the
//! same state (reset outside the timing); kvmhost-net and the peers are timed alternately so
//! that the shared machine's load hits both.

use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use kvmhost_net::cloudstack::CloudStackLinux;
use kvmhost_net::{engine, ApplyOptions, Bridge, HostNetwork, Kernel, NetlinkKernel, Netns, Route, Uplink, Veth};
// No 802.1Q on the machines the bench runs on: veths of the same names stand in for the VLANs.
use kvmhost_testdata::net::vlans_as_veths;

struct Ns(String);

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(ns: &str, args: &[&str]) {
    let ok = Command::new("ip").arg("-n").arg(ns).args(args).status().map(|s| s.success()).unwrap_or(false);
    assert!(ok, "ip {args:?}");
}

/// The host before: uplink eth0 (a veth) with the management address and default route.
fn before_model() -> HostNetwork {
    HostNetwork::from_yaml(
        "veths: [{name: eth0, peer: eth0p, addresses: [192.168.42.11/24], routes: [{gateway: 192.168.42.1}]}]",
    )
    .unwrap()
}

fn cloudstack() -> HostNetwork {
    let l = CloudStackLinux::new(
        "eth0",
        100,
        200,
        300,
        "192.168.42.11/24".parse().unwrap(),
        "192.168.42.1".parse().unwrap(),
    );
    vlans_as_veths(&l.build())
}

fn vlans200() -> HostNetwork {
    let mut net = HostNetwork::new();
    // The host keeps its management address and default route on the uplink.
    let mut eth0 = Uplink::new("eth0");
    eth0.addresses.push("192.168.42.11/24".parse().unwrap());
    eth0.routes.push(Route::default_via("192.168.42.1".parse().unwrap()));
    net.uplinks.push(eth0);
    for vid in 2..202u16 {
        let port = format!("eth0.{vid}");
        net.veths.push(Veth::new(&port, &format!("{port}p")));
        let mut b = Bridge::new(&format!("breth0-{vid}"));
        b.forward_delay = Some(0);
        b.ports.push(port);
        net.bridges.push(b);
    }
    net
}

/// Bring the namespace back to the "before" state (not timed).
fn reset(k: &mut NetlinkKernel, net: &HostNetwork) {
    let o = ApplyOptions::default();
    engine::teardown(k, &vlans_as_veths(net), &o).map(|_| ()).unwrap_or(());
    // The cloudstack model declares eth0 an uplink; give it its address back.
    let mut before = before_model();
    before.veths[0].addresses = vec!["192.168.42.11/24".parse().unwrap()];
    engine::apply(k, &before, &o).unwrap();
}

fn run_script(ns: &str, script: &str) -> Duration {
    let path = std::env::temp_dir().join(format!("{ns}.sh"));
    std::fs::write(&path, script).unwrap();
    let t = Instant::now();
    let ok = Command::new("ip").args(["netns", "exec", ns, "sh", "-e"]).arg(&path).status().unwrap().success();
    let d = t.elapsed();
    assert!(ok, "script failed:\n{script}");
    d
}

/// `ip -n NS -batch FILE`: the commands in one process.
fn run_batch(ns: &str, commands: &str) -> Duration {
    let path = std::env::temp_dir().join(format!("{ns}.batch"));
    std::fs::write(&path, commands).unwrap();
    let t = Instant::now();
    let ok = Command::new("ip").args(["-n", ns, "-batch"]).arg(&path).status().unwrap().success();
    let d = t.elapsed();
    assert!(ok, "ip -batch failed:\n{commands}");
    d
}

/// CloudStack's procedure: `modifyvlan-ip.sh -o add` once per VLAN, veths standing in for the
/// 802.1Q devices.
fn run_modifyvlan(ns: &str, vids: &[u16]) -> Duration {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peers/modifyvlan-ip.sh");
    let list: Vec<String> = vids.iter().map(u16::to_string).collect();
    let driver =
        format!("for v in {}; do sh {script} -o add -v $v -p eth0 -b breth0-$v || exit 1; done", list.join(" "));
    let t = Instant::now();
    let ok = Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-c", &driver])
        .env("KVMHOST_VLAN_STANDIN", "veth")
        .status()
        .unwrap()
        .success();
    let d = t.elapsed();
    assert!(ok, "modifyvlan-ip.sh failed");
    d
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A peer: what it is, and how to run it once (returns its wall time).
type Peer<'a> = (&'a str, Box<dyn Fn() -> Duration + 'a>);

/// kvmhost-net and each peer, alternately (so that the shared machine's load hits all of
/// them), `runs` times, each from the reset state; every peer must leave exactly the declared
/// state. Then the second (no-op) run of kvmhost-net and, when it checks before it changes
/// (`last_rerunnable`), of the last peer.
fn compare_alternating(
    name: &str,
    k: &mut NetlinkKernel,
    net: &HostNetwork,
    peers: &[Peer],
    runs: usize,
    last_rerunnable: bool,
) {
    let mut ours = Vec::new();
    let mut theirs: Vec<Vec<Duration>> = vec![Vec::new(); peers.len()];
    let mut steps = 0;
    for _ in 0..runs {
        reset(k, net);
        let t = Instant::now();
        let r = engine::apply(k, net, &ApplyOptions::default()).unwrap();
        ours.push(t.elapsed());
        steps = r.writes;
        for ((label, run), times) in peers.iter().zip(&mut theirs) {
            reset(k, net);
            times.push(run());
            // The peer made exactly the declared state: nothing left to do.
            let left = engine::plan(k, net).unwrap();
            assert!(left.is_empty(), "{label} left:\n{left}");
        }
    }
    let t = Instant::now();
    assert_eq!(engine::apply(k, net, &ApplyOptions::default()).unwrap().writes, 0);
    let ours_noop = t.elapsed();
    let last_noop = peers.last().filter(|_| last_rerunnable).map(|(_, run)| run());
    let o = median(ours.clone());
    println!("{name} (median of {runs}, alternating): kvmhost-net {o:?} ({steps} writes) {ours:?}");
    for ((label, _), times) in peers.iter().zip(theirs) {
        let m = median(times.clone());
        println!("  {label}: {m:?} {times:?} -> {:.1}x", m.as_secs_f64() / o.as_secs_f64());
    }
    if let (Some((label, _)), Some(noop)) = (peers.last(), last_noop) {
        // The peer checked everything and changed nothing: the state is still the declared one.
        assert!(engine::plan(k, net).unwrap().is_empty());
        println!(
            "  no-op second run: kvmhost-net {ours_noop:?}, {label} {noop:?} -> {:.0}x",
            noop.as_secs_f64() / ours_noop.as_secs_f64()
        );
    }
}

/// The CloudStack Linux layout the way the CloudStack guide has it made: its
/// `/etc/network/interfaces` stanzas (`eth0.100` with the address and gateway, `cloudbr0` /
/// `cloudbr1` with `bridge_ports eth0.200` / `eth0.300`, `bridge_stp off`, `bridge_fd 5`) applied
/// action by action as ifupdown's vlan and bridge-utils hooks do it (VLAN device, `brctl addbr`,
/// `stp off`, `setfd`, port up, `addif`, bridge up), each action one `ip` command. Veths stand
/// in for the 802.1Q devices.
fn run_guide_procedure(ns: &str) -> Duration {
    let mut script = String::from(
        "set -e\nip link add eth0.100 type veth peer name eth0.100p\nip link set eth0.100p up\n\
         ip link set eth0.100 up\nip route del default via 192.168.42.1 dev eth0\n\
         ip addr del 192.168.42.11/24 dev eth0\nip addr add 192.168.42.11/24 dev eth0.100\n\
         ip route add default via 192.168.42.1 dev eth0.100\n",
    );
    for (vid, br) in [(200, "cloudbr0"), (300, "cloudbr1")] {
        script += &format!(
            "ip link add eth0.{vid} type veth peer name eth0.{vid}p\nip link set eth0.{vid}p up\n\
             ip link add {br} type bridge\nip link set {br} type bridge stp_state 0\n\
             ip link set {br} type bridge forward_delay 500\nip link set eth0.{vid} up\n\
             ip link set eth0.{vid} master {br}\nip link set {br} up\n"
        );
    }
    run_script(ns, &script)
}

/// kvmhost-net alone under criterion (the peers take seconds per run: `compare_alternating`).
fn compare(c: &mut Criterion, k: &mut NetlinkKernel, name: &str, net: &HostNetwork) {
    reset(k, net);
    let plan = engine::plan(k, net).unwrap();
    let mut g = c.benchmark_group(name);
    g.sample_size(10).warm_up_time(Duration::from_millis(200)).measurement_time(Duration::from_secs(2));
    g.bench_function("kvmhost-net apply", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                reset(k, net);
                let t = Instant::now();
                let r = engine::apply(k, net, &ApplyOptions::default()).unwrap();
                total += t.elapsed();
                assert_eq!(r.writes as usize, plan.len());
            }
            total
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let ns = format!("kvmhost-nc-bench-{}", std::process::id());
    if !Command::new("ip").args(["netns", "add", &ns]).status().map(|s| s.success()).unwrap_or(false) {
        println!("SKIP: benches/net.rs needs root and network namespaces");
        return;
    }
    let guard = Ns(ns.clone());
    ip(&ns, &["link", "set", "lo", "up"]);
    let mut k = NetlinkKernel::open(&Netns::named(&ns)).unwrap();
    engine::apply(&mut k, &before_model(), &ApplyOptions::default()).unwrap();

    compare(c, &mut k, "cloudstack_linux_layout", &cloudstack());
    compare(c, &mut k, "vlans_200", &vlans200());

    // Start the comparisons from the bare host: the criterion runs above left the 200 VLANs.
    reset(&mut k, &vlans200());
    for (name, net, runs) in [("cloudstack_linux_layout", cloudstack(), 7), ("vlans_200", vlans200(), 5)] {
        let script = {
            reset(&mut k, &net);
            engine::plan(&mut k, &net).unwrap().to_script()
        };
        let vids: Vec<u16> = (2..202).collect();
        let procedure: Peer = if name == "vlans_200" {
            ("modifyvlan-ip.sh once per VLAN", Box::new(|| run_modifyvlan(&ns, &vids)))
        } else {
            ("the guide's interfaces file as ifupdown applies it", Box::new(|| run_guide_procedure(&ns)))
        };
        // The same commands through one `ip -batch` process: about the kernel's own share.
        let batch: String = script.lines().filter_map(|l| l.strip_prefix("ip ")).map(|l| format!("{l}\n")).collect();
        let peers: Vec<Peer> = vec![
            ("the plan's commands as a script", Box::new(|| run_script(&ns, &script))),
            ("(the same commands in one `ip -batch`: the kernel's share)", Box::new(|| run_batch(&ns, &batch))),
            procedure,
        ];
        compare_alternating(name, &mut k, &net, &peers, runs, name == "vlans_200");
    }

    // No-op re-apply of the 200-VLAN state: read, diff, nothing to write.
    let net = vlans200();
    reset(&mut k, &net);
    engine::apply(&mut k, &net, &ApplyOptions::default()).unwrap();
    let mut g = c.benchmark_group("noop_reapply_200_vlans");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    g.bench_function("open connection", |b| {
        b.iter(|| {
            let r = engine::apply(&mut k, &net, &ApplyOptions::default()).unwrap();
            assert_eq!(r.writes, 0);
        })
    });
    g.bench_function("new connection per apply (Engine)", |b| {
        let e = kvmhost_net::Engine::new(Netns::named(&ns));
        b.iter(|| assert_eq!(e.apply(&net).unwrap().writes, 0))
    });
    g.finish();
    let links = k.read_state().unwrap().links.len();
    println!("noop_reapply_200_vlans: {links} links in the namespace");
    drop(guard);
}

mod group {
    #![allow(missing_docs)]
    use super::*;
    criterion_group!(benches, bench);
}
criterion_main!(group::benches);
