//! Cluster checks: three fixture hosts compared (release, architecture, CPU model through the
//! CPU engine: the model the cluster can share, the host that stands out).

mod preflight_support;

use kvmhost_core::cpu::CpuMap;
use kvmhost_core::preflight::{cluster_checks, Gatherer, HostFacts, Status};
use preflight_support::fixture;

fn host(cpu_model: &str, debian: &str, map: &CpuMap) -> HostFacts {
    let root = fixture("ready");
    root.write(
        "kvmhost-facts/host-cpu.xml",
        &format!("<cpu><arch>x86_64</arch><model>{cpu_model}</model><vendor>Intel</vendor></cpu>"),
    );
    root.write("etc/os-release", &format!("ID=debian\nVERSION_ID=\"{debian}\"\n"));
    let g = Gatherer::new(root.path());
    let mut f = g.gather();
    f.host_cpu = g.host_cpu(map);
    assert!(f.host_cpu.known().is_some(), "{:?}", f.host_cpu);
    f
}

#[test]
fn cluster_of_three_with_one_older_host() {
    let Some(corpus) = kvmhost_testdata::libvirt_corpus() else {
        println!("SKIP: libvirt's test corpus (KVMHOST_TESTDATA) is absent: no cpu_map to compare CPUs with");
        return;
    };
    let map = CpuMap::load(corpus.join("cpu_map")).unwrap();
    let hosts = vec![
        ("kvm1".to_string(), host("Skylake-Client", "12", &map)),
        ("kvm2".to_string(), host("Skylake-Client", "12", &map)),
        ("kvm3".to_string(), host("SandyBridge", "11", &map)),
    ];
    let r = cluster_checks(Some(&map), &hosts);
    let os = r.get("cluster-os").unwrap();
    assert_eq!(os.status, Status::Fail);
    assert_eq!(os.message, "hosts differ: kvm1, kvm2: debian 12; kvm3: debian 11");
    assert_eq!(r.get("cluster-arch").unwrap().status, Status::Pass);
    assert_eq!(r.get("cluster-libvirt").unwrap().status, Status::Pass);
    let cpu = r.get("cluster-cpu").unwrap();
    assert_eq!(cpu.status, Status::Fail);
    assert!(cpu.message.contains("the cluster can share SandyBridge"), "{}", cpu.message);
    assert!(cpu.message.contains("without kvm3 the others could share Skylake-Client"), "{}", cpu.message);
    assert!(cpu.message.contains("avx2"), "kvm3 lacks Haswell's and Skylake's features: {}", cpu.message);
    assert!(!cpu.message.contains("without kvm1"), "kvm1 does not stand out: {}", cpu.message);
    assert!(cpu.remedy.as_deref().unwrap().contains("guest.cpu.model=SandyBridge"));

    // Identical hosts: every check passes.
    let same = vec![hosts[0].clone(), hosts[1].clone()];
    let r = cluster_checks(Some(&map), &same);
    assert!(r.checks.iter().all(|c| c.status == Status::Pass), "{:#?}", r.checks);
    assert_eq!(r.get("cluster-cpu").unwrap().message, "all 2 hosts: Skylake-Client");

    // Without a CPU map or a host's CPU, the CPU check is unknown, with the reason.
    let r = cluster_checks(None, &same);
    assert_eq!(r.get("cluster-cpu").unwrap().status, Status::Unknown);
    let mut unknown = same.clone();
    unknown[1].1.host_cpu = Gatherer::new("/nonexistent-root").host_cpu(&map);
    let r = cluster_checks(Some(&map), &unknown);
    assert!(r.get("cluster-cpu").unwrap().message.starts_with("kvm2's CPU unknown"));
}
