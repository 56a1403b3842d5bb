//! Live migration through `LibvirtHypervisor::migrate` (the shared connections of both hosts),
//! between the two libvirtd of `scripts/services/libvirt-hosts.sh`: a running guest moves with
//! progress, the `Hypervisor::events` streams of both hosts see it leave and arrive, and the
//! CPU pre-check refuses a guest CPU the destination lacks. Skips unless the service is started
//! (`KVMHOST_MIGRATION_SRC_URI`, `KVMHOST_MIGRATION_DST_URI`, `KVMHOST_MIGRATION_DST_ADDR`).

use std::time::Duration;

use kvmhost_core::domain::{Display, Domain, DomainBuilder, DomainType};
use kvmhost_libvirt::events::HostEvents;
use kvmhost_libvirt::migration::{CpuVerdict, MigrationError, MigrationOptions};
use kvmhost_libvirt::{DomainId, DomainState, Hypervisor, LibvirtHypervisor, UndefineOptions};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn hosts(test: &str) -> Option<(LibvirtHypervisor, LibvirtHypervisor, String)> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let (Some(src), Some(dst), Some(addr)) =
        (var("KVMHOST_MIGRATION_SRC_URI"), var("KVMHOST_MIGRATION_DST_URI"), var("KVMHOST_MIGRATION_DST_ADDR"))
    else {
        println!("SKIP: {test}: libvirt-hosts not started (run ./scripts/test.sh)");
        return None;
    };
    Some((LibvirtHypervisor::connect(&src).await.unwrap(), LibvirtHypervisor::connect(&dst).await.unwrap(), addr))
}

fn tiny(name: &str) -> DomainBuilder {
    let kvm = std::path::Path::new("/dev/kvm").exists();
    DomainBuilder::new(name)
        .domain_type(if kvm { DomainType::Kvm } else { DomainType::Qemu })
        .memory_mib(64)
        .vcpus(1)
        .without_default_nic()
        .display(Display::Headless)
}

async fn cleanup(hosts: [&LibvirtHypervisor; 2], name: &str) {
    for h in hosts {
        let id = DomainId::name(name);
        let _ = h.destroy(&id).await;
        let _ = h.undefine(&id, UndefineOptions::default()).await;
    }
}

async fn kinds_until(events: &mut HostEvents, last: &str) -> Vec<&'static str> {
    let mut seen = vec![];
    while let Some(ev) = events.recv_timeout(Duration::from_secs(20)).await {
        seen.push(ev.kind.name());
        if ev.kind.name() == last {
            break;
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hypervisor_migrate_moves_a_running_guest_with_progress_and_events() {
    let Some((src, dst, addr)) = hosts("Hypervisor live migration").await else { return };
    let _serial = SERIAL.lock().await;
    let name = "lvint-hv-mig";
    cleanup([&src, &dst], name).await;
    let vm = src.define(&tiny(name).build().unwrap()).await.unwrap();
    let id = vm.domain_id();
    src.start(&id).await.unwrap();
    let mut left = src.events(Some(id.clone())).await.unwrap();
    let mut arrived = dst.events(Some(DomainId::name(name))).await.unwrap();

    let mut opts = MigrationOptions::managed().migration_uri(&format!("tcp://{addr}")).allow_unsafe(true);
    opts.progress_interval_ms = 20;
    let mut job = src.migrate(&id, &dst, &opts).await.unwrap();
    // A guest without <cpu> has nothing to compare; the verdict says so rather than "skipped".
    assert!(!matches!(job.cpu_verdict(), CpuVerdict::Skipped), "{:?}", job.cpu_verdict());
    let mut samples = 0;
    while job.next_progress().await.is_some() {
        samples += 1;
    }
    let report = job.wait().await.unwrap();
    println!("migrated through the Hypervisor in {} ms, {samples} samples", report.duration_ms);
    assert_eq!(report.destination_domain, name);
    assert_eq!(report.progress_samples, samples);

    // The same UUID now runs on the destination and no longer on the source.
    assert_eq!(dst.state(&id).await.unwrap().state, DomainState::Running);
    assert_eq!(src.state(&id).await.unwrap().state, DomainState::Shutoff);
    let src_seen = kinds_until(&mut left, "Stopped").await;
    assert_eq!(src_seen.last(), Some(&"Stopped"), "source events: {src_seen:?}");
    let dst_seen = kinds_until(&mut arrived, "Resumed").await;
    assert!(dst_seen.contains(&"Started") && dst_seen.contains(&"Resumed"), "destination events: {dst_seen:?}");
    cleanup([&src, &dst], name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hypervisor_migrate_refuses_a_cpu_the_destination_lacks() {
    let Some((src, dst, addr)) = hosts("Hypervisor CPU pre-check").await else { return };
    let _serial = SERIAL.lock().await;
    let name = "lvint-hv-cpu";
    cleanup([&src, &dst], name).await;
    // No x86 host has both Intel's VMX and AMD's SVM: requiring both must fail on any machine.
    let xml = tiny(name).build().unwrap().to_xml().unwrap().replacen(
        "</vcpu>",
        "</vcpu><cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model>\
         <feature policy='require' name='vmx'/><feature policy='require' name='svm'/></cpu>",
        1,
    );
    let vm = src.define(&Domain::parse(&xml).unwrap()).await.unwrap();
    let opts = MigrationOptions::managed().migration_uri(&format!("tcp://{addr}")).allow_unsafe(true);
    let err = src.migrate(&vm.domain_id(), &dst, &opts).await.unwrap_err();
    println!("refused: {err}");
    match &err {
        MigrationError::CpuIncompatible { features, .. } => {
            assert!(features.iter().any(|f| f == "vmx" || f == "svm"), "{err}")
        }
        other => panic!("expected CpuIncompatible, got {other:?}"),
    }
    assert!(dst.lookup(&DomainId::name(name)).await.is_err(), "nothing may reach the destination");
    cleanup([&src, &dst], name).await;
}
