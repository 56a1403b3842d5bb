//! PLACEHOLDER: typed model not written yet.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{ElementPath, XmlPart};
use crate::domain::DomainError;
use crate::xml::Element;

/// `<hostdev>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Hostdev {}

impl XmlPart for Hostdev {
    const TAG: &'static str = "hostdev";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Hostdev {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}
