//! [`DomainError`]: what parsing, decoding, building or writing a domain can fail with.

use serde::{Deserialize, Serialize};

use crate::domain::devices::interface::error::InterfaceError;
use crate::xml::XmlError;

/// Errors from parsing, decoding or writing a domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DomainError {
    /// The text is not XML, or holds characters XML cannot carry.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The root element is not `<domain>`.
    #[error("expected a <domain> root element, found <{found}>")]
    NotADomain {
        /// The root element's name.
        found: String,
    },
    /// A value that does not fit its type.
    #[error("invalid value {value:?} at {path}: expected {expected}")]
    InvalidValue {
        /// Element or attribute path (`/domain/memory/@unit`).
        path: String,
        /// The value found.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// A required attribute is absent.
    #[error("missing required attribute {path}")]
    Missing {
        /// The attribute's path (`/domain/cpu/feature[1]/@name`).
        path: String,
    },
    /// An interface libvirt would refuse (see [`Interface::validate`](crate::domain::Interface::validate)).
    #[error(transparent)]
    Interface(#[from] InterfaceError),
    /// A value a builder or setter cannot accept.
    #[error("invalid domain at {path}: {reason}")]
    Invalid {
        /// Where.
        path: String,
        /// Why.
        reason: String,
    },
}
