//! VMCast packages: kvmhost's native format against `tar --sparse | zstd -T0 -3` and against
//! Archipel's way (gzip -9 per disk, then a plain tar), side by side in one run.
//!
//! ```sh
//! cargo bench --bench templates                    # 5 rounds, 2 of Archipel's way on the 4 GiB image
//! cargo bench --bench templates -- --rounds 7 --archipel-rounds 3
//! cargo bench --bench templates -- --images sparse4g --rounds 9 --archipel-rounds 1 --archipel-unpack-rounds 9
//! ```
//!
//! `--images a,b` measures only those images; `--archipel-unpack-rounds N` (default: the pack
//! rounds) unpacks Archipel's package N times, each paired with a kvmhost unpack+verify in the
//! same round, and prints the quartiles of the per-round ratio.
//!
//! Images (built once under `target/bench-templates/`, content taken from the files of
//! `/usr/lib` in a sorted walk, the same bytes for every image: real binaries and libraries,
//! compressible like real disk content):
//! `sparse4g` (4 GiB apparent, 256 MiB of data in 64 extents of 4 MiB), `sparse40g` (the same
//! 64 extents spread over 40 GiB apparent), `dense1g` (1 GiB written in full). Every round runs
//! each side once, in alternating order, on warm page caches; the medians of the wall times, and
//! the medians of the per-round ratios (both sides timed under the same load), are printed and
//! written as JSON lines to `target/bench/templates.jsonl`. kvmhost's pack is timed twice:
//! fsync'd before the rename (what the CLI does) and without (what `zstd -o` does).
//!
//! kvmhost's pack and unpack include the SHA-256 of every member (unpack verifies them); tar +
//! zstd computes none. kvmhost runs in this process (library calls); the others as `sh -c`
//! pipelines of Debian's GNU tar 1.34, zstd 1.5.4 and gzip.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use kvmhost::core::domain::Domain;
use kvmhost::templates::archive::{self, PackRequest, ReadOptions};
use nix::sys::resource::{getrusage, UsageWho};

const MIB: u64 = 1 << 20;

/// Content: the bytes of the files under /usr/lib (sorted walk), cycled.
struct Content {
    files: Vec<PathBuf>,
    next: usize,
    cur: Option<File>,
}

impl Content {
    fn new() -> Content {
        let mut files = Vec::new();
        let mut stack = vec![PathBuf::from("/usr/lib")];
        while let Some(d) = stack.pop() {
            let Ok(rd) = fs::read_dir(&d) else { continue };
            let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let Ok(m) = fs::symlink_metadata(e.path()) else { continue };
                if m.is_dir() {
                    stack.push(e.path());
                } else if m.is_file() && m.len() > 0 {
                    files.push(e.path());
                }
            }
        }
        Content { files, next: 0, cur: None }
    }

    fn fill(&mut self, buf: &mut [u8]) {
        let mut n = 0;
        while n < buf.len() {
            if self.cur.is_none() {
                self.cur = File::open(&self.files[self.next % self.files.len()]).ok();
                self.next += 1;
                continue;
            }
            match self.cur.as_mut().unwrap().read(&mut buf[n..]) {
                Ok(0) | Err(_) => self.cur = None,
                Ok(k) => n += k,
            }
        }
    }
}

fn build_image(path: &Path, apparent: u64, extents: &[(u64, u64)], content: &mut Content) {
    if fs::metadata(path).map(|m| m.len() == apparent).unwrap_or(false) {
        return;
    }
    let f = File::create(path).unwrap();
    f.set_len(apparent).unwrap();
    let mut buf = vec![0u8; 4 * MIB as usize];
    for &(off, len) in extents {
        let mut done = 0;
        while done < len {
            let n = (len - done).min(buf.len() as u64) as usize;
            content.fill(&mut buf[..n]);
            f.write_all_at(&buf[..n], off + done).unwrap();
            done += n as u64;
        }
    }
    f.sync_all().unwrap();
}

/// User + system CPU seconds of this process (all threads) or of its waited-for children.
fn cpu(who: UsageWho) -> f64 {
    let u = getrusage(who).unwrap();
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    secs(u.user_time()) + secs(u.system_time())
}

thread_local! {
    /// CPU seconds of the last timed run (a side effect read after each `sh`/`time`).
    static LAST_CPU: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

fn last_cpu() -> f64 {
    LAST_CPU.with(|c| c.get())
}

fn sh(cmd: &str) -> f64 {
    let c0 = cpu(UsageWho::RUSAGE_CHILDREN);
    let t = Instant::now();
    let st = Command::new("sh").arg("-c").arg(cmd).status().unwrap();
    assert!(st.success(), "{cmd}");
    let wall = t.elapsed().as_secs_f64();
    LAST_CPU.with(|c| c.set(cpu(UsageWho::RUSAGE_CHILDREN) - c0));
    wall
}

fn time(f: impl FnOnce()) -> f64 {
    let c0 = cpu(UsageWho::RUSAGE_SELF);
    let t = Instant::now();
    f();
    let wall = t.elapsed().as_secs_f64();
    LAST_CPU.with(|c| c.set(cpu(UsageWho::RUSAGE_SELF) - c0));
    wall
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` / `cargo test --benches`: nothing to list
    }
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs bench binaries without --bench: do nothing there.
        println!("templates bench: run with `cargo bench --bench templates`");
        return;
    }
    let rounds = arg("--rounds", 5);
    let archipel_rounds = arg("--archipel-rounds", 2);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-templates");
    let img_dir = root.join("images");
    fs::create_dir_all(&img_dir).unwrap();
    let sparse_extents =
        |apparent: u64| -> Vec<(u64, u64)> { (0..64u64).map(|i| (i * (apparent / 64), 4 * MIB)).collect() };
    let images = [
        ("sparse4g", 4u64 << 30, sparse_extents(4 << 30)),
        ("sparse40g", 40u64 << 30, sparse_extents(40 << 30)),
        ("dense1g", 1u64 << 30, vec![(0, 1 << 30)]),
    ];
    let only: Vec<String> = std::env::args()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "--images")
        .flat_map(|w| w[1].split(',').map(String::from).collect::<Vec<_>>())
        .collect();
    let images: Vec<_> = images.into_iter().filter(|i| only.is_empty() || only.iter().any(|o| o == i.0)).collect();
    for (name, apparent, ext) in &images {
        let dir = img_dir.join(name);
        fs::create_dir_all(&dir).unwrap();
        // Every image starts from the same content: sparse4g and sparse40g hold the same bytes.
        build_image(&dir.join("disk.img"), *apparent, ext, &mut Content::new());
        let xml = format!(
            "<domain type='kvm'><name>{name}</name><memory unit='MiB'>512</memory><devices><disk type='file' device='disk'>\
             <driver name='qemu' type='raw'/><source file='{}'/><target dev='vda'/></disk></devices></domain>",
            dir.join("disk.img").display()
        );
        fs::write(dir.join("domain.xml"), xml).unwrap();
        // Warm the page cache (all sides read warm data).
        sh(&format!("tar --sparse -cf /dev/null -C {} disk.img", dir.display()));
    }
    let out = root.join("out");
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).unwrap();
    let jsonl = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench/templates.jsonl");
    fs::create_dir_all(jsonl.parent().unwrap()).unwrap();
    let mut log = fs::OpenOptions::new().create(true).append(true).open(&jsonl).unwrap();
    println!("{:<10} {:<22} {:>10} {:>12} {:>9}", "image", "side", "median s", "output MiB", "rounds");

    for (name, _, _) in &images {
        let dir = img_dir.join(name);
        let domain = Domain::parse(&fs::read_to_string(dir.join("domain.xml")).unwrap()).unwrap();
        let pkg = out.join(format!("{name}.vmcast"));
        let tzst = out.join(format!("{name}.tar.zst"));
        let xvm2 = out.join(format!("{name}.xvm2"));
        // Per round: kvmhost pack (fsync'd, as the CLI does), kvmhost pack without fsync (what
        // tar+zstd does), tar+zstd; then the two unpacks. Order alternates between rounds.
        let (mut k_pack, mut k_pack_ns, mut t_pack, mut k_unpack, mut t_unpack) =
            (vec![], vec![], vec![], vec![], vec![]);
        // CPU seconds (user + system), load-independent: [kvmhost pack, tar+zstd, kvmhost unpack, zstd+tar]
        let mut cpus: [Vec<f64>; 4] = Default::default();
        let (mut pair_pack, mut pair_pack_ns, mut pair_unpack) = (vec![], vec![], vec![]);
        for r in 0..rounds {
            let kvm = |sync: bool| {
                let _ = fs::remove_file(&pkg);
                let mut req = PackRequest::new(&domain, vec![dir.join("disk.img")]);
                req.sync = sync;
                time(|| {
                    archive::pack(&req, &pkg, &mut |_| {}).unwrap();
                })
            };
            let tar = || {
                let _ = fs::remove_file(&tzst);
                sh(&format!("tar --sparse -cf - -C {} disk.img | zstd -T0 -3 -q -o {}", dir.display(), tzst.display()))
            };
            let (k, kn, t) = if r % 2 == 0 {
                let k = kvm(true);
                cpus[0].push(last_cpu());
                let kn = kvm(false);
                let t = tar();
                cpus[1].push(last_cpu());
                (k, kn, t)
            } else {
                let t = tar();
                cpus[1].push(last_cpu());
                let kn = kvm(false);
                let k = kvm(true);
                cpus[0].push(last_cpu());
                (k, kn, t)
            };
            k_pack.push(k);
            k_pack_ns.push(kn);
            t_pack.push(t);
            pair_pack.push(t / k);
            pair_pack_ns.push(t / kn);
            let ku = out.join("k-unpacked");
            let tu = out.join("t-unpacked");
            let kvm_u = || {
                let _ = fs::remove_dir_all(&ku);
                let t = time(|| {
                    archive::unpack(&pkg, &ku, &ReadOptions::default(), &mut |_| {}).unwrap();
                });
                let _ = fs::remove_dir_all(&ku);
                t
            };
            let tar_u = || {
                let _ = fs::remove_dir_all(&tu);
                fs::create_dir_all(&tu).unwrap();
                let t = sh(&format!("zstd -d -T0 -q -c {} | tar -xf - -C {}", tzst.display(), tu.display()));
                let _ = fs::remove_dir_all(&tu);
                t
            };
            let (k, t) = if r % 2 == 0 {
                let k = kvm_u();
                cpus[2].push(last_cpu());
                let t = tar_u();
                cpus[3].push(last_cpu());
                (k, t)
            } else {
                let t = tar_u();
                cpus[3].push(last_cpu());
                let k = kvm_u();
                cpus[2].push(last_cpu());
                (k, t)
            };
            k_unpack.push(k);
            t_unpack.push(t);
            pair_unpack.push(t / k);
        }
        let size = |p: &Path| fs::metadata(p).map(|m| m.len() as f64 / MIB as f64).unwrap_or(0.0);
        let mut rows = vec![
            ("kvmhost pack", median(&mut k_pack), size(&pkg), rounds),
            ("kvmhost pack (no fsync)", median(&mut k_pack_ns), size(&pkg), rounds),
            ("tar+zstd -3 pack", median(&mut t_pack), size(&tzst), rounds),
            ("kvmhost unpack+verify", median(&mut k_unpack), 0.0, rounds),
            ("zstd+tar unpack", median(&mut t_unpack), 0.0, rounds),
        ];
        let [c0, c1, c2, c3] = &mut cpus;
        let (c0, c1, c2, c3) = (median(c0), median(c1), median(c2), median(c3));
        println!(
            "{name:<10} CPU seconds (user+sys, median): kvmhost pack {c0:.3}, tar+zstd {c1:.3}; kvmhost unpack+verify {c2:.3}, zstd+tar {c3:.3}"
        );
        writeln!(
            log,
            "{{\"image\":\"{name}\",\"cpu_kvmhost_pack\":{c0:.3},\"cpu_tar_zstd_pack\":{c1:.3},\"cpu_kvmhost_unpack\":{c2:.3},\"cpu_zstd_tar_unpack\":{c3:.3}}}"
        )
        .unwrap();
        println!(
            "{name:<10} paired (tar+zstd / kvmhost, median of {rounds} rounds): pack {:.2}, pack without fsync {:.2}, unpack {:.2}",
            median(&mut pair_pack),
            median(&mut pair_pack_ns),
            median(&mut pair_unpack)
        );
        writeln!(
            log,
            "{{\"image\":\"{name}\",\"paired_pack\":{:.3},\"paired_pack_nofsync\":{:.3},\"paired_unpack\":{:.3}}}",
            median(&mut pair_pack),
            median(&mut pair_pack_ns),
            median(&mut pair_unpack)
        )
        .unwrap();
        if *name != "sparse40g" && archipel_rounds > 0 {
            // Archipel's way: gzip -9 of the whole (apparent) image, then a plain tar; unpacked
            // with tar -x then gunzip. Its unpack rounds are paired with a kvmhost unpack+verify
            // of the same image in the same round (order alternating).
            let (mut a_pack, mut a_unpack, mut pair_a_unpack) = (vec![], vec![], vec![]);
            let work = out.join("archipel");
            for _ in 0..archipel_rounds {
                let _ = fs::remove_dir_all(&work);
                fs::create_dir_all(&work).unwrap();
                a_pack.push(sh(&format!(
                    "gzip -9 -c {d}/disk.img > {w}/disk.img.gz && cp {d}/domain.xml {w}/description.xml && tar -cf {x} -C {w} description.xml disk.img.gz && rm {w}/disk.img.gz",
                    d = dir.display(),
                    w = work.display(),
                    x = xvm2.display()
                )));
            }
            let _ = fs::remove_dir_all(&work);
            let unpack_rounds = arg("--archipel-unpack-rounds", archipel_rounds);
            for r in 0..unpack_rounds {
                let au = out.join("a-unpacked");
                let ku = out.join("k-unpacked");
                let archipel = || {
                    let _ = fs::remove_dir_all(&au);
                    fs::create_dir_all(&au).unwrap();
                    let t =
                        sh(&format!("tar -xf {} -C {a} && gunzip {a}/disk.img.gz", xvm2.display(), a = au.display()));
                    let _ = fs::remove_dir_all(&au);
                    t
                };
                let kvm = || {
                    let _ = fs::remove_dir_all(&ku);
                    let t = time(|| {
                        archive::unpack(&pkg, &ku, &ReadOptions::default(), &mut |_| {}).unwrap();
                    });
                    let _ = fs::remove_dir_all(&ku);
                    t
                };
                let (a, k) = if r % 2 == 0 {
                    let a = archipel();
                    (a, kvm())
                } else {
                    let k = kvm();
                    (archipel(), k)
                };
                a_unpack.push(a);
                pair_a_unpack.push(a / k);
            }
            rows.push(("archipel gzip-9+tar pack", median(&mut a_pack), size(&xvm2), archipel_rounds));
            rows.push(("archipel tar+gunzip unpack", median(&mut a_unpack), 0.0, unpack_rounds));
            if unpack_rounds > 0 {
                let q = |v: &mut Vec<f64>, f: f64| {
                    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
                    v[((v.len() - 1) as f64 * f).round() as usize]
                };
                let (lo, mid, hi) =
                    (q(&mut pair_a_unpack, 0.25), median(&mut pair_a_unpack), q(&mut pair_a_unpack, 0.75));
                println!(
                    "{name:<10} paired (archipel unpack / kvmhost unpack+verify, {unpack_rounds} rounds): quartiles {lo:.1} / {mid:.1} / {hi:.1}"
                );
                writeln!(
                    log,
                    "{{\"image\":\"{name}\",\"paired_archipel_unpack\":{mid:.2},\"paired_archipel_unpack_q1\":{lo:.2},\"paired_archipel_unpack_q3\":{hi:.2},\"rounds\":{unpack_rounds}}}"
                )
                .unwrap();
            }
        }
        for (side, s, mib, n) in &rows {
            println!("{name:<10} {side:<26} {s:>10.3} {mib:>12.1} {n:>9}");
            writeln!(log, "{{\"image\":\"{name}\",\"side\":\"{side}\",\"median_s\":{s:.4},\"output_mib\":{mib:.1},\"rounds\":{n}}}").unwrap();
        }
        let r = |a: &str, b: &str| {
            let x = rows.iter().find(|r| r.0 == a).map(|r| r.1);
            let y = rows.iter().find(|r| r.0 == b).map(|r| r.1);
            match (x, y) {
                (Some(x), Some(y)) => format!("{:.2}", y / x),
                _ => "-".into(),
            }
        };
        println!(
            "{name:<10} ratios (other / kvmhost, >1 = kvmhost faster): pack vs tar+zstd {}, unpack vs zstd+tar {}, pack vs archipel {}, unpack vs archipel {}",
            r("kvmhost pack", "tar+zstd -3 pack"),
            r("kvmhost unpack+verify", "zstd+tar unpack"),
            r("kvmhost pack", "archipel gzip-9+tar pack"),
            r("kvmhost unpack+verify", "archipel tar+gunzip unpack"),
        );
        let _ = fs::remove_file(&xvm2);
    }
}
