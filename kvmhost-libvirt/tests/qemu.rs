//! Against a real libvirtd + QEMU (scripts/services/libvirtd.sh, started by scripts/test.sh):
//! define → start → running, shutdown falling back to destroy, snapshots, volumes with
//! upload/download, a NIC on a host bridge, import of a `virsh define`d domain.
//! Every test prints SKIP and returns when `KVMHOST_QEMU_URI` is unset.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kvmhost_core::domain::{Display, Domain, DomainBuilder, DomainType, Memory};
use kvmhost_libvirt::{
    DomainCapsQuery, DomainId, DomainState, Hypervisor, LibvirtError, LibvirtHypervisor, NetworkSpec, PoolSpec,
    RevertTo, ShutdownOutcome, SnapshotDelete, SnapshotOptions, SnapshotSpec, UndefineOptions, VolumeSpec, XmlView,
};

struct Env {
    uri: String,
    dir: PathBuf,
    bridge: String,
}

fn env() -> Option<Env> {
    let Ok(uri) = std::env::var("KVMHOST_QEMU_URI") else {
        println!("SKIP: libvirtd not started (run ./scripts/test.sh; KVMHOST_QEMU_URI unset)");
        return None;
    };
    Some(Env {
        uri,
        dir: PathBuf::from(std::env::var("KVMHOST_LIBVIRTD_DIR").unwrap_or_else(|_| "/tmp/kvmhost-libvirtd".into())),
        bridge: std::env::var("KVMHOST_LIBVIRTD_BRIDGE").unwrap_or_else(|_| "kvmhost-br0".into()),
    })
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn domain_type() -> DomainType {
    if Path::new("/dev/kvm").exists() {
        DomainType::Kvm
    } else {
        DomainType::Qemu
    }
}

/// A fresh directory pool named `name` under the daemon's private directory.
async fn pool(hv: &LibvirtHypervisor, env: &Env, name: &str) -> String {
    let _ = hv.remove_pool(name, false).await;
    let path = env.dir.join("images").join(name);
    let _ = std::fs::remove_dir_all(&path);
    hv.define_pool(&PoolSpec::dir(name, path.to_str().unwrap())).await.unwrap();
    name.to_string()
}

async fn cleanup_domain(hv: &LibvirtHypervisor, name: &str) {
    let id = DomainId::from(name);
    let _ = hv.destroy(&id).await;
    let _ = hv.undefine(&id, UndefineOptions { snapshots_metadata: true, ..Default::default() }).await;
}

fn tiny(name: &str, disk: &str, bridge: &str) -> Domain {
    DomainBuilder::new(name)
        .domain_type(domain_type())
        .memory_mib(64)
        .vcpus(1)
        .disk_file(disk)
        .without_default_nic()
        .bridge(bridge)
        .display(Display::Headless)
        .build()
        .unwrap()
}

#[test]
fn host_facts_from_qemu() {
    let Some(env) = env() else { return };
    rt().block_on(async {
        let hv = LibvirtHypervisor::connect(&env.uri).await.unwrap();
        let v = hv.versions().await.unwrap();
        assert_eq!(v.driver, "QEMU");
        assert!(v.hypervisor.major >= 7, "{v:?}");
        let caps = hv.capabilities().await.unwrap();
        let cpu = caps.host.cpu.clone().expect("host cpu");
        assert_eq!(cpu.arch.as_deref(), Some("x86_64"));
        assert!(cpu.cpu.model_name().is_some());
        assert!(caps.guests_for("qemu").count() >= 1);
        let dcaps = hv
            .domain_capabilities(&DomainCapsQuery { virt_type: Some("qemu".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(dcaps.domain_type.as_deref(), Some("qemu"));
        assert!(dcaps.max_vcpus.unwrap() >= 1);
        assert!(!dcaps.cpu.custom_models.is_empty());
        assert!(dcaps.devices["disk"].supported);
        // Every machine's domain capabilities are kept and written back byte for byte.
        let conn = virt::connect::Connect::open(Some(&env.uri)).unwrap();
        assert_eq!(caps.to_xml().unwrap(), conn.capabilities().unwrap());
        let machines: Vec<String> = caps
            .guests_for("qemu")
            .filter(|g| g.arch == "x86_64")
            .flat_map(|g| g.machines.iter().map(|m| m.name.clone()))
            .collect();
        for machine in &machines {
            let raw = conn.domain_capabilities(None, Some("x86_64"), Some(machine), Some("qemu"), 0).unwrap();
            let parsed = kvmhost_libvirt::DomainCapabilities::parse(&raw).unwrap();
            assert_eq!(parsed.to_xml().unwrap(), raw, "{machine}");
        }
        println!("domain capabilities: {} machines written back byte for byte", machines.len());
    });
}

#[test]
fn lifecycle_snapshot_and_bridge_nic_on_qemu() {
    let Some(env) = env() else { return };
    rt().block_on(async {
        let hv = LibvirtHypervisor::connect(&env.uri).await.unwrap();
        let name = "kvmhost-t-life";
        cleanup_domain(&hv, name).await;
        let p = pool(&hv, &env, "kvmhost-t-life").await;
        let disk = hv.create_volume(&p, &VolumeSpec::qcow2("disk.qcow2", 64 << 20)).await.unwrap();
        let vm = hv.define(&tiny(name, &disk.path, &env.bridge)).await.unwrap();
        let id = vm.domain_id();

        // Snapshot while shut off (internal, qcow2), then run.
        let snap = hv.create_snapshot(&id, &SnapshotSpec::named("clean"), SnapshotOptions::default()).await.unwrap();
        assert_eq!(snap.state.as_deref(), Some("shutoff"));
        hv.start(&id).await.unwrap();
        let st = hv.state(&id).await.unwrap();
        assert_eq!((st.state, st.reason.as_str()), (DomainState::Running, "booted"));
        let err = hv.start(&id).await.unwrap_err();
        assert!(matches!(err, LibvirtError::OperationInvalid { .. }), "{err:?}");

        // The NIC is a tap device enslaved to the host bridge.
        let live = hv.domain_xml(&id, XmlView::Live).await.unwrap();
        assert_eq!(live.devices().unwrap().unwrap().interfaces.len(), 1);
        // libvirt writes `'`; the document keeps it: compare with either quote.
        let text = live.to_xml().unwrap().replace('\'', "\"");
        let nic = text.split("<interface").nth(1).expect("interface in live XML");
        assert!(nic.contains(&format!("<source bridge=\"{}\"", env.bridge)), "{text}");
        let tap = nic.split("<target dev=\"").nth(1).and_then(|s| s.split('"').next()).map(String::from);
        let tap = tap.filter(|t| t.starts_with("vnet")).expect("tap device in live XML");
        let master = std::fs::read_link(format!("/sys/class/net/{tap}/master")).unwrap();
        assert_eq!(master.file_name().unwrap().to_str(), Some(env.bridge.as_str()));

        hv.suspend(&id).await.unwrap();
        assert_eq!(hv.state(&id).await.unwrap().state, DomainState::Paused);
        hv.resume(&id).await.unwrap();
        // No guest OS answers ACPI: the graceful shutdown times out and falls back to destroy.
        let outcome = hv.shutdown(&id, Duration::from_millis(800)).await.unwrap();
        assert_eq!(outcome, ShutdownOutcome::Destroyed);
        let st = hv.state(&id).await.unwrap();
        assert_eq!((st.state, st.reason.as_str()), (DomainState::Shutoff, "destroyed"));

        hv.create_snapshot(&id, &SnapshotSpec::named("second"), SnapshotOptions::default()).await.unwrap();
        assert_eq!(hv.snapshot(&id, "clean").await.unwrap().children, 1);
        hv.revert_snapshot(&id, "clean", RevertTo::AsSnapshotted).await.unwrap();
        assert!(hv.snapshot(&id, "clean").await.unwrap().current);
        hv.delete_snapshot(&id, "clean", SnapshotDelete::WithChildren).await.unwrap();
        assert!(hv.list_snapshots(&id).await.unwrap().is_empty());

        hv.undefine(&id, UndefineOptions::default()).await.unwrap();
        hv.delete_volume(&p, "disk.qcow2").await.unwrap();
        hv.remove_pool(&p, true).await.unwrap();
    });
}

#[test]
fn volumes_backing_clone_upload_download_on_qemu() {
    let Some(env) = env() else { return };
    rt().block_on(async {
        let hv = LibvirtHypervisor::connect(&env.uri).await.unwrap();
        let p = pool(&hv, &env, "kvmhost-t-vol").await;
        let golden = hv.create_volume(&p, &VolumeSpec::qcow2("golden.qcow2", 32 << 20)).await.unwrap();
        let overlay = hv
            .create_volume(&p, &VolumeSpec::qcow2("vm.qcow2", 32 << 20).backed_by(&golden.path, "qcow2"))
            .await
            .unwrap();
        assert_eq!(overlay.backing.as_deref(), Some(golden.path.as_str()));
        assert_eq!(overlay.format.as_deref(), Some("qcow2"));
        let out = std::process::Command::new("qemu-img").args(["info", &overlay.path]).output().unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains(&golden.path));

        let raw = hv.create_volume(&p, &VolumeSpec::raw("data.img", 1 << 20)).await.unwrap();
        assert_eq!(raw.capacity, 1 << 20);
        let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        // Streamed from a reader, with progress after each chunk (256 KiB): 4 reports, the last the total.
        let (tx, rx) = std::sync::mpsc::channel();
        let source = Box::new(std::io::Cursor::new(data.clone()));
        let sent = hv.upload_volume(&p, "data.img", 0, source, Box::new(move |n| tx.send(n).unwrap())).await.unwrap();
        assert_eq!(sent, 1 << 20);
        let reports: Vec<u64> = rx.try_iter().collect();
        assert_eq!(reports, [1u64 << 18, 2 << 18, 3 << 18, 4 << 18], "progress reports");
        let back = hv.download_volume(&p, "data.img", 0, 0).await.unwrap();
        assert!(back == data, "downloaded bytes differ");
        let part = hv.download_volume(&p, "data.img", 4096, 100).await.unwrap();
        assert_eq!(part, &data[4096..4196]);
        let clone = hv.clone_volume(&p, "data.img", &VolumeSpec::raw("copy.img", 1 << 20)).await.unwrap();
        assert_eq!(std::fs::read(&clone.path).unwrap(), data);
        let file = env.dir.join("kvmhost-t-vol-download.img");
        assert_eq!(hv.download_file(&p, "copy.img", &file).await.unwrap(), 1 << 20);
        assert_eq!(std::fs::read(&file).unwrap(), data);
        std::fs::remove_file(&file).unwrap();

        for v in ["vm.qcow2", "golden.qcow2", "data.img", "copy.img"] {
            hv.delete_volume(&p, v).await.unwrap();
        }
        hv.remove_pool(&p, true).await.unwrap();
    });
}

#[test]
fn import_of_a_virsh_defined_domain_keeps_everything() {
    let Some(env) = env() else { return };
    rt().block_on(async {
        let hv = LibvirtHypervisor::connect(&env.uri).await.unwrap();
        let name = "kvmhost-t-import";
        cleanup_domain(&hv, name).await;
        let xml = format!(
            "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\
             <name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
             <metadata><app:info xmlns:app='http://example.org/app'><app:owner>ops</app:owner></app:info></metadata>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os>\
             <devices><serial type='pty'/><memballoon model='none'/></devices>\
             <qemu:commandline><qemu:arg value='-no-user-config'/></qemu:commandline></domain>"
        );
        let file = env.dir.join("kvmhost-t-import.xml");
        std::fs::write(&file, xml).unwrap();
        let out = std::process::Command::new("virsh")
            .args(["-c", &env.uri, "define", file.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

        let id = DomainId::from(name);
        let mut d = hv.import(&id).await.unwrap();
        d.set_memory(&Memory::kib_value(96 * 1024));
        hv.define(&d).await.unwrap();
        let back = hv.import(&id).await.unwrap();
        assert_eq!(back.memory().unwrap().unwrap().kib(), Some(96 * 1024));
        let text = back.to_xml().unwrap();
        assert!(text.contains("-no-user-config") && text.contains("<app:owner>ops</app:owner>"), "{text}");
        let expected = kvmhost_core::xml::Document::parse(&d.to_xml().unwrap()).unwrap();
        let got = kvmhost_core::xml::Document::parse(&text).unwrap();
        // set_memory wrote <memory> and <currentMemory>; everything else is what libvirt had.
        let diff = expected.root.first_difference(&got.root, "");
        assert!(diff.is_none(), "{diff:?}");
        assert_eq!(back.current_memory().unwrap().unwrap().kib(), Some(96 * 1024));
        cleanup_domain(&hv, name).await;
        std::fs::remove_file(&file).unwrap();
    });
}

#[test]
fn bridge_and_ovs_networks_on_qemu() {
    let Some(env) = env() else { return };
    rt().block_on(async {
        let hv = LibvirtHypervisor::connect(&env.uri).await.unwrap();
        for n in ["kvmhost-t-br", "kvmhost-t-ovs"] {
            let _ = hv.destroy_network(n).await;
            let _ = hv.undefine_network(n).await;
        }
        let net = hv.define_network(&NetworkSpec::host_bridge("kvmhost-t-br", &env.bridge)).await.unwrap();
        assert_eq!(net.bridge.as_deref(), Some(env.bridge.as_str()));
        hv.start_network("kvmhost-t-br").await.unwrap();
        assert!(hv.network("kvmhost-t-br").await.unwrap().active);
        let ovs = hv.define_network(&NetworkSpec::ovs_bridge("kvmhost-t-ovs", "br-kvmhost")).await.unwrap();
        assert_eq!(ovs.virtualport.as_deref(), Some("openvswitch"));
        hv.destroy_network("kvmhost-t-br").await.unwrap();
        assert!(!hv.network("kvmhost-t-br").await.unwrap().active);
        for n in ["kvmhost-t-br", "kvmhost-t-ovs"] {
            hv.undefine_network(n).await.unwrap();
        }
        assert!(matches!(hv.network("kvmhost-t-br").await, Err(LibvirtError::NoSuchNetwork { .. })));
    });
}
