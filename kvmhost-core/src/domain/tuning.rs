//! Resource tuning: `<vcpus>`, `<cputune>`, `<numatune>`, `<memtune>`, `<blkiotune>`,
//! `<memoryBacking>` and `<iothreadids>`.

mod cputune;

use serde::{Deserialize, Serialize};

use crate::domain::codec::{
    attr_part, child_parse, child_part_named, children_parts_named, set_attr, set_child_named, set_child_text,
    set_child_with, set_children_named, set_flag_child, ElementPath, XmlPart, YesNo,
};
use crate::domain::error::DomainError;
use crate::domain::memory::{Memory, MemoryUnit};
use crate::domain::shared::{merge_text, text_of};
use crate::xml::Element;

pub use cputune::*;

attr_part! {
    /// One vCPU's hotplug state (`<vcpu id='0' enabled='yes' hotpluggable='no' order='1'/>`).
    pub struct VcpuState = "vcpu" {
        /// `id`.
        id: u32 = "id",
        /// `enabled`.
        enabled: YesNo = "enabled",
        /// `hotpluggable`.
        hotpluggable: YesNo = "hotpluggable",
        /// `order`.
        order: u32 = "order",
    }
}

/// `<vcpus>`: per-vCPU hotplug state.
///
/// ```
/// use kvmhost_core::domain::{Domain, YesNo};
/// let d = Domain::parse("<domain><vcpus><vcpu id='0' enabled='yes' hotpluggable='no' order='1'/>\
///   <vcpu id='1' enabled='no' hotpluggable='yes'/></vcpus></domain>").unwrap();
/// let v = d.def().unwrap().vcpus.unwrap();
/// assert_eq!(v.vcpus[1].enabled, Some(YesNo::No));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Vcpus {
    /// `<vcpu>` list.
    pub vcpus: Vec<VcpuState>,
}

impl XmlPart for Vcpus {
    const TAG: &'static str = "vcpus";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Vcpus { vcpus: children_parts_named(el, "vcpu", path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_children_named(el, "vcpu", &self.vcpus, &["vcpu"]);
    }
}

attr_part! {
    /// `<memory mode='strict' nodeset='0-1' placement='static'/>` inside `<numatune>`.
    pub struct NumaMemory = "memory" {
        /// `mode` (`strict`, `preferred`, `interleave`, `restrictive`).
        mode: String = "mode",
        /// `nodeset`.
        nodeset: String = "nodeset",
        /// `placement` (`static`, `auto`).
        placement: String = "placement",
    }
}

attr_part! {
    /// `<memnode cellid='0' mode='strict' nodeset='1'/>`.
    pub struct MemNode = "memnode" {
        /// `cellid`.
        cellid: u32 = "cellid",
        /// `mode`.
        mode: String = "mode",
        /// `nodeset`.
        nodeset: String = "nodeset",
    }
}

/// `<numatune>`: host NUMA placement of guest memory.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NumaTune {
    /// `<memory>`.
    pub memory: Option<NumaMemory>,
    /// `<memnode>` list.
    pub memnodes: Vec<MemNode>,
}

impl XmlPart for NumaTune {
    const TAG: &'static str = "numatune";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(NumaTune {
            memory: child_part_named(el, "memory", path)?,
            memnodes: children_parts_named(el, "memnode", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        let o = &["memory", "memnode"];
        set_child_named(el, "memory", self.memory.as_ref(), o);
        set_children_named(el, "memnode", &self.memnodes, o);
    }
}

const MEMTUNE_ORDER: &[&str] = &["hard_limit", "soft_limit", "min_guarantee", "swap_hard_limit"];

/// `<memtune>`: memory limits.
///
/// ```
/// use kvmhost_core::domain::{Memory, MemTune, XmlPart};
/// let mut t = MemTune::default();
/// t.hard_limit = Some(Memory::gib(4));
/// assert_eq!(t.to_element().child("hard_limit").unwrap().text(), "4");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemTune {
    /// `<hard_limit>`.
    pub hard_limit: Option<Memory>,
    /// `<soft_limit>`.
    pub soft_limit: Option<Memory>,
    /// `<swap_hard_limit>`.
    pub swap_hard_limit: Option<Memory>,
    /// `<min_guarantee>`.
    pub min_guarantee: Option<Memory>,
}

impl XmlPart for MemTune {
    const TAG: &'static str = "memtune";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(MemTune {
            hard_limit: child_part_named(el, "hard_limit", path)?,
            soft_limit: child_part_named(el, "soft_limit", path)?,
            swap_hard_limit: child_part_named(el, "swap_hard_limit", path)?,
            min_guarantee: child_part_named(el, "min_guarantee", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_child_named(el, "hard_limit", self.hard_limit.as_ref(), MEMTUNE_ORDER);
        set_child_named(el, "soft_limit", self.soft_limit.as_ref(), MEMTUNE_ORDER);
        set_child_named(el, "min_guarantee", self.min_guarantee.as_ref(), MEMTUNE_ORDER);
        set_child_named(el, "swap_hard_limit", self.swap_hard_limit.as_ref(), MEMTUNE_ORDER);
    }
}

const BLKIO_DEVICE_ORDER: &[&str] =
    &["path", "weight", "read_iops_sec", "write_iops_sec", "read_bytes_sec", "write_bytes_sec"];

/// Per-device I/O tuning (`<device><path>/dev/sda</path><weight>500</weight></device>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BlkioDevice {
    /// `<path>`.
    pub path: Option<String>,
    /// `<weight>`.
    pub weight: Option<u32>,
    /// `<read_iops_sec>`.
    pub read_iops_sec: Option<u64>,
    /// `<write_iops_sec>`.
    pub write_iops_sec: Option<u64>,
    /// `<read_bytes_sec>`.
    pub read_bytes_sec: Option<u64>,
    /// `<write_bytes_sec>`.
    pub write_bytes_sec: Option<u64>,
}

impl XmlPart for BlkioDevice {
    const TAG: &'static str = "device";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(BlkioDevice {
            path: el.child("path").map(|p| text_of(p).unwrap_or_default()),
            weight: child_parse(el, "weight", path)?,
            read_iops_sec: child_parse(el, "read_iops_sec", path)?,
            write_iops_sec: child_parse(el, "write_iops_sec", path)?,
            read_bytes_sec: child_parse(el, "read_bytes_sec", path)?,
            write_bytes_sec: child_parse(el, "write_bytes_sec", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        let o = BLKIO_DEVICE_ORDER;
        set_child_with(el, "path", self.path.as_deref().map(|p| move |e: &mut Element| merge_text(e, Some(p))), o);
        set_child_text(el, "weight", self.weight, o);
        set_child_text(el, "read_iops_sec", self.read_iops_sec, o);
        set_child_text(el, "write_iops_sec", self.write_iops_sec, o);
        set_child_text(el, "read_bytes_sec", self.read_bytes_sec, o);
        set_child_text(el, "write_bytes_sec", self.write_bytes_sec, o);
    }
}

/// `<blkiotune>`: block I/O weights and limits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BlkioTune {
    /// `<weight>`.
    pub weight: Option<u32>,
    /// `<device>` list.
    pub devices: Vec<BlkioDevice>,
}

impl XmlPart for BlkioTune {
    const TAG: &'static str = "blkiotune";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(BlkioTune { weight: child_parse(el, "weight", path)?, devices: children_parts_named(el, "device", path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        let o = &["weight", "device"];
        set_child_text(el, "weight", self.weight, o);
        set_children_named(el, "device", &self.devices, o);
    }
}

attr_part! {
    /// A huge page size (`<page size='1' unit='GiB' nodeset='0'/>`).
    pub struct HugePage = "page" {
        /// `size`.
        size: u64 = "size",
        /// `unit` (KiB when absent).
        unit: MemoryUnit = "unit",
        /// `nodeset`.
        nodeset: String = "nodeset",
    }
}

impl HugePage {
    /// The page size as a [`Memory`].
    pub fn page_size(&self) -> Option<Memory> {
        self.size.map(|s| Memory::new(s, self.unit.unwrap_or(MemoryUnit::KIB)))
    }
}

attr_part! {
    /// `<allocation mode='immediate' threads='8'/>`.
    pub struct MemoryAllocation = "allocation" {
        /// `mode` (`immediate`, `ondemand`).
        mode: String = "mode",
        /// `threads`.
        threads: u32 = "threads",
    }
}

const MEMORY_BACKING_ORDER: &[&str] =
    &["hugepages", "nosharepages", "locked", "source", "access", "allocation", "discard"];

/// `<memoryBacking>`: how guest RAM is backed.
///
/// ```
/// use kvmhost_core::domain::{Domain, MemoryBacking, XmlPart};
/// let d = Domain::parse("<domain><memoryBacking><hugepages><page size='2048' unit='KiB'/></hugepages>\
///   <source type='memfd'/><access mode='shared'/></memoryBacking></domain>").unwrap();
/// let mb = d.def().unwrap().memory_backing.unwrap();
/// assert_eq!(mb.hugepages.as_ref().unwrap()[0].page_size().unwrap().kib(), Some(2048));
/// assert_eq!(mb.access_mode.as_deref(), Some("shared"));
/// let mut mb = MemoryBacking::default();
/// mb.locked = true;
/// let fresh = mb.to_element();
/// assert!(fresh.child("locked").is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemoryBacking {
    /// `<hugepages>` with its `<page>` list; `None` when absent.
    pub hugepages: Option<Vec<HugePage>>,
    /// `<nosharepages/>`.
    pub nosharepages: bool,
    /// `<locked/>`.
    pub locked: bool,
    /// `<source type=…>` (`file`, `anonymous`, `memfd`).
    pub source_type: Option<String>,
    /// `<access mode=…>` (`shared`, `private`).
    pub access_mode: Option<String>,
    /// `<allocation>`.
    pub allocation: Option<MemoryAllocation>,
    /// `<discard/>`.
    pub discard: bool,
}

impl XmlPart for MemoryBacking {
    const TAG: &'static str = "memoryBacking";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let hp = path.child("hugepages");
        Ok(MemoryBacking {
            hugepages: el.child("hugepages").map(|h| children_parts_named(h, "page", &hp)).transpose()?,
            nosharepages: el.child("nosharepages").is_some(),
            locked: el.child("locked").is_some(),
            source_type: el
                .child("source")
                .map(|s| crate::domain::codec::required_attr(s, "type", &path.child("source")))
                .transpose()?,
            access_mode: el
                .child("access")
                .map(|s| crate::domain::codec::required_attr(s, "mode", &path.child("access")))
                .transpose()?,
            allocation: child_part_named(el, "allocation", path)?,
            discard: el.child("discard").is_some(),
        })
    }
    fn encode_into(&self, el: &mut Element) {
        let o = MEMORY_BACKING_ORDER;
        set_child_with(
            el,
            "hugepages",
            self.hugepages.as_ref().map(|p| |e: &mut Element| set_children_named(e, "page", p, &[])),
            o,
        );
        set_flag_child(el, "nosharepages", self.nosharepages, o);
        set_flag_child(el, "locked", self.locked, o);
        set_attr_child(el, "source", "type", self.source_type.as_deref());
        set_attr_child(el, "access", "mode", self.access_mode.as_deref());
        set_child_named(el, "allocation", self.allocation.as_ref(), o);
        set_flag_child(el, "discard", self.discard, o);
    }
}

/// Sets or removes a child carrying one attribute (an empty value with no attribute written
/// stands for a bare element).
fn set_attr_child(el: &mut Element, child: &str, attr: &str, value: Option<&str>) {
    let write = value.map(|v| {
        move |e: &mut Element| {
            let keep = !v.is_empty() || e.attr(attr).is_some();
            set_attr(e, attr, keep.then_some(v));
        }
    });
    set_child_with(el, child, write, MEMORY_BACKING_ORDER);
}

attr_part! {
    /// An I/O thread (`<iothread id='1' thread_pool_min='2' thread_pool_max='8'/>`).
    pub struct IothreadId = "iothread" {
        /// `id`.
        id: u32 = "id",
        /// `thread_pool_min`.
        thread_pool_min: i64 = "thread_pool_min",
        /// `thread_pool_max`.
        thread_pool_max: i64 = "thread_pool_max",
    }
}

/// `<iothreadids>`: the I/O threads by id.
///
/// ```
/// use kvmhost_core::domain::{IothreadIds, XmlPart};
/// let t = IothreadIds::with_ids(&[1, 2]);
/// assert_eq!(t.to_element().children_named("iothread").count(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IothreadIds {
    /// `<iothread>` list.
    pub iothreads: Vec<IothreadId>,
}

impl IothreadIds {
    /// Threads with the given ids.
    pub fn with_ids(ids: &[u32]) -> IothreadIds {
        IothreadIds { iothreads: ids.iter().map(|&id| IothreadId { id: Some(id), ..IothreadId::default() }).collect() }
    }
}

impl XmlPart for IothreadIds {
    const TAG: &'static str = "iothreadids";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(IothreadIds { iothreads: children_parts_named(el, "iothread", path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_children_named(el, "iothread", &self.iothreads, &["iothread"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    use crate::domain::codec::test_support::assert_round_trip as round_trip;

    #[test]
    fn tuning_round_trips() {
        let t: CpuTune = round_trip(
            "<cputune><shares>2048</shares><period>1000000</period><quota>-1</quota>\
             <vcpupin vcpu='0' cpuset='0'/><emulatorpin cpuset='1-3'/><iothreadpin iothread='1' cpuset='2'/>\
             <vcpusched vcpus='0-1' scheduler='fifo' priority='1'/><iothreadsched iothreads='1' scheduler='batch'/>\
             <emulatorsched scheduler='idle'/><cachetune vcpus='0-1'><cache id='0' level='3' type='both' size='3' \
             unit='MiB'/><monitor level='3' vcpus='1'/></cachetune><memorytune vcpus='2'><node id='0' \
             bandwidth='60'/></memorytune></cputune>",
        );
        assert_eq!(t.iothreadsched[0].ids.as_deref(), Some("1"));
        assert_eq!(t.cachetunes[0].caches[0].unit, Some(MemoryUnit::MIB));
        let n: NumaTune = round_trip(
            "<numatune><memory mode='strict' placement='auto'/><memnode cellid='0' mode='preferred' nodeset='3'/></numatune>",
        );
        assert_eq!(n.memnodes[0].cellid, Some(0));
        let m: MemTune = round_trip(
            "<memtune><hard_limit unit='KiB'>9437184</hard_limit><min_guarantee>1</min_guarantee></memtune>",
        );
        assert_eq!(m.hard_limit.unwrap().kib(), Some(9437184));
        let b: BlkioTune = round_trip(
            "<blkiotune><weight>800</weight><device><path>/dev/sda</path><weight>400</weight>\
             <read_bytes_sec>1</read_bytes_sec></device></blkiotune>",
        );
        assert_eq!(b.devices[0].path.as_deref(), Some("/dev/sda"));
        let mb: MemoryBacking = round_trip(
            "<memoryBacking><hugepages/><nosharepages/><locked/><source type='file'/><access mode='shared'/>\
             <allocation mode='immediate' threads='8'/><discard/></memoryBacking>",
        );
        assert_eq!(mb.hugepages, Some(vec![]));
    }

    #[test]
    fn unit_spelling_is_kept() {
        let d = Document::parse("<page size='1' unit='gib'/>").unwrap();
        let p = HugePage::decode(&d.root, &ElementPath::root("page")).unwrap();
        let mut el = d.root.clone();
        p.encode_into(&mut el);
        assert_eq!(el.attr("unit"), Some("gib"));
    }
}
