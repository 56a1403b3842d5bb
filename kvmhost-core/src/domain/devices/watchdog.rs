//! `<watchdog>`: the emulated hardware watchdog.

use serde::{Deserialize, Serialize};

use super::common::set_device_info;
use crate::domain::codec::{attr_string, child_part, set_attr, ElementPath, XmlPart};
use crate::domain::devices::common::{AcpiIndex, Address, Alias};
use crate::domain::error::DomainError;
use crate::xml::Element;

/// A watchdog device (`<watchdog model='i6300esb' action='reset'/>`).
///
/// ```
/// use kvmhost_core::domain::{Watchdog, XmlPart};
/// let el = Watchdog::new("i6300esb", "poweroff").to_element();
/// assert_eq!(el.attr("action"), Some("poweroff"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Watchdog {
    /// `model` (i6300esb / ib700 / diag288 / itco).
    pub model: Option<String>,
    /// `action` (reset / shutdown / poweroff / pause / none / dump / inject-nmi).
    pub action: Option<String>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<acpi>`.
    pub acpi: Option<AcpiIndex>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// libvirt's order of `<watchdog>` children.
const ORDER: &[&str] = &["alias", "acpi", "address"];

impl Watchdog {
    /// A watchdog of `model` taking `action` when it fires.
    pub fn new(model: impl Into<String>, action: impl Into<String>) -> Watchdog {
        Watchdog { model: Some(model.into()), action: Some(action.into()), ..Watchdog::default() }
    }
}

impl XmlPart for Watchdog {
    const TAG: &'static str = "watchdog";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Watchdog {
            model: attr_string(el, "model"),
            action: attr_string(el, "action"),
            alias: child_part(el, path)?,
            acpi: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "model", self.model.as_deref());
        set_attr(el, "action", self.action.as_deref());
        set_device_info(el, self.alias.as_ref(), self.acpi.as_ref(), self.address.as_ref(), ORDER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn round_trip() {
        let src = "<watchdog model='ib700' action='poweroff'><alias name='ua-wd'/></watchdog>";
        let d = Document::parse(src).unwrap();
        let w = Watchdog::decode(&d.root, &ElementPath::root("watchdog")).unwrap();
        assert_eq!(w.alias.as_ref().unwrap().name, "ua-wd");
        let mut el = d.root.clone();
        w.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root));
    }
}
