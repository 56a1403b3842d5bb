//! The other sub-elements of `<disk>`: `<driver>`, `<target>`, `<iotune>`, `<geometry>`,
//! `<blockio>`, `<transient>`, `<backingStore>`, `<mirror>`, `<throttlefilters>`.

use serde::{Deserialize, Serialize};

use super::source::DiskSource;
use crate::domain::codec::{
    attr_part, attr_string, child_part, child_part_named, child_text, children_parts, parse_value, set_attr, set_child,
    set_child_named, set_child_text, set_children, ElementPath, XmlPart,
};
use crate::domain::error::DomainError;
use crate::domain::memory::Memory;
use crate::xml::Element;

/// `<metadata_cache><max_size unit='…'>…</max_size></metadata_cache>` (qcow2 metadata cache).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskMetadataCache {
    /// `<max_size>`.
    pub max_size: Option<Memory>,
}

impl XmlPart for DiskMetadataCache {
    const TAG: &'static str = "metadata_cache";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(DiskMetadataCache { max_size: child_part_named(el, "max_size", path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_child_named(el, "max_size", self.max_size.as_ref(), &[]);
    }
}

/// The hypervisor driver options of a disk (`<driver name='qemu' type='qcow2' cache='none'/>`).
///
/// ```
/// use kvmhost_core::domain::{DiskDriver, XmlPart};
/// let d = DiskDriver::qemu("raw");
/// assert_eq!(d.to_element().attr("type"), Some("raw"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskDriver {
    /// `name` (qemu).
    pub name: Option<String>,
    /// `type`: the image format (raw / qcow2 / …).
    pub format: Option<String>,
    /// `cache` (default / none / writethrough / writeback / directsync / unsafe).
    pub cache: Option<String>,
    /// `error_policy`.
    pub error_policy: Option<String>,
    /// `rerror_policy`.
    pub rerror_policy: Option<String>,
    /// `io` (threads / native / io_uring).
    pub io: Option<String>,
    /// `ioeventfd`.
    pub ioeventfd: Option<String>,
    /// `event_idx`.
    pub event_idx: Option<String>,
    /// `copy_on_read`.
    pub copy_on_read: Option<String>,
    /// `discard` (unmap / ignore).
    pub discard: Option<String>,
    /// `detect_zeroes`.
    pub detect_zeroes: Option<String>,
    /// `iothread`.
    pub iothread: Option<u32>,
    /// `queues`.
    pub queues: Option<u32>,
    /// `queue_size`.
    pub queue_size: Option<u32>,
    /// `iommu`.
    pub iommu: Option<String>,
    /// `ats`.
    pub ats: Option<String>,
    /// `packed`.
    pub packed: Option<String>,
    /// `page_per_vq`.
    pub page_per_vq: Option<String>,
    /// `<metadata_cache>`.
    pub metadata_cache: Option<DiskMetadataCache>,
}

const DRIVER_ATTRS: &[&str] = &[
    "name",
    "type",
    "cache",
    "error_policy",
    "rerror_policy",
    "io",
    "ioeventfd",
    "event_idx",
    "copy_on_read",
    "discard",
    "detect_zeroes",
    "iommu",
    "ats",
    "packed",
    "page_per_vq",
];

impl DiskDriver {
    /// QEMU driver for image format `format`.
    pub fn qemu(format: impl Into<String>) -> DiskDriver {
        DiskDriver { name: Some("qemu".into()), format: Some(format.into()), ..DiskDriver::default() }
    }

    fn attrs_mut(&mut self) -> [&mut Option<String>; 15] {
        [
            &mut self.name,
            &mut self.format,
            &mut self.cache,
            &mut self.error_policy,
            &mut self.rerror_policy,
            &mut self.io,
            &mut self.ioeventfd,
            &mut self.event_idx,
            &mut self.copy_on_read,
            &mut self.discard,
            &mut self.detect_zeroes,
            &mut self.iommu,
            &mut self.ats,
            &mut self.packed,
            &mut self.page_per_vq,
        ]
    }
}

impl XmlPart for DiskDriver {
    const TAG: &'static str = "driver";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let mut d = DiskDriver {
            iothread: crate::domain::codec::attr_parse(el, "iothread", path)?,
            queues: crate::domain::codec::attr_parse(el, "queues", path)?,
            queue_size: crate::domain::codec::attr_parse(el, "queue_size", path)?,
            metadata_cache: child_part(el, path)?,
            ..DiskDriver::default()
        };
        for (name, field) in DRIVER_ATTRS.iter().zip(d.attrs_mut()) {
            *field = attr_string(el, name);
        }
        Ok(d)
    }
    fn encode_into(&self, el: &mut Element) {
        let attrs = [
            &self.name,
            &self.format,
            &self.cache,
            &self.error_policy,
            &self.rerror_policy,
            &self.io,
            &self.ioeventfd,
            &self.event_idx,
            &self.copy_on_read,
            &self.discard,
            &self.detect_zeroes,
            &self.iommu,
            &self.ats,
            &self.packed,
            &self.page_per_vq,
        ];
        for (name, field) in DRIVER_ATTRS.iter().zip(attrs) {
            set_attr(el, name, field.as_deref());
        }
        set_attr(el, "iothread", self.iothread);
        set_attr(el, "queues", self.queues);
        set_attr(el, "queue_size", self.queue_size);
        set_child(el, self.metadata_cache.as_ref(), &["metadata_cache", "iothreads"]);
    }
}

attr_part! {
    /// Where the disk appears in the guest (`<target dev='vda' bus='virtio'/>`).
    pub struct DiskTarget = "target" {
        /// `dev` (vda, sda, hdc …).
        dev: String = "dev",
        /// `bus` (virtio / scsi / sata / ide / usb / fdc / xen / sd).
        bus: String = "bus",
        /// `tray` (open / closed) for removable media.
        tray: String = "tray",
        /// `removable` (on / off) for USB disks.
        removable: String = "removable",
        /// `rotation_rate` (1 = SSD).
        rotation_rate: String = "rotation_rate",
    }
}

impl DiskTarget {
    /// Target `dev` on `bus`.
    pub fn new(dev: impl Into<String>, bus: impl Into<String>) -> DiskTarget {
        DiskTarget { dev: Some(dev.into()), bus: Some(bus.into()), ..DiskTarget::default() }
    }
}

attr_part! {
    /// BIOS geometry override (`<geometry cyls='…' heads='…' secs='…' trans='…'/>`).
    pub struct DiskGeometry = "geometry" {
        /// `cyls`.
        cyls: u32 = "cyls",
        /// `heads`.
        heads: u32 = "heads",
        /// `secs`.
        secs: u32 = "secs",
        /// `trans` (none / lba / auto).
        trans: String = "trans",
    }
}

attr_part! {
    /// Block sizes reported to the guest (`<blockio logical_block_size='512' …/>`).
    pub struct DiskBlockIo = "blockio" {
        /// `logical_block_size`.
        logical_block_size: u32 = "logical_block_size",
        /// `physical_block_size`.
        physical_block_size: u32 = "physical_block_size",
        /// `discard_granularity`.
        discard_granularity: u32 = "discard_granularity",
    }
}

attr_part! {
    /// `<transient/>`: changes are discarded when the guest stops.
    pub struct DiskTransient = "transient" {
        /// `shareBacking` (yes / no).
        share_backing: String = "shareBacking",
    }
}

/// I/O throttling (`<iotune><total_bytes_sec>…</total_bytes_sec>…</iotune>`); every limit is
/// a child element holding a number.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskIoTune {
    /// `total_bytes_sec`.
    pub total_bytes_sec: Option<u64>,
    /// `read_bytes_sec`.
    pub read_bytes_sec: Option<u64>,
    /// `write_bytes_sec`.
    pub write_bytes_sec: Option<u64>,
    /// `total_iops_sec`.
    pub total_iops_sec: Option<u64>,
    /// `read_iops_sec`.
    pub read_iops_sec: Option<u64>,
    /// `write_iops_sec`.
    pub write_iops_sec: Option<u64>,
    /// `total_bytes_sec_max`.
    pub total_bytes_sec_max: Option<u64>,
    /// `read_bytes_sec_max`.
    pub read_bytes_sec_max: Option<u64>,
    /// `write_bytes_sec_max`.
    pub write_bytes_sec_max: Option<u64>,
    /// `total_iops_sec_max`.
    pub total_iops_sec_max: Option<u64>,
    /// `read_iops_sec_max`.
    pub read_iops_sec_max: Option<u64>,
    /// `write_iops_sec_max`.
    pub write_iops_sec_max: Option<u64>,
    /// `size_iops_sec`.
    pub size_iops_sec: Option<u64>,
    /// `total_bytes_sec_max_length`.
    pub total_bytes_sec_max_length: Option<u64>,
    /// `read_bytes_sec_max_length`.
    pub read_bytes_sec_max_length: Option<u64>,
    /// `write_bytes_sec_max_length`.
    pub write_bytes_sec_max_length: Option<u64>,
    /// `total_iops_sec_max_length`.
    pub total_iops_sec_max_length: Option<u64>,
    /// `read_iops_sec_max_length`.
    pub read_iops_sec_max_length: Option<u64>,
    /// `write_iops_sec_max_length`.
    pub write_iops_sec_max_length: Option<u64>,
    /// `group_name`.
    pub group_name: Option<String>,
}

impl DiskIoTune {
    /// Canonical child order (libvirt's formatter).
    pub const ORDER: &'static [&'static str] = &[
        "total_bytes_sec",
        "read_bytes_sec",
        "write_bytes_sec",
        "total_iops_sec",
        "read_iops_sec",
        "write_iops_sec",
        "total_bytes_sec_max",
        "read_bytes_sec_max",
        "write_bytes_sec_max",
        "total_iops_sec_max",
        "read_iops_sec_max",
        "write_iops_sec_max",
        "size_iops_sec",
        "group_name",
        "total_bytes_sec_max_length",
        "read_bytes_sec_max_length",
        "write_bytes_sec_max_length",
        "total_iops_sec_max_length",
        "read_iops_sec_max_length",
        "write_iops_sec_max_length",
    ];

    fn numbers_mut(&mut self) -> [(&'static str, &mut Option<u64>); 19] {
        [
            ("total_bytes_sec", &mut self.total_bytes_sec),
            ("read_bytes_sec", &mut self.read_bytes_sec),
            ("write_bytes_sec", &mut self.write_bytes_sec),
            ("total_iops_sec", &mut self.total_iops_sec),
            ("read_iops_sec", &mut self.read_iops_sec),
            ("write_iops_sec", &mut self.write_iops_sec),
            ("total_bytes_sec_max", &mut self.total_bytes_sec_max),
            ("read_bytes_sec_max", &mut self.read_bytes_sec_max),
            ("write_bytes_sec_max", &mut self.write_bytes_sec_max),
            ("total_iops_sec_max", &mut self.total_iops_sec_max),
            ("read_iops_sec_max", &mut self.read_iops_sec_max),
            ("write_iops_sec_max", &mut self.write_iops_sec_max),
            ("size_iops_sec", &mut self.size_iops_sec),
            ("total_bytes_sec_max_length", &mut self.total_bytes_sec_max_length),
            ("read_bytes_sec_max_length", &mut self.read_bytes_sec_max_length),
            ("write_bytes_sec_max_length", &mut self.write_bytes_sec_max_length),
            ("total_iops_sec_max_length", &mut self.total_iops_sec_max_length),
            ("read_iops_sec_max_length", &mut self.read_iops_sec_max_length),
            ("write_iops_sec_max_length", &mut self.write_iops_sec_max_length),
        ]
    }
}

impl XmlPart for DiskIoTune {
    const TAG: &'static str = "iotune";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let mut t = DiskIoTune { group_name: child_text(el, "group_name"), ..DiskIoTune::default() };
        for (name, field) in t.numbers_mut() {
            if let Some(c) = el.child(name) {
                let text = c.text();
                *field = Some(parse_value(text.trim(), || path.child(name).to_string(), "u64")?);
            }
        }
        Ok(t)
    }
    fn encode_into(&self, el: &mut Element) {
        let mut me = self.clone();
        for (name, field) in me.numbers_mut() {
            set_child_text(el, name, *field, DiskIoTune::ORDER);
        }
        set_child_text(el, "group_name", self.group_name.as_deref(), DiskIoTune::ORDER);
    }
}

/// An image format element (`<format type='qcow2'/>`) of a backing store or mirror.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskFormat {
    /// `type` (raw / qcow2 / …).
    pub format_type: Option<String>,
    /// `<metadata_cache>`.
    pub metadata_cache: Option<DiskMetadataCache>,
}

impl XmlPart for DiskFormat {
    const TAG: &'static str = "format";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(DiskFormat { format_type: attr_string(el, "type"), metadata_cache: child_part(el, path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.format_type.as_deref());
        set_child(el, self.metadata_cache.as_ref(), &["metadata_cache"]);
    }
}

/// One layer of a disk's backing chain (`<backingStore type='file' index='1'>…</backingStore>`);
/// an empty `<backingStore/>` marks the end of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BackingStore {
    /// `type` (file / block / network / …).
    pub store_type: Option<String>,
    /// `index`.
    pub index: Option<String>,
    /// `<format>`.
    pub format: Option<DiskFormat>,
    /// `<source>`.
    pub source: Option<DiskSource>,
    /// The next, deeper `<backingStore>`.
    pub backing_store: Option<Box<BackingStore>>,
}

/// Child order of `<backingStore>` and `<mirror>`.
const CHAIN_ORDER: &[&str] = &["format", "source", "backingStore"];

fn decode_chain(el: &Element, path: &ElementPath<'_>) -> Result<Option<Box<BackingStore>>, DomainError> {
    Ok(child_part::<BackingStore>(el, path)?.map(Box::new))
}

impl XmlPart for BackingStore {
    const TAG: &'static str = "backingStore";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(BackingStore {
            store_type: attr_string(el, "type"),
            index: attr_string(el, "index"),
            format: child_part(el, path)?,
            source: child_part(el, path)?,
            backing_store: decode_chain(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.store_type.as_deref());
        set_attr(el, "index", self.index.as_deref());
        set_child(el, self.format.as_ref(), CHAIN_ORDER);
        set_child(el, self.source.as_ref(), CHAIN_ORDER);
        set_child(el, self.backing_store.as_deref(), CHAIN_ORDER);
    }
}

/// A block job's destination (`<mirror type='file' job='copy' ready='yes'>…</mirror>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskMirror {
    /// `type`.
    pub mirror_type: Option<String>,
    /// `job` (copy / active-commit).
    pub job: Option<String>,
    /// `ready` (yes / abort / pivot).
    pub ready: Option<String>,
    /// `file` (legacy form).
    pub file: Option<String>,
    /// `format` (legacy form).
    pub format_attr: Option<String>,
    /// `<format>`.
    pub format: Option<DiskFormat>,
    /// `<source>`.
    pub source: Option<DiskSource>,
    /// `<backingStore>`.
    pub backing_store: Option<Box<BackingStore>>,
}

impl XmlPart for DiskMirror {
    const TAG: &'static str = "mirror";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(DiskMirror {
            mirror_type: attr_string(el, "type"),
            job: attr_string(el, "job"),
            ready: attr_string(el, "ready"),
            file: attr_string(el, "file"),
            format_attr: attr_string(el, "format"),
            format: child_part(el, path)?,
            source: child_part(el, path)?,
            backing_store: decode_chain(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.mirror_type.as_deref());
        set_attr(el, "job", self.job.as_deref());
        set_attr(el, "ready", self.ready.as_deref());
        set_attr(el, "file", self.file.as_deref());
        set_attr(el, "format", self.format_attr.as_deref());
        set_child(el, self.format.as_ref(), CHAIN_ORDER);
        set_child(el, self.source.as_ref(), CHAIN_ORDER);
        set_child(el, self.backing_store.as_deref(), CHAIN_ORDER);
    }
}

attr_part! {
    /// One throttle filter (`<throttlefilter group='limit0'/>`).
    pub struct ThrottleFilter = "throttlefilter" {
        /// `group`.
        group: String = "group",
    }
}

/// `<throttlefilters>`: the throttle groups a disk belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThrottleFilters {
    /// `<throttlefilter>`s.
    pub filters: Vec<ThrottleFilter>,
}

impl XmlPart for ThrottleFilters {
    const TAG: &'static str = "throttlefilters";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(ThrottleFilters { filters: children_parts(el, path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_children(el, &self.filters, &["throttlefilter"]);
    }
}

attr_part! {
    /// The Xen driver domain serving the disk (`<backenddomain name='dom1'/>`).
    pub struct DiskBackendDomain = "backenddomain" {
        /// `name`.
        name: String = "name",
    }
}
