//! DomainBuilder output: lossless, schema-valid (libvirt's RelaxNG via `xmllint`), and
//! robust to arbitrary names and descriptions.

use std::path::PathBuf;
use std::process::Command;

use kvmhost_core::domain::{
    Cpu, Disk, DiskHost, Display, Domain, DomainBuilder, DomainType, FeaturePolicy, Interface, Memory, VlanId, Watchdog,
};
use kvmhost_core::xml::Element;
use kvmhost_testdata::libvirt_corpus;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Validates documents against libvirt's domain.rng in one xmllint run; `None` when the
/// corpus (which holds the schemas) is absent.
fn validate_with_schema(docs: &[(String, String)]) -> Option<Result<(), String>> {
    let Some(corpus) = libvirt_corpus() else {
        eprintln!("SKIP schema validation: libvirt corpus (schemas) not found; set KVMHOST_TESTDATA");
        return None;
    };
    let dir = std::env::temp_dir().join(format!("kvmhost-schema-{}-{}", std::process::id(), docs.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files: Vec<PathBuf> = Vec::new();
    for (i, (label, xml)) in docs.iter().enumerate() {
        let f = dir.join(format!("{i:04}.xml"));
        std::fs::write(&f, xml).unwrap();
        files.push(f);
        let _ = label;
    }
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--relaxng")
        .arg(corpus.join("schemas/domain.rng"))
        .args(&files)
        .output()
        .expect("xmllint not found: install libxml2-utils (scripts/test.sh does)");
    let _ = std::fs::remove_dir_all(&dir);
    if out.status.success() {
        Some(Ok(()))
    } else {
        Some(Err(String::from_utf8_lossy(&out.stderr).into_owned()))
    }
}

fn assert_lossless(d: &Domain) -> String {
    let xml = d.to_xml().unwrap();
    let back = Domain::parse(&xml).unwrap();
    assert!(back.root().semantically_eq(d.root()), "round trip changed the document");
    assert_eq!(back.to_xml().unwrap(), xml);
    xml
}

fn variety() -> Vec<(String, Domain)> {
    let vlan = |id| VlanId::new(id).unwrap();
    let mut app = Element::new("app:info");
    app.set_attr("xmlns:app", "https://example.org/app");
    app.set_text("tenant-42");
    vec![
        ("default".into(), DomainBuilder::new("plain").build().unwrap()),
        (
            "full".into(),
            DomainBuilder::new("full")
                .uuid("c7a5fdbd-edaf-9455-926a-d65c16db1809")
                .title("Full & <complete>")
                .description("multi\nline 'desc' \"quoted\" ✓")
                .memory(Memory::gib(4))
                .current_memory(Memory::gib(2))
                .vcpus(4)
                .disk_file("/var/lib/libvirt/images/a.qcow2")
                .disk_file("/var/lib/libvirt/images/b.qcow2")
                .cdrom("/iso/install.iso")
                .bridge("cloudbr0")
                .network("default")
                .display(Display::Spice { listen: "0.0.0.0".into() })
                .metadata(app)
                .build()
                .unwrap(),
        ),
        (
            "tcg-headless-kernel".into(),
            DomainBuilder::new("tcg")
                .domain_type(DomainType::Qemu)
                .display(Display::Headless)
                .kernel("/boot/vmlinuz", Some("/boot/initrd.img".into()), Some("console=ttyS0".into()))
                .without_default_nic()
                .guest_agent(false)
                .build()
                .unwrap(),
        ),
        ("uefi".into(), DomainBuilder::new("efi").uefi().pcie_root_ports(8).build().unwrap()),
        (
            "typed-parts".into(),
            DomainBuilder::new("typed")
                .cpu(&Cpu::host_model().with_feature("arch-capabilities", FeaturePolicy::Disable))
                .disk(&Disk::network("rbd", "pool/image", vec![DiskHost::new("mon1.example.org", Some(6789))]))
                .interface(&Interface::ovs_bridge("ovsbr0", Some("09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f".into())))
                .interface(
                    &Interface::ovs_bridge("cloudbr1", None)
                        .with_vlan(vlan(300))
                        .with_mac("52:54:00:12:34:56".parse().unwrap()),
                )
                .interface(
                    &Interface::ovs_bridge("ovsbr0", None)
                        .with_trunk(&[vlan(100), vlan(200), vlan(300)], Some(vlan(100))),
                )
                .device(&Watchdog::new("i6300esb", "reset"))
                .build()
                .unwrap(),
        ),
        ("pc-machine".into(), DomainBuilder::new("pc").machine("pc").build().unwrap()),
    ]
}

#[test]
fn builder_output_is_lossless_and_schema_valid() {
    let docs: Vec<(String, String)> = variety().iter().map(|(l, d)| (l.clone(), assert_lossless(d))).collect();
    if let Some(r) = validate_with_schema(&docs) {
        r.unwrap_or_else(|e| panic!("libvirt's schema rejects builder output:\n{e}"));
    }
}

#[test]
fn schema_validation_can_fail() {
    // The check above must be able to fail: a document libvirt's schema refuses.
    let bad = vec![(
        "bad".to_string(),
        "<domain type='kvm'><name>x</name><memory unit='parsecs'>1</memory></domain>".to_string(),
    )];
    if let Some(r) = validate_with_schema(&bad) {
        assert!(r.is_err(), "xmllint accepted an invalid document");
    }
}

#[test]
fn builder_defaults_are_modern_kvm() {
    let d = DomainBuilder::new("vm").disk_file("/i.qcow2").build().unwrap();
    let def = d.def().unwrap();
    assert_eq!(def.domain_type, Some(DomainType::Kvm));
    assert_eq!(def.memory.unwrap().kib(), Some(1024 * 1024));
    let root = d.root();
    let os_type = root.child("os").unwrap().child("type").unwrap();
    assert_eq!(os_type.attr("machine"), Some("q35"));
    let devices = root.child("devices").unwrap();
    let models: Vec<_> = devices.children_named("controller").filter_map(|c| c.attr("model")).collect();
    assert!(models.contains(&"qemu-xhci") && models.contains(&"pcie-root") && models.contains(&"pcie-root-port"));
    assert_eq!(devices.child("disk").unwrap().child("target").unwrap().attr("bus"), Some("virtio"));
    assert_eq!(devices.child("interface").unwrap().child("model").unwrap().attr("type"), Some("virtio"));
    assert_eq!(devices.child("rng").unwrap().attr("model"), Some("virtio"));
    assert_eq!(devices.child("memballoon").unwrap().attr("model"), Some("virtio"));
    assert_eq!(devices.child("graphics").unwrap().attr("listen"), Some("127.0.0.1"));
    // Devices come out in libvirt's order.
    let order: Vec<&str> = devices.elements().map(|e| e.name.as_str()).collect();
    let pos = |n: &str| order.iter().position(|x| *x == n).unwrap();
    assert!(
        pos("disk") < pos("controller") && pos("controller") < pos("interface") && pos("interface") < pos("serial")
    );
    assert!(pos("graphics") < pos("video") && pos("video") < pos("memballoon"));
}

#[test]
fn bad_builder_input_is_refused_with_path() {
    for (b, path) in [
        (DomainBuilder::new(""), "/domain/name"),
        (DomainBuilder::new("a/b"), "/domain/name"),
        (DomainBuilder::new("a\nb"), "/domain/name"),
        (DomainBuilder::new("bell\u{7}"), "/domain/name"),
        (DomainBuilder::new("ok").title("two\nlines"), "/domain/title"),
        (DomainBuilder::new("ok").description("nul\u{0}"), "/domain/description"),
        (DomainBuilder::new("ok").vcpus(0), "/domain/vcpu"),
        (DomainBuilder::new("ok").memory_mib(0), "/domain/memory"),
        (DomainBuilder::new("ok").memory_mib(1).current_memory(Memory::mib(2)), "/domain/currentMemory"),
        (DomainBuilder::new("ok").metadata(Element::new("nons")), "/domain/metadata"),
    ] {
        let err = b.build().unwrap_err();
        assert!(err.to_string().contains(path), "{err} should name {path}");
    }
}

/// Names libvirt accepts: no newline, no '/', not blank; otherwise any XML character.
fn name_strategy() -> impl Strategy<Value = String> {
    "[^\n/\u{0}-\u{8}\u{b}\u{c}\u{e}-\u{1f}\u{fffe}\u{ffff}]{1,40}".prop_filter("not blank", |s| !s.trim().is_empty())
}

fn text_strategy() -> impl Strategy<Value = String> {
    "[^\u{0}-\u{8}\u{b}\u{c}\u{e}-\u{1f}\u{fffe}\u{ffff}]{0,80}"
}

#[test]
fn random_builder_inputs_round_trip_and_validate() {
    let mut runner = TestRunner::new(Config { cases: 96, ..Config::default() });
    let strategy = (name_strategy(), text_strategy(), 1u64..65536, 1u32..64, 0usize..4, any::<bool>(), "[ -~]{0,20}");
    let docs = std::cell::RefCell::new(Vec::new());
    runner
        .run(&strategy, |(name, description, mib, vcpus, disks, spice, title)| {
            let mut b = DomainBuilder::new(name.clone()).memory_mib(mib).vcpus(vcpus).description(description.clone());
            if !title.trim().is_empty() {
                b = b.title(title.clone());
            }
            for i in 0..disks {
                b = b.disk_file(format!("/var/lib/libvirt/images/disk-{i}.qcow2"));
            }
            if spice {
                b = b.display(Display::Spice { listen: "::1".into() });
            }
            let d = b.build().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let xml = assert_lossless(&d);
            let back = Domain::parse(&xml).unwrap();
            prop_assert_eq!(back.name(), Some(name.clone()));
            prop_assert_eq!(back.description().unwrap_or_default(), description.clone());
            prop_assert_eq!(back.memory().unwrap().unwrap().kib(), Some(mib * 1024));
            docs.borrow_mut().push((name, xml));
            Ok(())
        })
        .unwrap();
    let docs = docs.into_inner();
    assert_eq!(docs.len(), 96);
    if let Some(r) = validate_with_schema(&docs) {
        r.unwrap_or_else(|e| panic!("libvirt's schema rejects random builder output:\n{e}"));
    }
}

proptest! {
    #![proptest_config(Config { cases: 256, ..Config::default() })]
    /// Any string, set as a name or description, either round-trips exactly or is refused
    /// with an error (characters XML cannot carry); never a panic, never silent corruption.
    #[test]
    fn any_string_round_trips_or_is_refused(s in any::<String>()) {
        let mut d = Domain::parse("<domain type='kvm'><name>x</name></domain>").unwrap();
        let ok = kvmhost_core::xml::check_xml_chars(&s).is_ok();
        prop_assert_eq!(d.set_description(Some(&s)).is_ok(), ok);
        if ok {
            let xml = d.to_xml().unwrap();
            let back = Domain::parse(&xml).unwrap();
            let got = back.description().unwrap_or_default();
            // XML parsers normalise CR and CRLF to LF in text (XML 1.0 §2.11): we escape CR.
            prop_assert_eq!(got, s);
        }
    }
}
