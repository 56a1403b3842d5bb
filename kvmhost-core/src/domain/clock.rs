//! PLACEHOLDER: typed model not written yet.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{ElementPath, XmlPart};
use crate::domain::DomainError;
use crate::xml::Element;

/// `<clock>` (placeholder).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Clock {}

impl XmlPart for Clock {
    const TAG: &'static str = "clock";
    fn decode(_el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Clock {})
    }
    fn encode_into(&self, _el: &mut Element) {}
}
