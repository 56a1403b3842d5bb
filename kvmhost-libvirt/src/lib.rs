//! # kvmhost-libvirt
//!
//! A typed API over libvirt (through the [`virt`] crate) that speaks
//! [`kvmhost_core::domain::Domain`] instead of XML strings and maps libvirt's errors to a typed
//! [`LibvirtError`]. This first layer is blocking: [`Connection`] opens any libvirt URI and
//! defines, starts, inspects, destroys and undefines domains.
//!
//! ```
//! use kvmhost_core::domain::DomainBuilder;
//! use kvmhost_libvirt::{Connection, DomainState};
//! let conn = Connection::open("test:///default").unwrap();
//! let domain = DomainBuilder::new("doc-vm").memory_mib(256).build().unwrap();
//! let vm = conn.define(&domain).unwrap();
//! vm.start().unwrap();
//! assert_eq!(vm.state().unwrap(), DomainState::Running);
//! let live = vm.domain().unwrap();
//! assert_eq!(live.name().as_deref(), Some("doc-vm"));
//! vm.destroy().unwrap();
//! vm.undefine().unwrap();
//! ```

use std::sync::Once;

pub mod event_loop;
pub mod events;
pub mod migration;

use kvmhost_core::domain::{Domain, DomainError};
use serde::{Deserialize, Serialize};
use virt::error::ErrorNumber;

/// Errors from libvirt calls, with libvirt's own message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LibvirtError {
    /// The connection could not be opened.
    #[error("cannot connect to {uri}: {message}")]
    Connect {
        /// The URI.
        uri: String,
        /// libvirt's message.
        message: String,
    },
    /// No domain with that name or UUID.
    #[error("no such domain: {message}")]
    NoSuchDomain {
        /// libvirt's message.
        message: String,
    },
    /// The operation is not valid in the domain's current state.
    #[error("operation invalid: {message}")]
    OperationInvalid {
        /// libvirt's message.
        message: String,
    },
    /// The driver does not support the operation.
    #[error("not supported by the connection driver: {message}")]
    NotSupported {
        /// libvirt's message.
        message: String,
    },
    /// libvirt refused the XML document.
    #[error("libvirt rejected the domain XML: {message}")]
    InvalidXml {
        /// libvirt's message.
        message: String,
    },
    /// Any other libvirt failure, with its raw error code.
    #[error("libvirt error {code}: {message}")]
    Other {
        /// libvirt's `virErrorNumber`.
        code: u32,
        /// libvirt's message.
        message: String,
    },
    /// The document could not be written or read back.
    #[error("domain document error")]
    Domain(#[from] DomainError),
}

impl From<virt::error::Error> for LibvirtError {
    fn from(e: virt::error::Error) -> Self {
        let message = e.message().to_string();
        match e.code() {
            virt::enumutil::Enum::Known(ErrorNumber::NoDomain) => LibvirtError::NoSuchDomain { message },
            virt::enumutil::Enum::Known(ErrorNumber::OperationInvalid) => LibvirtError::OperationInvalid { message },
            virt::enumutil::Enum::Known(ErrorNumber::NoSupport) => LibvirtError::NotSupported { message },
            virt::enumutil::Enum::Known(
                ErrorNumber::XmlError | ErrorNumber::XmlDetail | ErrorNumber::ConfigUnsupported,
            ) => LibvirtError::InvalidXml { message },
            code => LibvirtError::Other { code: code.to_raw(), message },
        }
    }
}

/// A domain's run state (`virDomainState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DomainState {
    /// No state.
    NoState,
    /// Running.
    Running,
    /// Blocked on a resource.
    Blocked,
    /// Paused by the user.
    Paused,
    /// Being shut down.
    Shutdown,
    /// Shut off.
    Shutoff,
    /// Crashed.
    Crashed,
    /// Suspended by guest power management.
    PmSuspended,
    /// A state this version does not know (raw value).
    Unknown(u32),
}

impl From<virt::domain::DomainStateEnum> for DomainState {
    fn from(s: virt::domain::DomainStateEnum) -> Self {
        use virt::domain::DomainState as S;
        match s {
            virt::enumutil::Enum::Known(k) => match k {
                S::NoState => DomainState::NoState,
                S::Running => DomainState::Running,
                S::Blocked => DomainState::Blocked,
                S::Paused => DomainState::Paused,
                S::Shutdown => DomainState::Shutdown,
                S::Shutoff => DomainState::Shutoff,
                S::Crashed => DomainState::Crashed,
                S::PMSuspended => DomainState::PmSuspended,
            },
            virt::enumutil::Enum::Unknown(raw) => DomainState::Unknown(raw),
        }
    }
}

static QUIET: Once = Once::new();

/// Stops libvirt's default error handler from printing every error to stderr; errors are
/// returned as [`LibvirtError`] instead.
fn silence_default_error_handler() {
    QUIET.call_once(virt::error::clear_error_callback);
}

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
        silence_default_error_handler();
        event_loop::ensure_running()?;
        let conn = virt::connect::Connect::open(Some(uri))
            .map_err(|e| LibvirtError::Connect { uri: uri.to_string(), message: e.message().to_string() })?;
        Ok(Connection { conn, uri: uri.to_string() })
    }

    /// The URI this connection was opened with.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Defines (persistently) a domain from the typed document (`virDomainDefineXML`).
    pub fn define(&self, domain: &Domain) -> Result<DomainHandle, LibvirtError> {
        let xml = domain.to_xml()?;
        let dom = self.conn.define_domain_xml(&xml)?;
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
        Ok(DomainHandle { dom: self.conn.lookup_domain_by_name(name)? })
    }
}

/// A defined domain on a connection.
pub struct DomainHandle {
    dom: virt::domain::Domain,
}

impl DomainHandle {
    /// Starts the domain (`virDomainCreate`).
    pub fn start(&self) -> Result<(), LibvirtError> {
        Ok(self.dom.create()?)
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
        Ok(self.dom.destroy()?)
    }

    /// Removes the persistent definition (`virDomainUndefine`).
    pub fn undefine(&self) -> Result<(), LibvirtError> {
        Ok(self.dom.undefine()?)
    }
}
