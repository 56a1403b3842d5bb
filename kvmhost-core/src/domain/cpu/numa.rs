//! The guest NUMA layout inside `<cpu>`: `<numa><cell …/><interconnects>…</interconnects></numa>`.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{
    attr_parse, attr_part, attr_string, child_part_named, children_parts_named, set_attr, set_child_named,
    set_child_with, set_children_named, ElementPath, XmlPart, YesNo,
};
use crate::domain::error::DomainError;
use crate::domain::memory::{Memory, MemoryUnit};
use crate::domain::shared::{set_unit_attr, unit_attr};
use crate::xml::Element;

attr_part! {
    /// A distance to another cell (`<sibling id='1' value='21'/>`).
    pub struct NumaSibling = "sibling" {
        /// `id`.
        id: u32 = "id",
        /// `value`.
        value: u32 = "value",
    }
}

attr_part! {
    /// A size with a unit as attributes (`<size value='256' unit='KiB'/>`).
    pub struct NumaCacheSize = "size" {
        /// `value`.
        value: u64 = "value",
        /// `unit`.
        unit: MemoryUnit = "unit",
    }
}

/// A memory-side cache of a cell (`<cache level='1' associativity='direct' policy='writeback'>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NumaCellCache {
    /// `level`.
    pub level: Option<u32>,
    /// `associativity`.
    pub associativity: Option<String>,
    /// `policy`.
    pub policy: Option<String>,
    /// `<size>`.
    pub size: Option<NumaCacheSize>,
    /// `<line>`.
    pub line: Option<NumaCacheSize>,
}

impl XmlPart for NumaCellCache {
    const TAG: &'static str = "cache";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(NumaCellCache {
            level: attr_parse(el, "level", path)?,
            associativity: attr_string(el, "associativity"),
            policy: attr_string(el, "policy"),
            size: child_part_named(el, "size", path)?,
            line: child_part_named(el, "line", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "level", self.level);
        set_attr(el, "associativity", self.associativity.as_deref());
        set_attr(el, "policy", self.policy.as_deref());
        set_child_named(el, "size", self.size.as_ref(), &["size", "line"]);
        set_child_named(el, "line", self.line.as_ref(), &["size", "line"]);
    }
}

/// A guest NUMA cell (`<cell id='0' cpus='0-3' memory='4' unit='GiB' memAccess='shared'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NumaCell {
    /// `id`.
    pub id: Option<u32>,
    /// `cpus` (range syntax; may be absent for memory-only cells).
    pub cpus: Option<String>,
    /// `memory` (in `unit`).
    pub memory: Option<u64>,
    /// `unit` (KiB when absent).
    pub unit: Option<MemoryUnit>,
    /// `memAccess` (`shared`, `private`).
    pub mem_access: Option<String>,
    /// `discard`.
    pub discard: Option<YesNo>,
    /// `<distances>`; `None` when absent.
    pub distances: Option<Vec<NumaSibling>>,
    /// `<cache>` list.
    pub caches: Vec<NumaCellCache>,
}

impl NumaCell {
    /// A cell of `cpus` with `memory`.
    pub fn new(id: u32, cpus: &str, memory: &Memory) -> NumaCell {
        NumaCell {
            id: Some(id),
            cpus: Some(cpus.to_string()),
            memory: Some(memory.value),
            unit: memory.unit,
            ..NumaCell::default()
        }
    }

    /// The cell's memory as a [`Memory`].
    pub fn memory_size(&self) -> Option<Memory> {
        self.memory.map(|v| Memory::new(v, self.unit.unwrap_or(MemoryUnit::KIB)))
    }
}

const CELL_ORDER: &[&str] = &["distances", "cache"];

impl XmlPart for NumaCell {
    const TAG: &'static str = "cell";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let dpath = path.child("distances");
        Ok(NumaCell {
            id: attr_parse(el, "id", path)?,
            cpus: attr_string(el, "cpus"),
            memory: attr_parse(el, "memory", path)?,
            unit: unit_attr(el, "unit", path)?,
            mem_access: attr_string(el, "memAccess"),
            discard: el.attr("discard").map(Into::into),
            distances: el.child("distances").map(|d| children_parts_named(d, "sibling", &dpath)).transpose()?,
            caches: children_parts_named(el, "cache", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "id", self.id);
        set_attr(el, "cpus", self.cpus.as_deref());
        set_attr(el, "memory", self.memory);
        set_unit_attr(el, "unit", self.unit);
        set_attr(el, "memAccess", self.mem_access.as_deref());
        set_attr(el, "discard", self.discard.as_ref());
        set_child_with(
            el,
            "distances",
            self.distances.as_ref().map(|d| |e: &mut Element| set_children_named(e, "sibling", d, &[])),
            CELL_ORDER,
        );
        set_children_named(el, "cache", &self.caches, CELL_ORDER);
    }
}

attr_part! {
    /// One latency or bandwidth entry (`<latency initiator='0' target='1' type='access' value='5'/>`).
    pub struct NumaInterconnect = "latency" {
        /// `initiator`.
        initiator: u32 = "initiator",
        /// `target`.
        target: u32 = "target",
        /// `cache` level.
        cache: u32 = "cache",
        /// `type` (`access`, `read`, `write`).
        kind: String = "type",
        /// `value`.
        value: u64 = "value",
        /// `unit` (bandwidth).
        unit: String = "unit",
    }
}

/// `<interconnects>`: HMAT latencies and bandwidths between cells.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NumaInterconnects {
    /// `<latency>` list.
    pub latencies: Vec<NumaInterconnect>,
    /// `<bandwidth>` list.
    pub bandwidths: Vec<NumaInterconnect>,
}

impl XmlPart for NumaInterconnects {
    const TAG: &'static str = "interconnects";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(NumaInterconnects {
            latencies: children_parts_named(el, "latency", path)?,
            bandwidths: children_parts_named(el, "bandwidth", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        let o = &["latency", "bandwidth"];
        set_children_named(el, "latency", &self.latencies, o);
        set_children_named(el, "bandwidth", &self.bandwidths, o);
    }
}

/// `<numa>` inside `<cpu>`: the guest NUMA cells.
///
/// ```
/// use kvmhost_core::domain::{CpuNuma, Memory, NumaCell, XmlPart};
/// let mut numa = CpuNuma::default();
/// numa.cells.push(NumaCell::new(0, "0-1", &Memory::gib(1)));
/// assert_eq!(numa.to_element().child("cell").unwrap().attr("unit"), Some("GiB"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CpuNuma {
    /// `<cell>` list.
    pub cells: Vec<NumaCell>,
    /// `<interconnects>`.
    pub interconnects: Option<NumaInterconnects>,
}

impl XmlPart for CpuNuma {
    const TAG: &'static str = "numa";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(CpuNuma {
            cells: children_parts_named(el, "cell", path)?,
            interconnects: child_part_named(el, "interconnects", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        let o = &["cell", "interconnects"];
        set_children_named(el, "cell", &self.cells, o);
        set_child_named(el, "interconnects", self.interconnects.as_ref(), o);
    }
}
