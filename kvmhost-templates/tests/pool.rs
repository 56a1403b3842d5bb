//! Instantiation into a libvirt storage pool (feature `libvirt`): volumes created in the pool,
//! the image data streamed into them, the domain's disks pointing at them.
//!
//! The upload needs a real libvirtd (the test driver has no `virStorageVolUpload`): the tests
//! that upload print SKIP when `KVMHOST_QEMU_URI` is unset (scripts/services/libvirtd.sh
//! exports it; scripts/test.sh starts the daemon). The clean-up test runs on `test:///default`.
#![cfg(feature = "libvirt")]

mod common;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use common::{allocated, data, sparse_image};
use kvmhost_core::domain::Domain;
use kvmhost_libvirt::{Connection, PoolSpec};
use kvmhost_templates::archive::{self, PackRequest, ReadOptions};
use kvmhost_templates::instantiate::{instantiate_in_pool, InstantiateError, InstantiateOptions};

const MIB: u64 = 1 << 20;

fn domain_xml(disks: &[&Path]) -> String {
    let mut d = String::new();
    for (i, p) in disks.iter().enumerate() {
        d.push_str(&format!(
            "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{}'/>\
             <target dev='vd{}' bus='virtio'/></disk>",
            p.display(),
            (b'a' + i as u8) as char
        ));
    }
    format!(
        "<domain type='qemu'><name>tpl</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64'>hvm</type></os><devices>{d}\
         <interface type='user'><mac address='52:54:00:00:00:01'/></interface></devices></domain>"
    )
}

/// A package of two sparse images (`a.img`: 64 MiB apparent, `b.img`: 32 MiB), unpacked into
/// a scratch directory; returns (package, originals).
fn unpacked(dir: &Path) -> (archive::Package, Vec<PathBuf>) {
    let a = dir.join("a.img");
    let b = dir.join("b.img");
    sparse_image(&a, 64 * MIB, &[(0, &data(MIB as usize, 1)), (40 * MIB, &data(3 * MIB as usize + 17, 2))]);
    sparse_image(&b, 32 * MIB, &[(5 * MIB, &data(MIB as usize, 3))]);
    let domain = Domain::parse(&domain_xml(&[&a, &b])).unwrap();
    let pkg = dir.join("tpl.vmcast");
    archive::pack(&PackRequest::new(&domain, vec![a.clone(), b.clone()]), &pkg, &mut |_| {}).unwrap();
    let p = archive::unpack(&pkg, &dir.join("scratch"), &ReadOptions::default(), &mut |_| {}).unwrap();
    (p, vec![a, b])
}

fn sources(d: &Domain) -> Vec<String> {
    let root = d.root();
    root.child("devices")
        .into_iter()
        .flat_map(|dv| dv.elements().filter(|e| e.name == "disk"))
        .filter_map(|disk| disk.child("source").and_then(|s| s.attr("file")).map(str::to_string))
        .collect()
}

#[test]
fn volumes_are_uploaded_and_the_domain_points_at_them() {
    let Ok(uri) = std::env::var("KVMHOST_QEMU_URI") else {
        println!("SKIP: libvirtd not started (run ./scripts/test.sh; KVMHOST_QEMU_URI unset)");
        return;
    };
    let base = PathBuf::from(std::env::var("KVMHOST_LIBVIRTD_DIR").unwrap_or_else(|_| "/tmp/kvmhost-libvirtd".into()));
    let conn = Connection::open(&uri).unwrap();
    let pool = "kvmhost-t-templates";
    let pool_dir = base.join("images").join(pool);
    let _ = conn.remove_pool(pool, false);
    let _ = fs::remove_dir_all(&pool_dir);
    conn.define_pool(&PoolSpec::dir(pool, pool_dir.to_str().unwrap())).unwrap();

    let t = tempfile::tempdir().unwrap();
    let (package, originals) = unpacked(t.path());
    let vm_dir = t.path().join("vm");
    let mut uploaded = 0;
    let vm = instantiate_in_pool(&package, &conn, pool, &vm_dir, &InstantiateOptions::new("web1"), &mut |p| {
        assert_eq!(p.phase, "uploading");
        uploaded = p.done.max(uploaded);
    })
    .unwrap();
    assert!(uploaded > 0);

    // The volumes exist in the pool, the domain points at their paths.
    let vols = conn.list_volumes(pool).unwrap();
    let mut names: Vec<_> = vols.iter().map(|v| v.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["web1-a.img", "web1-b.img"]);
    let srcs = sources(&vm.domain);
    assert_eq!(srcs.len(), 2);
    for (src, orig) in srcs.iter().zip(&originals) {
        let v = vols.iter().find(|v| &v.path == src).unwrap_or_else(|| panic!("{src} is no volume of {vols:?}"));
        assert_eq!(v.capacity, fs::metadata(orig).unwrap().len());
        // Bytes identical, read back through libvirt (downloaded) and from the pool's file.
        let mut back = Vec::new();
        let n = conn.download_volume(pool, &v.name, 0, 0, &mut back).unwrap();
        assert_eq!(n, v.capacity);
        let mut want = Vec::new();
        fs::File::open(orig).unwrap().read_to_end(&mut want).unwrap();
        assert!(back == want, "{} differs from {}", v.name, orig.display());
        // Holes were not sent: the volume stays sparse.
        assert!(allocated(Path::new(src)) < 8 * MIB, "{src}: {} bytes allocated", allocated(Path::new(src)));
    }
    assert_eq!(vm.xml_path, fs::canonicalize(&vm_dir).unwrap().join("web1.xml"));
    assert_eq!(Domain::parse(&fs::read_to_string(&vm.xml_path).unwrap()).unwrap().name().as_deref(), Some("web1"));

    // libvirt accepts the domain with its disks in the pool.
    let defined = kvmhost_templates::instantiate::define(&uri, &vm.domain).unwrap();
    assert_eq!(sources(&defined), srcs);
    conn.lookup("web1").unwrap().undefine().unwrap();

    // A second VM of the same name: its volumes exist already; refused, and the first VM's
    // volumes are untouched, nothing new left behind.
    let err = instantiate_in_pool(
        &package,
        &conn,
        pool,
        &t.path().join("vm2"),
        &InstantiateOptions::new("web1"),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, InstantiateError::Libvirt(_)), "{err:?}");
    assert_eq!(conn.list_volumes(pool).unwrap().len(), 2);
    assert!(!t.path().join("vm2/web1.xml").exists());

    for v in conn.list_volumes(pool).unwrap() {
        conn.delete_volume(pool, &v.name).unwrap();
    }
    conn.remove_pool(pool, true).unwrap();
}

/// The test driver creates volumes but cannot upload: the volume made before the failure is
/// deleted again and no XML is written.
#[test]
fn a_failed_upload_leaves_no_volume_behind() {
    let conn = Connection::open("test:///default").unwrap();
    let t = tempfile::tempdir().unwrap();
    let (package, _) = unpacked(t.path());
    let before = conn.list_volumes("default-pool").unwrap().len();
    let vm_dir = t.path().join("vm");
    let err =
        instantiate_in_pool(&package, &conn, "default-pool", &vm_dir, &InstantiateOptions::new("web2"), &mut |_| {})
            .unwrap_err();
    assert!(err.to_string().contains("not supported") || matches!(err, InstantiateError::Libvirt(_)), "{err}");
    assert_eq!(conn.list_volumes("default-pool").unwrap().len(), before);
    assert!(!vm_dir.join("web2.xml").exists());
    // A pool that does not exist, and overlays (not offered in pools), are refused up front.
    assert!(matches!(
        instantiate_in_pool(&package, &conn, "no-such-pool", &vm_dir, &InstantiateOptions::new("w"), &mut |_| {}),
        Err(InstantiateError::Libvirt(_))
    ));
    assert!(matches!(
        instantiate_in_pool(
            &package,
            &conn,
            "default-pool",
            &vm_dir,
            &InstantiateOptions::new("w").overlay(),
            &mut |_| {}
        ),
        Err(InstantiateError::Unsupported(_))
    ));
}
