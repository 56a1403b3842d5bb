//! Builder output is accepted by libvirt's `defineXML` (test driver, no daemon), runs, and what
//! libvirt reports back parses into the lossless model.

use kvmhost_core::domain::{
    Cpu, Disk, DiskHost, Display, DomainBuilder, DomainType, FeaturePolicy, Interface, Memory, VirtualPortType, VlanId,
};
use kvmhost_libvirt::{Connection, DomainState, LibvirtError};
use proptest::prelude::*;

#[test]
fn builder_variety_is_accepted_by_define_xml() {
    let conn = Connection::open("test:///default").unwrap();
    let domains = vec![
        DomainBuilder::new("d-plain").build().unwrap(),
        DomainBuilder::new("d-full & <more>")
            .title("T")
            .description("line1\nline2")
            .memory(Memory::gib(2))
            .current_memory(Memory::gib(1))
            .vcpus(4)
            .disk_file("/var/lib/libvirt/images/a.qcow2")
            .cdrom("/iso/x.iso")
            .bridge("cloudbr0")
            .display(Display::Spice { listen: "0.0.0.0".into() })
            .build()
            .unwrap(),
        DomainBuilder::new("d-tcg").domain_type(DomainType::Qemu).display(Display::Headless).build().unwrap(),
        DomainBuilder::new("d-efi").uefi().build().unwrap(),
        DomainBuilder::new("d-typed")
            .cpu(&Cpu::host_model().with_feature("arch-capabilities", FeaturePolicy::Disable))
            .disk(&Disk::network("rbd", "pool/image", vec![DiskHost::new("mon1.example.org", Some(6789))]))
            .interface(&Interface::ovs_bridge("ovsbr0", Some("09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f".into())))
            .interface(&Interface::ovs_bridge("cloudbr1", None).with_vlan(VlanId::new(300).unwrap()))
            .build()
            .unwrap(),
    ];
    for d in &domains {
        let vm = conn.define(d).unwrap_or_else(|e| panic!("{:?}: {e}", d.name()));
        assert_eq!(vm.state().unwrap(), DomainState::Shutoff);
        vm.start().unwrap();
        assert_eq!(vm.state().unwrap(), DomainState::Running);
        let live = vm.domain().unwrap();
        assert_eq!(live.name(), d.name());
        assert_eq!(live.memory().unwrap().unwrap().kib(), d.memory().unwrap().unwrap().kib());
        // libvirt keeps every disk and NIC we gave it.
        let (ours, theirs) = (d.devices().unwrap().unwrap(), live.devices().unwrap().unwrap());
        assert_eq!(ours.disks.len(), theirs.disks.len());
        assert_eq!(ours.interfaces.len(), theirs.interfaces.len());
        // Typed NIC details survive libvirt's parse and format (OVS virtualport, VLAN tag).
        for (a, b) in ours.interfaces.iter().zip(&theirs.interfaces) {
            let port = |i: &kvmhost_core::domain::Interface| i.virtualport.as_ref().and_then(|v| v.port_type.clone());
            assert_eq!(port(a), port(b));
            let vlan = |i: &kvmhost_core::domain::Interface| i.vlan.as_ref().map(|v| v.tags.len());
            assert_eq!(vlan(a), vlan(b));
        }
        if d.name().as_deref() == Some("d-typed") {
            assert_eq!(
                theirs.interfaces[0].virtualport.as_ref().unwrap().port_type,
                Some(VirtualPortType::OpenVswitch)
            );
            assert_eq!(live.cpu().unwrap().unwrap().mode, d.cpu().unwrap().unwrap().mode);
        }
        vm.destroy().unwrap();
        vm.undefine().unwrap();
        assert!(matches!(conn.lookup(&d.name().unwrap()), Err(LibvirtError::NoSuchDomain { .. })));
    }
}

#[test]
fn libvirt_rejections_are_typed_errors() {
    let conn = Connection::open("test:///default").unwrap();
    let vm = conn.define(&DomainBuilder::new("twice").build().unwrap()).unwrap();
    vm.start().unwrap();
    // Starting a running domain fails with libvirt's own message (the test driver reports it
    // as an internal error, code 1).
    let err = vm.start().unwrap_err();
    assert!(matches!(&err, LibvirtError::Other { code: 1, message } if message.contains("already running")), "{err:?}");
    vm.destroy().unwrap();
    let err = vm.destroy().unwrap_err();
    assert!(matches!(err, LibvirtError::OperationInvalid { .. }), "{err:?}");
    vm.undefine().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    /// Random names, descriptions and sizes: libvirt accepts the document and reports the
    /// same name, description and memory back.
    #[test]
    fn random_builder_inputs_are_accepted_by_libvirt(
        name in "[^\n/\u{0}-\u{1f}\u{7f}\u{fffe}\u{ffff}]{1,30}".prop_filter("not blank", |s| !s.trim().is_empty()),
        description in "[^\u{0}-\u{8}\u{b}\u{c}\u{d}\u{e}-\u{1f}\u{fffe}\u{ffff}]{0,60}",
        mib in 1u64..16384,
        vcpus in 1u32..16,
    ) {
        let conn = Connection::open("test:///default").unwrap();
        let d = DomainBuilder::new(name.clone()).description(description.clone()).memory_mib(mib).vcpus(vcpus)
            .build().unwrap();
        let vm = conn.define(&d).map_err(|e| TestCaseError::fail(format!("{name:?}: {e}")))?;
        let live = vm.domain().unwrap();
        prop_assert_eq!(live.name(), Some(name));
        prop_assert_eq!(live.description().unwrap_or_default(), description);
        prop_assert_eq!(live.memory().unwrap().unwrap().kib(), Some(mib * 1024));
        vm.undefine().unwrap();
    }
}
