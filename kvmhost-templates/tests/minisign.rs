//! Binary compatibility with the real `minisign` tool (Debian's `minisign` 0.11, installed by
//! `scripts/install-deps.sh test`): keys, signatures and signed packages made by this crate
//! verify with `minisign -V`, and keys and signatures made by `minisign` work here — both
//! ways, unencrypted and password-protected keys. Every test prints SKIP (with the reason) and
//! returns when the `minisign` binary is absent.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{data, sparse_image};
use kvmhost_core::domain::Domain;
use kvmhost_templates::archive::{self, PackRequest, ReadOptions, SignatureStatus};
use kvmhost_templates::signing::{self, PublicKey, SecretKey, SigningError};

/// `minisign` with `args`, `stdin` fed to it; `None` (after printing SKIP) when it is absent.
fn minisign(args: &[&str], stdin: &str) -> Option<Output> {
    let child =
        Command::new("minisign").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("SKIP: the minisign binary is not installed (scripts/install-deps.sh test installs it)");
            return None;
        }
        Err(e) => panic!("running minisign: {e}"),
    };
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    Some(child.wait_with_output().unwrap())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: minisign failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A signed native package of a small sparse image, written to `dir/tpl.vmcast`.
fn signed_package(dir: &Path, key: &SecretKey) -> std::path::PathBuf {
    let img = dir.join("vda.img");
    sparse_image(&img, 16 << 20, &[(0, &data(1 << 20, 5)), (9 << 20, &data(4096, 6))]);
    let d = Domain::parse("<domain type='kvm'><name>tpl</name></domain>").unwrap();
    let mut req = PackRequest::new(&d, vec![img]);
    req.sign = Some(key);
    let pkg = dir.join("tpl.vmcast");
    archive::pack(&req, &pkg, &mut |_| {}).unwrap();
    pkg
}

#[test]
fn our_keys_and_signatures_verify_with_minisign() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    let (sk, pk) = signing::generate_keypair().unwrap();
    fs::write(p.join("k.pub"), pk.to_text()).unwrap();
    fs::write(p.join("k.key"), signing::secret_key_text(&sk).unwrap()).unwrap();
    let msg = data(100_000, 1);
    fs::write(p.join("m"), &msg).unwrap();
    fs::write(p.join("m.minisig"), signing::sign(&sk, &msg).unwrap()).unwrap();

    let Some(out) = minisign(&["-V", "-p", s(&p.join("k.pub")), "-m", s(&p.join("m"))], "") else { return };
    assert_ok(&out, "our signature");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("key {}", pk.key_id())), "trusted comment");
    // The bare public key on the command line (-P) too.
    let b64 = pk.to_text().lines().last().unwrap().to_string();
    assert_ok(&minisign(&["-V", "-P", &b64, "-m", s(&p.join("m"))], "").unwrap(), "-P");
    // minisign refuses tampered data and another key.
    fs::write(p.join("m"), data(100_000, 2)).unwrap();
    assert!(!minisign(&["-V", "-p", s(&p.join("k.pub")), "-m", s(&p.join("m"))], "").unwrap().status.success());
    let (_, other) = signing::generate_keypair().unwrap();
    fs::write(p.join("o.pub"), other.to_text()).unwrap();
    fs::write(p.join("m"), &msg).unwrap();
    assert!(!minisign(&["-V", "-p", s(&p.join("o.pub")), "-m", s(&p.join("m"))], "").unwrap().status.success());

    // Our secret key file signs with minisign (unencrypted: no password asked).
    fs::write(p.join("n"), b"signed by the minisign tool with our key file").unwrap();
    assert_ok(&minisign(&["-S", "-s", s(&p.join("k.key")), "-m", s(&p.join("n"))], "").unwrap(), "-S with our key");
    let sig = fs::read_to_string(p.join("n.minisig")).unwrap();
    assert_eq!(signing::verify(std::slice::from_ref(&pk), &fs::read(p.join("n")).unwrap(), &sig).unwrap(), pk.key_id());

    // A signed package: its unpacked manifest and signature verify with minisign.
    let pkg = signed_package(p, &sk);
    let out = p.join("out");
    archive::unpack(&pkg, &out, &ReadOptions::trusting(vec![pk.clone()]), &mut |_| {}).unwrap();
    assert!(out.join("manifest.json.minisig").exists());
    assert_ok(
        &minisign(&["-V", "-p", s(&p.join("k.pub")), "-m", s(&out.join("manifest.json"))], "").unwrap(),
        "the package's manifest",
    );
}

#[test]
fn minisign_keys_and_signatures_work_here() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    // An unencrypted pair (-W) and a password-protected one (the password read from stdin).
    let Some(out) = minisign(&["-G", "-W", "-p", s(&p.join("w.pub")), "-s", s(&p.join("w.key"))], "") else {
        return;
    };
    assert_ok(&out, "-G -W");
    assert_ok(
        &minisign(&["-G", "-p", s(&p.join("e.pub")), "-s", s(&p.join("e.key"))], "s3cret\ns3cret\n").unwrap(),
        "-G",
    );
    let wpub = PublicKey::from_file(&p.join("w.pub")).unwrap();
    let epub = PublicKey::from_file(&p.join("e.pub")).unwrap();
    let wkey = SecretKey::from_file(&p.join("w.key"), None).unwrap();
    assert_eq!(wkey.key_id(), wpub.key_id());
    assert!(matches!(SecretKey::from_file(&p.join("e.key"), None), Err(SigningError::Encrypted { .. })));
    assert!(matches!(SecretKey::from_file(&p.join("e.key"), Some("wrong")), Err(SigningError::Encrypted { .. })));
    let ekey = SecretKey::from_file(&p.join("e.key"), Some("s3cret")).unwrap();
    assert_eq!(ekey.key_id(), epub.key_id());

    // Signatures by the tool (prehashed, minisign's default) verify here; tampering does not.
    let msg = data(50_000, 3);
    fs::write(p.join("m"), &msg).unwrap();
    assert_ok(&minisign(&["-S", "-s", s(&p.join("w.key")), "-m", s(&p.join("m"))], "").unwrap(), "-S");
    assert_ok(
        &minisign(
            &["-S", "-s", s(&p.join("e.key")), "-m", s(&p.join("m")), "-x", s(&p.join("m.e.minisig"))],
            "s3cret\n",
        )
        .unwrap(),
        "-S encrypted",
    );
    let wsig = fs::read_to_string(p.join("m.minisig")).unwrap();
    let esig = fs::read_to_string(p.join("m.e.minisig")).unwrap();
    assert_eq!(signing::signature_key_id(&wsig).unwrap(), wpub.key_id());
    let both = [wpub.clone(), epub.clone()];
    assert_eq!(signing::verify(&both, &msg, &wsig).unwrap(), wpub.key_id());
    assert_eq!(signing::verify(&both, &msg, &esig).unwrap(), epub.key_id());
    assert!(matches!(signing::verify(&both, &data(50_000, 4), &wsig), Err(SigningError::Invalid(_))));
    assert!(matches!(signing::verify(std::slice::from_ref(&epub), &msg, &wsig), Err(SigningError::UntrustedKey(_))));

    // Packages signed with minisign's keys verify here against their public keys, and the
    // manifest's signature with the tool.
    for (key, public, name) in [(&wkey, &wpub, "w"), (&ekey, &epub, "e")] {
        let d = p.join(name);
        fs::create_dir(&d).unwrap();
        let pkg = signed_package(&d, key);
        let got = archive::verify(&pkg, &ReadOptions::trusting(vec![public.clone()]), &mut |_| {}).unwrap();
        assert_eq!(got.signature, SignatureStatus::Verified(public.key_id()));
        let out = d.join("out");
        archive::unpack(&pkg, &out, &ReadOptions::default(), &mut |_| {}).unwrap();
        let pubfile = p.join(format!("{name}.pub"));
        assert_ok(
            &minisign(&["-V", "-p", s(&pubfile), "-m", s(&out.join("manifest.json"))], "").unwrap(),
            "manifest signed with the tool's key",
        );
    }
}
