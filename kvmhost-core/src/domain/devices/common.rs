//! Sub-elements shared by many devices: `<address>`, `<alias>`, `<boot>`, `<acpi>`.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{attr_parse, attr_part, attr_string, set_attr, set_child, ElementPath, XmlPart};
use crate::domain::error::DomainError;
use crate::xml::Element;
use crate::xml_enum;

xml_enum! {
    /// The bus an `<address>` refers to.
    pub enum AddressType {
        Pci = "pci", Drive = "drive", VirtioSerial = "virtio-serial", Ccid = "ccid", Usb = "usb",
        SpaprVio = "spapr-vio", Ccw = "ccw", VirtioMmio = "virtio-mmio", Isa = "isa",
        Dimm = "dimm", Unassigned = "unassigned", VirtioS390 = "virtio-s390"
    }
}

/// A device address (`<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>`).
///
/// Numbers are kept as written (hex or decimal), since libvirt accepts both.
///
/// ```
/// use kvmhost_core::domain::{Address, AddressType};
/// let a = Address::pci(0, 1, 0);
/// assert_eq!(a.address_type, Some(AddressType::Pci));
/// assert_eq!(a.slot.as_deref(), Some("0x01"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Address {
    /// `type`.
    pub address_type: Option<AddressType>,
    /// PCI `domain`.
    pub domain: Option<String>,
    /// PCI / drive / usb / virtio-serial `bus`.
    pub bus: Option<String>,
    /// PCI `slot`.
    pub slot: Option<String>,
    /// PCI `function`.
    pub function: Option<String>,
    /// PCI `multifunction` (on / off).
    pub multifunction: Option<String>,
    /// drive / virtio-serial / ccid `controller`.
    pub controller: Option<String>,
    /// drive `target`.
    pub target: Option<String>,
    /// drive `unit`.
    pub unit: Option<String>,
    /// virtio-serial / ccid `port`, usb `port`.
    pub port: Option<String>,
    /// ccw `cssid`.
    pub cssid: Option<String>,
    /// ccw `ssid`.
    pub ssid: Option<String>,
    /// ccw `devno`.
    pub devno: Option<String>,
    /// spapr-vio / dimm / isa `reg`, `base`, `iobase`, `irq`, `slot` extras.
    pub reg: Option<String>,
    /// dimm `base`.
    pub base: Option<String>,
    /// isa `iobase`.
    pub iobase: Option<String>,
    /// isa `irq`.
    pub irq: Option<String>,
}

const ADDRESS_ATTRS: &[&str] = &[
    "domain",
    "bus",
    "slot",
    "function",
    "multifunction",
    "controller",
    "target",
    "unit",
    "port",
    "cssid",
    "ssid",
    "devno",
    "reg",
    "base",
    "iobase",
    "irq",
];

impl Address {
    /// A PCI address in domain 0.
    pub fn pci(bus: u8, slot: u8, function: u8) -> Address {
        Address {
            address_type: Some(AddressType::Pci),
            domain: Some("0x0000".into()),
            bus: Some(format!("0x{bus:02x}")),
            slot: Some(format!("0x{slot:02x}")),
            function: Some(format!("0x{function:x}")),
            ..Address::default()
        }
    }

    fn fields(&self) -> [&Option<String>; 16] {
        [
            &self.domain,
            &self.bus,
            &self.slot,
            &self.function,
            &self.multifunction,
            &self.controller,
            &self.target,
            &self.unit,
            &self.port,
            &self.cssid,
            &self.ssid,
            &self.devno,
            &self.reg,
            &self.base,
            &self.iobase,
            &self.irq,
        ]
    }

    fn fields_mut(&mut self) -> [&mut Option<String>; 16] {
        [
            &mut self.domain,
            &mut self.bus,
            &mut self.slot,
            &mut self.function,
            &mut self.multifunction,
            &mut self.controller,
            &mut self.target,
            &mut self.unit,
            &mut self.port,
            &mut self.cssid,
            &mut self.ssid,
            &mut self.devno,
            &mut self.reg,
            &mut self.base,
            &mut self.iobase,
            &mut self.irq,
        ]
    }
}

impl XmlPart for Address {
    const TAG: &'static str = "address";
    fn decode(el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let mut a = Address { address_type: el.attr("type").map(Into::into), ..Address::default() };
        for (name, field) in ADDRESS_ATTRS.iter().zip(a.fields_mut()) {
            *field = attr_string(el, name);
        }
        Ok(a)
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.address_type.as_ref());
        for (name, field) in ADDRESS_ATTRS.iter().zip(self.fields()) {
            set_attr(el, name, field.as_deref());
        }
    }
}

/// A user alias (`<alias name='ua-disk0'/>`).
///
/// ```
/// use kvmhost_core::domain::{Alias, XmlPart};
/// assert_eq!(Alias { name: "ua-x".into() }.to_element().attr("name"), Some("ua-x"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Alias {
    /// `name`.
    pub name: String,
}

impl XmlPart for Alias {
    const TAG: &'static str = "alias";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Alias { name: crate::domain::codec::required_attr(el, "name", path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "name", Some(&self.name));
    }
}

attr_part! {
    /// Per-device boot order (`<boot order='1' loadparm='…'/>`).
    ///
    /// ```
    /// use kvmhost_core::domain::{DeviceBoot, XmlPart};
    /// assert_eq!(DeviceBoot::order(2).to_element().attr("order"), Some("2"));
    /// ```
    pub struct DeviceBoot = "boot" {
        /// `order`, 1 first.
        order: u32 = "order",
        /// `loadparm` (s390).
        loadparm: String = "loadparm",
    }
}

impl DeviceBoot {
    /// Boot at position `order`.
    pub fn order(order: u32) -> DeviceBoot {
        DeviceBoot { order: Some(order), loadparm: None }
    }
}

/// ACPI index of a device (`<acpi index='1'/>`).
///
/// ```
/// use kvmhost_core::domain::{AcpiIndex, XmlPart};
/// assert_eq!(AcpiIndex { index: Some(3) }.to_element().attr("index"), Some("3"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AcpiIndex {
    /// `index`.
    pub index: Option<u32>,
}

impl XmlPart for AcpiIndex {
    const TAG: &'static str = "acpi";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(AcpiIndex { index: attr_parse(el, "index", path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "index", self.index);
    }
}

/// Writes the `<alias>`, `<acpi>` and `<address>` children most devices end with, at their
/// places in the device's child `order`.
pub(crate) fn set_device_info(
    el: &mut Element,
    alias: Option<&Alias>,
    acpi: Option<&AcpiIndex>,
    address: Option<&Address>,
    order: &[&str],
) {
    set_child(el, alias, order);
    set_child(el, acpi, order);
    set_child(el, address, order);
}
