//! `<controller>`: buses devices attach to (PCI / PCIe roots and ports, USB, SCSI, SATA,
//! virtio-serial, …).

use serde::{Deserialize, Serialize};

use crate::domain::codec::{
    attr_parse, attr_part, attr_string, child_parse, child_part, child_part_named, set_attr, set_child,
    set_child_named, set_child_text, ElementPath, XmlPart,
};
use crate::domain::devices::common::{AcpiIndex, Address, Alias};
use crate::domain::error::DomainError;
use crate::domain::memory::Memory;
use crate::xml::Element;
use crate::xml_enum;

xml_enum! {
    /// The kind of bus a controller provides (`<controller type='…'>`).
    pub enum ControllerType {
        Ide = "ide", Fdc = "fdc", Scsi = "scsi", Sata = "sata", VirtioSerial = "virtio-serial",
        Ccid = "ccid", Usb = "usb", Pci = "pci", Xenbus = "xenbus", Isa = "isa"
    }
}

attr_part! {
    /// The emulated device model of a PCI controller (`<model name='pcie-root-port'/>`).
    pub struct ControllerModelName = "model" {
        /// `name`.
        name: String = "name",
    }
}

attr_part! {
    /// Driver options (`<driver queues='4' iothread='1'/>`).
    pub struct ControllerDriver = "driver" {
        /// `queues`.
        queues: u32 = "queues",
        /// `cmd_per_lun`.
        cmd_per_lun: u32 = "cmd_per_lun",
        /// `max_sectors`.
        max_sectors: u32 = "max_sectors",
        /// `ioeventfd`.
        ioeventfd: String = "ioeventfd",
        /// `iothread`.
        iothread: u32 = "iothread",
        /// `iommu`.
        iommu: String = "iommu",
        /// `ats`.
        ats: String = "ats",
        /// `packed`.
        packed: String = "packed",
        /// `page_per_vq`.
        page_per_vq: String = "page_per_vq",
    }
}

attr_part! {
    /// The EHCI master of a USB companion controller (`<master startport='0'/>`).
    pub struct ControllerMaster = "master" {
        /// `startport`.
        startport: u32 = "startport",
    }
}

/// PCI controller target options (`<target chassis='1' port='0x10'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ControllerTarget {
    /// `chassisNr`.
    pub chassis_nr: Option<String>,
    /// `chassis`.
    pub chassis: Option<String>,
    /// `port`.
    pub port: Option<String>,
    /// `busNr`.
    pub bus_nr: Option<String>,
    /// `index` (spapr-pci-host-bridge).
    pub index: Option<String>,
    /// `hotplug` (on / off).
    pub hotplug: Option<String>,
    /// `memReserve` (KiB).
    pub mem_reserve: Option<String>,
    /// `<node>`: NUMA node of a PCI expander bus.
    pub node: Option<u32>,
}

const TARGET_ATTRS: &[&str] = &["chassisNr", "chassis", "port", "busNr", "index", "hotplug", "memReserve"];

impl ControllerTarget {
    fn attrs(&self) -> [&Option<String>; 7] {
        [&self.chassis_nr, &self.chassis, &self.port, &self.bus_nr, &self.index, &self.hotplug, &self.mem_reserve]
    }
}

impl XmlPart for ControllerTarget {
    const TAG: &'static str = "target";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let mut t = ControllerTarget { node: child_parse(el, "node", path)?, ..ControllerTarget::default() };
        let fields = [
            &mut t.chassis_nr,
            &mut t.chassis,
            &mut t.port,
            &mut t.bus_nr,
            &mut t.index,
            &mut t.hotplug,
            &mut t.mem_reserve,
        ];
        for (name, field) in TARGET_ATTRS.iter().zip(fields) {
            *field = attr_string(el, name);
        }
        Ok(t)
    }
    fn encode_into(&self, el: &mut Element) {
        for (name, field) in TARGET_ATTRS.iter().zip(self.attrs()) {
            set_attr(el, name, field.as_deref());
        }
        set_child_text(el, "node", self.node, &["node"]);
    }
}

/// A `<controller>` device.
///
/// ```
/// use kvmhost_core::domain::{Controller, ControllerType, XmlPart};
/// let c = Controller::pcie_root_port(1);
/// assert_eq!(c.controller_type, Some(ControllerType::Pci));
/// let el = c.to_element();
/// assert_eq!(el.attr("model"), Some("pcie-root-port"));
/// assert_eq!(el.attr("index"), Some("1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Controller {
    /// `type`.
    pub controller_type: Option<ControllerType>,
    /// `index`.
    pub index: Option<u32>,
    /// `model` (pcie-root, pcie-root-port, qemu-xhci, virtio-scsi, …).
    pub model: Option<String>,
    /// `ports` (usb / virtio-serial).
    pub ports: Option<u32>,
    /// `vectors` (virtio-serial).
    pub vectors: Option<u32>,
    /// `maxGrantFrames` (xenbus).
    pub max_grant_frames: Option<u32>,
    /// `maxEventChannels` (xenbus).
    pub max_event_channels: Option<u32>,
    /// `<model name>`.
    pub model_name: Option<ControllerModelName>,
    /// `<target>`.
    pub target: Option<ControllerTarget>,
    /// `<driver>`.
    pub driver: Option<ControllerDriver>,
    /// `<master>`.
    pub master: Option<ControllerMaster>,
    /// `<pcihole64>` size.
    pub pcihole64: Option<Memory>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<address>`.
    pub address: Option<Address>,
    /// `<acpi>`.
    pub acpi: Option<AcpiIndex>,
}

impl Controller {
    /// Canonical child order (libvirt's formatter).
    pub const ORDER: &'static [&'static str] =
        &["model", "driver", "target", "pcihole64", "alias", "master", "address", "acpi"];

    fn new(controller_type: ControllerType, index: u32, model: Option<&str>) -> Controller {
        Controller {
            controller_type: Some(controller_type),
            index: Some(index),
            model: model.map(str::to_string),
            ..Controller::default()
        }
    }

    /// The PCIe root complex (`type='pci' index='0' model='pcie-root'`).
    pub fn pcie_root() -> Controller {
        Controller::new(ControllerType::Pci, 0, Some("pcie-root"))
    }

    /// A PCIe root port at `index`.
    pub fn pcie_root_port(index: u32) -> Controller {
        Controller::new(ControllerType::Pci, index, Some("pcie-root-port"))
    }

    /// A qemu-xhci USB controller at `index`.
    pub fn usb_qemu_xhci(index: u32) -> Controller {
        Controller::new(ControllerType::Usb, index, Some("qemu-xhci"))
    }

    /// A virtio-scsi controller at `index`.
    pub fn virtio_scsi(index: u32) -> Controller {
        Controller::new(ControllerType::Scsi, index, Some("virtio-scsi"))
    }

    /// A SATA controller at `index`.
    pub fn sata(index: u32) -> Controller {
        Controller::new(ControllerType::Sata, index, None)
    }
}

impl XmlPart for Controller {
    const TAG: &'static str = "controller";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let pcihole64 = child_part_named(el, "pcihole64", path)?;
        Ok(Controller {
            controller_type: el.attr("type").map(Into::into),
            index: attr_parse(el, "index", path)?,
            model: attr_string(el, "model"),
            ports: attr_parse(el, "ports", path)?,
            vectors: attr_parse(el, "vectors", path)?,
            max_grant_frames: attr_parse(el, "maxGrantFrames", path)?,
            max_event_channels: attr_parse(el, "maxEventChannels", path)?,
            model_name: child_part(el, path)?,
            target: child_part(el, path)?,
            driver: child_part(el, path)?,
            master: child_part(el, path)?,
            pcihole64,
            alias: child_part(el, path)?,
            address: child_part(el, path)?,
            acpi: child_part(el, path)?,
        })
    }

    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.controller_type.as_ref());
        set_attr(el, "index", self.index);
        set_attr(el, "model", self.model.as_deref());
        set_attr(el, "ports", self.ports);
        set_attr(el, "vectors", self.vectors);
        set_attr(el, "maxGrantFrames", self.max_grant_frames);
        set_attr(el, "maxEventChannels", self.max_event_channels);
        let o = Controller::ORDER;
        set_child(el, self.model_name.as_ref(), o);
        set_child(el, self.driver.as_ref(), o);
        set_child(el, self.target.as_ref(), o);
        set_child_named(el, "pcihole64", self.pcihole64.as_ref(), o);
        set_child(el, self.alias.as_ref(), o);
        set_child(el, self.master.as_ref(), o);
        set_child(el, self.address.as_ref(), o);
        set_child(el, self.acpi.as_ref(), o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn pci_controller_round_trips() {
        let xml = "<controller type='pci' index='3' model='pcie-expander-bus'>\n  <model name='pxb-pcie'/>\n  \
                   <target busNr='252'>\n    <node>1</node>\n  </target>\n  <pcihole64 unit='KiB'>0</pcihole64>\n  \
                   <address type='pci' bus='0x00' slot='0x02'/>\n</controller>";
        let d = Document::parse(xml).unwrap();
        let c = Controller::decode(&d.root, &ElementPath::root("controller")).unwrap();
        assert_eq!(c.index, Some(3));
        assert_eq!(c.target.as_ref().unwrap().node, Some(1));
        assert_eq!(c.model_name.as_ref().unwrap().name.as_deref(), Some("pxb-pcie"));
        let mut el = d.root.clone();
        c.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root));
        let fresh = c.to_element();
        assert_eq!(fresh.child("target").unwrap().child("node").unwrap().text(), "1");
    }

    #[test]
    fn bad_index_is_an_error() {
        let d = Document::parse("<controller type='usb' index='x'/>").unwrap();
        assert!(Controller::decode(&d.root, &ElementPath::root("controller")).is_err());
    }
}
