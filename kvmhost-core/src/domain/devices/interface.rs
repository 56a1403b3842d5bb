//! `<interface>`: network interfaces, the device orchestrators touch most (bridges, libvirt
//! networks, macvtap, Open vSwitch ports, VLANs, QoS, nwfilter).

mod checked;
pub(in crate::domain) mod error;
mod parts;
mod port;
mod validate;

pub use crate::addr::MacAddr;
pub use checked::{check_interface_mac, MacAddressError, VlanId, VlanIdError};
pub use error::{InterfaceError, InterfaceProblem};
pub use parts::*;
pub use port::*;

use serde::{Deserialize, Serialize};

use super::common::set_device_info;
use crate::domain::codec::YesNo;
use crate::domain::codec::{
    child_part, children_parts, set_attr, set_child, set_child_with, set_children, ElementPath, XmlPart,
};
use crate::domain::devices::common::{AcpiIndex, Address, Alias, DeviceBoot};
use crate::domain::error::DomainError;
use crate::xml::Element;
use crate::xml_enum;

xml_enum! {
    /// How an interface is connected on the host (`<interface type=…>`).
    pub enum InterfaceType {
        Bridge = "bridge", Network = "network", Direct = "direct", User = "user", Ethernet = "ethernet",
        VhostUser = "vhostuser", Server = "server", Client = "client", Mcast = "mcast", Udp = "udp",
        Hostdev = "hostdev", Vdpa = "vdpa", Null = "null", Vds = "vds"
    }
}

/// A network interface (`<interface type='bridge'>…</interface>`).
///
/// The builders (`Interface::bridge`, `with_mac`, `with_vlan`, …) take checked values
/// ([`MacAddr`], [`VlanId`]); [`Interface::validate`] checks the combination (a VLAN needs
/// an Open vSwitch port, hostdev or macvtap passthrough) and any values decoded from a
/// document, which are kept as written so that every document round-trips.
///
/// ```
/// use kvmhost_core::domain::{Interface, InterfaceType, VlanId, XmlPart};
/// let nic = Interface::ovs_bridge("br0", None)
///     .with_mac("52:54:00:12:34:56".parse().unwrap())
///     .with_vlan(VlanId::new(42).unwrap());
/// assert_eq!(nic.interface_type, Some(InterfaceType::Bridge));
/// assert_eq!(nic.validate(), Ok(()));
/// let el = nic.to_element();
/// assert_eq!(el.child("source").unwrap().attr("bridge"), Some("br0"));
/// assert_eq!(el.child("model").unwrap().attr("type"), Some("virtio"));
/// assert_eq!(el.child("vlan").unwrap().child("tag").unwrap().attr("id"), Some("42"));
/// let back = Interface::decode(&el, &kvmhost_core::domain::ElementPath::root("interface")).unwrap();
/// assert_eq!(back, nic);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Interface {
    /// `type`.
    pub interface_type: Option<InterfaceType>,
    /// `trustGuestRxFilters` (yes / no).
    pub trust_guest_rx_filters: Option<YesNo>,
    /// `managed` (yes / no; hostdev type).
    pub managed: Option<YesNo>,
    /// `<mac>`.
    pub mac: Option<InterfaceMac>,
    /// `<source>`.
    pub source: Option<InterfaceSource>,
    /// `<vlan>`.
    pub vlan: Option<Vlan>,
    /// `<virtualport>`.
    pub virtualport: Option<VirtualPort>,
    /// `<bandwidth>`.
    pub bandwidth: Option<Bandwidth>,
    /// `<port>`.
    pub port: Option<InterfacePort>,
    /// `<ip>` list.
    pub ips: Vec<InterfaceIp>,
    /// `<route>` list.
    pub routes: Vec<InterfaceRoute>,
    /// `<portForward>` list.
    pub port_forwards: Vec<PortForward>,
    /// `<script path>`.
    pub script: Option<String>,
    /// `<downscript path>`.
    pub downscript: Option<String>,
    /// `<backenddomain name>` (Xen).
    pub backenddomain: Option<String>,
    /// `<target>`.
    pub target: Option<InterfaceTarget>,
    /// `<guest>`.
    pub guest: Option<InterfaceGuest>,
    /// `<model>`.
    pub model: Option<InterfaceModel>,
    /// `<driver>`.
    pub driver: Option<InterfaceDriver>,
    /// `<backend>`.
    pub backend: Option<InterfaceBackend>,
    /// `<filterref>`.
    pub filterref: Option<FilterRef>,
    /// `<tune>`.
    pub tune: Option<InterfaceTune>,
    /// `<teaming>`.
    pub teaming: Option<InterfaceTeaming>,
    /// `<link>`.
    pub link: Option<InterfaceLink>,
    /// `<mtu>`.
    pub mtu: Option<InterfaceMtu>,
    /// `<coalesce>`.
    pub coalesce: Option<InterfaceCoalesce>,
    /// `<boot>`.
    pub boot: Option<DeviceBoot>,
    /// `<rom>`.
    pub rom: Option<InterfaceRom>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<acpi>`.
    pub acpi: Option<AcpiIndex>,
    /// `<address>` (guest-side).
    pub address: Option<Address>,
}

/// libvirt's order of `<interface>` children.
const ORDER: &[&str] = &[
    "mac",
    "source",
    "vlan",
    "virtualport",
    "bandwidth",
    "port",
    "ip",
    "route",
    "portForward",
    "script",
    "downscript",
    "backenddomain",
    "target",
    "guest",
    "model",
    "driver",
    "backend",
    "filterref",
    "tune",
    "teaming",
    "link",
    "mtu",
    "coalesce",
    "boot",
    "rom",
    "alias",
    "acpi",
    "address",
];

impl Interface {
    fn with_type(t: InterfaceType, source: InterfaceSource) -> Interface {
        Interface {
            interface_type: Some(t),
            source: Some(source),
            model: Some(InterfaceModel { model_type: Some("virtio".into()) }),
            ..Interface::default()
        }
    }

    /// A virtio interface on host bridge `name` (`<interface type='bridge'><source bridge=…/>`).
    pub fn bridge(name: impl Into<String>) -> Interface {
        Interface::with_type(
            InterfaceType::Bridge,
            InterfaceSource { bridge: Some(name.into()), ..InterfaceSource::default() },
        )
    }

    /// A virtio interface on libvirt network `name`.
    pub fn network(name: impl Into<String>) -> Interface {
        Interface::with_type(
            InterfaceType::Network,
            InterfaceSource { network: Some(name.into()), ..InterfaceSource::default() },
        )
    }

    /// A virtio macvtap interface on host device `dev` with `mode` (vepa / bridge / private /
    /// passthrough).
    pub fn direct(dev: impl Into<String>, mode: impl Into<String>) -> Interface {
        Interface::with_type(
            InterfaceType::Direct,
            InterfaceSource { dev: Some(dev.into()), mode: Some(mode.into()), ..InterfaceSource::default() },
        )
    }

    /// A virtio user-mode (SLIRP) interface.
    pub fn user() -> Interface {
        Interface {
            interface_type: Some(InterfaceType::User),
            model: Some(InterfaceModel { model_type: Some("virtio".into()) }),
            ..Interface::default()
        }
    }

    /// A virtio interface on Open vSwitch bridge `bridge`, with an optional OVS interface id.
    ///
    /// ```
    /// use kvmhost_core::domain::{Interface, VirtualPortType, XmlPart};
    /// let nic = Interface::ovs_bridge("ovsbr0", Some("09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f".into()));
    /// assert_eq!(nic.virtualport.as_ref().unwrap().port_type, Some(VirtualPortType::OpenVswitch));
    /// let el = nic.to_element();
    /// let params = el.child("virtualport").unwrap().child("parameters").unwrap();
    /// assert_eq!(params.attr("interfaceid"), Some("09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f"));
    /// ```
    pub fn ovs_bridge(bridge: impl Into<String>, interfaceid: Option<String>) -> Interface {
        let mut nic = Interface::bridge(bridge);
        nic.virtualport = Some(VirtualPort {
            port_type: Some(VirtualPortType::OpenVswitch),
            parameters: interfaceid.map(|id| VirtualPortParameters { interfaceid: Some(id), ..Default::default() }),
        });
        nic
    }

    /// Sets the MAC address (without one, libvirt generates a `52:54:00:…` address when the
    /// domain is defined).
    ///
    /// ```
    /// use kvmhost_core::domain::Interface;
    /// let nic = Interface::bridge("br0").with_mac("52:54:00:12:34:56".parse().unwrap());
    /// assert_eq!(nic.mac_address(), Some("52:54:00:12:34:56"));
    /// ```
    pub fn with_mac(mut self, mac: MacAddr) -> Interface {
        self.mac.get_or_insert_with(InterfaceMac::default).address = Some(mac.to_string());
        self
    }

    /// Puts the interface on access VLAN `tag`. libvirt carries a VLAN only on an Open vSwitch
    /// port ([`Interface::ovs_bridge`]), a hostdev or macvtap passthrough interface, or a
    /// network providing one: [`Interface::validate`] (run by `DomainBuilder::build`) refuses
    /// the others.
    pub fn with_vlan(mut self, tag: VlanId) -> Interface {
        self.vlan = Some(Vlan { trunk: None, tags: vec![VlanTag { id: Some(tag.into()), native_mode: None }] });
        self
    }

    /// Makes the interface a VLAN trunk carrying `tags`; `native`, if given, is the untagged
    /// native VLAN (added to the list if missing).
    ///
    /// ```
    /// use kvmhost_core::domain::{Interface, VlanId};
    /// let id = |n| VlanId::new(n).unwrap();
    /// let nic = Interface::ovs_bridge("ovsbr0", None).with_trunk(&[id(10), id(20)], Some(id(10)));
    /// let vlan = nic.vlan.unwrap();
    /// assert_eq!(vlan.tags.len(), 2);
    /// assert_eq!(vlan.tags[0].native_mode.as_deref(), Some("untagged"));
    /// ```
    pub fn with_trunk(mut self, tags: &[VlanId], native: Option<VlanId>) -> Interface {
        let tag = |id: VlanId, native_mode: Option<String>| VlanTag { id: Some(id.into()), native_mode };
        let mut list: Vec<VlanTag> =
            tags.iter().map(|&id| tag(id, (Some(id) == native).then(|| "untagged".to_string()))).collect();
        if let Some(n) = native {
            if !tags.contains(&n) {
                list.insert(0, tag(n, Some("untagged".into())));
            }
        }
        self.vlan = Some(Vlan { trunk: Some(YesNo::Yes), tags: list });
        self
    }

    /// The MAC address, if set.
    pub fn mac_address(&self) -> Option<&str> {
        self.mac.as_ref()?.address.as_deref()
    }
}

fn path_child(el: &Element, name: &str, attr: &str, path: &ElementPath<'_>) -> Result<Option<String>, DomainError> {
    crate::domain::codec::attr_of_child(el, name, attr, path)
}

fn set_path_child(el: &mut Element, name: &str, attr: &str, value: Option<&str>) {
    set_child_with(el, name, value.map(|v| move |e: &mut Element| set_attr(e, attr, Some(v))), ORDER);
}

impl XmlPart for Interface {
    const TAG: &'static str = "interface";

    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Interface {
            interface_type: el.attr("type").map(Into::into),
            trust_guest_rx_filters: el.attr("trustGuestRxFilters").map(Into::into),
            managed: el.attr("managed").map(Into::into),
            mac: child_part(el, path)?,
            source: child_part(el, path)?,
            vlan: child_part(el, path)?,
            virtualport: child_part(el, path)?,
            bandwidth: child_part(el, path)?,
            port: child_part(el, path)?,
            ips: children_parts(el, path)?,
            routes: children_parts(el, path)?,
            port_forwards: children_parts(el, path)?,
            script: path_child(el, "script", "path", path)?,
            downscript: path_child(el, "downscript", "path", path)?,
            backenddomain: path_child(el, "backenddomain", "name", path)?,
            target: child_part(el, path)?,
            guest: child_part(el, path)?,
            model: child_part(el, path)?,
            driver: child_part(el, path)?,
            backend: child_part(el, path)?,
            filterref: child_part(el, path)?,
            tune: child_part(el, path)?,
            teaming: child_part(el, path)?,
            link: child_part(el, path)?,
            mtu: child_part(el, path)?,
            coalesce: child_part(el, path)?,
            boot: child_part(el, path)?,
            rom: child_part(el, path)?,
            alias: child_part(el, path)?,
            acpi: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }

    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.interface_type.as_ref());
        set_attr(el, "trustGuestRxFilters", self.trust_guest_rx_filters.as_ref());
        set_attr(el, "managed", self.managed.as_ref());
        set_child(el, self.mac.as_ref(), ORDER);
        set_child(el, self.source.as_ref(), ORDER);
        set_child(el, self.vlan.as_ref(), ORDER);
        set_child(el, self.virtualport.as_ref(), ORDER);
        set_child(el, self.bandwidth.as_ref(), ORDER);
        set_child(el, self.port.as_ref(), ORDER);
        set_children(el, &self.ips, ORDER);
        set_children(el, &self.routes, ORDER);
        set_children(el, &self.port_forwards, ORDER);
        set_path_child(el, "script", "path", self.script.as_deref());
        set_path_child(el, "downscript", "path", self.downscript.as_deref());
        set_path_child(el, "backenddomain", "name", self.backenddomain.as_deref());
        set_child(el, self.target.as_ref(), ORDER);
        set_child(el, self.guest.as_ref(), ORDER);
        set_child(el, self.model.as_ref(), ORDER);
        set_child(el, self.driver.as_ref(), ORDER);
        set_child(el, self.backend.as_ref(), ORDER);
        set_child(el, self.filterref.as_ref(), ORDER);
        set_child(el, self.tune.as_ref(), ORDER);
        set_child(el, self.teaming.as_ref(), ORDER);
        set_child(el, self.link.as_ref(), ORDER);
        set_child(el, self.mtu.as_ref(), ORDER);
        set_child(el, self.coalesce.as_ref(), ORDER);
        set_child(el, self.boot.as_ref(), ORDER);
        set_child(el, self.rom.as_ref(), ORDER);
        set_device_info(el, self.alias.as_ref(), self.acpi.as_ref(), self.address.as_ref(), ORDER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    fn round_trip(xml: &str) -> (Interface, Element) {
        let d = Document::parse(xml).unwrap();
        let nic = Interface::decode(&d.root, &ElementPath::root("interface")).unwrap();
        let mut el = d.root.clone();
        nic.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root), "{:?}", el.first_difference(&d.root, ""));
        (nic, el)
    }

    #[test]
    fn qbg_virtualport_and_bandwidth() {
        let (nic, _) = round_trip(
            "<interface type='direct'><mac address='52:54:00:11:22:33'/>\
             <source dev='eth0' mode='vepa'/><bandwidth><inbound average='1000' floor='200'/>\
             <outbound average='128' burst='256'/></bandwidth>\
             <virtualport type='802.1Qbg'><parameters managerid='11' typeid='1193047' typeidversion='2' \
             instanceid='09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f'/></virtualport><tune><sndbuf>1600</sndbuf></tune>\
             <coalesce><rx><frames max='7'/></rx></coalesce></interface>",
        );
        assert_eq!(nic.virtualport.unwrap().port_type, Some(VirtualPortType::Qbg));
        assert_eq!(nic.bandwidth.as_ref().unwrap().inbound.as_ref().unwrap().floor, Some(200));
        assert_eq!(nic.bandwidth.unwrap().outbound.unwrap().burst, Some(256));
        assert_eq!(nic.tune.unwrap().sndbuf, Some(1600));
        assert_eq!(nic.coalesce.unwrap().rx_frames_max, Some(7));
    }

    #[test]
    fn edit_keeps_untyped_and_inserts_in_order() {
        let d = Document::parse(
            "<interface type='network'>\n  <source network='default'/>\n  <x-custom/>\n  <model type='virtio'/>\n</interface>",
        )
        .unwrap();
        let mut nic = Interface::decode(&d.root, &ElementPath::root("interface")).unwrap();
        nic = nic.with_mac("52:54:00:00:00:01".parse().unwrap());
        nic.filterref = Some(FilterRef { filter: Some("clean-traffic".into()), parameters: vec![] });
        let mut el = d.root.clone();
        nic.encode_into(&mut el);
        let names: Vec<_> = el.elements().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["mac", "source", "x-custom", "model", "filterref"]);
    }

    #[test]
    fn hostdev_udp_and_trunk() {
        let (nic, _) = round_trip(
            "<interface type='hostdev' managed='yes'><source><address type='pci' domain='0x0000' bus='0x00' \
             slot='0x07' function='0x0'/></source><vlan trunk='yes'><tag id='42' nativeMode='untagged'/><tag id='47'/>\
             </vlan><ip address='10.0.0.2' prefix='24'/><route address='0.0.0.0' gateway='10.0.0.1'/></interface>",
        );
        assert_eq!(nic.source.unwrap().host_address.unwrap().slot.as_deref(), Some("0x07"));
        assert_eq!(nic.vlan.unwrap().tags.len(), 2);
        let (nic, _) = round_trip(
            "<interface type='udp'><source address='127.0.0.1' port='5555'><local address='127.0.0.1' port='6666'/>\
             </source></interface>",
        );
        assert_eq!(nic.source.unwrap().local.unwrap().port.as_deref(), Some("6666"));
    }

    #[test]
    fn removing_tune_drops_it() {
        let d = Document::parse("<interface type='user'><tune><sndbuf>1</sndbuf></tune></interface>").unwrap();
        let mut nic = Interface::decode(&d.root, &ElementPath::root("interface")).unwrap();
        nic.tune = None;
        let mut el = d.root.clone();
        nic.encode_into(&mut el);
        assert!(el.child("tune").is_none());
    }
}
