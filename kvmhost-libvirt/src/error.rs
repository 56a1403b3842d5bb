//! Typed errors: libvirt's `virErrorNumber` codes mapped to variants callers can match on, each
//! carrying libvirt's own message.
//!
//! ```
//! use kvmhost_libvirt::{Connection, LibvirtError};
//! let conn = Connection::open("test:///default").unwrap();
//! let err = conn.lookup("nope").err().unwrap();
//! assert!(matches!(err, LibvirtError::NoSuchDomain { .. }));
//! assert_eq!(err.to_string(), format!("no such domain 'nope': {}", err.message()));
//! ```

use kvmhost_core::capabilities::CapabilitiesError;
use kvmhost_core::domain::DomainError;
use kvmhost_core::network::NetworkError;
use kvmhost_core::snapshot::SnapshotError;
use kvmhost_core::storage::StorageError;
use kvmhost_core::xml::XmlError;
use virt::enumutil::Enum;
use virt::error::ErrorNumber;

/// `Result` with [`LibvirtError`].
pub type Result<T, E = LibvirtError> = std::result::Result<T, E>;

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
    /// The connection to the daemon broke (daemon stopped or restarted, socket closed, keepalive
    /// timed out) and could not be re-established within the reconnect budget. The next call
    /// tries to reconnect again.
    #[error("connection to {uri} lost: {message}")]
    ConnectionLost {
        /// The URI.
        uri: String,
        /// libvirt's message (or the reconnect failure).
        message: String,
    },
    /// No domain with that name or UUID.
    #[error("no such domain{}: {message}", quoted(.name))]
    NoSuchDomain {
        /// Which one: the domain's name or UUID as asked for (empty when libvirt reported it for a handle already held).
        name: String,
        /// libvirt's message.
        message: String,
    },
    /// No network with that name or UUID.
    #[error("no such network{}: {message}", quoted(.name))]
    NoSuchNetwork {
        /// Which one: the network's name (empty when libvirt reported it for a handle already held).
        name: String,
        /// libvirt's message.
        message: String,
    },
    /// No storage pool with that name, UUID or path.
    #[error("no such storage pool{}: {message}", quoted(.name))]
    NoSuchPool {
        /// Which one: the pool's name (empty when libvirt reported it for a handle already held).
        name: String,
        /// libvirt's message.
        message: String,
    },
    /// No storage volume with that name, key or path.
    #[error("no such storage volume{}: {message}", quoted(.name))]
    NoSuchVolume {
        /// Which one: `POOL/VOLUME` (empty when libvirt reported it for a handle already held).
        name: String,
        /// libvirt's message.
        message: String,
    },
    /// No snapshot with that name.
    #[error("no such snapshot{}: {message}", quoted(.name))]
    NoSuchSnapshot {
        /// Which one: `DOMAIN/SNAPSHOT` (empty when libvirt reported it for a handle already held).
        name: String,
        /// libvirt's message.
        message: String,
    },
    /// An object with that name or UUID already exists.
    #[error("already exists: {message}")]
    AlreadyExists {
        /// libvirt's message.
        message: String,
    },
    /// The operation is not valid in the object's current state.
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
    #[error("libvirt rejected the XML: {message}")]
    InvalidXml {
        /// libvirt's message.
        message: String,
    },
    /// An argument was refused.
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// libvirt's message.
        message: String,
    },
    /// Authentication or access control refused the call.
    #[error("access denied: {message}")]
    AccessDenied {
        /// libvirt's message.
        message: String,
    },
    /// The operation timed out inside libvirt.
    #[error("operation timed out: {message}")]
    Timeout {
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
    /// The domain document could not be written or read back.
    #[error("domain document error")]
    Domain(#[from] DomainError),
    /// A capabilities or domain capabilities document libvirt returned could not be read; the
    /// source names the element or attribute, or the line and column.
    ///
    /// ```
    /// use kvmhost_libvirt::{CapabilitiesError, LibvirtError};
    /// let e = LibvirtError::from(kvmhost_libvirt::Capabilities::parse("<x/>").unwrap_err());
    /// assert!(matches!(e, LibvirtError::Capabilities(CapabilitiesError::WrongRoot { .. })));
    /// assert_eq!(e.message(), "expected a <capabilities> root element, found <x>");
    /// ```
    #[error("cannot read the capabilities XML libvirt returned")]
    Capabilities(#[from] CapabilitiesError),
    /// Snapshot XML could not be read (a document libvirt returned; the source names the
    /// element, or the line and column) or written (a value XML cannot carry).
    ///
    /// ```
    /// use kvmhost_libvirt::{LibvirtError, SnapshotError, SnapshotInfo};
    /// let e = LibvirtError::from(SnapshotInfo::parse("<domainsnapshot/>").unwrap_err());
    /// assert!(matches!(e, LibvirtError::Snapshot(SnapshotError::Missing { .. })));
    /// ```
    #[error("invalid snapshot XML")]
    Snapshot(#[from] SnapshotError),
    /// A pool or volume document libvirt returned could not be read; the source names the
    /// element or attribute, or the line and column.
    ///
    /// ```
    /// use kvmhost_libvirt::{LibvirtError, PoolInfo, StorageError};
    /// let e = LibvirtError::from(PoolInfo::parse("<pool type='dir'/>").unwrap_err());
    /// assert!(matches!(e, LibvirtError::Storage(StorageError::Missing { .. })));
    /// assert_eq!(e.message(), "missing /pool/name");
    /// ```
    #[error("cannot read the storage XML libvirt returned")]
    Storage(#[from] StorageError),
    /// A network document libvirt returned could not be read; the source names the element,
    /// or the line and column.
    ///
    /// ```
    /// use kvmhost_libvirt::{LibvirtError, NetworkError, NetworkInfo};
    /// let e = LibvirtError::from(NetworkInfo::parse("<network>").unwrap_err());
    /// assert!(matches!(e, LibvirtError::Network(NetworkError::Xml(_))));
    /// ```
    #[error("cannot read the network XML libvirt returned")]
    Network(#[from] NetworkError),
    /// A local I/O error (reading or writing volume data).
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The worker thread running a blocking libvirt call failed (panicked or was cancelled).
    #[error("libvirt worker failed: {message}")]
    Worker {
        /// What happened.
        message: String,
    },
}

impl LibvirtError {
    /// Whether this error can mean the connection to the daemon broke (libvirt reports a lost
    /// socket as a system, RPC, "no connect" or internal error); the connection manager then
    /// asks `virConnectIsAlive` to be sure.
    ///
    /// ```
    /// use kvmhost_libvirt::LibvirtError;
    /// assert!(LibvirtError::Other { code: 38, message: "Broken pipe".into() }.may_mean_connection_loss());
    /// assert!(!LibvirtError::NoSuchDomain { name: "web1".into(), message: String::new() }.may_mean_connection_loss());
    /// ```
    pub fn may_mean_connection_loss(&self) -> bool {
        const CONNECTION_CODES: [ErrorNumber; 5] = [
            ErrorNumber::SystemError,
            ErrorNumber::Rpc,
            ErrorNumber::NoConnect,
            ErrorNumber::InvalidConn,
            ErrorNumber::InternalError,
        ];
        match self {
            LibvirtError::ConnectionLost { .. } => true,
            LibvirtError::Other { code, .. } => CONNECTION_CODES.iter().any(|c| Enum::Known(*c).to_raw() == *code),
            _ => false,
        }
    }

    /// Whether this is [`LibvirtError::ConnectionLost`].
    ///
    /// ```
    /// use kvmhost_libvirt::LibvirtError;
    /// assert!(LibvirtError::ConnectionLost { uri: "u".into(), message: "m".into() }.is_connection_lost());
    /// ```
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, LibvirtError::ConnectionLost { .. })
    }

    /// libvirt's message (or this error's text when it did not come from libvirt).
    ///
    /// ```
    /// use kvmhost_libvirt::LibvirtError;
    /// assert_eq!(LibvirtError::NoSuchDomain { name: "web1".into(), message: "gone".into() }.message(), "gone");
    /// ```
    pub fn message(&self) -> String {
        use LibvirtError as E;
        match self {
            E::Connect { message, .. }
            | E::ConnectionLost { message, .. }
            | E::NoSuchDomain { message, .. }
            | E::NoSuchNetwork { message, .. }
            | E::NoSuchPool { message, .. }
            | E::NoSuchVolume { message, .. }
            | E::NoSuchSnapshot { message, .. }
            | E::AlreadyExists { message }
            | E::OperationInvalid { message }
            | E::NotSupported { message }
            | E::InvalidXml { message }
            | E::InvalidArgument { message }
            | E::AccessDenied { message }
            | E::Timeout { message }
            | E::Other { message, .. }
            | E::Worker { message } => message.clone(),
            E::Capabilities(e) => e.to_string(),
            E::Snapshot(e) => e.to_string(),
            E::Storage(e) => e.to_string(),
            E::Network(e) => e.to_string(),
            other => other.to_string(),
        }
    }

    /// The object a "no such …" error is about (the domain, network, pool, volume or snapshot
    /// asked for), when known.
    ///
    /// ```
    /// use kvmhost_libvirt::{Connection, LibvirtError};
    /// let conn = Connection::open("test:///default").unwrap();
    /// let err = conn.lookup("web9").err().unwrap();
    /// assert_eq!(err.object(), Some("web9"));
    /// assert!(err.to_string().starts_with("no such domain 'web9': "), "{err}");
    /// ```
    pub fn object(&self) -> Option<&str> {
        use LibvirtError as E;
        match self {
            E::NoSuchDomain { name, .. }
            | E::NoSuchNetwork { name, .. }
            | E::NoSuchPool { name, .. }
            | E::NoSuchVolume { name, .. }
            | E::NoSuchSnapshot { name, .. } => Some(name.as_str()).filter(|n| !n.is_empty()),
            _ => None,
        }
    }

    /// Names the object of a "no such …" error that does not name one yet (what was looked up);
    /// other errors pass unchanged.
    pub(crate) fn about(mut self, object: impl std::fmt::Display) -> LibvirtError {
        use LibvirtError as E;
        if let E::NoSuchDomain { name, .. }
        | E::NoSuchNetwork { name, .. }
        | E::NoSuchPool { name, .. }
        | E::NoSuchVolume { name, .. }
        | E::NoSuchSnapshot { name, .. } = &mut self
        {
            if name.is_empty() {
                *name = object.to_string();
            }
        }
        self
    }
}

/// `" 'name'"`, or nothing for an unknown name (in "no such …" messages).
fn quoted(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!(" '{name}'")
    }
}

impl From<virt::error::Error> for LibvirtError {
    fn from(e: virt::error::Error) -> Self {
        use ErrorNumber as N;
        let message = e.message().to_string();
        let Enum::Known(code) = e.code() else {
            return LibvirtError::Other { code: e.code().to_raw(), message };
        };
        match code {
            N::NoDomain => LibvirtError::NoSuchDomain { name: String::new(), message },
            N::NoNetwork => LibvirtError::NoSuchNetwork { name: String::new(), message },
            N::NoStoragePool => LibvirtError::NoSuchPool { name: String::new(), message },
            N::NoStorageVolume => LibvirtError::NoSuchVolume { name: String::new(), message },
            N::NoDomainSnapshot => LibvirtError::NoSuchSnapshot { name: String::new(), message },
            N::DomExist | N::NetworkExist | N::StorageVolExist | N::NetworkPortExists => {
                LibvirtError::AlreadyExists { message }
            }
            N::OperationInvalid => LibvirtError::OperationInvalid { message },
            N::NoSupport | N::OperationUnsupported | N::ArgumentUnsupported => LibvirtError::NotSupported { message },
            N::XmlError | N::XmlDetail | N::ConfigUnsupported | N::XmlInvalidSchema => {
                LibvirtError::InvalidXml { message }
            }
            N::InvalidArg => LibvirtError::InvalidArgument { message },
            N::AuthFailed | N::AuthCancelled | N::AuthUnavailable | N::AccessDenied | N::OperationDenied => {
                LibvirtError::AccessDenied { message }
            }
            N::OperationTimeout => LibvirtError::Timeout { message },
            _ => LibvirtError::Other { code: e.code().to_raw(), message },
        }
    }
}

/// A document kvmhost writes for libvirt ([`crate::NetworkSpec::to_xml`], [`crate::PoolSpec::to_xml`],
/// …) holds a value XML cannot carry: an invalid argument, as before these specs moved to
/// kvmhost-core.
///
/// ```
/// use kvmhost_libvirt::{LibvirtError, NetworkSpec};
/// let e: LibvirtError = NetworkSpec::host_bridge("n\u{1}", "br0").to_xml().unwrap_err().into();
/// assert!(matches!(e, LibvirtError::InvalidArgument { .. }));
/// ```
impl From<XmlError> for LibvirtError {
    fn from(e: XmlError) -> LibvirtError {
        LibvirtError::InvalidArgument { message: e.to_string() }
    }
}
