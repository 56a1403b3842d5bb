//! Host preflight (issue 13), side by side with libvirt's `virt-host-validate qemu`.
//!
//! * `cargo bench --bench preflight`: criterion times, in process, a whole live preflight
//!   (`Gatherer::live().gather()` then `Profile::cloudstack().run`), the same on the fixture
//!   root `kvmhost-core/tests/data/preflight/base`, and the evaluation alone.
//! * `cargo bench --bench preflight -- --processes [ROUNDS]`: whole processes, as a user runs
//!   them. Needs `cargo build --release --example preflight` first. Each round runs
//!   `target/release/examples/preflight --profile cloudstack --json` and
//!   `virt-host-validate qemu` once each (order swapped every round, output discarded) and
//!   takes the ratio of their wall times; the medians of both and of the per-round ratios are
//!   printed with quartiles. Then both run once more with their output kept, and every
//!   `virt-host-validate` line is set beside kvmhost's verdict for the same question and the
//!   machine's ground truth (KVM: QEMU started with `-accel kvm`; devices: the nodes; IOMMU:
//!   `/sys/kernel/iommu_groups`; secure guests: the CPU's `sev` flag).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::Criterion;
use kvmhost_core::preflight::{Gatherer, Profile, Report, Status};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("kvmhost-core/tests/data/preflight/base")
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/examples/preflight")
}

fn wall(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let status = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
    let d = t.elapsed();
    if let Err(e) = status {
        panic!("{cmd:?}: {e}");
    }
    d
}

fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (q(0.25), q(0.5), q(0.75))
}

/// (kvmhost check id, virt-host-validate's question).
fn question(line: &str) -> Option<&'static str> {
    let l = line.split(':').nth(1)?;
    Some(if l.contains("hardware virtualization") {
        "hw-virt"
    } else if l.contains("/dev/kvm") {
        "dev-kvm"
    } else if l.contains("/dev/vhost-net") {
        "dev-vhost-net"
    } else if l.contains("/dev/net/tun") {
        "dev-net-tun"
    } else if l.contains("'cpu'") {
        "cgroup-cpu"
    } else if l.contains("'cpuacct'") {
        "cgroup-cpuacct"
    } else if l.contains("'cpuset'") {
        "cgroup-cpuset"
    } else if l.contains("'memory'") {
        "cgroup-memory"
    } else if l.contains("'devices'") {
        "cgroup-devices"
    } else if l.contains("'blkio'") {
        "cgroup-blkio"
    } else if l.contains("IOMMU") {
        "iommu"
    } else if l.contains("secure guest") {
        "secure-guest"
    } else {
        return None;
    })
}

/// The machine's own answer to each question, found independently of both tools.
fn ground_truth(id: &str) -> (Status, String) {
    let exists = |p: &str| Path::new(p).exists();
    match id {
        "hw-virt" | "dev-kvm" => {
            let out = Command::new("qemu-system-x86_64")
                .args(["-accel", "kvm", "-machine", "none", "-nodefaults", "-display", "none", "-monitor", "stdio"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .and_then(|mut c| {
                    use std::io::Write;
                    c.stdin.take().map(|mut s| s.write_all(b"quit\n"));
                    c.wait_with_output()
                });
            match out {
                Ok(o) if o.status.success() => (Status::Pass, "QEMU starts with -accel kvm".into()),
                Ok(o) => {
                    (Status::Fail, format!("QEMU -accel kvm fails: {}", String::from_utf8_lossy(&o.stderr).trim()))
                }
                Err(e) => (Status::Unknown, format!("qemu-system-x86_64: {e}")),
            }
        }
        "dev-vhost-net" | "dev-net-tun" => {
            let p = if id == "dev-net-tun" { "/dev/net/tun" } else { "/dev/vhost-net" };
            let bad = if id == "dev-net-tun" { Status::Fail } else { Status::Warn };
            if exists(p) {
                (Status::Pass, format!("{p} exists"))
            } else {
                (bad, format!("{p} is missing"))
            }
        }
        "iommu" => {
            let groups = std::fs::read_dir("/sys/kernel/iommu_groups").map(|d| d.count()).unwrap_or(0);
            if groups > 0 {
                (Status::Pass, format!("{groups} IOMMU groups"))
            } else {
                (Status::Warn, "no IOMMU group".into())
            }
        }
        "secure-guest" => {
            let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
            let sev = cpuinfo
                .lines()
                .find(|l| l.starts_with("flags"))
                .is_some_and(|l| l.split_whitespace().any(|f| f == "sev"));
            if sev {
                (Status::Unknown, "the CPU lists sev".into())
            } else {
                (Status::Warn, "no sev flag, no TDX: no encrypted guests".into())
            }
        }
        c => {
            let name = c.trim_start_matches("cgroup-");
            let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
            let v1 = mounts.lines().any(|l| {
                l.contains(" cgroup ") && l.split(' ').nth(3).is_some_and(|o| o.split(',').any(|x| x == name))
            });
            if v1 {
                (Status::Pass, format!("'{name}' mounted (cgroup v1)"))
            } else {
                (Status::Unknown, "see cgroup v2".into())
            }
        }
    }
}

fn processes(rounds: usize) {
    let exe = example();
    if !exe.exists() {
        eprintln!("preflight processes: {} is missing: run cargo build --release --example preflight", exe.display());
        return;
    }
    let a = || {
        let mut c = Command::new(&exe);
        c.args(["--profile", "cloudstack", "--json"]);
        c
    };
    let b = || {
        let mut c = Command::new("virt-host-validate");
        c.arg("qemu");
        c
    };
    if Command::new("virt-host-validate").arg("--version").output().is_err() {
        eprintln!("preflight processes: virt-host-validate is not installed (libvirt-clients)");
        return;
    }
    for _ in 0..3 {
        wall(&mut a());
        wall(&mut b());
    }
    let (mut ta, mut tb, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        let (x, y) = if i % 2 == 0 {
            let x = wall(&mut a());
            (x, wall(&mut b()))
        } else {
            let y = wall(&mut b());
            (wall(&mut a()), y)
        };
        ta.push(x.as_secs_f64() * 1e3);
        tb.push(y.as_secs_f64() * 1e3);
        ratio.push(y.as_secs_f64() / x.as_secs_f64());
    }
    let (a1, a2, a3) = quartiles(ta);
    let (b1, b2, b3) = quartiles(tb);
    let (r1, r2, r3) = quartiles(ratio);
    println!("preflight processes ({rounds} alternating rounds, wall ms, quartiles 25/50/75):");
    println!("  kvmhost preflight --profile cloudstack --json   {a1:.2} / {a2:.2} / {a3:.2}");
    println!("  virt-host-validate qemu                          {b1:.2} / {b2:.2} / {b3:.2}");
    println!("  per-round ratio virt-host-validate / kvmhost     {r1:.2}x / {r2:.2}x / {r3:.2}x");

    // Verdicts, side by side.
    let out = b().output().expect("virt-host-validate runs");
    let vhv = String::from_utf8_lossy(&out.stdout).into_owned();
    let report: Report = Profile::cloudstack().run(&Gatherer::live().gather());
    let json = a().output().expect("the example runs");
    let contract: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON on stdout");
    let ours = |id: &str| {
        contract["checks"].as_array().and_then(|c| c.iter().find(|c| c["id"] == id)).map(|c| {
            (c["status"].as_str().unwrap_or("?").to_uppercase(), c["message"].as_str().unwrap_or("").to_string())
        })
    };
    println!(
        "\nverdicts: virt-host-validate asks {} questions, kvmhost --profile cloudstack checks {}",
        vhv.lines().filter(|l| l.contains("Checking")).count(),
        report.checks.len()
    );
    println!("| virt-host-validate qemu | its verdict | kvmhost check | kvmhost | ground truth | wrong |");
    println!("|---|---|---|---|---|---|");
    for line in vhv.lines().filter(|l| l.contains("Checking")) {
        let (q, verdict) =
            line.split_once(": ").map(|(_, r)| r).unwrap_or(line).split_once(": ").unwrap_or((line, "?"));
        let Some(id) = question(line) else { continue };
        let (status, _msg) = ours(id).unwrap_or(("MISSING".into(), String::new()));
        let (truth, why) = ground_truth(id);
        let truth_s = truth.to_string().to_uppercase();
        let word = verdict.split_whitespace().next().unwrap_or("?");
        let wrong = |v: &str| truth != Status::Unknown && v != truth_s;
        let mark = match (wrong(word), wrong(&status)) {
            (true, true) => "both",
            (true, false) => "virt-host-validate",
            (false, true) => "kvmhost",
            (false, false) => "",
        };
        println!(
            "| {} | {} | {id} | {status} | {truth_s} ({why}) | {mark} |",
            q.trim().trim_start_matches("Checking "),
            verdict.trim()
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--processes") {
        let rounds = args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(200);
        processes(rounds);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("preflight");
    g.sample_size(50).measurement_time(Duration::from_secs(5));
    let profile = Profile::cloudstack();
    g.bench_function("gather_evaluate_live", |b| {
        b.iter(|| black_box(profile.run(&Gatherer::live().gather())));
    });
    let root = fixture();
    g.bench_function("gather_evaluate_fixture", |b| {
        b.iter(|| black_box(profile.run(&Gatherer::new(&root).gather())));
    });
    let facts = Gatherer::live().gather();
    g.bench_function("evaluate", |b| b.iter(|| black_box(profile.run(&facts))));
    g.finish();
    c.final_summary();
}
