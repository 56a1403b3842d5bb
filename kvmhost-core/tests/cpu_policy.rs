//! The policy layer (CloudStack / Nova options → `<cpu>`) and cluster planning over real host
//! CPUs: libvirt's capabilities XML and CPUID dumps of real machines from its test suite.

use kvmhost_core::cpu::{
    check_migration, migration_safe_cpu, placement, ClusterHost, CpuDef, CpuMap, CpuPolicy, CpuidData,
    KVM_MSR_0X10A_QUIRK,
};
use kvmhost_core::domain::{CpuMode, FeaturePolicy, XmlPart};
use std::path::PathBuf;

fn corpus() -> Option<(CpuMap, PathBuf)> {
    let Some(c) = kvmhost_testdata::libvirt_corpus() else {
        println!("SKIP: libvirt test corpus not found");
        return None;
    };
    Some((CpuMap::load(c.join("cpu_map")).unwrap(), c))
}

fn cpuid_host(map: &CpuMap, dir: &std::path::Path, name: &str) -> ClusterHost {
    let text = std::fs::read_to_string(dir.join(format!("cputest/x86_64-cpuid-{name}.xml"))).unwrap();
    ClusterHost::from_cpuid(map, name, &CpuidData::parse_cpudata(&text).unwrap()).unwrap()
}

#[test]
fn cloudstack_and_nova_options() {
    // CloudStack agent.properties
    let props = "guest.cpu.mode=custom\nguest.cpu.model=SandyBridge\nguest.cpu.features=vmx -hle aes\n";
    let p = CpuPolicy::from_agent_properties(props).unwrap();
    let cpu = p.render(&[]);
    assert_eq!(cpu.model_name(), Some("SandyBridge"));
    assert_eq!(cpu.feature("hle").unwrap().policy, Some(FeaturePolicy::Disable));
    assert_eq!(cpu.feature("vmx").unwrap().policy, Some(FeaturePolicy::Require));
    let xml = cpu.to_element();
    assert_eq!(xml.attr("mode"), Some("custom"));
    for bad in [
        "guest.cpu.mode=custom\n",
        "guest.cpu.mode=host-model\nguest.cpu.model=Haswell\n",
        "guest.cpu.model=Haswell\n",
        "guest.cpu.mode=turbo\n",
        "guest.cpu.mode=host-model\nguest.cpu.features=+\n",
    ] {
        assert!(CpuPolicy::from_agent_properties(bad).is_err(), "{bad}");
    }
    assert_eq!(CpuPolicy::from_agent_properties("").unwrap(), CpuPolicy::HypervisorDefault);
    // Nova [libvirt]
    let n = CpuPolicy::from_nova(Some("custom"), &["IvyBridge", "Haswell-noTSX"], &["+PCID", "-mpx", "ssbd"]).unwrap();
    let flags: Vec<String> = n.flags().iter().map(ToString::to_string).collect();
    assert_eq!(flags, ["+pcid", "-mpx", "+ssbd"]);
    assert!(CpuPolicy::from_nova(Some("custom"), &[], &[]).is_err());
    assert!(CpuPolicy::from_nova(Some("host-passthrough"), &["Haswell"], &[]).is_err());
    assert!(CpuPolicy::from_nova(None, &[], &["+pcid"]).is_err());
    let hp = CpuPolicy::from_nova(Some("host-passthrough"), &[], &["-vmx"]).unwrap();
    let cpu = hp.render(KVM_MSR_0X10A_QUIRK);
    assert_eq!(cpu.mode, Some(CpuMode::HostPassthrough));
    assert_eq!(cpu.feature("arch-capabilities").unwrap().policy, Some(FeaturePolicy::Disable));
    assert_eq!(cpu.feature("vmx").unwrap().policy, Some(FeaturePolicy::Disable));
    // an explicit flag wins over a host exclusion
    let on = CpuPolicy::from_nova(Some("host-model"), &[], &["+arch-capabilities"]).unwrap();
    assert_eq!(
        on.render(KVM_MSR_0X10A_QUIRK).feature("arch-capabilities").unwrap().policy,
        Some(FeaturePolicy::Require)
    );
    assert!(CpuPolicy::HypervisorDefault.render(KVM_MSR_0X10A_QUIRK).features.is_empty());
    let Some((map, _)) = corpus() else { return };
    assert!(n.validate(&map).is_ok());
    assert!(CpuPolicy::from_nova(Some("custom"), &["Haswell"], &["+bogus"]).unwrap().validate(&map).is_err());
    let json = serde_json::to_string(&n).unwrap();
    assert_eq!(serde_json::from_str::<CpuPolicy>(&json).unwrap(), n);
}

#[test]
fn cluster_of_real_cpus() {
    let Some((map, dir)) = corpus() else { return };
    // three generations of Intel servers, from their CPUID dumps
    let hosts: Vec<ClusterHost> =
        ["Xeon-E5-2650", "Xeon-E5-2650-v3", "Xeon-Gold-6148"].iter().map(|n| cpuid_host(&map, &dir, n)).collect();
    let safe = migration_safe_cpu(&map, &hosts).unwrap();
    let model = safe.cpu.model_name().unwrap().to_string();
    assert!(safe.cpu.feature("invtsc").is_none(), "migratable baseline has no invtsc");
    let verdicts = placement(&map, &hosts, &safe).unwrap();
    assert!(verdicts.iter().all(|v| v.runs), "{verdicts:?}");
    // the newest host's own CPU does not run on the oldest; the refusal names features
    let newest = CpuDef { kind: kvmhost_core::cpu::CpuKind::Guest, ..hosts[2].cpu.clone() };
    let v = placement(&map, &hosts, &newest).unwrap();
    assert!(!v[0].runs && v[2].runs);
    assert!(v[0].missing.iter().any(|f| f.starts_with("avx512")), "{:?}", v[0].missing);
    // policies
    let custom = CpuPolicy::Custom { models: vec![model.clone()], flags: vec![] };
    assert!(check_migration(&map, &hosts, &custom).unwrap().migratable);
    let too_new = CpuPolicy::Custom { models: vec!["Skylake-Server".into()], flags: vec![] };
    let c = check_migration(&map, &hosts, &too_new).unwrap();
    assert!(!c.migratable && c.problems.iter().any(|p| p.contains("Xeon-E5-2650 cannot run")), "{c:?}");
    let hm = check_migration(&map, &hosts, &CpuPolicy::HostModel { flags: vec![] }).unwrap();
    assert_eq!(hm.problems.len(), 3, "{hm:?}");
    assert!(hm.problems[0].contains("host-model"));
    let pt = check_migration(&map, &hosts, &CpuPolicy::HostPassthrough { flags: vec![] }).unwrap();
    assert!(!pt.migratable && pt.problems[0].contains("host-passthrough"));
    // identical hosts: passthrough and host-model migrate
    let twins = [cpuid_host(&map, &dir, "Xeon-E5-2650"), cpuid_host(&map, &dir, "Xeon-E5-2650")];
    assert!(check_migration(&map, &twins, &CpuPolicy::HostPassthrough { flags: vec![] }).unwrap().migratable);
    assert!(check_migration(&map, &twins, &CpuPolicy::HostModel { flags: vec![] }).unwrap().migratable);
    // Nova-style model choice per host: first model of the list the host runs
    let nova = CpuPolicy::from_nova(Some("custom"), &["Skylake-Server", &model], &[]).unwrap();
    assert_eq!(nova.render_for_host(&map, &hosts[0].cpu, &[]).unwrap().model_name(), Some(model.as_str()));
    assert_eq!(nova.render_for_host(&map, &hosts[2].cpu, &[]).unwrap().model_name(), Some("Skylake-Server"));
    // an AMD host cannot join an Intel cluster's baseline
    let mut mixed = hosts.clone();
    mixed.push(cpuid_host(&map, &dir, "EPYC-7502-32-Core"));
    assert!(migration_safe_cpu(&map, &mixed).is_err());
}

#[test]
fn hosts_from_capabilities_xml() {
    let Some((map, dir)) = corpus() else { return };
    let xml = std::fs::read_to_string(dir.join("capabilities/caps-qemu-kvm.xml")).unwrap();
    let h = ClusterHost::from_capabilities("caps", &xml).unwrap();
    assert!(h.cpu.cpu.model_name().is_some());
    let safe = migration_safe_cpu(&map, &[h.clone(), h]).unwrap();
    assert!(safe.to_xml().starts_with("<cpu mode='custom' match='exact'>"));
}
