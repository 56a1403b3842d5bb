//! PLACEHOLDER: typed model not written yet.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{ElementPath, XmlPart};
use crate::domain::DomainError;
use crate::xml::Element;

/// `<lease>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Lease {}

impl XmlPart for Lease {
    const TAG: &'static str = "lease";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Lease {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<redirdev>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Redirdev {}

impl XmlPart for Redirdev {
    const TAG: &'static str = "redirdev";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Redirdev {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<smartcard>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Smartcard {}

impl XmlPart for Smartcard {
    const TAG: &'static str = "smartcard";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Smartcard {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<hub>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Hub {}

impl XmlPart for Hub {
    const TAG: &'static str = "hub";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Hub {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<panic>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Panic {}

impl XmlPart for Panic {
    const TAG: &'static str = "panic";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Panic {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<shmem>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Shmem {}

impl XmlPart for Shmem {
    const TAG: &'static str = "shmem";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Shmem {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<memory>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemoryDevice {}

impl XmlPart for MemoryDevice {
    const TAG: &'static str = "memory";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(MemoryDevice {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<iommu>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Iommu {}

impl XmlPart for Iommu {
    const TAG: &'static str = "iommu";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Iommu {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<vsock>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Vsock {}

impl XmlPart for Vsock {
    const TAG: &'static str = "vsock";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Vsock {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<crypto>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Crypto {}

impl XmlPart for Crypto {
    const TAG: &'static str = "crypto";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Crypto {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}
