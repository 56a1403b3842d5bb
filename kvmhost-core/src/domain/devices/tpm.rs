//! PLACEHOLDER: typed model not written yet.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{ElementPath, XmlPart};
use crate::domain::DomainError;
use crate::xml::Element;

/// `<tpm>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Tpm {}

impl XmlPart for Tpm {
    const TAG: &'static str = "tpm";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Tpm {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}
