//! `<hostdev>`: host devices passed through to the guest (PCI / USB / SCSI / mediated devices,
//! and container capabilities).

use serde::{Deserialize, Serialize};

use super::{DiskAuth, DiskHost, DiskInitiator};
use crate::domain::codec::{
    attr_part, attr_string, child_part, child_part_named, child_text, children_parts, set_attr, set_child,
    set_child_named, set_child_text, set_child_with, set_children, set_flag_child, ElementPath, XmlPart, YesNo,
};
use crate::domain::devices::common::{AcpiIndex, Address, Alias, DeviceBoot};
use crate::domain::error::DomainError;
use crate::xml::Element;
use crate::xml_enum;

xml_enum! {
    /// `<hostdev mode='…'>`.
    pub enum HostdevMode { Subsystem = "subsystem", Capabilities = "capabilities" }
}

xml_enum! {
    /// `<hostdev type='…'>`.
    pub enum HostdevType {
        Pci = "pci", Usb = "usb", Scsi = "scsi", ScsiHost = "scsi_host", Mdev = "mdev",
        Storage = "storage", Misc = "misc", Net = "net"
    }
}

attr_part! {
    /// A USB vendor or product id (`<vendor id='0x1234'/>`, `<product id='0xbeef'/>`).
    pub struct UsbId = "vendor" {
        /// `id`.
        id: String = "id",
    }
}

attr_part! {
    /// A SCSI host adapter (`<adapter name='scsi_host0'/>`).
    pub struct HostdevAdapter = "adapter" {
        /// `name`.
        name: String = "name",
    }
}

attr_part! {
    /// The host driver used for assignment (`<driver name='vfio'/>`).
    pub struct HostdevDriver = "driver" {
        /// `name` (vfio / kvm / xen).
        name: String = "name",
        /// `model`.
        model: String = "model",
    }
}

attr_part! {
    /// PCI ROM options (`<rom bar='on' file='…' enabled='yes'/>`).
    pub struct HostdevRom = "rom" {
        /// `bar` (on / off).
        bar: String = "bar",
        /// `file`.
        file: String = "file",
        /// `enabled` (yes / no).
        enabled: String = "enabled",
    }
}

attr_part! {
    /// Failover teaming (`<teaming type='transient' persistent='ua-net0'/>`).
    pub struct HostdevTeaming = "teaming" {
        /// `type` (persistent / transient).
        teaming_type: String = "type",
        /// `persistent`: alias of the persistent peer.
        persistent: String = "persistent",
    }
}

/// The host side of a `<hostdev>` (`<source><address domain='0x0000' bus='0x06' …/></source>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HostdevSource {
    /// `startupPolicy` (USB).
    pub startup_policy: Option<String>,
    /// `protocol` (iscsi / vhost).
    pub protocol: Option<String>,
    /// `name` (iSCSI IQN / LUN).
    pub name: Option<String>,
    /// `wwpn` (scsi_host vhost).
    pub wwpn: Option<String>,
    /// `<vendor id>` (USB).
    pub vendor: Option<UsbId>,
    /// `<product id>` (USB).
    pub product: Option<UsbId>,
    /// `<adapter name>` (SCSI).
    pub adapter: Option<HostdevAdapter>,
    /// `<host>`s (iSCSI).
    pub hosts: Vec<DiskHost>,
    /// `<auth>` (iSCSI).
    pub auth: Option<DiskAuth>,
    /// `<initiator>` (iSCSI).
    pub initiator: Option<DiskInitiator>,
    /// `<address>`: PCI `domain/bus/slot/function`, SCSI `bus/target/unit`, USB `bus`.
    pub address: Option<Address>,
    /// `device` of the USB `<address bus='1' device='2'/>`.
    pub usb_device: Option<String>,
    /// `uuid` of the mdev `<address uuid='…'/>`.
    pub mdev_uuid: Option<String>,
    /// `<block>` path (capabilities storage).
    pub block: Option<String>,
    /// `<char>` path (capabilities misc).
    pub char_dev: Option<String>,
    /// `<interface>` name (capabilities net).
    pub interface: Option<String>,
}

impl HostdevSource {
    /// Canonical child order.
    pub const ORDER: &'static [&'static str] =
        &["vendor", "product", "adapter", "host", "auth", "initiator", "address", "block", "char", "interface"];

    /// A host PCI device at `domain:bus:slot.function` (numbers written in hex).
    pub fn pci(domain: u16, bus: u8, slot: u8, function: u8) -> HostdevSource {
        let mut address = Address::pci(bus, slot, function);
        address.address_type = None;
        address.domain = Some(format!("0x{domain:04x}"));
        HostdevSource { address: Some(address), ..HostdevSource::default() }
    }
}

impl XmlPart for HostdevSource {
    const TAG: &'static str = "source";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let addr = el.child("address");
        Ok(HostdevSource {
            startup_policy: attr_string(el, "startupPolicy"),
            protocol: attr_string(el, "protocol"),
            name: attr_string(el, "name"),
            wwpn: attr_string(el, "wwpn"),
            vendor: child_part_named(el, "vendor", path)?,
            product: child_part_named(el, "product", path)?,
            adapter: child_part(el, path)?,
            hosts: children_parts(el, path)?,
            auth: child_part(el, path)?,
            initiator: child_part(el, path)?,
            address: child_part(el, path)?,
            usb_device: addr.and_then(|a| attr_string(a, "device")),
            mdev_uuid: addr.and_then(|a| attr_string(a, "uuid")),
            block: child_text(el, "block"),
            char_dev: child_text(el, "char"),
            interface: child_text(el, "interface"),
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "startupPolicy", self.startup_policy.as_deref());
        set_attr(el, "protocol", self.protocol.as_deref());
        set_attr(el, "name", self.name.as_deref());
        set_attr(el, "wwpn", self.wwpn.as_deref());
        let o = HostdevSource::ORDER;
        set_child_named(el, "vendor", self.vendor.as_ref(), o);
        set_child_named(el, "product", self.product.as_ref(), o);
        set_child(el, self.adapter.as_ref(), o);
        set_children(el, &self.hosts, o);
        set_child(el, self.auth.as_ref(), o);
        set_child(el, self.initiator.as_ref(), o);
        let extra = self.usb_device.is_some() || self.mdev_uuid.is_some();
        if self.address.is_some() || extra {
            let address = self.address.clone().unwrap_or_default();
            set_child_with(
                el,
                "address",
                Some(|e: &mut Element| {
                    address.encode_into(e);
                    set_attr(e, "device", self.usb_device.as_deref());
                    set_attr(e, "uuid", self.mdev_uuid.as_deref());
                }),
                o,
            );
        } else {
            set_child::<Address>(el, None, o);
        }
        set_child_text(el, "block", self.block.as_deref(), o);
        set_child_text(el, "char", self.char_dev.as_deref(), o);
        set_child_text(el, "interface", self.interface.as_deref(), o);
    }
}

/// A `<hostdev>` device.
///
/// ```
/// use kvmhost_core::domain::{Hostdev, HostdevType, XmlPart};
/// let h = Hostdev::pci(0, 0x06, 0x00, 0);
/// assert_eq!(h.hostdev_type, Some(HostdevType::Pci));
/// let el = h.to_element();
/// assert_eq!(el.attr("managed"), Some("yes"));
/// assert_eq!(el.child("source").unwrap().child("address").unwrap().attr("bus"), Some("0x06"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Hostdev {
    /// `mode`.
    pub mode: Option<HostdevMode>,
    /// `type`.
    pub hostdev_type: Option<HostdevType>,
    /// `managed`.
    pub managed: Option<YesNo>,
    /// `sgio` (SCSI).
    pub sgio: Option<String>,
    /// `rawio` (SCSI).
    pub rawio: Option<String>,
    /// `model` (scsi_host / mdev: vfio-pci, vfio-ccw, …).
    pub model: Option<String>,
    /// `display` (mdev: on / off).
    pub display: Option<String>,
    /// `ramfb` (mdev: on / off).
    pub ramfb: Option<String>,
    /// `<driver>`.
    pub driver: Option<HostdevDriver>,
    /// `<source>`.
    pub source: Option<HostdevSource>,
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<shareable/>`.
    pub shareable: bool,
    /// `<teaming>`.
    pub teaming: Option<HostdevTeaming>,
    /// `<boot>`.
    pub boot: Option<DeviceBoot>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<rom>`.
    pub rom: Option<HostdevRom>,
    /// `<address>` in the guest.
    pub address: Option<Address>,
    /// `<acpi>`.
    pub acpi: Option<AcpiIndex>,
}

impl Hostdev {
    /// Canonical child order (libvirt's formatter).
    pub const ORDER: &'static [&'static str] = &[
        "driver",
        "source",
        "origstates",
        "readonly",
        "shareable",
        "teaming",
        "boot",
        "alias",
        "rom",
        "address",
        "acpi",
    ];

    /// A managed PCI passthrough of host device `domain:bus:slot.function`.
    pub fn pci(domain: u16, bus: u8, slot: u8, function: u8) -> Hostdev {
        Hostdev {
            mode: Some(HostdevMode::Subsystem),
            hostdev_type: Some(HostdevType::Pci),
            managed: Some(YesNo::Yes),
            source: Some(HostdevSource::pci(domain, bus, slot, function)),
            ..Hostdev::default()
        }
    }

    /// A USB passthrough by vendor and product id (`0x1234`).
    pub fn usb(vendor: impl Into<String>, product: impl Into<String>) -> Hostdev {
        Hostdev {
            mode: Some(HostdevMode::Subsystem),
            hostdev_type: Some(HostdevType::Usb),
            managed: Some(YesNo::Yes),
            source: Some(HostdevSource {
                vendor: Some(UsbId { id: Some(vendor.into()) }),
                product: Some(UsbId { id: Some(product.into()) }),
                ..HostdevSource::default()
            }),
            ..Hostdev::default()
        }
    }
}

impl XmlPart for Hostdev {
    const TAG: &'static str = "hostdev";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Hostdev {
            mode: el.attr("mode").map(Into::into),
            hostdev_type: el.attr("type").map(Into::into),
            managed: el.attr("managed").map(Into::into),
            sgio: attr_string(el, "sgio"),
            rawio: attr_string(el, "rawio"),
            model: attr_string(el, "model"),
            display: attr_string(el, "display"),
            ramfb: attr_string(el, "ramfb"),
            driver: child_part(el, path)?,
            source: child_part(el, path)?,
            readonly: el.child("readonly").is_some(),
            shareable: el.child("shareable").is_some(),
            teaming: child_part(el, path)?,
            boot: child_part(el, path)?,
            alias: child_part(el, path)?,
            rom: child_part(el, path)?,
            address: child_part(el, path)?,
            acpi: child_part(el, path)?,
        })
    }

    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "mode", self.mode.as_ref());
        set_attr(el, "type", self.hostdev_type.as_ref());
        set_attr(el, "managed", self.managed.as_ref());
        set_attr(el, "sgio", self.sgio.as_deref());
        set_attr(el, "rawio", self.rawio.as_deref());
        set_attr(el, "model", self.model.as_deref());
        set_attr(el, "display", self.display.as_deref());
        set_attr(el, "ramfb", self.ramfb.as_deref());
        let o = Hostdev::ORDER;
        set_child(el, self.driver.as_ref(), o);
        set_child(el, self.source.as_ref(), o);
        set_flag_child(el, "readonly", self.readonly, o);
        set_flag_child(el, "shareable", self.shareable, o);
        set_child(el, self.teaming.as_ref(), o);
        set_child(el, self.boot.as_ref(), o);
        set_child(el, self.alias.as_ref(), o);
        set_child(el, self.rom.as_ref(), o);
        set_child(el, self.address.as_ref(), o);
        set_child(el, self.acpi.as_ref(), o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    fn check(xml: &str) -> Hostdev {
        let d = Document::parse(xml).unwrap();
        let h = Hostdev::decode(&d.root, &ElementPath::root("hostdev")).unwrap();
        let mut el = d.root.clone();
        h.encode_into(&mut el);
        assert_eq!(Document::new(el).to_xml().unwrap(), d.to_xml().unwrap());
        h
    }

    #[test]
    fn usb_by_address_keeps_device() {
        let h = check(
            "<hostdev mode='subsystem' type='usb' managed='no'><source startupPolicy='optional'>\
             <address bus='14' device='6'/></source><boot order='2'/></hostdev>",
        );
        let src = h.source.unwrap();
        assert_eq!(src.usb_device.as_deref(), Some("6"));
        assert_eq!(src.address.unwrap().bus.as_deref(), Some("14"));
        assert_eq!(h.boot.unwrap().order, Some(2));
    }

    #[test]
    fn usb_by_ids_and_scsi_iscsi() {
        let h = check(
            "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>",
        );
        assert_eq!(h.source.unwrap().product.unwrap().id.as_deref(), Some("0xbeef"));
        let h = check(
            "<hostdev mode='subsystem' type='scsi'><source protocol='iscsi' name='iqn.x/1'>\
             <host name='example.org' port='3260'/><auth username='u'><secret type='iscsi' usage='s'/></auth>\
             </source><readonly/></hostdev>",
        );
        assert!(h.readonly);
        assert_eq!(h.source.unwrap().hosts[0].port.as_deref(), Some("3260"));
    }
}
