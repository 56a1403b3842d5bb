//! The blocking layer: one [`Connection`] per call site, no pooling or reconnect. The async
//! [`crate::LibvirtHypervisor`] is what applications should use; this stays for small tools and
//! scripts (and the examples) that want no runtime.
//!
//! ```
//! use kvmhost_libvirt::Connection;
//! let conn = Connection::open("test:///default").unwrap();
//! assert_eq!(conn.uri(), "test:///default");
//! ```

use kvmhost_core::domain::Domain;

use crate::storage::{PoolInfo, PoolSpec, VolumeInfo, VolumeSpec};
use crate::{DomainState, LibvirtError};

/// An open libvirt connection.
pub struct Connection {
    conn: virt::connect::Connect,
    uri: String,
}

impl Connection {
    /// Opens `uri` (`test:///default`, `qemu:///system`, `qemu+unix:///system?socket=…`, …).
    ///
    /// ```
    /// let err = kvmhost_libvirt::Connection::open("nonexistent:///x").err().unwrap();
    /// assert!(err.to_string().contains("nonexistent:///x"));
    /// ```
    pub fn open(uri: &str) -> Result<Connection, LibvirtError> {
        crate::connection::init_libvirt()?;
        let conn = virt::connect::Connect::open(Some(uri))
            .map_err(|e| LibvirtError::Connect { uri: uri.to_string(), message: e.message().to_string() })?;
        tracing::info!(uri, "libvirt connection opened (blocking)");
        Ok(Connection { conn, uri: uri.to_string() })
    }

    /// The URI this connection was opened with.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The underlying `virt` connection, for calls this crate does not wrap.
    ///
    /// ```
    /// let conn = kvmhost_libvirt::Connection::open("test:///default").unwrap();
    /// assert!(conn.virt().is_alive().unwrap());
    /// ```
    pub fn virt(&self) -> &virt::connect::Connect {
        &self.conn
    }

    /// Defines (persistently) a domain from the typed document (`virDomainDefineXML`).
    pub fn define(&self, domain: &Domain) -> Result<DomainHandle, LibvirtError> {
        let xml = domain.to_xml()?;
        let dom = self
            .conn
            .define_domain_xml(&xml)
            .inspect_err(|e| tracing::debug!(uri = %self.uri, error = %e, "define failed"))?;
        tracing::info!(uri = %self.uri, domain = %dom.name().unwrap_or_default(), "domain defined");
        Ok(DomainHandle { dom })
    }

    /// Looks a domain up by name (`virDomainLookupByName`).
    ///
    /// ```
    /// let conn = kvmhost_libvirt::Connection::open("test:///default").unwrap();
    /// assert!(conn.lookup("test").is_ok());
    /// assert!(matches!(conn.lookup("nope"), Err(kvmhost_libvirt::LibvirtError::NoSuchDomain { .. })));
    /// ```
    pub fn lookup(&self, name: &str) -> Result<DomainHandle, LibvirtError> {
        let dom = self.conn.lookup_domain_by_name(name).map_err(|e| LibvirtError::from(e).about(name))?;
        Ok(DomainHandle { dom })
    }

    /// Defines, builds and starts a storage pool.
    pub fn define_pool(&self, spec: &PoolSpec) -> Result<PoolInfo, LibvirtError> {
        crate::storage::define_pool(&self.conn, spec)
    }

    /// A storage pool by name.
    ///
    /// ```
    /// let conn = kvmhost_libvirt::Connection::open("test:///default").unwrap();
    /// assert_eq!(conn.pool("default-pool").unwrap().path.as_deref(), Some("/default-pool"));
    /// ```
    pub fn pool(&self, name: &str) -> Result<PoolInfo, LibvirtError> {
        crate::storage::pool_info(&crate::storage::pool(&self.conn, name)?)
    }

    /// Stops and undefines a pool; with `delete_target`, removes its (empty) directory.
    pub fn remove_pool(&self, name: &str, delete_target: bool) -> Result<(), LibvirtError> {
        crate::storage::remove_pool(&self.conn, name, delete_target)
    }

    /// Creates a volume in `pool`.
    ///
    /// ```
    /// use kvmhost_libvirt::{Connection, VolumeSpec};
    /// let conn = Connection::open("test:///default").unwrap();
    /// let vol = conn.create_volume("default-pool", &VolumeSpec::raw("doc.img", 1 << 20)).unwrap();
    /// assert_eq!(vol.path, "/default-pool/doc.img");
    /// conn.delete_volume("default-pool", "doc.img").unwrap();
    /// ```
    pub fn create_volume(&self, pool: &str, spec: &VolumeSpec) -> Result<VolumeInfo, LibvirtError> {
        crate::storage::create_volume(&self.conn, pool, spec)
    }

    /// The volumes of `pool` (after a refresh).
    pub fn list_volumes(&self, pool: &str) -> Result<Vec<VolumeInfo>, LibvirtError> {
        crate::storage::list_volumes(&self.conn, pool)
    }

    /// Deletes a volume.
    pub fn delete_volume(&self, pool: &str, name: &str) -> Result<(), LibvirtError> {
        crate::storage::delete_volume(&self.conn, pool, name)
    }

    /// Streams everything `data` yields into the volume from byte `offset`, in chunks
    /// (`virStorageVolUpload`; never the whole data in memory); returns the bytes sent.
    pub fn upload_volume(
        &self,
        pool: &str,
        name: &str,
        offset: u64,
        data: impl std::io::Read,
    ) -> Result<u64, LibvirtError> {
        crate::storage::upload(&self.conn, pool, name, offset, data, &mut |_| {})
    }

    /// Streams `length` bytes (0: to the end) of the volume from `offset` into `out`
    /// (`virStorageVolDownload`).
    pub fn download_volume(
        &self,
        pool: &str,
        name: &str,
        offset: u64,
        length: u64,
        out: impl std::io::Write,
    ) -> Result<u64, LibvirtError> {
        crate::storage::download(&self.conn, pool, name, offset, length, out)
    }
}

/// A defined domain on a connection.
pub struct DomainHandle {
    dom: virt::domain::Domain,
}

impl DomainHandle {
    /// Starts the domain (`virDomainCreate`).
    pub fn start(&self) -> Result<(), LibvirtError> {
        self.dom.create()?;
        tracing::info!(domain = %self.dom.name().unwrap_or_default(), "domain started");
        Ok(())
    }

    /// Its current state (`virDomainGetState`).
    pub fn state(&self) -> Result<DomainState, LibvirtError> {
        Ok(self.dom.state()?.0.into())
    }

    /// Its name.
    pub fn name(&self) -> Result<String, LibvirtError> {
        Ok(self.dom.name()?)
    }

    /// Its current XML, read back into the lossless model (`virDomainGetXMLDesc`).
    pub fn domain(&self) -> Result<Domain, LibvirtError> {
        Ok(Domain::parse(&self.dom.xml_desc(0)?)?)
    }

    /// Powers the domain off at once (`virDomainDestroy`).
    pub fn destroy(&self) -> Result<(), LibvirtError> {
        self.dom.destroy()?;
        tracing::info!(domain = %self.dom.name().unwrap_or_default(), "domain destroyed (powered off)");
        Ok(())
    }

    /// Removes the persistent definition (`virDomainUndefine`).
    pub fn undefine(&self) -> Result<(), LibvirtError> {
        self.dom.undefine()?;
        tracing::info!(domain = %self.dom.name().unwrap_or_default(), "domain undefined");
        Ok(())
    }
}
