//! PLACEHOLDER: typed model not written yet.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{ElementPath, XmlPart};
use crate::domain::DomainError;
use crate::xml::Element;

/// `<vcpus>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Vcpus {}

impl XmlPart for Vcpus {
    const TAG: &'static str = "vcpus";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Vcpus {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<cputune>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CpuTune {}

impl XmlPart for CpuTune {
    const TAG: &'static str = "cputune";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(CpuTune {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<numatune>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NumaTune {}

impl XmlPart for NumaTune {
    const TAG: &'static str = "numatune";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(NumaTune {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<memtune>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemTune {}

impl XmlPart for MemTune {
    const TAG: &'static str = "memtune";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(MemTune {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<blkiotune>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BlkioTune {}

impl XmlPart for BlkioTune {
    const TAG: &'static str = "blkiotune";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(BlkioTune {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<memoryBacking>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemoryBacking {}

impl XmlPart for MemoryBacking {
    const TAG: &'static str = "memoryBacking";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(MemoryBacking {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<iothreadids>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IothreadIds {}

impl XmlPart for IothreadIds {
    const TAG: &'static str = "iothreadids";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(IothreadIds {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}
