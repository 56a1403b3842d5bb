//! Scale of the Archipel-compatible agent (`examples/xmpp_agent`): the distributed engine is the
//! XMPP server. N agents (hypervisor JIDs, each on its own `test:///default` host) on one private
//! Prosody on loopback, M VM entities allocated across them (each its own XMPP account and
//! connection), then one client sends `archipel:vm:control` `info` to VMs chosen round-robin with
//! C requests in flight. The floor is the XMPP ping round trip to the same entities through the
//! same server (the entity answers `urn:xmpp:ping` itself), with the same concurrency.
//!
//! ```sh
//! cargo bench --bench xmpp_agent                      # 10 agents, 1,000 VMs, 5,000 requests, 16 in flight
//! KVMHOST_XMPP_BENCH_AGENTS=2 KVMHOST_XMPP_BENCH_VMS=100 cargo bench --bench xmpp_agent
//! ```
//! Knobs: `KVMHOST_XMPP_BENCH_{AGENTS,VMS,REQUESTS,CONCURRENCY}`, and
//! `KVMHOST_XMPP_BENCH_SERVER=ejabberd` for a private ejabberd node instead of Prosody, or
//! `=ejabberd-cluster` for two clustered nodes (the agents on node A, the client on node B). Needs the
//! server installed and root
//! (SKIP otherwise). Target (issue 16): p99 of `info` within 3x of the ping floor and < 50 ms.

include!("../tests/xmpp_support/modules.rs");

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{acp, agent_binary, client, AgentProc, Ejabberd, Prosody};
use xml::Element;
use xmpp::{Client, NS_CLIENT};

const HYP: &str = "archipel:hypervisor:control";
const CONTROL: &str = "archipel:vm:control";

fn knob(name: &str, default: usize) -> usize {
    std::env::var(format!("KVMHOST_XMPP_BENCH_{name}")).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn domain() -> Element {
    Element::new("domain", HYP)
        .attr("type", "test")
        .child(Element::new("memory", HYP).attr("unit", "KiB").text("65536"))
        .child(Element::new("vcpu", HYP).text("1"))
        .child(Element::new("os", HYP).child(Element::new("type", HYP).text("hvm")))
}

struct Stats {
    p50: Duration,
    p99: Duration,
    max: Duration,
    mean: Duration,
    per_second: f64,
}

fn stats(mut v: Vec<Duration>, wall: Duration) -> Stats {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).saturating_sub(1).min(v.len() - 1)];
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        max: *v.last().unwrap(),
        mean: v.iter().sum::<Duration>() / v.len() as u32,
        per_second: v.len() as f64 / wall.as_secs_f64(),
    }
}

/// `requests` stanzas made by `make(i)`, `concurrency` in flight; each answer must be a result.
async fn drive(
    c: &Client,
    requests: usize,
    concurrency: usize,
    make: Arc<dyn Fn(usize) -> Element + Send + Sync>,
) -> Stats {
    let start = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (c, make) = (c.clone(), make.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = w;
            while i < requests {
                let t = Instant::now();
                let answer = c.request(make(i), Duration::from_secs(30)).await.expect("answer");
                lat.push(t.elapsed());
                assert_eq!(answer.get_attr("type"), Some("result"), "{answer}");
                i += concurrency;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    stats(all, start.elapsed())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let (agents, vms) = (knob("AGENTS", 10).max(1), knob("VMS", 1000).max(1));
    let (requests, concurrency) = (knob("REQUESTS", 5000).max(1), knob("CONCURRENCY", 16).max(1));
    let hyps: Vec<String> = (0..agents).map(|i| format!("hyp{i}@localhost")).collect();
    let admins: Vec<&str> = hyps.iter().map(String::as_str).collect();
    let kind = std::env::var("KVMHOST_XMPP_BENCH_SERVER").unwrap_or_else(|_| "prosody".into());
    // Held until the end: dropping a guard stops its server (node B before node A).
    let (mut prosody, mut ej_b, mut ej_a) = (None, None, None);
    match kind.as_str() {
        "ejabberd" => ej_a = Ejabberd::start(),
        "ejabberd-cluster" => {
            if let Some((a, b)) = Ejabberd::start_cluster() {
                (ej_a, ej_b) = (Some(a), Some(b));
            }
        }
        _ => prosody = Prosody::start(&admins),
    }
    let server = match (&prosody, &ej_a) {
        (Some(p), _) => p.server(),
        (_, Some(a)) => a.server(),
        _ => return,
    };
    // The client's server: node B of a cluster, else the same.
    let client_server = ej_b.as_ref().map(|b| b.server()).unwrap_or_else(|| server.clone());
    let ejabberd = kind != "prosody";
    let bin = agent_binary();
    let state = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let mut procs = Vec::new();
        for (i, h) in hyps.iter().enumerate() {
            procs.push(AgentProc::start(&bin, h, &server, &state.path().join(format!("a{i}"))));
        }
        for (p, h) in procs.iter().zip(&hyps) {
            p.wait_line(&format!("online as {h}")).await;
        }
        let (admin, _rx) = client(&client_server, "admin").await;

        // Allocate: agents in parallel, each agent's VMs one after the other.
        let t = Instant::now();
        let mut tasks = Vec::new();
        for (i, h) in hyps.iter().enumerate() {
            let count = vms / agents + usize::from(i < vms % agents);
            let (admin, to, node) = (admin.clone(), format!("{h}/agent"), h.split('@').next().unwrap().to_string());
            tasks.push(tokio::spawn(async move {
                let mut jids = Vec::new();
                for n in 0..count {
                    let name = format!("{node}-vm{n}");
                    let answer = acp(&admin, &to, HYP, "alloc", &[("name", &name)], vec![domain()]).await;
                    assert_eq!(answer.get_attr("type"), Some("result"), "{answer}");
                    let bare = answer.get_child("query").unwrap().get_child("virtualmachine").unwrap().get_attr("jid").unwrap().to_string();
                    jids.push(format!("{bare}/{node}"));
                }
                jids
            }));
        }
        let mut targets = Vec::new();
        for task in tasks {
            targets.extend(task.await.unwrap());
        }
        let alloc_time = t.elapsed();
        println!(
            "xmpp_agent scale on {}: {agents} agents, {} VM entities allocated in {:.1} s ({:.1} ms each, agents in parallel)",
            match kind.as_str() {
                "ejabberd-cluster" => "a two-node ejabberd cluster (agents on A, client on B)",
                _ if ejabberd => "ejabberd",
                _ => "Prosody",
            },
            targets.len(),
            alloc_time.as_secs_f64(),
            alloc_time.as_secs_f64() * 1000.0 / targets.len() as f64 * agents as f64
        );
        let targets = Arc::new(targets);

        let ping = {
            let targets = targets.clone();
            Arc::new(move |i: usize| {
                Element::new("iq", NS_CLIENT)
                    .attr("type", "get")
                    .attr("to", targets[i % targets.len()].as_str())
                    .child(Element::new("ping", "urn:xmpp:ping"))
            })
        };
        let info = {
            let targets = targets.clone();
            Arc::new(move |i: usize| {
                Element::new("iq", NS_CLIENT).attr("type", "get").attr("to", targets[i % targets.len()].as_str()).child(
                    Element::new("query", CONTROL).child(Element::new("archipel", CONTROL).attr("action", "info")),
                )
            })
        };
        // Warm up both paths (every entity once).
        drive(&admin, targets.len(), concurrency, ping.clone()).await;
        drive(&admin, targets.len(), concurrency, info.clone()).await;
        let floor = drive(&admin, requests, concurrency, ping).await;
        let measured = drive(&admin, requests, concurrency, info).await;
        println!("| round trip ({requests} requests, {concurrency} in flight) | p50 | p99 | mean | max | per second |");
        println!("|---|---|---|---|---|---|");
        for (name, s) in [("XMPP ping (floor)", &floor), ("archipel:vm:control info", &measured)] {
            println!(
                "| {name} | {} | {} | {} | {} | {:.0} |",
                ms(s.p50),
                ms(s.p99),
                ms(s.mean),
                ms(s.max),
                s.per_second
            );
        }
        let ratio = measured.p99.as_secs_f64() / floor.p99.as_secs_f64();
        let ok = ratio <= 3.0 && measured.p99 < Duration::from_millis(50);
        println!(
            "target (p99 of info within 3x of the ping floor and < 50 ms): {:.2}x, {} -> {}",
            ratio,
            ms(measured.p99),
            if ok { "met" } else { "NOT met" }
        );
        drop(procs);
    });
    drop((prosody, ej_b, ej_a));
}
