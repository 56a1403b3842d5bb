//! `<memory>` devices: DIMMs, NVDIMMs, virtio-pmem, virtio-mem, SGX EPC.

use serde::{Deserialize, Serialize};

use super::set_info;
use crate::domain::codec::{
    attr_part, attr_string, child_parse, child_part, child_part_named, child_text, set_attr, set_child,
    set_child_named, set_child_text, set_child_with, set_flag_child, ElementPath, XmlPart,
};
use crate::domain::devices::common::{Address, Alias};
use crate::domain::error::DomainError;
use crate::domain::memory::Memory;
use crate::xml::Element;

/// Where a memory device's memory comes from (`<source><pagesize unit='KiB'>2048</pagesize>…`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemoryDeviceSource {
    /// `<pagesize>`.
    pub pagesize: Option<Memory>,
    /// `<nodemask>` (host NUMA nodes).
    pub nodemask: Option<String>,
    /// `<path>` (nvdimm / virtio-pmem backing file).
    pub path: Option<String>,
    /// `<alignsize>`.
    pub alignsize: Option<Memory>,
    /// `<pmem/>`.
    pub pmem: bool,
}

impl XmlPart for MemoryDeviceSource {
    const TAG: &'static str = "source";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(MemoryDeviceSource {
            pagesize: child_part_named(el, "pagesize", path)?,
            nodemask: child_text(el, "nodemask"),
            path: child_text(el, "path"),
            alignsize: child_part_named(el, "alignsize", path)?,
            pmem: el.child("pmem").is_some(),
        })
    }
    fn encode_into(&self, el: &mut Element) {
        const O: &[&str] = &["pagesize", "nodemask", "path", "alignsize", "pmem"];
        set_child_named(el, "pagesize", self.pagesize.as_ref(), O);
        set_child_text(el, "nodemask", self.nodemask.as_deref(), O);
        set_child_text(el, "path", self.path.as_deref(), O);
        set_child_named(el, "alignsize", self.alignsize.as_ref(), O);
        set_flag_child(el, "pmem", self.pmem, O);
    }
}

attr_part! {
    /// The guest physical address of a virtio-mem / pmem device (`<address base='0x…'/>`).
    pub struct MemoryTargetAddress = "address" {
        /// `base`.
        base: String = "base",
    }
}

/// How the guest sees a memory device (`<target><size unit='KiB'>524288</size><node>0</node></target>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemoryDeviceTarget {
    /// `dynamicMemslots` (virtio-mem).
    pub dynamic_memslots: Option<String>,
    /// `<size>`.
    pub size: Option<Memory>,
    /// `<node>`: guest NUMA node.
    pub node: Option<u32>,
    /// `<label><size/></label>` (nvdimm).
    pub label_size: Option<Memory>,
    /// `<block>` (virtio-mem block size).
    pub block: Option<Memory>,
    /// `<requested>` (virtio-mem).
    pub requested: Option<Memory>,
    /// `<current>` (virtio-mem, live only).
    pub current: Option<Memory>,
    /// `<readonly/>` (nvdimm).
    pub readonly: bool,
    /// `<address base>`.
    pub address: Option<MemoryTargetAddress>,
}

impl XmlPart for MemoryDeviceTarget {
    const TAG: &'static str = "target";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let label_size = match el.child("label") {
            Some(l) => child_part_named(l, "size", &path.child("label"))?,
            None => None,
        };
        Ok(MemoryDeviceTarget {
            dynamic_memslots: attr_string(el, "dynamicMemslots"),
            size: child_part_named(el, "size", path)?,
            node: child_parse(el, "node", path)?,
            label_size,
            block: child_part_named(el, "block", path)?,
            requested: child_part_named(el, "requested", path)?,
            current: child_part_named(el, "current", path)?,
            readonly: el.child("readonly").is_some(),
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        const O: &[&str] = &["size", "node", "label", "block", "requested", "current", "readonly", "address"];
        set_attr(el, "dynamicMemslots", self.dynamic_memslots.as_deref());
        set_child_named(el, "size", self.size.as_ref(), O);
        set_child_text(el, "node", self.node, O);
        set_child_with(
            el,
            "label",
            self.label_size.as_ref().map(|m| |l: &mut Element| set_child_named(l, "size", Some(m), &["size"])),
            O,
        );
        set_child_named(el, "block", self.block.as_ref(), O);
        set_child_named(el, "requested", self.requested.as_ref(), O);
        set_child_named(el, "current", self.current.as_ref(), O);
        set_flag_child(el, "readonly", self.readonly, O);
        set_child(el, self.address.as_ref(), O);
    }
}

/// A memory device (`<memory model='dimm'>`); its tag is `memory` inside `<devices>`.
///
/// ```
/// use kvmhost_core::domain::{Memory, MemoryDevice, XmlPart};
/// let m = MemoryDevice::dimm(Memory::mib(512), 0);
/// let el = m.to_element();
/// assert_eq!(el.attr("model"), Some("dimm"));
/// assert_eq!(el.child("target").unwrap().child("node").unwrap().text(), "0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemoryDevice {
    /// `model` (dimm / nvdimm / virtio-pmem / virtio-mem / sgx-epc).
    pub model: Option<String>,
    /// `access` (shared / private).
    pub access: Option<String>,
    /// `discard` (yes / no).
    pub discard: Option<String>,
    /// `<uuid>` (nvdimm on ppc64).
    pub uuid: Option<String>,
    /// `<source>`.
    pub source: Option<MemoryDeviceSource>,
    /// `<target>`.
    pub target: Option<MemoryDeviceTarget>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<address>`.
    pub address: Option<Address>,
}

impl MemoryDevice {
    /// Canonical child order (libvirt's formatter).
    pub const ORDER: &'static [&'static str] = &["uuid", "source", "target", "alias", "address"];

    /// A hot-pluggable DIMM of `size` on guest NUMA node `node`.
    pub fn dimm(size: Memory, node: u32) -> MemoryDevice {
        MemoryDevice {
            model: Some("dimm".into()),
            target: Some(MemoryDeviceTarget { size: Some(size), node: Some(node), ..MemoryDeviceTarget::default() }),
            ..MemoryDevice::default()
        }
    }
}

impl XmlPart for MemoryDevice {
    const TAG: &'static str = "memory";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(MemoryDevice {
            model: attr_string(el, "model"),
            access: attr_string(el, "access"),
            discard: attr_string(el, "discard"),
            uuid: child_text(el, "uuid"),
            source: child_part(el, path)?,
            target: child_part(el, path)?,
            alias: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "model", self.model.as_deref());
        set_attr(el, "access", self.access.as_deref());
        set_attr(el, "discard", self.discard.as_deref());
        let o = MemoryDevice::ORDER;
        set_child_text(el, "uuid", self.uuid.as_deref(), o);
        set_child(el, self.source.as_ref(), o);
        set_child(el, self.target.as_ref(), o);
        set_info(el, self.alias.as_ref(), self.address.as_ref(), o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn nvdimm_round_trips() {
        let xml = "<memory model='nvdimm' access='shared'>\n  <uuid>49545eb3-75e1-2d0a-acdd-f0294406c99e</uuid>\n  \
                   <source>\n    <path>/tmp/nvdimm</path>\n    <pmem/>\n  </source>\n  <target>\n    \
                   <size unit='KiB'>523264</size>\n    <node>0</node>\n    <label>\n      \
                   <size unit='KiB'>128</size>\n    </label>\n    <readonly/>\n  </target>\n  \
                   <address type='dimm' slot='0'/>\n</memory>";
        let d = Document::parse(xml).unwrap();
        let m = MemoryDevice::decode(&d.root, &ElementPath::root("memory")).unwrap();
        let t = m.target.as_ref().unwrap();
        assert_eq!(t.label_size.as_ref().unwrap().value, 128);
        assert!(t.readonly && m.source.as_ref().unwrap().pmem);
        let mut el = d.root.clone();
        m.encode_into(&mut el);
        assert_eq!(Document::new(el).to_xml().unwrap(), d.to_xml().unwrap());
    }
}
