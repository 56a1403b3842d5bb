//! `<input>`: keyboards, mice, tablets and passed-through input devices.

use serde::{Deserialize, Serialize};

use super::common::set_device_info;
use super::shared::VirtioDriverOptions;
use crate::domain::codec::{attr_enum, attr_part, attr_string, child_part, set_attr, set_child, ElementPath, XmlPart};
use crate::domain::devices::common::{AcpiIndex, Address, Alias};
use crate::domain::error::DomainError;
use crate::xml::Element;
use crate::xml_enum;

xml_enum! {
    /// The kind of input device (`<input type=…>`).
    pub enum InputType {
        Mouse = "mouse", Tablet = "tablet", Keyboard = "keyboard", Passthrough = "passthrough", Evdev = "evdev"
    }
}

xml_enum! {
    /// The bus an input device sits on (`<input bus=…>`).
    pub enum InputBus { Ps2 = "ps2", Usb = "usb", Xen = "xen", Virtio = "virtio", None = "none" }
}

attr_part! {
    /// `<source evdev='/dev/input/event1' grab='all' repeat='on' grabToggle='ctrl-ctrl'/>`.
    pub struct InputSource = "source" {
        /// `evdev` (passthrough / evdev).
        evdev: String = "evdev",
        /// `dev` (evdev, older spelling).
        dev: String = "dev",
        /// `grab` (all).
        grab: String = "grab",
        /// `repeat` (on / off).
        repeat: crate::domain::codec::OnOff = "repeat",
        /// `grabToggle` (ctrl-ctrl / alt-alt / shift-shift / meta-meta / scrolllock / ctrl-scrolllock).
        grab_toggle: String = "grabToggle",
    }
}

/// An input device (`<input type='tablet' bus='usb'/>`).
///
/// ```
/// use kvmhost_core::domain::{Input, InputBus, InputType, XmlPart};
/// let tablet = Input::new(InputType::Tablet, InputBus::Usb);
/// let el = tablet.to_element();
/// assert_eq!((el.attr("type"), el.attr("bus")), (Some("tablet"), Some("usb")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Input {
    /// `type`.
    pub input_type: Option<InputType>,
    /// `bus`.
    pub bus: Option<InputBus>,
    /// `model` (virtio / virtio-transitional / virtio-non-transitional).
    pub model: Option<String>,
    /// `<source>`.
    pub source: Option<InputSource>,
    /// `<driver>` virtio options.
    pub driver: Option<VirtioDriverOptions>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<acpi>`.
    pub acpi: Option<AcpiIndex>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// libvirt's order of `<input>` children.
const ORDER: &[&str] = &["source", "driver", "alias", "acpi", "address"];

impl Input {
    /// An input device of `input_type` on `bus`.
    pub fn new(input_type: InputType, bus: InputBus) -> Input {
        Input { input_type: Some(input_type), bus: Some(bus), ..Input::default() }
    }
}

impl XmlPart for Input {
    const TAG: &'static str = "input";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Input {
            input_type: attr_enum(el, "type"),
            bus: attr_enum(el, "bus"),
            model: attr_string(el, "model"),
            source: child_part(el, path)?,
            driver: child_part(el, path)?,
            alias: child_part(el, path)?,
            acpi: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.input_type.as_ref());
        set_attr(el, "bus", self.bus.as_ref());
        set_attr(el, "model", self.model.as_deref());
        set_child(el, self.source.as_ref(), ORDER);
        set_child(el, self.driver.as_ref(), ORDER);
        set_device_info(el, self.alias.as_ref(), self.acpi.as_ref(), self.address.as_ref(), ORDER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn passthrough_with_driver() {
        let src = "<input type='passthrough' bus='virtio'><source evdev='/dev/input/event1234'/>\
                   <driver iommu='on' ats='on' packed='on'/></input>";
        let d = Document::parse(src).unwrap();
        let i = Input::decode(&d.root, &ElementPath::root("input")).unwrap();
        assert_eq!(i.bus, Some(InputBus::Virtio));
        assert_eq!(i.source.as_ref().unwrap().evdev.as_deref(), Some("/dev/input/event1234"));
        let mut el = d.root.clone();
        i.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root));
    }
}
