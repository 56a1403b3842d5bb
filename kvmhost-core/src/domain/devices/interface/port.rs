//! `<interface>` sub-elements about the host port: `<virtualport>`, `<vlan>`, `<bandwidth>`.

use serde::{Deserialize, Serialize};

use crate::domain::codec::YesNo;
use crate::domain::codec::{
    attr_part, child_part, child_part_named, children_parts, set_attr, set_child, set_child_named, set_children,
    ElementPath, XmlPart,
};
use crate::domain::error::DomainError;
use crate::xml::Element;
use crate::xml_enum;

xml_enum! {
    /// The kind of virtual port profile.
    pub enum VirtualPortType {
        OpenVswitch = "openvswitch", Qbh = "802.1Qbh", Qbg = "802.1Qbg", Midonet = "midonet"
    }
}

attr_part! {
    /// `<virtualport>`'s `<parameters/>`; which attributes apply depends on the port type.
    pub struct VirtualPortParameters = "parameters" {
        /// `interfaceid` (openvswitch, midonet): a UUID.
        interfaceid: String = "interfaceid",
        /// `profileid` (openvswitch, 802.1Qbh).
        profileid: String = "profileid",
        /// `managerid` (802.1Qbg).
        managerid: String = "managerid",
        /// `typeid` (802.1Qbg).
        typeid: String = "typeid",
        /// `typeidversion` (802.1Qbg).
        typeidversion: String = "typeidversion",
        /// `instanceid` (802.1Qbg): a UUID.
        instanceid: String = "instanceid",
    }
}

/// `<virtualport type='openvswitch'><parameters interfaceid='…'/></virtualport>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VirtualPort {
    /// `type` (absent when libvirt should take it from the network).
    pub port_type: Option<VirtualPortType>,
    /// `<parameters>`.
    pub parameters: Option<VirtualPortParameters>,
}

impl XmlPart for VirtualPort {
    const TAG: &'static str = "virtualport";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(VirtualPort { port_type: el.attr("type").map(Into::into), parameters: child_part(el, path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.port_type.as_ref());
        set_child(el, self.parameters.as_ref(), &["parameters"]);
    }
}

attr_part! {
    /// One `<vlan>` `<tag id='42' nativeMode='untagged'/>`.
    pub struct VlanTag = "tag" {
        /// `id` (0‥4095).
        id: u32 = "id",
        /// `nativeMode` (tagged / untagged), on a trunk.
        native_mode: String = "nativeMode",
    }
}

/// `<vlan trunk='yes'>` with its `<tag>` list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Vlan {
    /// `trunk` (yes).
    pub trunk: Option<YesNo>,
    /// `<tag>` list.
    pub tags: Vec<VlanTag>,
}

impl XmlPart for Vlan {
    const TAG: &'static str = "vlan";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Vlan { trunk: el.attr("trunk").map(Into::into), tags: children_parts(el, path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "trunk", self.trunk.as_ref());
        set_children(el, &self.tags, &["tag"]);
    }
}

attr_part! {
    /// One direction of `<bandwidth>` (`<inbound average='1000' peak='5000' burst='1024'/>`), in
    /// kibibytes per second (burst in kibibytes).
    pub struct BandwidthLimit = "inbound" {
        /// `average`.
        average: u64 = "average",
        /// `peak`.
        peak: u64 = "peak",
        /// `burst`.
        burst: u64 = "burst",
        /// `floor` (inbound only).
        floor: u64 = "floor",
    }
}

/// `<bandwidth>` with `<inbound>` / `<outbound>` limits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Bandwidth {
    /// `<inbound>`.
    pub inbound: Option<BandwidthLimit>,
    /// `<outbound>`.
    pub outbound: Option<BandwidthLimit>,
}

impl XmlPart for Bandwidth {
    const TAG: &'static str = "bandwidth";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Bandwidth {
            inbound: child_part_named(el, "inbound", path)?,
            outbound: child_part_named(el, "outbound", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        let order = &["inbound", "outbound"];
        set_child_named(el, "inbound", self.inbound.as_ref(), order);
        set_child_named(el, "outbound", self.outbound.as_ref(), order);
    }
}
