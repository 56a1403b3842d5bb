//! `<disk>`: the guest's block devices (hard disks, CD-ROMs, floppies, LUNs), their sources,
//! backing chains, driver options, throttling and addressing.

mod parts;
mod source;

pub use parts::*;
pub use source::*;

use serde::{Deserialize, Serialize};

use crate::domain::codec::{
    attr_string, child_part, child_text, set_attr, set_child, set_child_text, set_flag_child, ElementPath, XmlPart,
    YesNo,
};
use crate::domain::devices::common::{AcpiIndex, Address, Alias, DeviceBoot};
use crate::domain::error::DomainError;
use crate::xml::Element;
use crate::xml_enum;

xml_enum! {
    /// Where a disk's data lives (`<disk type='…'>`).
    pub enum DiskType {
        File = "file", Block = "block", Dir = "dir", Network = "network", Volume = "volume",
        Nvme = "nvme", VhostUser = "vhostuser"
    }
}

xml_enum! {
    /// How a disk appears to the guest (`<disk device='…'>`).
    pub enum DiskDevice { Disk = "disk", Cdrom = "cdrom", Floppy = "floppy", Lun = "lun" }
}

/// A `<disk>` device.
///
/// ```
/// use kvmhost_core::domain::{Disk, DiskDevice, XmlPart};
/// let disk = Disk::file("/var/lib/libvirt/images/vm1.qcow2", "vda");
/// let el = disk.to_element();
/// assert_eq!(el.attr("type"), Some("file"));
/// assert_eq!(el.child("driver").unwrap().attr("type"), Some("qcow2"));
/// assert_eq!(el.child("target").unwrap().attr("bus"), Some("virtio"));
/// let cd = Disk::cdrom("/isos/install.iso", "sda");
/// assert_eq!(cd.device, Some(DiskDevice::Cdrom));
/// assert!(cd.readonly);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Disk {
    /// `type`.
    pub disk_type: Option<DiskType>,
    /// `device` (absent means disk).
    pub device: Option<DiskDevice>,
    /// `model` (virtio / virtio-transitional / virtio-non-transitional).
    pub model: Option<String>,
    /// `rawio` (lun).
    pub rawio: Option<YesNo>,
    /// `sgio` (filtered / unfiltered).
    pub sgio: Option<String>,
    /// `snapshot` (internal / external / no / manual).
    pub snapshot: Option<String>,
    /// `<driver>`.
    pub driver: Option<DiskDriver>,
    /// `<auth>` (legacy place, outside `<source>`).
    pub auth: Option<DiskAuth>,
    /// `<source>`.
    pub source: Option<DiskSource>,
    /// `<backingStore>`.
    pub backing_store: Option<BackingStore>,
    /// `<backenddomain>` (Xen).
    pub backend_domain: Option<DiskBackendDomain>,
    /// `<geometry>`.
    pub geometry: Option<DiskGeometry>,
    /// `<blockio>`.
    pub blockio: Option<DiskBlockIo>,
    /// `<mirror>`.
    pub mirror: Option<DiskMirror>,
    /// `<target>`.
    pub target: Option<DiskTarget>,
    /// `<iotune>`.
    pub iotune: Option<DiskIoTune>,
    /// `<throttlefilters>`.
    pub throttle_filters: Option<ThrottleFilters>,
    /// `<boot>`.
    pub boot: Option<DeviceBoot>,
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<shareable/>`.
    pub shareable: bool,
    /// `<transient/>`.
    pub transient: Option<DiskTransient>,
    /// `<serial>`.
    pub serial: Option<String>,
    /// `<wwn>`.
    pub wwn: Option<String>,
    /// `<vendor>`.
    pub vendor: Option<String>,
    /// `<product>`.
    pub product: Option<String>,
    /// `<encryption>` (legacy place, outside `<source>`).
    pub encryption: Option<DiskEncryption>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<address>`.
    pub address: Option<Address>,
    /// `<acpi>`.
    pub acpi: Option<AcpiIndex>,
}

impl Disk {
    /// Canonical child order (libvirt's formatter).
    pub const ORDER: &'static [&'static str] = &[
        "driver",
        "auth",
        "source",
        "backingStore",
        "backenddomain",
        "geometry",
        "blockio",
        "mirror",
        "target",
        "iotune",
        "throttlefilters",
        "boot",
        "readonly",
        "shareable",
        "transient",
        "serial",
        "wwn",
        "vendor",
        "product",
        "encryption",
        "alias",
        "address",
        "acpi",
    ];

    /// A qcow2 image file attached as virtio disk `target_dev` (`vda`, …).
    pub fn file(path: impl Into<String>, target_dev: impl Into<String>) -> Disk {
        Disk {
            disk_type: Some(DiskType::File),
            device: Some(DiskDevice::Disk),
            driver: Some(DiskDriver::qemu("qcow2")),
            source: Some(DiskSource::file(path)),
            target: Some(DiskTarget::new(target_dev, "virtio")),
            ..Disk::default()
        }
    }

    /// A read-only raw CD-ROM image on the SATA bus as `dev` (`sda`, …).
    pub fn cdrom(path: impl Into<String>, dev: impl Into<String>) -> Disk {
        Disk {
            disk_type: Some(DiskType::File),
            device: Some(DiskDevice::Cdrom),
            driver: Some(DiskDriver::qemu("raw")),
            source: Some(DiskSource::file(path)),
            target: Some(DiskTarget::new(dev, "sata")),
            readonly: true,
            ..Disk::default()
        }
    }

    /// A raw network disk (`protocol` rbd / nbd / iscsi / gluster / …, image `name`) served by
    /// `hosts`, attached as virtio `vda`; change `target` as needed.
    pub fn network(protocol: impl Into<String>, name: impl Into<String>, hosts: Vec<DiskHost>) -> Disk {
        Disk {
            disk_type: Some(DiskType::Network),
            device: Some(DiskDevice::Disk),
            driver: Some(DiskDriver::qemu("raw")),
            source: Some(DiskSource::network(protocol, name, hosts)),
            target: Some(DiskTarget::new("vda", "virtio")),
            ..Disk::default()
        }
    }

    /// A raw host block device `dev_path` attached as virtio disk `target`.
    pub fn block(dev_path: impl Into<String>, target: impl Into<String>) -> Disk {
        Disk {
            disk_type: Some(DiskType::Block),
            device: Some(DiskDevice::Disk),
            driver: Some(DiskDriver::qemu("raw")),
            source: Some(DiskSource::block(dev_path)),
            target: Some(DiskTarget::new(target, "virtio")),
            ..Disk::default()
        }
    }

    /// The guest device name (`<target dev>`), if any.
    pub fn target_dev(&self) -> Option<&str> {
        self.target.as_ref()?.dev.as_deref()
    }

    /// The host path of a file / block / dir source, if any.
    pub fn source_path(&self) -> Option<&str> {
        let s = self.source.as_ref()?;
        s.file.as_deref().or(s.dev.as_deref()).or(s.dir.as_deref())
    }
}

impl XmlPart for Disk {
    const TAG: &'static str = "disk";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Disk {
            disk_type: el.attr("type").map(Into::into),
            device: el.attr("device").map(Into::into),
            model: attr_string(el, "model"),
            rawio: el.attr("rawio").map(Into::into),
            sgio: attr_string(el, "sgio"),
            snapshot: attr_string(el, "snapshot"),
            driver: child_part(el, path)?,
            auth: child_part(el, path)?,
            source: child_part(el, path)?,
            backing_store: child_part(el, path)?,
            backend_domain: child_part(el, path)?,
            geometry: child_part(el, path)?,
            blockio: child_part(el, path)?,
            mirror: child_part(el, path)?,
            target: child_part(el, path)?,
            iotune: child_part(el, path)?,
            throttle_filters: child_part(el, path)?,
            boot: child_part(el, path)?,
            readonly: el.child("readonly").is_some(),
            shareable: el.child("shareable").is_some(),
            transient: child_part(el, path)?,
            serial: child_text(el, "serial"),
            wwn: child_text(el, "wwn"),
            vendor: child_text(el, "vendor"),
            product: child_text(el, "product"),
            encryption: child_part(el, path)?,
            alias: child_part(el, path)?,
            address: child_part(el, path)?,
            acpi: child_part(el, path)?,
        })
    }

    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.disk_type.as_ref());
        set_attr(el, "device", self.device.as_ref());
        set_attr(el, "model", self.model.as_deref());
        set_attr(el, "rawio", self.rawio.as_ref());
        set_attr(el, "sgio", self.sgio.as_deref());
        set_attr(el, "snapshot", self.snapshot.as_deref());
        let o = Disk::ORDER;
        set_child(el, self.driver.as_ref(), o);
        set_child(el, self.auth.as_ref(), o);
        set_child(el, self.source.as_ref(), o);
        set_child(el, self.backing_store.as_ref(), o);
        set_child(el, self.backend_domain.as_ref(), o);
        set_child(el, self.geometry.as_ref(), o);
        set_child(el, self.blockio.as_ref(), o);
        set_child(el, self.mirror.as_ref(), o);
        set_child(el, self.target.as_ref(), o);
        set_child(el, self.iotune.as_ref(), o);
        set_child(el, self.throttle_filters.as_ref(), o);
        set_child(el, self.boot.as_ref(), o);
        set_flag_child(el, "readonly", self.readonly, o);
        set_flag_child(el, "shareable", self.shareable, o);
        set_child(el, self.transient.as_ref(), o);
        set_child_text(el, "serial", self.serial.as_deref(), o);
        set_child_text(el, "wwn", self.wwn.as_deref(), o);
        set_child_text(el, "vendor", self.vendor.as_deref(), o);
        set_child_text(el, "product", self.product.as_deref(), o);
        set_child(el, self.encryption.as_ref(), o);
        set_child(el, self.alias.as_ref(), o);
        set_child(el, self.address.as_ref(), o);
        set_child(el, self.acpi.as_ref(), o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    fn round_trip(xml: &str) -> (Disk, String) {
        let d = Document::parse(xml).unwrap();
        let disk = Disk::decode(&d.root, &ElementPath::root("disk")).unwrap();
        let mut el = d.root.clone();
        disk.encode_into(&mut el);
        assert_eq!(Document::new(el).to_xml().unwrap(), d.to_xml().unwrap());
        (disk, xml.to_string())
    }

    #[test]
    fn network_disk_with_auth_and_hosts_round_trips() {
        let xml = "<disk type='network' device='disk'>\n  <driver name='qemu' type='raw'/>\n  \
                   <source protocol='rbd' name='pool/img'>\n    <host name='mon1' port='6789'/>\n    \
                   <host name='mon2'/>\n    <auth username='admin'><secret type='ceph' usage='x'/></auth>\n  \
                   </source>\n  <target dev='vda' bus='virtio'/>\n  <readonly/>\n</disk>";
        let (disk, out) = round_trip(xml);
        assert_eq!(out, xml);
        let src = disk.source.unwrap();
        assert_eq!(src.hosts.len(), 2);
        assert_eq!(src.hosts[0].port.as_deref(), Some("6789"));
        assert_eq!(src.auth.unwrap().secret.unwrap().secret_type.as_deref(), Some("ceph"));
        assert!(disk.readonly);
    }

    #[test]
    fn backing_chain_and_iotune_decode() {
        let xml = "<disk type='file'><source file='/a'/><backingStore type='file' index='1'><format type='qcow2'/>\
                   <source file='/b'/><backingStore/></backingStore><target dev='vda'/>\
                   <iotune><total_iops_sec>100</total_iops_sec><group_name>g</group_name></iotune></disk>";
        let (disk, out) = round_trip(xml);
        assert_eq!(out, xml);
        let bs = disk.backing_store.unwrap();
        assert_eq!(bs.source.unwrap().file.as_deref(), Some("/b"));
        assert_eq!(bs.backing_store.as_deref(), Some(&BackingStore::default()));
        let io = disk.iotune.unwrap();
        assert_eq!(io.total_iops_sec, Some(100));
        assert_eq!(io.group_name.as_deref(), Some("g"));
    }

    #[test]
    fn edits_insert_in_canonical_order() {
        let d = Document::parse("<disk type='file'>\n  <source file='/a'/>\n  <target dev='vda'/>\n</disk>").unwrap();
        let mut disk = Disk::decode(&d.root, &ElementPath::root("disk")).unwrap();
        disk.driver = Some(DiskDriver::qemu("qcow2"));
        disk.serial = Some("abc".into());
        disk.readonly = true;
        let mut el = d.root.clone();
        disk.encode_into(&mut el);
        let names: Vec<_> = el.elements().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["driver", "source", "target", "readonly", "serial"]);
    }

    #[test]
    fn bad_iotune_number_names_path() {
        let d = Document::parse("<disk><iotune><total_iops_sec>x</total_iops_sec></iotune></disk>").unwrap();
        let e = Disk::decode(&d.root, &ElementPath::root("disk")).unwrap_err();
        assert!(e.to_string().contains("/disk/iotune/total_iops_sec"), "{e}");
    }

    #[test]
    fn changing_source_keeps_untyped_content() {
        let xml = "<disk type='file' device='disk'>\n  <driver name='qemu' type='qcow2' x-vendor='1'/>\n  \
                   <source file='/old.qcow2'>\n    <privateData><nodenames/></privateData>\n  </source>\n  \
                   <target dev='vda' bus='virtio'/>\n  <!-- keep me -->\n</disk>";
        let d = Document::parse(xml).unwrap();
        let mut disk = Disk::decode(&d.root, &ElementPath::root("disk")).unwrap();
        assert_eq!(disk.source_path(), Some("/old.qcow2"));
        disk.source.as_mut().unwrap().file = Some("/new.qcow2".into());
        let mut el = d.root.clone();
        disk.encode_into(&mut el);
        let out = Document::new(el).to_xml().unwrap();
        let expected = d.to_xml().unwrap().replace("/old.qcow2", "/new.qcow2");
        assert_eq!(out, expected);
    }
}
