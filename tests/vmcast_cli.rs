//! The `vmcast` example CLI as other tools call it: the built binary spawned as a process, its
//! exit status, stdout and stderr checked (the contract in the example's docs and issue 12).
//!
//! The binary is the one `cargo test` builds next to this test (`target/PROFILE/examples/
//! vmcast`, examples are built by `cargo test`); when it is missing or older than its sources
//! (`cargo test --test vmcast_cli` alone builds no example) it is built first with `cargo build
//! --example vmcast` — into this target directory, or, when the calling cargo holds its lock,
//! into `target/vmcast-cli/`. `KVMHOST_VMCAST=/path/to/vmcast` overrides all that.
//!
//! The network tests use the nginx of `scripts/services/http.sh` (`KVMHOST_HTTP_URL`,
//! `KVMHOST_HTTP_ROOT`; scripts/test.sh starts it) and print SKIP without it.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

const MIB: u64 = 1 << 20;

/// Newest modification time of the files under `dirs` (the binary's sources).
fn newest_source(dirs: &[PathBuf]) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut stack = dirs.to_vec();
    while let Some(p) = stack.pop() {
        let Ok(m) = fs::metadata(&p) else { continue };
        if m.is_dir() {
            stack.extend(fs::read_dir(&p).unwrap().filter_map(|e| e.ok()).map(|e| e.path()));
        } else if let Ok(t) = m.modified() {
            newest = newest.max(t);
        }
    }
    newest
}

/// Runs `cargo build --example vmcast` into `target_dir`; `None` when it would wait for the
/// lock another cargo (the one running this test) holds.
fn cargo_build(target_dir: &Path, release: bool) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--example", "vmcast", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if release {
        cmd.arg("--release");
    }
    let mut child = cmd.spawn().expect("running cargo");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    for line in stderr.lines() {
        let line = line.unwrap_or_default();
        if line.contains("Blocking waiting for file lock") {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        log.push_str(&line);
        log.push('\n');
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "cargo build --example vmcast failed:\n{log}");
    Some(target_dir.join(if release { "release" } else { "debug" }).join("examples").join("vmcast"))
}

/// The vmcast binary (see the module's docs).
fn vmcast() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(p) = std::env::var("KVMHOST_VMCAST") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).expect("target/PROFILE/deps/TEST");
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let bin = profile_dir.join("examples").join("vmcast");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let sources = newest_source(&[
            root.join("examples/vmcast.rs"),
            root.join("src"),
            root.join("kvmhost-templates/src"),
            root.join("kvmhost-core/src"),
            root.join("kvmhost-libvirt/src"),
            root.join("Cargo.lock"),
        ]);
        let fresh = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).is_ok_and(|t| t >= sources);
        if fresh(&bin) {
            return bin;
        }
        let target = profile_dir.parent().unwrap();
        if let Some(b) = cargo_build(target, release) {
            return b;
        }
        eprintln!("vmcast_cli: the target directory is locked; building vmcast into target/vmcast-cli");
        cargo_build(&target.join("vmcast-cli"), release).expect("a private target directory is not locked")
    })
}

fn run(args: &[&str]) -> Output {
    Command::new(vmcast()).args(args).output().expect("running vmcast")
}

/// Runs and requires success; returns stdout.
fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "vmcast {args:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs and requires failure with one line on stderr that contains `needle`; returns it.
fn fails(args: &[&str], needle: &str) -> String {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "vmcast {args:?} succeeded: {}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(err.trim_end().lines().count(), 1, "one line on stderr: {err:?}");
    assert!(err.contains(needle), "{err:?} does not name {needle:?}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn server() -> Option<(String, PathBuf)> {
    match (std::env::var("KVMHOST_HTTP_URL"), std::env::var("KVMHOST_HTTP_ROOT")) {
        (Ok(u), Ok(r)) => Some((u, PathBuf::from(r))),
        _ => {
            println!("SKIP: http not started (eval \"$(scripts/services/http.sh start)\"; scripts/test.sh does)");
            None
        }
    }
}

/// A directory under the web server's root, removed at the end.
struct Published(PathBuf);

impl Drop for Published {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn publish(root: &Path, tag: &str) -> (Published, String) {
    let name = format!("cli-{tag}-{}", std::process::id());
    let dir = root.join(&name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir(&dir).unwrap();
    (Published(dir), name)
}

/// Incompressible deterministic bytes (xorshift).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// A template in `dir`: `vda.img` (sparse, `apparent` bytes, `data` bytes of noise at 0 and a
/// MiB at the middle) and `tpl.xml`, whose disk points at it.
fn template(dir: &Path, apparent: u64, data: usize) -> (PathBuf, PathBuf) {
    let img = dir.join("vda.img");
    let f = fs::File::create(&img).unwrap();
    f.set_len(apparent).unwrap();
    f.write_all_at(&noise(data, 1), 0).unwrap();
    f.write_all_at(&noise(MIB as usize, 2), apparent / 2).unwrap();
    let xml = dir.join("tpl.xml");
    fs::write(
        &xml,
        "<domain type='kvm'><name>tpl</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64'>hvm</type></os><devices>\
         <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/srv/old/vda.img'/>\
         <target dev='vda' bus='virtio'/></disk>\
         <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/></interface>\
         </devices></domain>",
    )
    .unwrap();
    (xml, img)
}

#[test]
fn help_names_every_subcommand() {
    let out = ok(&["--help"]);
    for sub in ["pack", "verify", "unpack", "feed", "list", "download", "instantiate", "keygen"] {
        assert!(out.contains(sub), "--help lacks {sub}: {out}");
        let h = ok(&[sub, "--help"]);
        assert!(h.contains("Usage: vmcast"), "{sub} --help: {h}");
    }
    assert!(ok(&["instantiate", "--help"]).contains("--pool"));
    // Usage errors: clap's exit status 2.
    let out = run(&["pack"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn local_pack_verify_unpack_instantiate_and_errors() {
    let t = tempfile::tempdir().unwrap();
    let (xml, img) = template(t.path(), 64 * MIB, 2 * MIB as usize);
    let keys = ok(&["keygen", s(&t.path().join("k"))]);
    assert_eq!(keys.lines().count(), 2);
    let (sk, pk) = (t.path().join("k.key"), t.path().join("k.pub"));
    let pkg = t.path().join("tpl.vmcast");
    let out = ok(&["pack", s(&xml), "--disk", s(&img), "--sign", s(&sk), "-o", s(&pkg)]);
    assert!(out.starts_with(s(&pkg)), "{out}");
    let v = ok(&["verify", s(&pkg), "--trust", s(&pk)]);
    assert!(v.contains("OK") && v.contains("verified"), "{v}");
    // .xvm2 too, detected by content under any name.
    let old = t.path().join("old.bin");
    ok(&["pack", s(&xml), "--disk", s(&img), "--format", "xvm2", "-o", s(&old)]);
    assert!(ok(&["verify", s(&old)]).contains("xvm2"));
    let un = t.path().join("un");
    let files = ok(&["unpack", s(&old), s(&un)]);
    assert!(files.lines().any(|l| l.ends_with("vda.img")), "{files}");
    assert_eq!(fs::read(un.join("vda.img")).unwrap(), fs::read(&img).unwrap());

    // instantiate prints the new XML's path; the disk is the VM's, sparse, identical.
    let vm = t.path().join("vm");
    let printed = ok(&["instantiate", s(&pkg), "--name", "web1", s(&vm), "--trust", s(&pk)]);
    let xml_path = PathBuf::from(printed.trim());
    assert_eq!(xml_path, fs::canonicalize(&vm).unwrap().join("web1.xml"));
    let new = fs::read_to_string(&xml_path).unwrap();
    assert!(new.contains("<name>web1</name>") && !new.contains("52:54:00:aa:bb:cc") && !new.contains("/srv/old"));
    assert!(new.contains(&format!("{}/vda.img", fs::canonicalize(&vm).unwrap().display())), "{new}");
    assert_eq!(fs::read(vm.join("vda.img")).unwrap(), fs::read(&img).unwrap());
    assert!(fs::metadata(vm.join("vda.img")).unwrap().blocks() * 512 < 8 * MIB);

    // Errors: one line naming the file, non-zero exit, nothing left behind.
    let (_, other) = {
        ok(&["keygen", s(&t.path().join("other"))]);
        ((), t.path().join("other.pub"))
    };
    fails(&["verify", s(&pkg), "--trust", s(&other)], s(&pkg));
    let mut bytes = fs::read(&pkg).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 0x55;
    let bad = t.path().join("bad.vmcast");
    fs::write(&bad, &bytes).unwrap();
    fails(&["verify", s(&bad)], s(&bad));
    fails(&["unpack", s(&bad), s(&t.path().join("nope"))], s(&bad));
    assert!(!t.path().join("nope").join("vda.img").exists());
    fails(&["verify", s(&t.path().join("missing.vmcast"))], "missing.vmcast");
    fails(&["pack", s(&xml), "--disk", s(&t.path().join("gone.img")), "-o", s(&t.path().join("x"))], "gone.img");
    fails(&["instantiate", s(&pkg), "--name", "web1", s(&vm)], "already exists");
}

#[test]
fn publish_subscribe_download_verify_instantiate_over_http() {
    let Some((url, root)) = server() else { return };
    let t = tempfile::tempdir().unwrap();
    let (pubd, name) = publish(&root, "flow");
    let (xml, img) = template(t.path(), 256 * MIB, 3 * MIB as usize);
    ok(&["keygen", s(&t.path().join("k"))]);
    let (sk, pk) = (t.path().join("k.key"), t.path().join("k.pub"));
    ok(&["pack", s(&xml), "--disk", s(&img), "--sign", s(&sk), "-o", s(&pubd.0.join("web.vmcast"))]);
    ok(&["pack", s(&xml), "--disk", s(&img), "--format", "xvm2", "-o", s(&pubd.0.join("old.xvm2"))]);
    let base = format!("{url}/{name}");
    let rss = ok(&["feed", s(&pubd.0), "--base-url", &base]);
    assert_eq!(rss.trim(), s(&pubd.0.join("rss.xml")));

    let feed_url = format!("{base}/rss.xml");
    let listed: serde_json::Value = serde_json::from_str(&ok(&["list", &feed_url, "--json"])).unwrap();
    let items = listed.as_array().unwrap();
    assert_eq!(items.len(), 2);
    let web = items.iter().find(|i| i["url"].as_str().unwrap().ends_with("/web.vmcast")).unwrap();
    for k in ["uuid", "title", "url", "size", "date"] {
        assert!(!web[k].is_null(), "{k} missing in {web}");
    }
    assert_eq!(web["size"].as_u64().unwrap(), fs::metadata(pubd.0.join("web.vmcast")).unwrap().len());
    let uuid = web["uuid"].as_str().unwrap().to_string();
    // One line per appliance without --json, the file path works like the URL.
    assert_eq!(ok(&["list", s(&pubd.0.join("rss.xml"))]).lines().count(), 2);

    let cache = t.path().join("cache");
    let got = ok(&["download", &feed_url, &uuid, s(&cache), "--trust", s(&pk)]);
    let path = PathBuf::from(got.trim());
    assert_eq!(fs::read(&path).unwrap(), fs::read(pubd.0.join("web.vmcast")).unwrap());
    assert!(ok(&["verify", s(&path), "--trust", s(&pk)]).contains("verified"));
    let vm = t.path().join("vm");
    let printed = ok(&["instantiate", s(&path), "--name", "web2", s(&vm), "--trust", s(&pk)]);
    assert!(fs::read_to_string(printed.trim()).unwrap().contains("<name>web2</name>"));
    assert_eq!(fs::read(vm.join("vda.img")).unwrap(), fs::read(&img).unwrap());
    // Requiring a signature refuses the unsigned Archipel package, naming it.
    let old = items.iter().find(|i| i["url"].as_str().unwrap().ends_with("/old.xvm2")).unwrap();
    fails(&["download", &feed_url, old["uuid"].as_str().unwrap(), s(&cache), "--trust", s(&pk)], "signature");
    // A feed that does not exist: one line naming it.
    fails(&["list", &format!("{base}/nope.xml")], "nope.xml");
}

/// A download through the server's 1 MiB/s location, killed (SIGKILL) midway, then run again:
/// it resumes with a Range request (the server answers 206), completes and verifies.
#[test]
fn a_download_killed_midway_resumes_and_verifies() {
    let Some((url, root)) = server() else { return };
    let t = tempfile::tempdir().unwrap();
    let (pubd, name) = publish(&root, "killed");
    // ~4 MiB of noise: about 4 s at 1 MiB/s.
    let (xml, img) = template(t.path(), 64 * MIB, 3 * MIB as usize);
    ok(&["keygen", s(&t.path().join("k"))]);
    let (sk, pk) = (t.path().join("k.key"), t.path().join("k.pub"));
    let pkg = pubd.0.join("web.vmcast");
    ok(&["pack", s(&xml), "--disk", s(&img), "--sign", s(&sk), "-o", s(&pkg)]);
    let total = fs::metadata(&pkg).unwrap().len();
    let base = format!("{url}/slow/{name}");
    ok(&["feed", s(&pubd.0), "--base-url", &base]);
    let feed_url = format!("{base}/rss.xml");
    let listed: serde_json::Value = serde_json::from_str(&ok(&["list", &feed_url, "--json"])).unwrap();
    let uuid = listed[0]["uuid"].as_str().unwrap().to_string();

    let cache = t.path().join("cache");
    let partial = cache.join(format!("{uuid}.part"));
    let mut child = Command::new(vmcast())
        .args(["download", &feed_url, &uuid, s(&cache), "--trust", s(&pk)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let cut = loop {
        let have = fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        if have >= MIB {
            break have;
        }
        assert!(child.try_wait().unwrap().is_none(), "the download ended before it was cut");
        assert!(start.elapsed() < Duration::from_secs(30), "no progress: {have} bytes");
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = fs::metadata(&partial).unwrap().len();
    assert!(kept >= cut && kept < total, "partial file of {kept} bytes of {total}");
    assert!(fs::read_dir(&cache).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".vmcast")));

    let access = root.parent().unwrap().join("access.log");
    let log_before = fs::read_to_string(&access).unwrap_or_default().len();
    let got = ok(&["download", &feed_url, &uuid, s(&cache), "--trust", s(&pk)]);
    let path = PathBuf::from(got.trim());
    assert_eq!(fs::read(&path).unwrap(), fs::read(&pkg).unwrap());
    assert!(!partial.exists());
    let log = fs::read_to_string(&access).unwrap_or_default();
    let resumed = log[log_before.min(log.len())..]
        .lines()
        .any(|l| l.contains(&format!("/slow/{name}/web.vmcast")) && l.contains(" 206 "));
    assert!(resumed, "no 206 for the resumed download in {}", access.display());
    assert!(ok(&["verify", s(&path), "--trust", s(&pk)]).contains("verified"));
}
