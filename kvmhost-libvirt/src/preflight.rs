//! Preflight facts a libvirt connection knows better than files: the running daemon's libvirt
//! and QEMU versions, the domains it runs, the host CPU it reports. They complete the
//! [`HostFacts`] that [`kvmhost_core::preflight`] gathered from files (core has no libvirt).
//!
//! ```
//! use kvmhost_core::preflight::{Fact, HostFacts, Profile, Status};
//! use kvmhost_libvirt::{preflight, LibvirtHypervisor};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let host = LibvirtHypervisor::connect("test:///default").await.unwrap();
//! let mut facts = HostFacts::default();
//! let seen = preflight::connection_facts(&host).await.unwrap();
//! seen.apply(&mut facts);
//! let vms = facts.running_vms.known().unwrap();
//! assert_eq!(vms[0].name, "test"); // test:///default runs one domain
//! assert_eq!(Profile::cloudstack().run(&facts).get("no-running-vms").unwrap().status, Status::Fail);
//! # });
//! ```

use crate::{DomainFilter, Hypervisor, Result};
use kvmhost_core::cpu::CpuDef;
use kvmhost_core::preflight::{Fact, HostFacts, Package, RunningVm, Version};
use serde::{Deserialize, Serialize};

/// What a connection reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConnectionFacts {
    /// The connection's URI.
    pub uri: String,
    /// The daemon's libvirt (`virConnectGetLibVersion`).
    pub libvirt: Version,
    /// The driver (`virConnectGetType`: `QEMU`, `Test`, ...).
    pub driver: String,
    /// The hypervisor's version (`virConnectGetVersion`: QEMU's for the QEMU driver).
    pub hypervisor: Version,
    /// The active domains' names.
    pub running: Vec<String>,
    /// The host CPU of `virConnectGetCapabilities` (`/capabilities/host/cpu`).
    pub host_cpu: Option<CpuDef>,
}

fn version(v: crate::Version) -> Version {
    Version::new(&[v.major, v.minor, v.release])
}

/// Asks the connection (versions, active domains, capabilities).
pub async fn connection_facts<H: Hypervisor + ?Sized>(host: &H) -> Result<ConnectionFacts> {
    let versions = host.versions().await?;
    let mut running: Vec<String> = host.list_domains(DomainFilter::Active).await?.into_iter().map(|d| d.name).collect();
    running.sort();
    let caps = host.capabilities().await?;
    Ok(ConnectionFacts {
        uri: host.uri().to_string(),
        libvirt: version(versions.library),
        driver: versions.driver,
        hypervisor: version(versions.hypervisor),
        running,
        host_cpu: caps.host.cpu,
    })
}

impl ConnectionFacts {
    /// Puts what the connection said into `facts`: the libvirt version (the running daemon's,
    /// over what packages say), QEMU's version for the QEMU driver, the running domains (plus
    /// the QEMU processes files found that libvirt does not know) and the host CPU.
    pub fn apply(&self, facts: &mut HostFacts) {
        let src = |call: &str| format!("{}: {call}", self.uri);
        facts.libvirt = Fact::Known(Some(Package::new(self.libvirt.clone(), src("virConnectGetLibVersion"))));
        if self.driver.eq_ignore_ascii_case("qemu") {
            facts.qemu = Fact::Known(Some(Package::new(self.hypervisor.clone(), src("virConnectGetVersion"))));
        }
        let mut vms: Vec<RunningVm> =
            self.running.iter().map(|n| RunningVm::new(n.clone(), format!("libvirt {}", self.uri))).collect();
        if let Fact::Known(found) = &facts.running_vms {
            vms.extend(found.iter().filter(|v| !self.running.contains(&v.name)).cloned());
        }
        facts.running_vms = Fact::Known(vms);
        if let Some(cpu) = &self.host_cpu {
            facts.host_cpu = Fact::Known(cpu.clone());
        }
    }
}

/// [`connection_facts`] then [`ConnectionFacts::apply`].
pub async fn complete<H: Hypervisor + ?Sized>(host: &H, facts: &mut HostFacts) -> Result<ConnectionFacts> {
    let seen = connection_facts(host).await?;
    seen.apply(facts);
    Ok(seen)
}
