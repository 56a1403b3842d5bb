//! `<cputune>`: CPU shares, bandwidth limits, pinning, scheduling and cache / memory
//! bandwidth allocation.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{
    attr_parse, attr_part, attr_string, child_parse, child_part_named, children_parts_named, set_attr, set_child_named,
    set_child_text, set_children_named, ElementPath, XmlPart,
};

use crate::domain::error::DomainError;
use crate::domain::memory::MemoryUnit;
use crate::xml::Element;

attr_part! {
    /// `<vcpupin vcpu='0' cpuset='1-4,^2'/>`.
    pub struct VcpuPin = "vcpupin" {
        /// `vcpu`.
        vcpu: u32 = "vcpu",
        /// `cpuset`.
        cpuset: String = "cpuset",
    }
}

attr_part! {
    /// `<iothreadpin iothread='1' cpuset='5,6'/>`.
    pub struct IothreadPin = "iothreadpin" {
        /// `iothread`.
        iothread: u32 = "iothread",
        /// `cpuset`.
        cpuset: String = "cpuset",
    }
}

/// A scheduler setting (`<vcpusched vcpus='0-3' scheduler='fifo' priority='1'/>`, also
/// `<iothreadsched iothreads=…>` and `<emulatorsched>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SchedSetting {
    /// `vcpus` (vcpusched) or `iothreads` (iothreadsched).
    pub ids: Option<String>,
    /// `scheduler` (`batch`, `idle`, `fifo`, `rr`).
    pub scheduler: Option<String>,
    /// `priority`.
    pub priority: Option<i32>,
}

impl SchedSetting {
    fn decode_with(el: &Element, ids: &str, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(SchedSetting {
            ids: attr_string(el, ids),
            scheduler: attr_string(el, "scheduler"),
            priority: attr_parse(el, "priority", path)?,
        })
    }
    fn encode_with(&self, el: &mut Element, ids: &str) {
        set_attr(el, ids, self.ids.as_deref());
        set_attr(el, "scheduler", self.scheduler.as_deref());
        set_attr(el, "priority", self.priority);
    }
}

/// [`SchedSetting`] as `<vcpusched>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
struct VcpuSched(SchedSetting);
/// [`SchedSetting`] as `<iothreadsched>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
struct IothreadSched(SchedSetting);

impl XmlPart for VcpuSched {
    const TAG: &'static str = "vcpusched";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        SchedSetting::decode_with(el, "vcpus", path).map(VcpuSched)
    }
    fn encode_into(&self, el: &mut Element) {
        self.0.encode_with(el, "vcpus")
    }
}

impl XmlPart for IothreadSched {
    const TAG: &'static str = "iothreadsched";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        SchedSetting::decode_with(el, "iothreads", path).map(IothreadSched)
    }
    fn encode_into(&self, el: &mut Element) {
        self.0.encode_with(el, "iothreads")
    }
}

impl XmlPart for SchedSetting {
    const TAG: &'static str = "emulatorsched";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        SchedSetting::decode_with(el, "vcpus", path)
    }
    fn encode_into(&self, el: &mut Element) {
        self.encode_with(el, "vcpus")
    }
}

attr_part! {
    /// A cache allocation (`<cache id='0' level='3' type='both' size='3' unit='MiB'/>`).
    pub struct CacheAllocation = "cache" {
        /// `id`.
        id: u32 = "id",
        /// `level`.
        level: u32 = "level",
        /// `type` (`both`, `code`, `data`).
        cache_type: String = "type",
        /// `size`.
        size: u64 = "size",
        /// `unit`.
        unit: MemoryUnit = "unit",
    }
}

attr_part! {
    /// A resource monitor (`<monitor level='3' vcpus='1'/>`).
    pub struct ResctrlMonitor = "monitor" {
        /// `level` (cachetune only).
        level: u32 = "level",
        /// `vcpus`.
        vcpus: String = "vcpus",
    }
}

/// `<cachetune vcpus='0-3'><cache …/><monitor …/></cachetune>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CacheTune {
    /// `vcpus`.
    pub vcpus: Option<String>,
    /// `id`.
    pub id: Option<String>,
    /// `<cache>` list.
    pub caches: Vec<CacheAllocation>,
    /// `<monitor>` list.
    pub monitors: Vec<ResctrlMonitor>,
}

impl XmlPart for CacheTune {
    const TAG: &'static str = "cachetune";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(CacheTune {
            vcpus: attr_string(el, "vcpus"),
            id: attr_string(el, "id"),
            caches: children_parts_named(el, "cache", path)?,
            monitors: children_parts_named(el, "monitor", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "vcpus", self.vcpus.as_deref());
        set_attr(el, "id", self.id.as_deref());
        set_children_named(el, "cache", &self.caches, &["cache", "monitor"]);
        set_children_named(el, "monitor", &self.monitors, &["cache", "monitor"]);
    }
}

attr_part! {
    /// A memory bandwidth allocation (`<node id='0' bandwidth='60'/>`).
    pub struct MemoryBandwidth = "node" {
        /// `id`.
        id: u32 = "id",
        /// `bandwidth` (percent).
        bandwidth: u32 = "bandwidth",
    }
}

/// `<memorytune vcpus='0-3'><node …/><monitor …/></memorytune>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemoryTune {
    /// `vcpus`.
    pub vcpus: Option<String>,
    /// `<node>` list.
    pub nodes: Vec<MemoryBandwidth>,
    /// `<monitor>` list.
    pub monitors: Vec<ResctrlMonitor>,
}

impl XmlPart for MemoryTune {
    const TAG: &'static str = "memorytune";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(MemoryTune {
            vcpus: attr_string(el, "vcpus"),
            nodes: children_parts_named(el, "node", path)?,
            monitors: children_parts_named(el, "monitor", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "vcpus", self.vcpus.as_deref());
        set_children_named(el, "node", &self.nodes, &["node", "monitor"]);
        set_children_named(el, "monitor", &self.monitors, &["node", "monitor"]);
    }
}

/// The canonical child order of `<cputune>`.
pub const CPUTUNE_ORDER: &[&str] = &[
    "shares",
    "period",
    "quota",
    "global_period",
    "global_quota",
    "emulator_period",
    "emulator_quota",
    "iothread_period",
    "iothread_quota",
    "vcpupin",
    "emulatorpin",
    "iothreadpin",
    "vcpusched",
    "iothreadsched",
    "emulatorsched",
    "cachetune",
    "memorytune",
];

/// `<cputune>`.
///
/// ```
/// use kvmhost_core::domain::{CpuTune, Domain, VcpuPin, XmlPart};
/// let d = Domain::parse("<domain><cputune><shares>2048</shares><quota>-1</quota>\
///   <vcpupin vcpu='0' cpuset='2'/><emulatorpin cpuset='0-1'/></cputune></domain>").unwrap();
/// let t = d.def().unwrap().cputune.unwrap();
/// assert_eq!(t.shares, Some(2048));
/// assert_eq!(t.quota, Some(-1));
/// assert_eq!(t.vcpupins[0].cpuset.as_deref(), Some("2"));
/// let mut t = CpuTune::default();
/// t.pin_vcpu(1, "4-5");
/// assert_eq!(t.to_element().child("vcpupin").unwrap().attr("cpuset"), Some("4-5"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CpuTune {
    /// `<shares>`.
    pub shares: Option<u64>,
    /// `<period>` (µs).
    pub period: Option<u64>,
    /// `<quota>` (µs, -1 unlimited).
    pub quota: Option<i64>,
    /// `<global_period>`.
    pub global_period: Option<u64>,
    /// `<global_quota>`.
    pub global_quota: Option<i64>,
    /// `<emulator_period>`.
    pub emulator_period: Option<u64>,
    /// `<emulator_quota>`.
    pub emulator_quota: Option<i64>,
    /// `<iothread_period>`.
    pub iothread_period: Option<u64>,
    /// `<iothread_quota>`.
    pub iothread_quota: Option<i64>,
    /// `<vcpupin>` list.
    pub vcpupins: Vec<VcpuPin>,
    /// `<emulatorpin cpuset=…>`.
    pub emulatorpin: Option<String>,
    /// `<iothreadpin>` list.
    pub iothreadpins: Vec<IothreadPin>,
    /// `<vcpusched>` list (`ids` = `vcpus`).
    pub vcpusched: Vec<SchedSetting>,
    /// `<iothreadsched>` list (`ids` = `iothreads`).
    pub iothreadsched: Vec<SchedSetting>,
    /// `<emulatorsched>`.
    pub emulatorsched: Option<SchedSetting>,
    /// `<cachetune>` list.
    pub cachetunes: Vec<CacheTune>,
    /// `<memorytune>` list.
    pub memorytunes: Vec<MemoryTune>,
}

impl CpuTune {
    /// Pins `vcpu` to host CPUs `cpuset`, replacing an existing pin of that vCPU.
    pub fn pin_vcpu(&mut self, vcpu: u32, cpuset: &str) {
        match self.vcpupins.iter_mut().find(|p| p.vcpu == Some(vcpu)) {
            Some(p) => p.cpuset = Some(cpuset.to_string()),
            None => self.vcpupins.push(VcpuPin { vcpu: Some(vcpu), cpuset: Some(cpuset.to_string()) }),
        }
    }
}

impl XmlPart for CpuTune {
    const TAG: &'static str = "cputune";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(CpuTune {
            shares: child_parse(el, "shares", path)?,
            period: child_parse(el, "period", path)?,
            quota: child_parse(el, "quota", path)?,
            global_period: child_parse(el, "global_period", path)?,
            global_quota: child_parse(el, "global_quota", path)?,
            emulator_period: child_parse(el, "emulator_period", path)?,
            emulator_quota: child_parse(el, "emulator_quota", path)?,
            iothread_period: child_parse(el, "iothread_period", path)?,
            iothread_quota: child_parse(el, "iothread_quota", path)?,
            vcpupins: children_parts_named(el, "vcpupin", path)?,
            emulatorpin: el
                .child("emulatorpin")
                .map(|e| crate::domain::codec::required_attr(e, "cpuset", &path.child("emulatorpin")))
                .transpose()?,
            iothreadpins: children_parts_named(el, "iothreadpin", path)?,
            vcpusched: children_parts_named::<VcpuSched>(el, "vcpusched", path)?.into_iter().map(|s| s.0).collect(),
            iothreadsched: children_parts_named::<IothreadSched>(el, "iothreadsched", path)?
                .into_iter()
                .map(|s| s.0)
                .collect(),
            emulatorsched: child_part_named(el, "emulatorsched", path)?,
            cachetunes: children_parts_named(el, "cachetune", path)?,
            memorytunes: children_parts_named(el, "memorytune", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        let o = CPUTUNE_ORDER;
        set_child_text(el, "shares", self.shares, o);
        set_child_text(el, "period", self.period, o);
        set_child_text(el, "quota", self.quota, o);
        set_child_text(el, "global_period", self.global_period, o);
        set_child_text(el, "global_quota", self.global_quota, o);
        set_child_text(el, "emulator_period", self.emulator_period, o);
        set_child_text(el, "emulator_quota", self.emulator_quota, o);
        set_child_text(el, "iothread_period", self.iothread_period, o);
        set_child_text(el, "iothread_quota", self.iothread_quota, o);
        set_children_named(el, "vcpupin", &self.vcpupins, o);
        crate::domain::codec::set_child_with(
            el,
            "emulatorpin",
            self.emulatorpin.as_deref().map(|c| {
                move |e: &mut Element| {
                    let keep = !c.is_empty() || e.attr("cpuset").is_some();
                    set_attr(e, "cpuset", keep.then_some(c))
                }
            }),
            o,
        );
        set_children_named(el, "iothreadpin", &self.iothreadpins, o);
        let vs: Vec<VcpuSched> = self.vcpusched.iter().cloned().map(VcpuSched).collect();
        set_children_named(el, "vcpusched", &vs, o);
        let is: Vec<IothreadSched> = self.iothreadsched.iter().cloned().map(IothreadSched).collect();
        set_children_named(el, "iothreadsched", &is, o);
        set_child_named(el, "emulatorsched", self.emulatorsched.as_ref(), o);
        set_children_named(el, "cachetune", &self.cachetunes, o);
        set_children_named(el, "memorytune", &self.memorytunes, o);
    }
}
