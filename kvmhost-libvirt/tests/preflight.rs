//! Preflight facts from a libvirt connection (`test:///default` and a private test host):
//! versions, running domains, host CPU, merged with the facts files gave.

use kvmhost_core::domain::DomainBuilder;
use kvmhost_core::preflight::{Fact, Gatherer, Profile, RunningVm, Status, Version};
use kvmhost_libvirt::testing::TestHost;
use kvmhost_libvirt::{preflight, Hypervisor, LibvirtHypervisor};

#[tokio::test]
async fn test_driver_facts() {
    let host = LibvirtHypervisor::connect("test:///default").await.unwrap();
    let seen = preflight::connection_facts(&host).await.unwrap();
    assert_eq!(seen.uri, "test:///default");
    assert!(seen.driver.eq_ignore_ascii_case("test"), "{}", seen.driver);
    assert_eq!(seen.running, ["test"]);
    let lib = host.versions().await.unwrap().library;
    assert_eq!(seen.libvirt, Version::new(&[lib.major, lib.minor, lib.release]));
    assert!(seen.libvirt >= Version::new(&[0, 9, 4]));

    // Merged into facts read from files: libvirt's version and the domains come from the
    // connection, a QEMU process libvirt does not know is kept, QEMU's version is not taken
    // from a non-QEMU driver.
    let mut facts = Gatherer::new("/nonexistent-root").gather();
    facts.running_vms = Fact::Known(vec![RunningVm::new("by-hand", "process 77 (qemu-system-x86)")]);
    seen.apply(&mut facts);
    let names: Vec<_> = facts.running_vms.known().unwrap().iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["test", "by-hand"]);
    let pkg = facts.libvirt.known().unwrap().as_ref().unwrap();
    assert_eq!(pkg.source, "test:///default: virConnectGetLibVersion");
    assert!(matches!(facts.qemu, Fact::Unknown(_)) || matches!(facts.qemu, Fact::Known(None)));
    let r = Profile::cloudstack().run(&facts);
    assert_eq!(r.get("libvirt-version").unwrap().status, Status::Pass);
    let vms = r.get("no-running-vms").unwrap();
    assert_eq!(vms.status, Status::Fail);
    assert!(vms.message.contains("test (libvirt test:///default)"), "{}", vms.message);
}

#[tokio::test]
async fn running_domains_follow_the_host() {
    let t =
        TestHost::builder().domain(&DomainBuilder::new("idle").memory_mib(64).build().unwrap()).start().await.unwrap();
    let id = kvmhost_libvirt::DomainId::from("idle");
    // The test driver starts the domains of its node file; stop it.
    t.hypervisor().destroy(&id).await.unwrap();
    let mut facts = Gatherer::new("/nonexistent-root").gather();
    let seen = preflight::complete(t.hypervisor(), &mut facts).await.unwrap();
    assert!(seen.running.is_empty(), "a defined, stopped domain is not running: {:?}", seen.running);
    let r = Profile::cloudstack().run(&facts);
    assert_eq!(r.get("no-running-vms").unwrap().status, Status::Pass);
    t.hypervisor().start(&id).await.unwrap();
    let seen = preflight::complete(t.hypervisor(), &mut facts).await.unwrap();
    assert_eq!(seen.running, ["idle"]);
    assert_eq!(Profile::cloudstack().run(&facts).get("no-running-vms").unwrap().status, Status::Fail);
}
