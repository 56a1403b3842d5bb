//! `<memballoon>`: the memory balloon device.

use serde::{Deserialize, Serialize};

use super::common::set_device_info;
use super::shared::VirtioDriverOptions;
use crate::domain::codec::OnOff;
use crate::domain::codec::{attr_enum, attr_part, attr_string, child_part, set_attr, set_child, ElementPath, XmlPart};
use crate::domain::devices::common::{AcpiIndex, Address, Alias};
use crate::domain::error::DomainError;
use crate::xml::Element;

attr_part! {
    /// `<stats period='10'/>`: how often the guest reports memory statistics.
    pub struct MemBalloonStats = "stats" {
        /// `period` in seconds.
        period: u32 = "period",
    }
}

/// The memory balloon (`<memballoon model='virtio'><stats period='10'/></memballoon>`).
///
/// ```
/// use kvmhost_core::domain::{MemBalloon, MemBalloonStats, XmlPart};
/// let b = MemBalloon::virtio().with_stats_period(10);
/// assert_eq!(b.stats.as_ref().and_then(|s: &MemBalloonStats| s.period), Some(10));
/// let el = b.to_element();
/// assert_eq!(el.attr("model"), Some("virtio"));
/// assert_eq!(el.child("stats").unwrap().attr("period"), Some("10"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemBalloon {
    /// `model` (virtio / virtio-transitional / virtio-non-transitional / xen / none).
    pub model: Option<String>,
    /// `autodeflate` (on / off).
    pub autodeflate: Option<OnOff>,
    /// `freePageReporting` (on / off).
    pub free_page_reporting: Option<OnOff>,
    /// `<stats>`.
    pub stats: Option<MemBalloonStats>,
    /// `<driver>` virtio options.
    pub driver: Option<VirtioDriverOptions>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<acpi>`.
    pub acpi: Option<AcpiIndex>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// libvirt's order of `<memballoon>` children.
const ORDER: &[&str] = &["alias", "acpi", "address", "stats", "driver"];

impl MemBalloon {
    /// A virtio balloon.
    pub fn virtio() -> MemBalloon {
        MemBalloon { model: Some("virtio".into()), ..MemBalloon::default() }
    }

    /// Asks the guest for memory statistics every `seconds`.
    pub fn with_stats_period(mut self, seconds: u32) -> MemBalloon {
        self.stats.get_or_insert_with(MemBalloonStats::default).period = Some(seconds);
        self
    }
}

impl XmlPart for MemBalloon {
    const TAG: &'static str = "memballoon";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(MemBalloon {
            model: attr_string(el, "model"),
            autodeflate: attr_enum(el, "autodeflate"),
            free_page_reporting: attr_enum(el, "freePageReporting"),
            stats: child_part(el, path)?,
            driver: child_part(el, path)?,
            alias: child_part(el, path)?,
            acpi: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "model", self.model.as_deref());
        set_attr(el, "autodeflate", self.autodeflate.as_ref());
        set_attr(el, "freePageReporting", self.free_page_reporting.as_ref());
        set_device_info(el, self.alias.as_ref(), self.acpi.as_ref(), self.address.as_ref(), ORDER);
        set_child(el, self.stats.as_ref(), ORDER);
        set_child(el, self.driver.as_ref(), ORDER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn balloon_round_trip_and_stats_removal() {
        let src = "<memballoon model='virtio' autodeflate='on'><stats period='10'/>\
                   <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\
                   <driver iommu='on'/></memballoon>";
        let d = Document::parse(src).unwrap();
        let mut b = MemBalloon::decode(&d.root, &ElementPath::root("memballoon")).unwrap();
        assert_eq!(b.autodeflate, Some(OnOff::On));
        assert_eq!(b.driver.as_ref().unwrap().iommu, Some(OnOff::On));
        let mut el = d.root.clone();
        b.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root));
        b.stats = None;
        b.encode_into(&mut el);
        assert!(el.child("stats").is_none());
    }
}
