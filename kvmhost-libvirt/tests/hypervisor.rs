//! The async `Hypervisor` API against libvirt's embedded test driver: each test runs on its own
//! isolated `TestHost` (a private `test:///…/node.xml`), so tests run in parallel safely.

use std::time::Duration;

use kvmhost_core::domain::{DomainBuilder, Memory};
use kvmhost_libvirt::testing::TestHost;
use kvmhost_libvirt::{
    Capabilities, DomainFilter, DomainId, DomainState, Hypervisor, LibvirtError, LibvirtHypervisor, NetworkSpec,
    PoolSpec, RevertTo, Scope, ShutdownOutcome, SnapshotDelete, SnapshotOptions, SnapshotSpec, UndefineOptions,
    VolumeSpec, XmlView,
};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

async fn empty_host() -> TestHost {
    TestHost::builder().start().await.unwrap()
}

#[test]
fn host_facts_are_typed() {
    rt().block_on(async {
        let host = TestHost::builder().cpus(4).memory_kib(4 << 20).start().await.unwrap();
        let hv = host.hypervisor();
        let node = hv.node_info().await.unwrap();
        assert_eq!((node.cpus, node.memory_kib), (4, 4 << 20));
        let v = hv.versions().await.unwrap();
        assert_eq!(v.driver, "TEST");
        assert!(v.library.major >= 9, "{v:?}");
        let caps: Capabilities = hv.capabilities().await.unwrap();
        assert!(!caps.guests.is_empty());
        assert!(caps.guests.iter().any(|g| g.arch == "i686" || g.arch == "x86_64"), "{caps:?}");
        // The document is kept: written back byte for byte as libvirt sent it.
        let raw = virt::connect::Connect::open(Some(host.uri())).unwrap().capabilities().unwrap();
        assert_eq!(caps.to_xml().unwrap(), raw);
        // test:/// has no domain capabilities: a typed NotSupported, not a panic.
        let err = hv.domain_capabilities(&Default::default()).await.unwrap_err();
        assert!(matches!(err, LibvirtError::NotSupported { .. }), "{err:?}");
        assert!(!hv.hostname().await.unwrap().is_empty());
    });
}

#[test]
fn capabilities_of_real_hosts_parse_with_the_cpu_engine_types() {
    let Some(dir) = kvmhost_testdata::libvirt_corpus() else {
        println!("SKIP: libvirt reference corpus not found (set KVMHOST_TESTDATA)");
        return;
    };
    let xml = std::fs::read_to_string(dir.join("capabilities/caps-qemu-kvm.xml")).unwrap();
    let caps = Capabilities::parse(&xml).unwrap();
    let cpu = caps.host.cpu.as_ref().unwrap();
    assert_eq!(cpu.arch.as_deref(), Some("x86_64"));
    assert_eq!(cpu.cpu.model_name(), Some("Haswell-noTSX"));
    assert!(cpu.cpu.feature("vmx").is_some());
    assert!(!caps.host.numa_cells.is_empty());
    assert!(caps.guests_for("kvm").count() >= 1);
    assert!(caps.guests.iter().flat_map(|g| &g.machines).any(|m| m.canonical.is_some()));
    let mut parsed = 0;
    for entry in std::fs::read_dir(dir.join("capabilities")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        Capabilities::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        parsed += 1;
    }
    assert!(parsed >= 10);
}

#[test]
fn domain_lifecycle_through_the_trait() {
    rt().block_on(async {
        let host = empty_host().await;
        let hv: &dyn Hypervisor = host.hypervisor();
        let d = DomainBuilder::new("life").memory_mib(256).vcpus(2).build().unwrap();
        let vm = hv.define(&d).await.unwrap();
        assert_eq!((vm.state, vm.persistent), (DomainState::Shutoff, true));
        let by_name = DomainId::from("life");
        let by_uuid = vm.domain_id();
        assert_eq!(hv.lookup(&by_name).await.unwrap().uuid, hv.lookup(&by_uuid).await.unwrap().uuid);
        hv.start(&by_uuid).await.unwrap();
        let st = hv.state(&by_name).await.unwrap();
        assert_eq!(st.state, DomainState::Running);
        assert_eq!(st.reason, "booted");
        // starting twice is a typed OperationInvalid
        // (the test driver reports this as an internal error; QEMU as operation invalid)
        let err = hv.start(&by_name).await.unwrap_err();
        assert!(err.message().contains("already running"), "{err:?}");
        hv.suspend(&by_name).await.unwrap();
        assert_eq!(hv.state(&by_name).await.unwrap().state, DomainState::Paused);
        hv.resume(&by_name).await.unwrap();
        assert_eq!(hv.state(&by_name).await.unwrap().state, DomainState::Running);
        hv.set_memory(&by_name, 128 * 1024, Scope::Live).await.unwrap();
        let live = hv.domain_xml(&by_name, XmlView::Live).await.unwrap();
        assert_eq!(live.current_memory().unwrap().unwrap().kib(), Some(128 * 1024));
        hv.set_vcpus(&by_name, 1, Scope::Live).await.unwrap();
        hv.set_autostart(&by_name, true).await.unwrap();
        assert!(hv.lookup(&by_name).await.unwrap().autostart);
        // One call for what an agent reports: the balloon and vCPU changes above, autostart.
        let rt = hv.runtime_info(&by_name).await.unwrap();
        assert_eq!((rt.state, rt.max_memory_kib, rt.memory_kib), (DomainState::Running, 256 * 1024, 128 * 1024));
        assert_eq!((rt.vcpus, rt.autostart), (1, true));
        assert!(rt.cpu_time_ns > 0, "{rt:?}");
        let running = hv.list_domains(DomainFilter::Running).await.unwrap();
        assert_eq!(running.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["life"]);
        assert!(hv.list_domains(DomainFilter::Shutoff).await.unwrap().is_empty());
        hv.reboot(&by_name).await.unwrap();
        // the test driver honours shutdown at once
        assert_eq!(hv.shutdown(&by_name, Duration::from_secs(5)).await.unwrap(), ShutdownOutcome::Graceful);
        assert_eq!(hv.state(&by_name).await.unwrap().state, DomainState::Shutoff);
        assert_eq!(hv.shutdown(&by_name, Duration::from_secs(5)).await.unwrap(), ShutdownOutcome::AlreadyOff);
        // Asking without waiting: an error when the guest is off (the test driver's is an
        // internal error, QEMU's operation invalid); the test driver obeys at once.
        let err = hv.request_shutdown(&by_name).await.unwrap_err();
        assert!(err.message().contains("not running"), "{err:?}");
        hv.start(&by_name).await.unwrap();
        hv.request_shutdown(&by_name).await.unwrap();
        assert_eq!(hv.state(&by_name).await.unwrap().state, DomainState::Shutoff);
        let off = hv.runtime_info(&by_name).await.unwrap();
        // Off, it reports its persistent definition again (the live balloon and vCPU changes went).
        assert_eq!((off.state, off.memory_kib, off.vcpus), (DomainState::Shutoff, 256 * 1024, 2), "{off:?}");
        // The test driver knows the managed-save and snapshot-metadata flags, not NVRAM's.
        let err = hv.undefine(&by_name, UndefineOptions::everything()).await.unwrap_err();
        assert!(matches!(err, LibvirtError::InvalidArgument { .. }), "{err:?}");
        let opts = UndefineOptions { managed_save: true, snapshots_metadata: true, ..Default::default() };
        hv.undefine(&by_name, opts).await.unwrap();
        let err = hv.lookup(&by_name).await.unwrap_err();
        assert!(matches!(err, LibvirtError::NoSuchDomain { .. }), "{err:?}");
        // The error names the domain asked for (by name here; by UUID it names the UUID).
        assert_eq!(err.object(), Some(by_name.to_string().as_str()));
        assert!(err.to_string().starts_with(&format!("no such domain '{by_name}': ")), "{err}");
        let missing = DomainId::uuid("00000000-0000-0000-0000-00000000beef");
        let err = hv.lookup(&missing).await.unwrap_err();
        assert_eq!(err.object(), Some("00000000-0000-0000-0000-00000000beef"), "{err:?}");
        let err = hv.start(&DomainId::name("no-such-vm")).await.unwrap_err();
        assert!(err.to_string().starts_with("no such domain 'no-such-vm': "), "{err}");
    });
}

#[test]
fn typed_errors_for_bad_input_and_missing_objects() {
    rt().block_on(async {
        let host = empty_host().await;
        let hv = host.hypervisor();
        let nameless =
            kvmhost_core::domain::Domain::parse("<domain type='kvm'><memory>1024</memory></domain>").unwrap();
        assert!(matches!(hv.define(&nameless).await, Err(LibvirtError::InvalidArgument { .. })));
        let bad = kvmhost_core::domain::Domain::parse("<domain type='kvm'><name>x</name></domain>").unwrap();
        let err = hv.define(&bad).await.unwrap_err();
        assert!(!matches!(err, LibvirtError::Other { code: 0, .. }), "{err:?}");
        assert!(matches!(hv.network("none").await, Err(LibvirtError::NoSuchNetwork { .. })));
        assert!(matches!(hv.list_volumes("none").await, Err(LibvirtError::NoSuchPool { .. })));
        assert!(matches!(hv.snapshot(&DomainId::from("none"), "s").await, Err(LibvirtError::NoSuchDomain { .. })));
        // Each "no such …" error names what was asked for.
        let err = hv.network("none").await.unwrap_err();
        assert_eq!(
            (err.object(), err.to_string().starts_with("no such network 'none': ")),
            (Some("none"), true),
            "{err}"
        );
        assert_eq!(hv.list_volumes("pool9").await.unwrap_err().object(), Some("pool9"));
        assert_eq!(hv.snapshot(&DomainId::from("vm9"), "s").await.unwrap_err().object(), Some("vm9"));
        assert!(matches!(hv.lookup(&DomainId::uuid("not-a-uuid")).await, Err(LibvirtError::InvalidArgument { .. })));
        let err = LibvirtHypervisor::connect("bogus:///nothing").await.unwrap_err();
        assert!(matches!(err, LibvirtError::Connect { .. }), "{err:?}");
    });
}

#[test]
fn import_edit_redefine_keeps_what_the_model_does_not_type() {
    rt().block_on(async {
        // A domain as virsh or virt-manager would have written it, with a part the typed model
        // does not cover (a foreign metadata namespace). (The test driver drops the QEMU-only
        // `qemu:commandline`; the real-daemon test covers it.)
        let xml = "<domain type='kvm'>\
            <name>imported</name><memory unit='KiB'>524288</memory><vcpu>1</vcpu>\
            <metadata><app:info xmlns:app='http://example.org/app'><app:owner>ops</app:owner></app:info></metadata>\
            <os><type arch='x86_64'>hvm</type></os>\
            <devices><disk type='file' device='disk'><source file='/var/lib/a.qcow2'/><target dev='vda' bus='virtio'/></disk></devices>\
            </domain>";
        let host = TestHost::builder().start().await.unwrap();
        let hv = host.hypervisor();
        hv.connection().call(move |c| Ok(c.define_domain_xml(xml).map(|_| ())?)).await.unwrap();
        let id = DomainId::from("imported");
        let before = hv.import(&id).await.unwrap();
        let mut d = before.clone();
        d.set_memory(&Memory::kib_value(1024 * 1024));
        hv.define(&d).await.unwrap();
        let back = hv.import(&id).await.unwrap();
        assert_eq!(back.memory().unwrap().unwrap().kib(), Some(1024 * 1024));
        let text = back.to_xml().unwrap();
        assert!(text.contains("<app:owner>ops</app:owner>"), "{text}");
        // Apart from the edit, libvirt hands back exactly what it had before.
        let expected = kvmhost_core::xml::Document::parse(&d.to_xml().unwrap()).unwrap();
        let got = kvmhost_core::xml::Document::parse(&text).unwrap();
        assert!(expected.root.semantically_eq(&got.root), "{:?}", expected.root.first_difference(&got.root, ""));
    });
}

#[test]
fn snapshots_create_list_revert_delete_with_children() {
    rt().block_on(async {
        let host = TestHost::builder()
            .domain(&DomainBuilder::new("snap").memory_mib(128).build().unwrap())
            .start()
            .await
            .unwrap();
        let hv = host.hypervisor();
        let id = DomainId::from("snap");
        let s1 = hv
            .create_snapshot(&id, &SnapshotSpec::named("s1").description("first"), SnapshotOptions::default())
            .await
            .unwrap();
        assert_eq!((s1.name.as_str(), s1.description.as_deref(), s1.current), ("s1", Some("first"), true));
        let s2 = hv.create_snapshot(&id, &SnapshotSpec::named("s2"), SnapshotOptions::default()).await.unwrap();
        assert_eq!(s2.parent.as_deref(), Some("s1"));
        assert_eq!(hv.snapshot(&id, "s1").await.unwrap().children, 1);
        hv.destroy(&id).await.unwrap();
        hv.revert_snapshot(&id, "s1", RevertTo::Running).await.unwrap();
        assert_eq!(hv.state(&id).await.unwrap().state, DomainState::Running);
        assert!(hv.snapshot(&id, "s1").await.unwrap().current);
        let mut names: Vec<_> = hv.list_snapshots(&id).await.unwrap().into_iter().map(|s| s.name).collect();
        names.sort();
        assert_eq!(names, ["s1", "s2"]);
        hv.delete_snapshot(&id, "s1", SnapshotDelete::WithChildren).await.unwrap();
        assert!(hv.list_snapshots(&id).await.unwrap().is_empty());
        assert!(matches!(hv.snapshot(&id, "s2").await, Err(LibvirtError::NoSuchSnapshot { .. })));
    });
}

#[test]
fn storage_pools_and_volumes() {
    rt().block_on(async {
        let host = empty_host().await;
        let hv = host.hypervisor();
        let dir = host.dir().join("pool");
        let pool = hv.define_pool(&PoolSpec::dir("images", dir.to_str().unwrap())).await.unwrap();
        assert!(pool.active && pool.persistent);
        assert_eq!((pool.kind.as_str(), pool.path.as_deref()), ("dir", dir.to_str()));
        assert_eq!(pool.uuid.len(), 36, "{pool:?}");
        assert_eq!(hv.list_pools().await.unwrap().into_iter().find(|p| p.name == "images").as_ref(), Some(&pool));
        let golden = hv.create_volume("images", &VolumeSpec::qcow2("golden.qcow2", 1 << 30)).await.unwrap();
        assert_eq!(golden.capacity, 1 << 30);
        let overlay = hv
            .create_volume("images", &VolumeSpec::qcow2("vm1.qcow2", 1 << 30).backed_by(&golden.path, "qcow2"))
            .await
            .unwrap();
        assert!(overlay.path.ends_with("vm1.qcow2"));
        assert_eq!(overlay.key, overlay.path);
        assert_eq!(overlay.format.as_deref(), Some("qcow2"));
        let clone = hv.clone_volume("images", "golden.qcow2", &VolumeSpec::qcow2("copy.qcow2", 1 << 30)).await.unwrap();
        assert_eq!(clone.capacity, golden.capacity);
        let mut names: Vec<_> = hv.list_volumes("images").await.unwrap().into_iter().map(|v| v.name).collect();
        names.sort();
        assert_eq!(names, ["copy.qcow2", "golden.qcow2", "vm1.qcow2"]);
        let err = hv.create_volume("images", &VolumeSpec::qcow2("vm1.qcow2", 1)).await.unwrap_err();
        // the test driver says "operation failed: storage vol already exists" (VIR_ERR_OPERATION_FAILED)
        assert!(err.message().contains("already exists"), "{err:?}");
        for v in ["copy.qcow2", "vm1.qcow2", "golden.qcow2"] {
            hv.delete_volume("images", v).await.unwrap();
        }
        assert!(matches!(hv.delete_volume("images", "vm1.qcow2").await, Err(LibvirtError::NoSuchVolume { .. })));
        hv.remove_pool("images", false).await.unwrap();
        assert!(hv.list_pools().await.unwrap().iter().all(|p| p.name != "images"));
    });
}

#[test]
fn networks_bridge_ovs_and_nat() {
    rt().block_on(async {
        let host = empty_host().await;
        let hv = host.hypervisor();
        let br = hv.define_network(&NetworkSpec::host_bridge("cloud", "cloudbr0")).await.unwrap();
        assert_eq!(
            (br.forward_mode.as_deref(), br.bridge.as_deref(), br.active),
            (Some("bridge"), Some("cloudbr0"), false)
        );
        let ovs = hv.define_network(&NetworkSpec::ovs_bridge("ovs", "br-int")).await.unwrap();
        assert_eq!(ovs.virtualport.as_deref(), Some("openvswitch"));
        let nat =
            NetworkSpec::nat("nat", "virbr42", "192.168.42.1", "255.255.255.0", Some(("192.168.42.2", "192.168.42.9")));
        assert_eq!(hv.define_network(&nat).await.unwrap().forward_mode.as_deref(), Some("nat"));
        hv.start_network("cloud").await.unwrap();
        assert!(hv.network("cloud").await.unwrap().active);
        assert!(matches!(hv.start_network("cloud").await, Err(LibvirtError::OperationInvalid { .. })));
        hv.destroy_network("cloud").await.unwrap();
        for n in ["cloud", "ovs", "nat"] {
            hv.undefine_network(n).await.unwrap();
        }
        assert!(hv.list_networks().await.unwrap().iter().all(|n| !["cloud", "ovs", "nat"].contains(&n.name.as_str())));
    });
}

#[test]
fn test_host_is_seeded_and_isolated() {
    rt().block_on(async {
        let a = TestHost::builder()
            .domain(&DomainBuilder::new("seeded").build().unwrap())
            .network(&NetworkSpec::host_bridge("seednet", "br0"))
            .start()
            .await
            .unwrap();
        let b = TestHost::builder().start().await.unwrap();
        assert_ne!(a.uri(), b.uri());
        let ha = a.hypervisor();
        assert_eq!(ha.list_domains(DomainFilter::All).await.unwrap().len(), 1);
        assert_eq!(ha.network("seednet").await.unwrap().bridge.as_deref(), Some("br0"));
        assert!(b.hypervisor().list_domains(DomainFilter::All).await.unwrap().is_empty());
        let dir = a.dir().to_path_buf();
        drop(a);
        assert!(!dir.exists());
        assert!(matches!(TestHost::builder().xml("<domain").start().await, Err(LibvirtError::InvalidArgument { .. })));
    });
}

#[test]
fn one_connection_per_uri_and_bounded_concurrency() {
    rt().block_on(async {
        let host = empty_host().await;
        let a = LibvirtHypervisor::connect(host.uri()).await.unwrap();
        let b = LibvirtHypervisor::connect(host.uri()).await.unwrap();
        assert!(a.connection().same_as(b.connection()));
        let limit = a.connection().options().max_concurrent;
        let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let (hv, in_flight, peak) = (a.clone(), in_flight.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                hv.connection()
                    .call(move |c| {
                        let now = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                        peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(1));
                        let r = c.num_of_domains();
                        in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                        Ok(r?)
                    })
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let peak = peak.load(std::sync::atomic::Ordering::SeqCst);
        assert!(peak <= limit && peak > 1, "peak {peak}, limit {limit}");
    });
}

/// libvirt's default error handler prints every error to stderr ("libvirt: … error : …");
/// this crate replaces it, so failing calls are silent. Checked in a child process (this test
/// binary re-run with a marker variable) whose stderr is captured.
#[test]
fn failing_calls_print_nothing_to_stderr() {
    if std::env::var_os("KVMHOST_STDERR_CHILD").is_some() {
        rt().block_on(async {
            let hv = LibvirtHypervisor::connect("test:///default").await.unwrap();
            assert!(hv.lookup(&DomainId::from("no-such-vm")).await.is_err());
            assert!(hv.network("no-such-net").await.is_err());
            assert!(LibvirtHypervisor::connect("bogus:///x").await.is_err());
            let conn = kvmhost_libvirt::Connection::open("test:///default").unwrap();
            assert!(conn.lookup("no-such-vm").is_err());
        });
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "failing_calls_print_nothing_to_stderr", "--nocapture", "--test-threads=1"])
        .env("KVMHOST_STDERR_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
    assert!(!stderr.contains("libvirt:") && !stderr.contains("error :"), "stderr: {stderr}");
}

#[test]
fn unreachable_daemon_is_a_typed_connect_error() {
    rt().block_on(async {
        let uri = "qemu+unix:///system?socket=/nonexistent/kvmhost-test/libvirt-sock";
        let t = std::time::Instant::now();
        let err = LibvirtHypervisor::connect(uri).await.unwrap_err();
        assert!(matches!(&err, LibvirtError::Connect { uri: u, .. } if u == uri), "{err:?}");
        assert!(err.message().contains("No such file"), "{err}");
        assert!(t.elapsed() < Duration::from_secs(5));
        // A working connection starts at generation 1 and is connected.
        let host = empty_host().await;
        let c = host.hypervisor().connection();
        assert_eq!((c.generation(), c.is_connected()), (1, true));
        assert_eq!(*c.reconnected().borrow(), 1);
    });
}
