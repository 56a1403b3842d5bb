//! Live migration for real, between the two libvirtd hosts of `scripts/services/libvirt-hosts.sh`
//! (two network namespaces joined by a veth pair). Skips unless the service is started
//! (`KVMHOST_MIGRATION_SRC_URI`, `KVMHOST_MIGRATION_DST_URI`, `KVMHOST_MIGRATION_DST_ADDR`).

use std::time::Duration;

use kvmhost_core::cpu::CpuMap;
use kvmhost_libvirt::events::{self, DomainEvents, EventKind, ResumedDetail, StartedDetail, StoppedDetail};
use kvmhost_libvirt::migration::{
    self, check_cpu_offline, host_model_cpu, CpuCheckPolicy, CpuVerdict, GuestCpu, MigrationError, MigrationOptions,
    StorageMode,
};
use virt::connect::Connect;

/// One migration at a time: the tests share two daemons and two CPU cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Hosts {
    src: Connect,
    dst: Connect,
    dst_addr: String,
}

fn hosts(test: &str) -> Option<Hosts> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let (Some(src), Some(dst), Some(dst_addr)) =
        (var("KVMHOST_MIGRATION_SRC_URI"), var("KVMHOST_MIGRATION_DST_URI"), var("KVMHOST_MIGRATION_DST_ADDR"))
    else {
        println!("SKIP: {test}: libvirt-hosts not started (run ./scripts/test.sh)");
        return None;
    };
    virt::error::clear_error_callback();
    // Before the connections open, so that they watch their sockets and deliver events.
    kvmhost_libvirt::event_loop::ensure_running().unwrap();
    Some(Hosts { src: Connect::open(Some(&src)).unwrap(), dst: Connect::open(Some(&dst)).unwrap(), dst_addr })
}

fn virt_type() -> &'static str {
    if std::path::Path::new("/dev/kvm").exists() {
        "kvm"
    } else {
        "qemu"
    }
}

/// A 64 MiB guest without disks or NICs; `cpu` is an optional `<cpu>` element.
fn tiny(name: &str, cpu: &str) -> String {
    format!(
        "<domain type='{}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>{cpu}\
         <devices><emulator>/usr/bin/qemu-system-x86_64</emulator><memballoon model='none'/></devices></domain>",
        virt_type()
    )
}

/// Removes `name` from both hosts (leftovers of an earlier run included).
fn cleanup(h: &Hosts, name: &str) {
    for conn in [&h.src, &h.dst] {
        if let Ok(d) = conn.lookup_domain_by_name(name) {
            let _ = d.destroy();
            let _ = d.undefine();
        }
    }
}

async fn kinds_of(events: &mut DomainEvents, name: &str, until: EventKind) -> Vec<EventKind> {
    let mut seen = vec![];
    while let Some(ev) = events.recv_timeout(Duration::from_secs(20)).await {
        if ev.domain == name {
            seen.push(ev.kind);
            if ev.kind == until {
                break;
            }
        }
    }
    seen
}

fn running(conn: &Connect, name: &str) -> bool {
    conn.lookup_domain_by_name(name).and_then(|d| d.is_active()).unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_guest_migrates_live_with_progress_and_events_on_both_hosts() {
    let Some(h) = hosts("live migration") else { return };
    let _serial = SERIAL.lock().await;
    let name = "lvmig-live";
    cleanup(&h, name);
    let vm = h.src.define_domain_xml(&tiny(name, "")).unwrap();
    vm.create().unwrap();
    let mut src_events = events::subscribe(&h.src).unwrap();
    let mut dst_events = events::subscribe(&h.dst).unwrap();

    let mut opts =
        MigrationOptions::managed().migration_uri(&format!("tcp://{}", h.dst_addr)).allow_unsafe(true).auto_converge();
    opts.progress_interval_ms = 20;
    if CpuMap::default_path().join("index.xml").exists() {
        opts.cpu_check = CpuCheckPolicy::LibvirtAndOffline { cpu_map_dir: CpuMap::default_path() };
    }
    let mut job = migration::start(&vm, &h.dst, &opts).unwrap();
    assert!(matches!(job.cpu_verdict(), CpuVerdict::Compatible { .. }), "{:?}", job.cpu_verdict());
    let mut samples = vec![];
    while let Some(p) = job.next_progress().await {
        samples.push(p);
    }
    let report = job.wait().await.unwrap();
    println!(
        "migrated {name} in {} ms, {} progress samples, completed: {:?}",
        report.duration_ms,
        samples.len(),
        report.completed
    );
    assert_eq!(report.destination_domain, name);
    assert_eq!(report.progress_samples, samples.len());
    assert!(!samples.is_empty(), "no progress sample while migrating");
    assert!(samples.iter().all(|p| p.job.is_running()));
    let processed: Vec<u64> = samples.iter().filter_map(|p| p.data_processed).collect();
    assert!(processed.windows(2).all(|w| w[0] <= w[1]), "progress went backwards: {processed:?}");
    if let Some(total) = samples.iter().rev().find_map(|p| p.memory_total) {
        assert!(total >= 64 << 20, "memory_total {total} below the guest's 64 MiB");
    }

    assert!(running(&h.dst, name), "not running on the destination");
    assert!(!running(&h.src, name), "still running on the source");
    let src_seen = kinds_of(&mut src_events, name, EventKind::Stopped(StoppedDetail::Migrated)).await;
    assert!(src_seen.contains(&EventKind::Stopped(StoppedDetail::Migrated)), "source events: {src_seen:?}");
    let dst_seen = kinds_of(&mut dst_events, name, EventKind::Resumed(ResumedDetail::Migrated)).await;
    assert!(dst_seen.contains(&EventKind::Started(StartedDetail::Migrated)), "destination events: {dst_seen:?}");
    assert!(dst_seen.contains(&EventKind::Resumed(ResumedDetail::Migrated)), "destination events: {dst_seen:?}");
    // Persisted on the destination, source definition kept (defaults).
    assert!(h.dst.lookup_domain_by_name(name).unwrap().is_persistent().unwrap());
    assert!(h.src.lookup_domain_by_name(name).is_ok());
    cleanup(&h, name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_to_peer_migration_undefines_the_source() {
    let Some(h) = hosts("peer-to-peer migration") else { return };
    let _serial = SERIAL.lock().await;
    let name = "lvmig-p2p";
    cleanup(&h, name);
    let vm = h.src.define_domain_xml(&tiny(name, "")).unwrap();
    vm.create().unwrap();
    // The source daemon reaches the destination daemon over the namespaces' veth link.
    let opts = MigrationOptions::peer_to_peer(&format!("qemu+tcp://{}/system", h.dst_addr))
        .migration_uri(&format!("tcp://{}:49200", h.dst_addr))
        .undefine_source(true)
        .bandwidth_mib_s(1000)
        .allow_unsafe(true);
    let report = migration::start(&vm, &h.dst, &opts).unwrap().wait().await.unwrap();
    assert_eq!(report.destination_domain, name);
    assert!(running(&h.dst, name));
    assert!(h.src.lookup_domain_by_name(name).is_err(), "source definition should be gone");
    cleanup(&h, name);
}

/// A CPU feature the destination's host-model CPU lacks, found with the CPU engine.
fn missing_feature(map: &CpuMap, dst: &Connect) -> String {
    let caps = dst.domain_capabilities(None, Some("x86_64"), None, Some(virt_type()), 0).unwrap();
    let host = host_model_cpu(&caps).unwrap();
    let names: Vec<&str> = host.cpu.features.iter().map(|f| f.name.as_str()).collect();
    let have = map.expand(host.cpu.model_name(), &names).unwrap();
    let candidates = ["avx512f", "la57", "amx-tile", "avx512-fp16", "avx512bw", "sha-ni", "svm", "vmx"];
    candidates
        .iter()
        .find(|f| map.feature_data(f).map(|d| !d.is_subset_of(&have)).unwrap_or(false))
        .expect("the destination has every candidate feature")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cpu_precheck_refuses_a_guest_cpu_the_destination_lacks() {
    let Some(h) = hosts("CPU pre-check") else { return };
    let _serial = SERIAL.lock().await;
    let Ok(map) = CpuMap::load(CpuMap::default_path()) else {
        println!("SKIP: CPU pre-check: no libvirt CPU map at {}", CpuMap::default_path().display());
        return;
    };
    let feature = missing_feature(&map, &h.dst);
    let name = "lvmig-cpu-refused";
    cleanup(&h, name);
    let cpu = format!(
        "<cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model>\
         <feature policy='disable' name='pni'/><feature policy='disable' name='svm'/>\
         <feature policy='require' name='{feature}'/></cpu>"
    );
    let vm = h.src.define_domain_xml(&tiny(name, &cpu)).unwrap();

    // libvirt on the destination refuses, naming the feature.
    let err = migration::start(&vm, &h.dst, &MigrationOptions::managed().allow_unsafe(true)).unwrap_err();
    println!("refused: {err}");
    match &err {
        MigrationError::CpuIncompatible { features, .. } => assert!(features.contains(&feature), "{err}"),
        other => panic!("expected CpuIncompatible, got {other:?}"),
    }
    assert!(err.to_string().contains(&feature));
    // Nothing moved.
    assert!(h.dst.lookup_domain_by_name(name).is_err());
    assert!(h.src.lookup_domain_by_name(name).is_ok());

    // The CPU engine offline agrees, against the destination's host-model CPU.
    let guest = GuestCpu::from_domain_xml(&vm.xml_desc(0).unwrap()).unwrap();
    let caps = h.dst.domain_capabilities(None, Some("x86_64"), None, Some(virt_type()), 0).unwrap();
    let offline = check_cpu_offline(&map, &host_model_cpu(&caps).unwrap(), "dst", &guest).unwrap_err();
    assert!(
        matches!(&offline, MigrationError::CpuIncompatible { features, .. } if features.contains(&feature)),
        "{offline}"
    );
    // Without the feature the same CPU passes both checks.
    let ok_xml = tiny(name, &cpu.replace(&format!("<feature policy='require' name='{feature}'/>"), ""));
    let ok = GuestCpu::from_domain_xml(&ok_xml).unwrap();
    let dst_uri = h.dst.uri().unwrap();
    assert!(matches!(migration::check_cpu_with_libvirt(&h.dst, &dst_uri, &ok).unwrap(), CpuVerdict::Compatible { .. }));
    assert!(matches!(
        check_cpu_offline(&map, &host_model_cpu(&caps).unwrap(), "dst", &ok).unwrap(),
        CpuVerdict::Compatible { .. }
    ));
    cleanup(&h, name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_migration_leaves_the_guest_running_on_the_source() {
    let Some(h) = hosts("aborted migration") else { return };
    let _serial = SERIAL.lock().await;
    let name = "lvmig-abort";
    cleanup(&h, name);
    let vm = h.src.define_domain_xml(&tiny(name, "")).unwrap();
    vm.create().unwrap();
    // 1 MiB/s: slow enough to be caught in the middle.
    let opts = MigrationOptions::managed()
        .migration_uri(&format!("tcp://{}", h.dst_addr))
        .allow_unsafe(true)
        .bandwidth_mib_s(1);
    let mut job = migration::start(&vm, &h.dst, &opts).unwrap();
    let first = job.next_progress().await.expect("a progress sample before the end");
    assert!(first.job.is_running());
    job.abort().unwrap();
    let err = job.wait().await.unwrap_err();
    println!("aborted: {err}");
    assert!(matches!(err, MigrationError::Libvirt(_)), "{err:?}");
    assert!(running(&h.src, name), "the guest should still run on the source");
    assert!(!running(&h.dst, name), "nothing should run on the destination");
    cleanup(&h, name);
}

/// The hosts' private `/var/lib/libvirt/images` as a (transient) libvirt pool.
fn images_pool(conn: &Connect) -> virt::storage_pool::StoragePool {
    if let Ok(pool) = conn.lookup_storage_pool_by_name("lvmig-images") {
        return pool;
    }
    let xml = "<pool type='dir'><name>lvmig-images</name><target><path>/var/lib/libvirt/images</path></target></pool>";
    conn.create_storage_pool_xml(xml, virt::sys::VIR_STORAGE_POOL_CREATE_WITH_BUILD).unwrap()
}

fn delete_volume(conn: &Connect, name: &str) {
    let pool = images_pool(conn);
    let _ = pool.refresh(0);
    if let Ok(vol) = pool.lookup_storage_vol_by_name(name) {
        let _ = vol.delete(0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copied_storage_moves_the_disk_to_the_destination() {
    let Some(h) = hosts("copied-storage migration") else { return };
    let _serial = SERIAL.lock().await;
    let name = "lvmig-copy";
    let volume = "lvmig-copy.img";
    cleanup(&h, name);
    for conn in [&h.src, &h.dst] {
        delete_volume(conn, volume);
    }
    // Only the source has the disk; libvirt pre-creates it in the destination's pool.
    let vol_xml = format!(
        "<volume><name>{volume}</name><capacity unit='MiB'>16</capacity><target><format type='raw'/></target></volume>"
    );
    let vol = virt::storage_vol::StorageVol::create_xml(&images_pool(&h.src), &vol_xml, 0).unwrap();
    // A recognisable first MiB, to find again on the destination.
    let pattern: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    write_volume(&h.src, &vol, &pattern);
    let disk = format!(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{}'/>\
         <target dev='vda' bus='virtio'/></disk>",
        vol.path().unwrap()
    );
    let xml = tiny(name, "").replace("<memballoon", &format!("{disk}<memballoon"));
    let vm = h.src.define_domain_xml(&xml).unwrap();
    vm.create().unwrap();
    let opts = MigrationOptions::managed()
        .migration_uri(&format!("tcp://{}", h.dst_addr))
        .storage(StorageMode::CopyAll)
        .allow_unsafe(true);
    let report = migration::start(&vm, &h.dst, &opts).unwrap().wait().await.unwrap();
    println!("copied-storage migration: {} ms, completed: {:?}", report.duration_ms, report.completed);
    assert!(running(&h.dst, name));
    let dst_pool = images_pool(&h.dst);
    dst_pool.refresh(0).unwrap();
    let copied = dst_pool.lookup_storage_vol_by_name(volume).expect("the disk was not created on the destination");
    assert_eq!(copied.info().unwrap().capacity, 16 << 20);
    assert!(read_volume(&h.dst, &copied, pattern.len()) == pattern, "the disk's data was not copied");
    cleanup(&h, name);
    for conn in [&h.src, &h.dst] {
        delete_volume(conn, volume);
    }
}

fn write_volume(conn: &Connect, vol: &virt::storage_vol::StorageVol, data: &[u8]) {
    let stream = virt::stream::Stream::new(conn, 0).unwrap();
    vol.upload(&stream, 0, data.len() as u64, 0).unwrap();
    let mut sent = 0;
    while sent < data.len() {
        sent += stream.send(&data[sent..]).unwrap() as usize;
    }
    stream.finish().unwrap();
}

fn read_volume(conn: &Connect, vol: &virt::storage_vol::StorageVol, len: usize) -> Vec<u8> {
    let stream = virt::stream::Stream::new(conn, 0).unwrap();
    vol.download(&stream, 0, len as u64, 0).unwrap();
    let mut out = vec![0u8; len];
    let mut got = 0;
    while got < len {
        let n = stream.recv(&mut out[got..]).unwrap();
        if n <= 0 {
            break;
        }
        got += n as usize;
    }
    stream.finish().unwrap();
    out.truncate(got);
    out
}
