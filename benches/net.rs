//! kvmhost-net against the shell script a CloudStack agent runs (modifyvlan.sh style: one `ip`
//! process per change), inside a throwaway network namespace (root):
//! - the CloudStack Linux-bridge layout (veths stand in for the VLAN devices: no 802.1Q here),
//! - a 200-VLAN plan (200 bridges `breth0-N`, each with its port `eth0.N`),
//! - the no-op re-apply of the 200-VLAN state.
//!
//! Two peers: a script of the very commands of the plan (`Plan::to_script`: one `ip` process
//! per step, the cheapest script doing the same changes), and, for the 200 VLANs, CloudStack's
//! own per-VLAN procedure (`benches/peers/modifyvlan-ip.sh`: modifyvlan.sh's checks and changes
//! written with `ip`, run once per VLAN as the agent does). Each measured apply starts from the
//! same state (reset outside the timing); kvmhost-net and the peers are timed alternately so
//! that the shared machine's load hits both.

use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use kvmhost_net::cloudstack::{vlans_as_veths, CloudStackLinux};
use kvmhost_net::{engine, ApplyOptions, Bridge, HostNetwork, Kernel, NetlinkKernel, Netns, Route, Uplink, Veth};

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
    engine::teardown(k, &kvmhost_net::cloudstack::vlans_as_veths(net), &o).map(|_| ()).unwrap_or(());
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

/// kvmhost-net, the plan's command script and modifyvlan-ip.sh on the 200 VLANs, alternately,
/// `runs` times each; then the second (no-op) run of each.
fn compare_200(ns: &str, k: &mut NetlinkKernel, net: &HostNetwork, runs: usize) {
    let vids: Vec<u16> = (2..202).collect();
    let script = {
        reset(k, net);
        engine::plan(k, net).unwrap().to_script()
    };
    let (mut ours, mut commands, mut modifyvlan) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        reset(k, net);
        let t = Instant::now();
        let r = engine::apply(k, net, &ApplyOptions::default()).unwrap();
        ours.push(t.elapsed());
        assert_eq!(r.writes, 600);
        reset(k, net);
        commands.push(run_script(ns, &script));
        assert!(engine::plan(k, net).unwrap().is_empty());
        reset(k, net);
        modifyvlan.push(run_modifyvlan(ns, &vids));
        // CloudStack's procedure made exactly the declared state: nothing left to do.
        let left = engine::plan(k, net).unwrap();
        assert!(left.is_empty(), "modifyvlan-ip.sh left:\n{left}");
    }
    // The state is in place: both sides again, changing nothing.
    let t = Instant::now();
    assert_eq!(engine::apply(k, net, &ApplyOptions::default()).unwrap().writes, 0);
    let ours_noop = t.elapsed();
    let modifyvlan_noop = run_modifyvlan(ns, &vids);
    let (o, c, m) = (median(ours.clone()), median(commands.clone()), median(modifyvlan.clone()));
    println!("vlans_200 (median of {runs}, alternating): kvmhost-net {o:?} {ours:?}");
    println!("  plan's commands as a script: {c:?} {commands:?} -> {:.1}x", c.as_secs_f64() / o.as_secs_f64());
    println!("  modifyvlan-ip.sh per VLAN:    {m:?} {modifyvlan:?} -> {:.1}x", m.as_secs_f64() / o.as_secs_f64());
    println!(
        "  no-op second run: kvmhost-net {ours_noop:?}, modifyvlan-ip.sh {modifyvlan_noop:?} -> {:.0}x",
        modifyvlan_noop.as_secs_f64() / ours_noop.as_secs_f64()
    );
}

fn compare(c: &mut Criterion, ns: &str, k: &mut NetlinkKernel, name: &str, net: &HostNetwork, script_runs: usize) {
    reset(k, net);
    let plan = engine::plan(k, net).unwrap();
    let script = plan.to_script();
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
    // The script takes seconds per run at 200 VLANs: timed by hand (median of a few runs), not
    // by criterion's sampling.
    let mut runs: Vec<Duration> = (0..script_runs)
        .map(|_| {
            reset(k, net);
            let d = run_script(ns, &script);
            // The script did the same changes: nothing left to do.
            assert!(engine::plan(k, net).unwrap().is_empty());
            d
        })
        .collect();
    runs.sort();
    println!(
        "{name}: {} steps; ip/bridge shell script ({} commands): median {:?} of {script_runs} runs {runs:?}",
        plan.len(),
        script.lines().count() - 1,
        runs[runs.len() / 2]
    );
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

    compare(c, &ns, &mut k, "cloudstack_linux_layout", &cloudstack(), 7);
    compare(c, &ns, &mut k, "vlans_200", &vlans200(), 3);
    compare_200(&ns, &mut k, &vlans200(), 5);

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
