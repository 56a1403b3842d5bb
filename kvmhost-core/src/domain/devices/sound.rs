//! PLACEHOLDER: typed model not written yet.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{ElementPath, XmlPart};
use crate::domain::DomainError;
use crate::xml::Element;

/// `<sound>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Sound {}

impl XmlPart for Sound {
    const TAG: &'static str = "sound";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Sound {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}

/// `<audio>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Audio {}

impl XmlPart for Audio {
    const TAG: &'static str = "audio";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Audio {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}
