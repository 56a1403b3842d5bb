//! Helpers for users' own integration tests: an isolated libvirt host on the embedded test
//! driver, seeded from a custom node XML (`test:///path/to/node.xml`) with predefined domains,
//! networks, storage pools and volumes, and a node size. No daemon, no root, nothing shared:
//! every [`TestHost`] has its own node file and so its own private driver state.
//!
//! ```
//! use kvmhost_core::domain::DomainBuilder;
//! use kvmhost_libvirt::testing::TestHost;
//! use kvmhost_libvirt::{DomainFilter, Hypervisor, NetworkSpec, PoolSpec};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let host = TestHost::builder()
//!     .cpus(8)
//!     .memory_kib(16 << 20)
//!     .domain(&DomainBuilder::new("web1").memory_mib(512).build().unwrap())
//!     .network(&NetworkSpec::host_bridge("cloud", "cloudbr0"))
//!     .pool(&PoolSpec::dir("images", "/var/lib/images"), &["golden.qcow2"])
//!     .start()
//!     .await
//!     .unwrap();
//! let hv = host.hypervisor();
//! assert_eq!(hv.node_info().await.unwrap().cpus, 8);
//! let names: Vec<_> = hv.list_domains(DomainFilter::All).await.unwrap().into_iter().map(|d| d.name).collect();
//! assert_eq!(names, ["web1"]);
//! assert_eq!(hv.list_volumes("images").await.unwrap()[0].name, "golden.qcow2");
//! # });
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use kvmhost_core::domain::Domain;
use kvmhost_core::xml::{Document, Element};

use crate::{LibvirtError, LibvirtHypervisor, NetworkSpec, PoolSpec, Result};

/// Builds a [`TestHost`].
#[derive(Debug, Default, Clone)]
pub struct TestHostBuilder {
    cpus: Option<u32>,
    memory_kib: Option<u64>,
    parts: Vec<String>,
}

/// An isolated libvirt test host. Its node file lives in a private temporary directory removed
/// on drop.
#[derive(Debug)]
pub struct TestHost {
    dir: PathBuf,
    uri: String,
    hypervisor: LibvirtHypervisor,
}

fn parse_fragment(xml: &str) -> Result<Element> {
    Ok(Document::parse(xml).map_err(|e| LibvirtError::InvalidArgument { message: e.to_string() })?.root)
}

impl TestHostBuilder {
    /// Active CPUs of the node (the test driver's default is 16).
    pub fn cpus(mut self, cpus: u32) -> Self {
        self.cpus = Some(cpus);
        self
    }

    /// Node memory in KiB.
    pub fn memory_kib(mut self, kib: u64) -> Self {
        self.memory_kib = Some(kib);
        self
    }

    /// A predefined domain (the test driver starts predefined domains: they come up running).
    pub fn domain(self, domain: &Domain) -> Self {
        match domain.to_xml() {
            Ok(xml) => self.xml(xml),
            Err(e) => self.xml(format!("<!-- {e} -->")),
        }
    }

    /// A predefined network.
    pub fn network(self, spec: &NetworkSpec) -> Self {
        match spec.to_xml() {
            Ok(xml) => self.xml(xml),
            Err(e) => self.xml(format!("<!-- {e} -->")),
        }
    }

    /// A predefined storage pool holding empty volumes of the given names.
    pub fn pool(self, spec: &PoolSpec, volumes: &[&str]) -> Self {
        let Ok(pool) = spec.to_xml() else { return self };
        let vols: String =
            volumes.iter().map(|v| crate::VolumeSpec::raw(v, 1 << 20).to_xml().unwrap_or_default()).collect();
        match pool.rfind("</pool>") {
            Some(at) => self.xml(format!("{}{vols}{}", &pool[..at], &pool[at..])),
            None => self.xml(pool),
        }
    }

    /// Any raw child of `<node>` (`<domain>`, `<network>`, `<pool>`, `<interface>`), verbatim.
    pub fn xml(mut self, xml: impl Into<String>) -> Self {
        self.parts.push(xml.into());
        self
    }

    /// The node document.
    ///
    /// ```
    /// let xml = kvmhost_libvirt::testing::TestHost::builder().cpus(2).node_xml().unwrap();
    /// assert!(xml.contains("<active>2</active>"));
    /// ```
    pub fn node_xml(&self) -> Result<String> {
        let mut node = Element::new("node");
        let cpus = self.cpus.unwrap_or(16);
        let cpu = node.push_element(Element::new("cpu"));
        for (tag, value) in [("mhz", 2000), ("model", 0), ("nodes", 1), ("sockets", 1), ("cores", cpus), ("threads", 1)]
        {
            let el = cpu.push_element(Element::new(tag));
            el.set_text(if tag == "model" { "x86_64".to_string() } else { value.to_string() });
        }
        cpu.push_element(Element::new("active")).set_text(cpus.to_string());
        node.push_element(Element::new("memory")).set_text(self.memory_kib.unwrap_or(8 << 20).to_string());
        for part in &self.parts {
            if part.starts_with("<!--") {
                return Err(LibvirtError::InvalidArgument { message: part.clone() });
            }
            node.push_element(parse_fragment(part)?);
        }
        Document::new(node).to_xml().map_err(|e| LibvirtError::InvalidArgument { message: e.to_string() })
    }

    /// Writes the node file and connects to it.
    pub async fn start(self) -> Result<TestHost> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let xml = self.node_xml()?;
        let dir = std::env::temp_dir().join(format!(
            "kvmhost-testhost-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let io = |context: String| move |source| LibvirtError::Io { context, source };
        std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        let file = dir.join("node.xml");
        std::fs::write(&file, xml).map_err(io(format!("writing {}", file.display())))?;
        let uri = format!("test://{}", file.display());
        match LibvirtHypervisor::connect(&uri).await {
            Ok(hypervisor) => Ok(TestHost { dir, uri, hypervisor }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }
}

impl TestHost {
    /// A builder.
    pub fn builder() -> TestHostBuilder {
        TestHostBuilder::default()
    }

    /// The `test:///…/node.xml` URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The host.
    pub fn hypervisor(&self) -> &LibvirtHypervisor {
        &self.hypervisor
    }

    /// The private directory of this host (its node file is `node.xml` there).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
