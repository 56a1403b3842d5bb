//! A kvmhost user's own program, written from the README: edit a domain, compute a CPU baseline,
//! plan a CloudStack network.

use kvmhost::core::cpu::{baseline, BaselineOptions, ClusterHost, CpuMap};
use kvmhost::core::domain::{Domain, Interface, Memory};
use kvmhost::net::{cloudstack::CloudStackLinux, engine, NetState};

/// A domain as virt-install writes it (abridged).
const VM_XML: &str = r#"<domain type="kvm">
  <name>web1</name>
  <memory unit="KiB">2097152</memory>
  <currentMemory unit="KiB">2097152</currentMemory>
  <vcpu placement="static">2</vcpu>
  <devices>
    <disk type="file" device="disk">
      <source file="/var/lib/libvirt/images/web1.qcow2"/>
      <target dev="vda" bus="virtio"/>
    </disk>
    <interface type="network">
      <source network="default"/>
    </interface>
  </devices>
</domain>
"#;

/// Two hosts' `virsh capabilities` (their host CPU).
fn capabilities(model: &str) -> String {
    format!(
        "<capabilities><host><cpu><arch>x86_64</arch><model>{model}</model>\
         <vendor>Intel</vendor></cpu></host></capabilities>"
    )
}

/// The host before, as `Engine::read_state()` / `host_network show` give it.
const HOST_STATE: &str = r"
links: {eth0: {name: eth0, index: 2, kind: {type: other, kind: ''}, mtu: 1500, up: true, addresses: [192.168.42.11/24]}}
routes: [{destination: 0.0.0.0/0, gateway: 192.168.42.1, device: eth0, metric: 0, protocol: 4, scope: 0}]
";

fn edit_domain() -> Result<(), Box<dyn std::error::Error>> {
    println!("== domain: 4 GiB and a NIC on cloudbr0");
    let mut d = Domain::parse(VM_XML)?;
    d.set_memory(&Memory::gib(4));
    d.add_device(&Interface::bridge("cloudbr0"));
    d.validate_interfaces()?;
    let devices = d.devices()?.unwrap_or_default();
    println!("{} disks, {} interfaces", devices.disks.len(), devices.interfaces.len());
    let xml = d.to_xml()?;
    print!("{xml}");

    let back: Domain = xml.parse()?;
    assert_eq!(back.name().as_deref(), Some("web1"));
    assert_eq!(back.memory()?.and_then(|m| m.kib()), Some(4 * 1024 * 1024));
    assert_eq!(back.current_memory()?.and_then(|m| m.kib()), Some(4 * 1024 * 1024));
    assert_eq!(back.devices()?.unwrap_or_default().interfaces.len(), 2);
    // Unedited, the document is written back byte for byte.
    assert_eq!(Domain::parse(VM_XML)?.to_xml()?, VM_XML);
    Ok(())
}

fn cpu_baseline() -> Result<(), Box<dyn std::error::Error>> {
    println!("== CPU baseline of kvm1 (Skylake-Client-noTSX-IBRS) and kvm2 (Haswell-noTSX-IBRS)");
    let map = CpuMap::load(CpuMap::default_path())?;
    let hosts = vec![
        ClusterHost::from_capabilities("kvm1", &capabilities("Skylake-Client-noTSX-IBRS"))?,
        ClusterHost::from_capabilities("kvm2", &capabilities("Haswell-noTSX-IBRS"))?,
    ];
    let cpus: Vec<_> = hosts.iter().map(|h| h.cpu.clone()).collect();
    let base = baseline(&map, &cpus, &BaselineOptions::new().migratable(true))?;
    print!("{}", base.to_xml());
    assert_eq!(base.cpu.model_name(), Some("Haswell-noTSX-IBRS"));
    let safe = kvmhost::core::cpu::migration_safe_cpu(&map, &hosts)?;
    println!("migration-safe CPU: {:?}", safe.cpu.model_name());
    assert!(safe.cpu.model_name().is_some());
    Ok(())
}

fn plan_cloudstack() -> Result<(), Box<dyn std::error::Error>> {
    println!("== CloudStack Linux-bridge layout on eth0 (VLANs 100, 200, 300), planned");
    let net = CloudStackLinux::new("eth0", 100, 200, 300, "192.168.42.11/24".parse()?, "192.168.42.1".parse()?).build();
    net.validate()?;
    let state = NetState::from_yaml(HOST_STATE)?;
    let plan = engine::plan_against(&net, &state)?;
    print!("{plan}");
    assert!(!plan.is_empty());
    let text = plan.to_string();
    assert!(text.contains("ip addr add 192.168.42.11/24 dev eth0.100"), "{text}");
    // The default route moves in one request, never missing (add before delete).
    assert!(text.contains("ip route replace default via 192.168.42.1 dev eth0.100"), "{text}");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    edit_domain()?;
    cpu_baseline()?;
    plan_cloudstack()?;
    println!("user program: domain edited, baseline computed, plan made");
    Ok(())
}
