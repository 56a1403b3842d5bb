//! Open vSwitch configuration speed (issue 5): kvmhost-net's OVSDB engine against a shell script
//! of `ovs-vsctl` commands doing the same, as CloudStack's scripts do (one `ovs-vsctl add-br
//! NAME PARENT VLAN` per VLAN).
//!
//! Workloads, both sides waiting for ovs-vswitchd to apply the change (`ovs-vsctl` without
//! `--no-wait`; `ApplyOptions::default()`):
//!
//! * `cloudstack`: from no bridges to the CloudStack layout (`br0` on `eth0` as a trunk of
//!   100,200,300; fake bridges `mgmt0`/100, `cloudbr0`/200, `cloudbr1`/300), userspace datapath;
//! * `vlans200`: from `br0` on `eth0` (trunk, all VLANs) to 200 more fake bridges `vb1000`…`vb1199`
//!   on VLANs 1000…1199;
//! * `noop_*`: applying a configuration already in place (read, diff, zero writes);
//! * `host_cloudstack`: the whole CloudStack OVS host through the combined engine
//!   (`Engine::with_ovsdb`): the OVS layout, then the host's address and default route moved from
//!   the uplink onto `mgmt0` over netlink (in ovs-vswitchd's namespace), verified on both sides —
//!   against the same `ovs-vsctl` commands followed by `ip` commands; `host_noop` re-applies it.
//!
//! The OVS instance is the one `scripts/services/ovs.sh start` starts (`KVMHOST_OVSDB_SOCK`,
//! `KVMHOST_OVS_NETNS`); without it the bench prints SKIP and measures nothing. It must hold no
//! bridges when the bench starts (it is left without bridges at the end).
//!
//! Run: `eval "$(scripts/services/ovs.sh start)"; cargo bench --bench ovs; scripts/services/ovs.sh stop`.
//! A summary with the ratios is printed at the end and written to `target/bench/ovs-summary.md`.

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use kvmhost_net::cloudstack::CloudStackLinux;
use kvmhost_net::ovs::{apply, CloudStackOvs, DatapathType, FakeBridge, OvsBridge, OvsConfig, OvsPort, Snapshot};
use kvmhost_net::ovsdb::Client;
use kvmhost_net::{ApplyOptions, Engine, HostNetwork, Netns};

const RUNS_CLOUDSTACK: usize = 15;
const RUNS_VLANS: usize = 3;

fn cloudstack() -> OvsConfig {
    OvsConfig::cloudstack(&CloudStackOvs::new("eth0").datapath(DatapathType::Netdev))
}

fn base() -> OvsConfig {
    OvsConfig::new().bridge(OvsBridge::new("br0").datapath(DatapathType::Netdev).port(OvsPort::trunk("eth0", [])))
}

fn vlans200() -> OvsConfig {
    let mut cfg = base();
    for v in 1000..1200u16 {
        cfg.bridges[0].fake_bridges.push(FakeBridge::new(&format!("vb{v}"), v));
    }
    cfg
}

fn script_cloudstack(vsctl: &str) -> String {
    format!(
        "set -e\n{vsctl} add-br br0 -- set bridge br0 datapath_type=netdev\n{vsctl} add-port br0 eth0\n\
         {vsctl} set port eth0 trunks=100,200,300 vlan_mode=trunk\n{vsctl} add-br mgmt0 br0 100\n\
         {vsctl} add-br cloudbr0 br0 200\n{vsctl} add-br cloudbr1 br0 300\n"
    )
}

/// The same six changes in one `ovs-vsctl` invocation (`--` between them): one process, one
/// database transaction, one wait for ovs-vswitchd — the best a script can do.
fn one_vsctl_cloudstack(vsctl: &str) -> String {
    format!(
        "{vsctl} add-br br0 -- set bridge br0 datapath_type=netdev -- add-port br0 eth0 \
         -- set port eth0 trunks=100,200,300 vlan_mode=trunk -- add-br mgmt0 br0 100 \
         -- add-br cloudbr0 br0 200 -- add-br cloudbr1 br0 300\n"
    )
}

fn script_vlans(vsctl: &str) -> String {
    let mut s = String::from("set -e\n");
    for v in 1000..1200 {
        writeln!(s, "{vsctl} add-br vb{v} br0 {v}").unwrap();
    }
    s
}

fn host() -> HostNetwork {
    CloudStackLinux::new("eth0", 100, 200, 300, "192.168.42.11/24".parse().unwrap(), "192.168.42.1".parse().unwrap())
        .build_ovs(DatapathType::Netdev)
}

fn script_host(vsctl: &str, netns: &str) -> String {
    let ip = format!("ip -n {netns}");
    let mut s = script_cloudstack(vsctl);
    s += &format!(
        "{ip} route del default via 192.168.42.1 dev eth0\n{ip} addr del 192.168.42.11/24 dev eth0\n\
         {ip} link set mgmt0 up\n{ip} link set cloudbr0 up\n{ip} link set cloudbr1 up\n\
         {ip} addr add 192.168.42.11/24 dev mgmt0\n{ip} route add default via 192.168.42.1 dev mgmt0\n"
    );
    s
}

fn run_script(script: &str) -> Duration {
    let start = Instant::now();
    let out = Command::new("bash").arg("-c").arg(script).output().expect("bash");
    let took = start.elapsed();
    assert!(out.status.success(), "script failed: {}", String::from_utf8_lossy(&out.stderr));
    took
}

struct Stats {
    mean: f64,
    median: f64,
    n: usize,
}

fn stats(samples: &[Duration]) -> Stats {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    Stats { mean: ms.iter().sum::<f64>() / ms.len() as f64, median: ms[ms.len() / 2], n: ms.len() }
}

fn main() {
    let Ok(sock) = std::env::var("KVMHOST_OVSDB_SOCK") else {
        println!("SKIP: ovs not started (eval \"$(scripts/services/ovs.sh start)\" first)");
        return;
    };
    let netns = std::env::var("KVMHOST_OVS_NETNS").unwrap_or_else(|_| "kvmhost-ovs-svc".into());
    let mut client = Client::connect(&sock).expect("connect");
    let start = Snapshot::capture(&mut client).unwrap();
    if !start.root_bridges.is_empty() {
        println!("SKIP: the OVS instance at {sock} already has bridges {:?}", start.bridge_names());
        return;
    }
    // The uplink device, in ovs-vswitchd's namespace.
    let ip = |args: &[&str]| {
        let out = Command::new("ip").args(["-n", &netns]).args(args).output().unwrap();
        out.status.success()
    };
    ip(&["link", "del", "eth0"]);
    assert!(ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]), "create the uplink");
    assert!(ip(&["link", "set", "eth0", "up"]));
    assert!(ip(&["addr", "add", "192.168.42.11/24", "dev", "eth0"]));
    assert!(ip(&["route", "add", "default", "via", "192.168.42.1", "dev", "eth0"]));

    let opts = ApplyOptions::default();
    let vsctl = format!("ovs-vsctl --db=unix:{sock}");
    let empty = OvsConfig::new().pruning(true);
    let set = |client: &mut Client, cfg: &OvsConfig| {
        apply(client, cfg, &opts).expect("apply");
    };

    // --- each workload: kvmhost-net and the script alternately, from the same starting state ---
    // (alternating, so that the shared machine's load hits both sides alike)
    let mut script_cs = Vec::new();
    let mut ours_cs = Vec::new();
    let mut one_cs = Vec::new();
    for _ in 0..RUNS_CLOUDSTACK {
        set(&mut client, &empty);
        let t = Instant::now();
        let r = apply(&mut client, &cloudstack(), &opts).unwrap();
        ours_cs.push(t.elapsed());
        assert_eq!(r.ovs_writes, 1);
        set(&mut client, &empty);
        script_cs.push(run_script(&script_cloudstack(&vsctl)));
        assert_eq!(apply(&mut client, &cloudstack(), &opts).unwrap().ovs_writes, 0);
        set(&mut client, &empty);
        one_cs.push(run_script(&one_vsctl_cloudstack(&vsctl)));
        assert_eq!(apply(&mut client, &cloudstack(), &opts).unwrap().ovs_writes, 0);
    }
    let mut script_vl = Vec::new();
    let mut ours_vl = Vec::new();
    for _ in 0..RUNS_VLANS {
        set(&mut client, &empty);
        set(&mut client, &base());
        let t = Instant::now();
        let r = apply(&mut client, &vlans200(), &opts).unwrap();
        ours_vl.push(t.elapsed());
        assert_eq!((r.plan.ovs_len(), r.ovs_writes), (200, 1));
        set(&mut client, &empty);
        set(&mut client, &base());
        script_vl.push(run_script(&script_vlans(&vsctl)));
        assert_eq!(apply(&mut client, &vlans200(), &opts).unwrap().ovs_writes, 0);
    }

    // --- the whole host: OVS then netlink, through the combined engine ----------------------
    let reset_host = |client: &mut Client| {
        apply(client, &empty, &opts).unwrap();
        // The fake bridges are gone with their addresses: the host is back on eth0.
        let _ = ip(&["addr", "add", "192.168.42.11/24", "dev", "eth0"]);
        let _ = ip(&["route", "add", "default", "via", "192.168.42.1", "dev", "eth0"]);
    };
    let engine = Engine::new(Netns::named(&netns)).with_ovsdb(&sock);
    let mut ours_host = Vec::new();
    let mut script_host_runs = Vec::new();
    for _ in 0..RUNS_CLOUDSTACK {
        reset_host(&mut client);
        let t = Instant::now();
        let r = engine.apply(&host()).unwrap();
        ours_host.push(t.elapsed());
        assert_eq!(r.ovs_writes, 1);
        reset_host(&mut client);
        script_host_runs.push(run_script(&script_host(&vsctl, &netns)));
        assert_eq!(engine.apply(&host()).unwrap().writes, 0, "the script made the declared host");
    }

    // --- no-op re-applies under criterion -------------------------------------------------------
    let mut c = Criterion::default().configure_from_args().sample_size(10).warm_up_time(Duration::from_millis(1));
    let mut g = c.benchmark_group("ovs");
    g.sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(2));
    g.bench_function("kvmhost_noop_cloudstack", |b| {
        apply(&mut client, &cloudstack(), &opts).unwrap();
        b.iter(|| {
            let r = apply(&mut client, &cloudstack(), &opts).unwrap();
            assert_eq!(r.ovs_writes, 0);
        })
    });
    g.bench_function("kvmhost_noop_vlans200", |b| {
        apply(&mut client, &vlans200(), &opts).unwrap();
        b.iter(|| {
            let r = apply(&mut client, &vlans200(), &opts).unwrap();
            assert_eq!(r.ovs_writes, 0);
        })
    });
    g.bench_function("kvmhost_host_noop", |b| {
        reset_host(&mut client);
        engine.apply(&host()).unwrap();
        b.iter(|| assert_eq!(engine.apply(&host()).unwrap().writes, 0))
    });
    g.finish();
    reset_host(&mut client);
    apply(&mut client, &empty, &opts).unwrap();
    ip(&["link", "del", "eth0"]);

    // --- summary ------------------------------------------------------------------------------
    let mut out = String::new();
    let (sc, sv, oc, ov) = (stats(&script_cs), stats(&script_vl), stats(&ours_cs), stats(&ours_vl));
    writeln!(out, "| workload | ovs-vsctl script, ms (mean / median, runs) | kvmhost-net, ms (mean / median, runs) | speed-up (mean / median) |").unwrap();
    writeln!(out, "|---|---:|---:|---:|").unwrap();
    let (sh, oh) = (stats(&script_host_runs), stats(&ours_host));
    let s1 = stats(&one_cs);
    for (name, s, o) in [
        ("CloudStack layout", &sc, &oc),
        ("CloudStack layout, the six changes in one `ovs-vsctl` invocation (the floor of any script)", &s1, &oc),
        ("200 VLAN fake bridges", &sv, &ov),
        (
            "CloudStack host: OVS layout + address and default route onto mgmt0 (combined engine vs ovs-vsctl + ip)",
            &sh,
            &oh,
        ),
    ] {
        writeln!(
            out,
            "| {name} | {:.1} / {:.1} ({}) | {:.1} / {:.1} ({}) | {:.1}x / {:.1}x |",
            s.mean,
            s.median,
            s.n,
            o.mean,
            o.median,
            o.n,
            s.mean / o.mean,
            s.median / o.median
        )
        .unwrap();
    }
    for (name, samples) in [
        ("CloudStack layout, script", &script_cs),
        ("CloudStack layout, kvmhost-net", &ours_cs),
        ("CloudStack host, script", &script_host_runs),
        ("CloudStack host, kvmhost-net", &ours_host),
    ] {
        let mut ms: Vec<f64> = samples.iter().map(|d| (d.as_secs_f64() * 1e4).round() / 10.0).collect();
        ms.sort_by(f64::total_cmp);
        writeln!(out, "\n{name}, ms (sorted): {ms:?}").unwrap();
    }
    writeln!(out, "\nBoth sides run alternately, each from the same starting state (reset untimed).").unwrap();
    writeln!(out, "no-op re-apply (read + diff, zero writes): see criterion's `ovs/kvmhost_*noop*` above").unwrap();
    println!("\n{out}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("ovs-summary.md"), out);
}
