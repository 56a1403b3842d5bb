//! PLACEHOLDER: typed model not written yet.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{ElementPath, XmlPart};
use crate::domain::DomainError;
use crate::xml::Element;

/// `<sysinfo>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SysInfo {}

impl XmlPart for SysInfo {
    const TAG: &'static str = "sysinfo";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(SysInfo {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<pm>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Pm {}

impl XmlPart for Pm {
    const TAG: &'static str = "pm";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Pm {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<resource>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Resource {}

impl XmlPart for Resource {
    const TAG: &'static str = "resource";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Resource {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<perf>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Perf {}

impl XmlPart for Perf {
    const TAG: &'static str = "perf";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Perf {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<idmap>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Idmap {}

impl XmlPart for Idmap {
    const TAG: &'static str = "idmap";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Idmap {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}
