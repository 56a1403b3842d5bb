//! [`CapabilitiesError`]: what reading a capabilities or domain capabilities document can fail
//! with, naming the element or attribute at fault.

use serde::{Deserialize, Serialize};

use crate::cpu::CpuError;
use crate::domain::DomainError;
use crate::xml::XmlError;

/// Errors from parsing libvirt's capabilities documents ([`Capabilities`](super::Capabilities),
/// [`DomainCapabilities`](super::DomainCapabilities)).
///
/// A document that is not XML is [`CapabilitiesError::Xml`], which carries the line and column
/// ([`CapabilitiesError::position`]); the other variants name the element or attribute at fault
/// as a path (`/capabilities/host/topology/cells/cell[2]/@id`, positions 1-based as in XPath).
///
/// ```
/// use kvmhost_core::capabilities::{Capabilities, CapabilitiesError};
/// let e = Capabilities::parse("<capabilities><host><topology><cells>\
///     <cell id='x'/></cells></topology></host></capabilities>").unwrap_err();
/// assert!(matches!(&e, CapabilitiesError::InvalidValue { path, value, .. }
///     if path == "/capabilities/host/topology/cells/cell[1]/@id" && value == "x"));
/// let e = Capabilities::parse("<capabilities>\n<host></hots></capabilities>").unwrap_err();
/// assert_eq!(e.position().map(|(line, _)| line), Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CapabilitiesError {
    /// The text is not well-formed XML (or is over the parser's limits), with its position.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The root element is not the one the document type has.
    #[error("expected a <{expected}> root element, found <{found}>")]
    WrongRoot {
        /// The root element expected (`capabilities`, `domainCapabilities`).
        expected: String,
        /// The root element found.
        found: String,
    },
    /// A value that does not fit its type.
    #[error("invalid value {value:?} at {path}: expected {expected}")]
    InvalidValue {
        /// Element or attribute path (`/domainCapabilities/vcpu/@max`).
        path: String,
        /// The value found.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// A required element is absent or empty.
    #[error("missing {path}")]
    Missing {
        /// The element's path (`/domainCapabilities/cpu/mode[@name='host-model']/model`).
        path: String,
    },
    /// The host CPU (`/capabilities/host/cpu`) cannot be read by the CPU engine.
    #[error("invalid host CPU at {path}: {source}")]
    HostCpu {
        /// The element's path.
        path: String,
        /// The CPU engine's error.
        source: CpuError,
    },
    /// The host-model CPU of domain capabilities cannot be read as a domain [`Cpu`](crate::domain::Cpu).
    #[error("invalid host-model CPU at {path}: {source}")]
    HostModelCpu {
        /// The element's path.
        path: String,
        /// The domain model's error (which names the attribute at fault).
        source: DomainError,
    },
}

impl CapabilitiesError {
    /// The 1-based line and column of a parse error, when the error has a position.
    ///
    /// ```
    /// use kvmhost_core::capabilities::DomainCapabilities;
    /// let e = DomainCapabilities::parse("<domainCapabilities><vcpu max='-1'/></domainCapabilities>").unwrap_err();
    /// assert_eq!(e.position(), None);
    /// assert!(e.to_string().contains("/domainCapabilities/vcpu/@max"), "{e}");
    /// ```
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            CapabilitiesError::Xml(e) => Some((e.line()?, e.column()?)),
            _ => None,
        }
    }
}
