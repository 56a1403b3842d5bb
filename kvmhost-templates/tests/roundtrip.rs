//! Packages written and read back: sparse images keep their holes and bytes, `.xvm2` written by
//! this crate and an Archipel-layout package built here by hand are unpacked and instantiated,
//! signatures are required when keys are trusted, overlays are made with the real qemu-img.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use kvmhost_core::domain::Domain;
use kvmhost_templates::archive::{self, ArchiveError, Format, PackRequest, ReadOptions, SignatureStatus};
use kvmhost_templates::instantiate::{instantiate, InstantiateOptions};
use kvmhost_templates::signing;

fn domain_for(paths: &[&Path]) -> Domain {
    let p: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let refs: Vec<&str> = p.iter().map(String::as_str).collect();
    Domain::parse(&archipel_domain(&refs)).unwrap()
}

#[test]
fn native_round_trip_keeps_holes_and_bytes() {
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("vda.img");
    let a = data(3 << 20, 1);
    let b = data(1 << 20, 2);
    let apparent = 2u64 << 30; // 2 GiB apparent, 4 MiB of data
    sparse_image(&img, apparent, &[(0, &a), (1 << 30, &b), (apparent - 4096, &[7u8; 4096])]);
    let d = domain_for(&[&img]);
    let pkg = t.path().join("a.vmcast");
    let mut calls = 0;
    let rep = archive::pack(&PackRequest::new(&d, vec![img.clone()]), &pkg, &mut |_| calls += 1).unwrap();
    assert!(calls > 0, "progress reported");
    assert!(rep.size < 8 << 20, "package of {} bytes for 4 MiB of data", rep.size);
    let m = rep.manifest.unwrap();
    assert_eq!(m.disks[0].apparent_size, apparent);
    assert_eq!(m.disks[0].data_bytes, (4 << 20) + 4096);

    let out = t.path().join("out");
    let p = archive::unpack(&pkg, &out, &ReadOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(p.format, Format::Native);
    let back = out.join("vda.img");
    assert_eq!(fs::metadata(&back).unwrap().len(), apparent);
    assert!(allocated(&back) < 8 << 20, "restored sparse: {} bytes allocated", allocated(&back));
    let f = fs::File::open(&back).unwrap();
    let read = |off: u64, len: usize| {
        let mut v = vec![0u8; len];
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut v, off).unwrap();
        v
    };
    assert_eq!(read(0, a.len()), a);
    assert_eq!(read(1 << 30, b.len()), b);
    assert_eq!(read(apparent - 4096, 4096), vec![7u8; 4096]);
    assert!(read(512 << 20, 1 << 20).iter().all(|&x| x == 0));
    // du agrees: the file occupies its data, not its apparent size.
    let du = std::process::Command::new("du").arg("-k").arg(&back).output().unwrap();
    let kib: u64 = String::from_utf8_lossy(&du.stdout).split_whitespace().next().unwrap().parse().unwrap();
    assert!(kib < 8 * 1024, "du says {kib} KiB");
    assert!(out.join("domain.xml").exists() && out.join("manifest.json").exists());
    // Unpacking again into the same directory refuses and changes nothing.
    let before = snapshot(&out);
    let e = archive::unpack(&pkg, &out, &ReadOptions::default(), &mut |_| {}).unwrap_err();
    assert!(matches!(e, ArchiveError::TargetExists { .. }), "{e}");
    assert_eq!(snapshot(&out), before);
}

#[test]
fn signatures_are_required_when_keys_are_trusted() {
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("d.raw");
    sparse_image(&img, 1 << 20, &[(4096, b"x")]);
    let d = domain_for(&[&img]);
    let (sk, pk) = signing::generate_keypair().unwrap();
    let (_, other) = signing::generate_keypair().unwrap();
    let signed = t.path().join("s.vmcast");
    let mut req = PackRequest::new(&d, vec![img.clone()]);
    req.sign = Some(&sk);
    archive::pack(&req, &signed, &mut |_| {}).unwrap();
    let unsigned = t.path().join("u.vmcast");
    archive::pack(&PackRequest::new(&d, vec![img]), &unsigned, &mut |_| {}).unwrap();

    let ok = archive::verify(&signed, &ReadOptions::trusting(vec![pk.clone()]), &mut |_| {}).unwrap();
    assert_eq!(ok.signature, SignatureStatus::Verified(pk.key_id()));
    let unchecked = archive::verify(&signed, &ReadOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(unchecked.signature, SignatureStatus::Unchecked(pk.key_id()));
    let e = archive::verify(&signed, &ReadOptions::trusting(vec![other.clone()]), &mut |_| {}).unwrap_err();
    assert!(matches!(e, ArchiveError::Signature(signing::SigningError::UntrustedKey(_))), "{e}");
    let e = archive::verify(&unsigned, &ReadOptions::trusting(vec![pk]), &mut |_| {}).unwrap_err();
    assert!(matches!(e, ArchiveError::Unsigned), "{e}");
    // Key files written as minisign writes them are read back.
    let sk_file = t.path().join("k.key");
    fs::write(&sk_file, signing::secret_key_text(&sk).unwrap()).unwrap();
    assert_eq!(signing::SecretKey::from_file(&sk_file, None).unwrap().key_id(), sk.key_id());
    let _ = other;
}

#[test]
fn xvm2_written_and_read_back_in_archipel_layout() {
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("disk0.qcow2");
    let content = data(300_000, 3);
    sparse_image(&img, 4 << 20, &[(8192, &content)]);
    let d = domain_for(&[&img]);
    let mut snap_req = PackRequest::new(&d, vec![img.clone()]);
    snap_req.format = Format::Xvm2;
    snap_req.snapshots = vec!["<domainsnapshot><name>s0</name></domainsnapshot>".into()];
    let pkg = t.path().join("vm.xvm2");
    archive::pack(&snap_req, &pkg, &mut |_| {}).unwrap();
    assert_eq!(archive::detect(&pkg).unwrap(), Format::Xvm2);

    // The layout, read with an independent tar reader: names, order, gzip of the disk.
    let mut ar = tar::Archive::new(fs::File::open(&pkg).unwrap());
    let names: Vec<String> = ar.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
    assert_eq!(names, ["description.xml", "snapshot-0.xml", "disk0.qcow2.gz"]);
    let mut ar = tar::Archive::new(fs::File::open(&pkg).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        assert_eq!(e.header().entry_type(), tar::EntryType::Regular, "never sparse entries");
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut body).unwrap();
        match e.path().unwrap().to_str().unwrap() {
            "description.xml" => {
                let s = String::from_utf8(body).unwrap();
                assert!(s.starts_with("<domain"), "no XML declaration: {s}");
                assert!(s.contains(&img.display().to_string()), "original absolute path kept");
            }
            "disk0.qcow2.gz" => {
                let mut g = flate2::read::GzDecoder::new(&body[..]);
                let mut raw = Vec::new();
                std::io::Read::read_to_end(&mut g, &mut raw).unwrap();
                assert_eq!(raw.len(), 4 << 20);
                assert_eq!(&raw[8192..8192 + content.len()], &content[..]);
            }
            _ => {}
        }
    }
    let out = t.path().join("vm");
    let p = archive::unpack(&pkg, &out, &ReadOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(p.snapshots.len(), 1);
    assert_eq!(fs::read(out.join("disk0.qcow2")).unwrap(), fs::read(&img).unwrap());
    assert!(allocated(&out.join("disk0.qcow2")) < 1 << 20, "gunzipped sparse");

    // Raw disks when gzip is off.
    snap_req.gzip = false;
    let raw_pkg = t.path().join("raw.xvm2");
    archive::pack(&snap_req, &raw_pkg, &mut |_| {}).unwrap();
    let p = archive::verify(&raw_pkg, &ReadOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(p.disks[0].file_name, "disk0.qcow2");
    assert_eq!(p.disks[0].apparent_size, 4 << 20);
}

#[test]
fn archipel_package_built_by_hand_is_unpacked_and_instantiated() {
    let t = tempfile::tempdir().unwrap();
    // Exactly what appliancecompresser.py made: description.xml with the VM's original
    // absolute paths, the disks gzipped at level 9 as BASENAME.gz, a plain GNU tar.
    let disk_a = data(200_000, 4);
    let disk_b = vec![0u8; 1 << 20];
    let desc = archipel_domain(&["/vm/drives/6a1bf5e2/system.qcow2", "/vm/drives/6a1bf5e2/data.qcow2"]);
    let tar = raw_tar(&[
        ("description.xml", b'0', desc.as_bytes(), ""),
        ("system.qcow2.gz", b'0', &gzip9(&disk_a), ""),
        ("data.qcow2.gz", b'0', &gzip9(&disk_b), ""),
    ]);
    let pkg = t.path().join("1c2a8e3e.xvm2");
    fs::write(&pkg, tar).unwrap();
    let vm_dir = t.path().join("vms").join("web1");
    fs::create_dir(t.path().join("vms")).unwrap();
    let p = archive::unpack(&pkg, &vm_dir, &ReadOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(p.format, Format::Xvm2);
    assert_eq!(fs::read(vm_dir.join("system.qcow2")).unwrap(), disk_a);
    assert_eq!(fs::metadata(vm_dir.join("data.qcow2")).unwrap().len(), 1 << 20);
    assert_eq!(allocated(&vm_dir.join("data.qcow2")), 0, "an all-zero disk is all hole");

    let vm = instantiate(&p, &vm_dir, &InstantiateOptions::new("web1")).unwrap();
    let xml = fs::read_to_string(&vm.xml_path).unwrap();
    assert_eq!(vm.xml_path, vm_dir.join("web1.xml"));
    assert!(xml.contains(&format!("{}/system.qcow2", vm_dir.display())), "{xml}");
    assert!(xml.contains(&format!("{}/data.qcow2", vm_dir.display())));
    assert!(!xml.contains("/vm/drives/"));
    assert!(!xml.to_ascii_lowercase().contains("de:ad:0b"), "fresh MACs");
    assert_eq!(vm.macs.len(), 2);
    assert!(vm.macs.iter().all(|m| m.starts_with("52:54:00:")));
    let d = Domain::parse(&xml).unwrap();
    assert_eq!(d.name().as_deref(), Some("web1"));
    assert_ne!(d.uuid().as_deref(), Some("6a1bf5e2-5c7a-11e0-9ae1-0019d1b6c5d3"));
    assert!(xml.contains("<graphics type=\"vnc\" port=\"-1\""), "the rest is kept");
}

#[test]
fn overlays_on_a_golden_image_with_qemu_img() {
    if std::process::Command::new("qemu-img").arg("--version").output().is_err() {
        println!("SKIP: qemu-img not installed");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let base = t.path().join("golden.qcow2");
    let st =
        std::process::Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&base).arg("64M").status();
    assert!(st.unwrap().success());
    let d = domain_for(&[&base]);
    let pkg = t.path().join("g.vmcast");
    archive::pack(&PackRequest::new(&d, vec![base]), &pkg, &mut |_| {}).unwrap();
    let golden = t.path().join("golden");
    let p = archive::unpack(&pkg, &golden, &ReadOptions::default(), &mut |_| {}).unwrap();
    let vm_dir = t.path().join("vm1");
    let vm = instantiate(&p, &vm_dir, &InstantiateOptions::new("vm1").overlay()).unwrap();
    let overlay = vm_dir.join("vm1-golden.qcow2");
    assert_eq!(vm.disks, vec![overlay.clone()]);
    let info = std::process::Command::new("qemu-img").args(["info", "--output=json"]).arg(&overlay).output().unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["format"], "qcow2");
    let backing = info["full-backing-filename"].as_str().or(info["backing-filename"].as_str()).unwrap();
    assert_eq!(Path::new(backing), fs::canonicalize(golden.join("golden.qcow2")).unwrap());
    assert_eq!(info["backing-filename-format"], "qcow2");
    assert!(fs::read_to_string(&vm.xml_path).unwrap().contains(&overlay.display().to_string()));
    // A second VM from the same golden image.
    instantiate(&p, &t.path().join("vm2"), &InstantiateOptions::new("vm2").overlay()).unwrap();
    assert!(t.path().join("vm2/vm2-golden.qcow2").exists());
}

#[cfg(feature = "libvirt")]
#[test]
fn instantiated_domain_defines_on_the_test_driver() {
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("disk.qcow2");
    sparse_image(&img, 1 << 20, &[]);
    let d = domain_for(&[&img]);
    let pkg = t.path().join("p.vmcast");
    archive::pack(&PackRequest::new(&d, vec![img]), &pkg, &mut |_| {}).unwrap();
    let dir = t.path().join("vm");
    let p = archive::unpack(&pkg, &dir, &ReadOptions::default(), &mut |_| {}).unwrap();
    let vm = instantiate(&p, &dir, &InstantiateOptions::new("tpl-define")).unwrap();
    let conn = kvmhost_libvirt::Connection::open("test:///default").unwrap();
    let defined = kvmhost_templates::instantiate::define_on(&conn, &vm.domain).unwrap();
    assert_eq!(defined.name().as_deref(), Some("tpl-define"));
    assert_eq!(defined.uuid(), vm.domain.uuid());
    assert!(conn.lookup("tpl-define").is_ok());
}
