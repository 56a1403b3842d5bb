//! `<cpu>`: CPU mode, model, topology, features and guest NUMA layout.

mod numa;

use serde::{Deserialize, Serialize};

use crate::domain::codec::{
    attr_part, attr_string, child_part_named, children_parts, set_attr, set_child_named, set_children, ElementPath,
    OnOff, XmlPart,
};
use crate::domain::error::DomainError;
use crate::domain::shared::{merge_text, text_of};
use crate::xml::Element;
use crate::xml_enum;

pub use numa::*;

xml_enum! {
    /// How the guest CPU is chosen (`<cpu mode=…>`).
    pub enum CpuMode {
        Custom = "custom", HostModel = "host-model", HostPassthrough = "host-passthrough", Maximum = "maximum"
    }
}

xml_enum! {
    /// How strictly a custom model must match the host (`<cpu match=…>`).
    pub enum CpuMatch { Minimum = "minimum", Exact = "exact", Strict = "strict" }
}

xml_enum! {
    /// How the resulting CPU is checked (`<cpu check=…>`).
    pub enum CpuCheck { None = "none", Partial = "partial", Full = "full" }
}

xml_enum! {
    /// What to do with a CPU feature (`<feature policy=…>`).
    pub enum FeaturePolicy {
        Force = "force", Require = "require", Optional = "optional", Disable = "disable", Forbid = "forbid"
    }
}

xml_enum! {
    /// Whether libvirt may fall back to a close model (`<model fallback=…>`).
    pub enum ModelFallback { Allow = "allow", Forbid = "forbid" }
}

xml_enum! {
    /// How the CPU cache is presented (`<cache mode=…>`).
    pub enum CpuCacheMode { Emulate = "emulate", Passthrough = "passthrough", Disable = "disable" }
}

/// `<model fallback='allow' vendor_id='GenuineIntel'>Skylake-Client</model>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CpuModel {
    /// The model name (text), `None` for `<model fallback=…/>` without a name.
    pub name: Option<String>,
    /// `fallback`.
    pub fallback: Option<ModelFallback>,
    /// `vendor_id`.
    pub vendor_id: Option<String>,
}

impl XmlPart for CpuModel {
    const TAG: &'static str = "model";
    fn decode(el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(CpuModel {
            name: text_of(el),
            fallback: el.attr("fallback").map(Into::into),
            vendor_id: attr_string(el, "vendor_id"),
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "fallback", self.fallback.as_ref());
        set_attr(el, "vendor_id", self.vendor_id.as_deref());
        merge_text(el, self.name.as_deref());
    }
}

attr_part! {
    /// `<topology sockets='1' dies='1' clusters='1' cores='2' threads='1'/>`.
    pub struct CpuTopology = "topology" {
        /// `sockets`.
        sockets: u32 = "sockets",
        /// `dies`.
        dies: u32 = "dies",
        /// `clusters`.
        clusters: u32 = "clusters",
        /// `cores`.
        cores: u32 = "cores",
        /// `threads`.
        threads: u32 = "threads",
    }
}

impl CpuTopology {
    /// `sockets` × `cores` × `threads` (dies and clusters 1 unless given).
    pub fn new(sockets: u32, cores: u32, threads: u32) -> CpuTopology {
        CpuTopology { sockets: Some(sockets), cores: Some(cores), threads: Some(threads), ..CpuTopology::default() }
    }

    /// The number of vCPUs the topology describes (missing values count as 1).
    pub fn vcpus(&self) -> u64 {
        [self.sockets, self.dies, self.clusters, self.cores, self.threads]
            .iter()
            .map(|v| u64::from(v.unwrap_or(1)))
            .product()
    }
}

/// A CPU feature request (`<feature policy='require' name='vmx'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CpuFeature {
    /// `policy` (absent in host capabilities).
    pub policy: Option<FeaturePolicy>,
    /// `name`.
    pub name: String,
}

impl XmlPart for CpuFeature {
    const TAG: &'static str = "feature";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(CpuFeature {
            policy: el.attr("policy").map(Into::into),
            name: crate::domain::codec::required_attr(el, "name", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "policy", self.policy.as_ref());
        set_attr(el, "name", Some(&self.name));
    }
}

attr_part! {
    /// `<cache level='3' mode='emulate'/>`.
    pub struct CpuCache = "cache" {
        /// `level`.
        level: u32 = "level",
        /// `mode`.
        mode: CpuCacheMode = "mode",
    }
}

attr_part! {
    /// `<maxphysaddr mode='emulate' bits='42'/>`.
    pub struct MaxPhysAddr = "maxphysaddr" {
        /// `mode` (`emulate`, `passthrough`).
        mode: String = "mode",
        /// `bits`.
        bits: u32 = "bits",
        /// `limit`.
        limit: u32 = "limit",
    }
}

/// The canonical child order of `<cpu>`.
pub const CPU_ORDER: &[&str] = &[
    "arch",
    "model",
    "vendor",
    "microcode",
    "signature",
    "counter",
    "topology",
    "cache",
    "maxphysaddr",
    "feature",
    "pages",
    "numa",
];

/// `<cpu>`: the guest CPU definition.
///
/// ```
/// use kvmhost_core::domain::{Cpu, CpuMode, CpuTopology, FeaturePolicy, XmlPart};
/// let cpu = Cpu::custom("Skylake-Client")
///     .with_topology(CpuTopology::new(1, 4, 2))
///     .with_feature("vmx", FeaturePolicy::Require)
///     .with_feature("hle", FeaturePolicy::Disable);
/// let el = cpu.to_element();
/// assert_eq!(el.attr("mode"), Some("custom"));
/// assert_eq!(el.child("model").unwrap().text(), "Skylake-Client");
/// assert_eq!(cpu.feature("hle").unwrap().policy, Some(FeaturePolicy::Disable));
/// assert_eq!(cpu.topology.as_ref().unwrap().vcpus(), 8);
/// assert_eq!(Cpu::host_passthrough().mode, Some(CpuMode::HostPassthrough));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Cpu {
    /// `mode`.
    pub mode: Option<CpuMode>,
    /// `match`.
    pub cpu_match: Option<CpuMatch>,
    /// `check`.
    pub check: Option<CpuCheck>,
    /// `migratable` (host-passthrough / maximum).
    pub migratable: Option<OnOff>,
    /// `<model>`.
    pub model: Option<CpuModel>,
    /// `<vendor>`.
    pub vendor: Option<String>,
    /// `<topology>`.
    pub topology: Option<CpuTopology>,
    /// `<cache>`.
    pub cache: Option<CpuCache>,
    /// `<maxphysaddr>`.
    pub maxphysaddr: Option<MaxPhysAddr>,
    /// `<feature>` list.
    pub features: Vec<CpuFeature>,
    /// `<numa>`.
    pub numa: Option<CpuNuma>,
}

impl Cpu {
    /// `mode='host-model'`.
    pub fn host_model() -> Cpu {
        Cpu { mode: Some(CpuMode::HostModel), ..Cpu::default() }
    }

    /// `mode='host-passthrough'`.
    pub fn host_passthrough() -> Cpu {
        Cpu { mode: Some(CpuMode::HostPassthrough), ..Cpu::default() }
    }

    /// `mode='maximum'`.
    pub fn maximum() -> Cpu {
        Cpu { mode: Some(CpuMode::Maximum), ..Cpu::default() }
    }

    /// `mode='custom' match='exact'` with the named model.
    pub fn custom(model: &str) -> Cpu {
        Cpu {
            mode: Some(CpuMode::Custom),
            cpu_match: Some(CpuMatch::Exact),
            model: Some(CpuModel { name: Some(model.to_string()), ..CpuModel::default() }),
            ..Cpu::default()
        }
    }

    /// The model name, if any.
    pub fn model_name(&self) -> Option<&str> {
        self.model.as_ref().and_then(|m| m.name.as_deref())
    }

    /// Sets the policy of feature `name`, adding it if absent.
    pub fn set_feature(&mut self, name: &str, policy: FeaturePolicy) {
        match self.features.iter_mut().find(|f| f.name == name) {
            Some(f) => f.policy = Some(policy),
            None => self.features.push(CpuFeature { policy: Some(policy), name: name.to_string() }),
        }
    }

    /// Builder form of [`Cpu::set_feature`].
    pub fn with_feature(mut self, name: &str, policy: FeaturePolicy) -> Cpu {
        self.set_feature(name, policy);
        self
    }

    /// Removes feature `name`; returns whether it was there.
    pub fn remove_feature(&mut self, name: &str) -> bool {
        let before = self.features.len();
        self.features.retain(|f| f.name != name);
        before != self.features.len()
    }

    /// The feature named `name`.
    pub fn feature(&self, name: &str) -> Option<&CpuFeature> {
        self.features.iter().find(|f| f.name == name)
    }

    /// Builder: sets the topology.
    pub fn with_topology(mut self, topology: CpuTopology) -> Cpu {
        self.topology = Some(topology);
        self
    }
}

impl XmlPart for Cpu {
    const TAG: &'static str = "cpu";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Cpu {
            mode: el.attr("mode").map(Into::into),
            cpu_match: el.attr("match").map(Into::into),
            check: el.attr("check").map(Into::into),
            migratable: el.attr("migratable").map(Into::into),
            model: child_part_named(el, "model", path)?,
            vendor: el.child("vendor").map(|v| text_of(v).unwrap_or_default()),
            topology: child_part_named(el, "topology", path)?,
            cache: child_part_named(el, "cache", path)?,
            maxphysaddr: child_part_named(el, "maxphysaddr", path)?,
            features: children_parts(el, path)?,
            numa: child_part_named(el, "numa", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        let o = CPU_ORDER;
        set_attr(el, "mode", self.mode.as_ref());
        set_attr(el, "match", self.cpu_match.as_ref());
        set_attr(el, "check", self.check.as_ref());
        set_attr(el, "migratable", self.migratable.as_ref());
        set_child_named(el, "model", self.model.as_ref(), o);
        crate::domain::codec::set_child_with(
            el,
            "vendor",
            self.vendor.as_deref().map(|v| move |e: &mut Element| merge_text(e, Some(v))),
            o,
        );
        set_child_named(el, "topology", self.topology.as_ref(), o);
        set_child_named(el, "cache", self.cache.as_ref(), o);
        set_child_named(el, "maxphysaddr", self.maxphysaddr.as_ref(), o);
        set_children(el, &self.features, o);
        set_child_named(el, "numa", self.numa.as_ref(), o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn round_trip_with_numa() {
        let xml = "<cpu mode='custom' match='exact' check='partial'>\n  <model fallback='allow'>Haswell</model>\n  \
                   <vendor>Intel</vendor>\n  <topology sockets='2' dies='1' cores='2' threads='1'/>\n  \
                   <feature policy='disable' name='hle'/>\n  <numa>\n    <cell id='0' cpus='0-1' memory='1' unit='GiB' \
                   memAccess='shared'>\n      <distances><sibling id='0' value='10'/><sibling id='1' value='21'/>\
                   </distances>\n    </cell>\n    <cell id='1' cpus='2-3' memory='1048576' discard='yes'/>\n  \
                   <interconnects><latency initiator='0' target='1' type='access' value='5'/>\
                   <bandwidth initiator='0' target='1' type='access' value='204800' unit='KiB'/></interconnects>\
                   </numa>\n</cpu>";
        let d = Document::parse(xml).unwrap();
        let cpu = Cpu::decode(&d.root, &ElementPath::root("cpu")).unwrap();
        assert_eq!(cpu.model_name(), Some("Haswell"));
        let numa = cpu.numa.as_ref().unwrap();
        assert_eq!(numa.cells[0].memory_size().unwrap().kib(), Some(1024 * 1024));
        assert_eq!(numa.cells[0].distances.as_ref().unwrap()[1].value, Some(21));
        assert_eq!(numa.interconnects.as_ref().unwrap().latencies.len(), 1);
        let mut el = d.root.clone();
        cpu.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root));
        let fresh = cpu.to_element();
        assert_eq!(fresh.child("numa").unwrap().children_named("cell").count(), 2);
    }

    #[test]
    fn feature_edits() {
        let mut cpu = Cpu::host_model().with_feature("vmx", FeaturePolicy::Require);
        cpu.set_feature("vmx", FeaturePolicy::Forbid);
        assert_eq!(cpu.features.len(), 1);
        assert!(cpu.remove_feature("vmx"));
        assert!(!cpu.remove_feature("vmx"));
        assert_eq!(FeaturePolicy::from("weird"), FeaturePolicy::Other("weird".into()));
    }
}
