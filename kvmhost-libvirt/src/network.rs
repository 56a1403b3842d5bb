//! libvirt networks: typed network XML ([`NetworkSpec`]) for NAT / isolated networks libvirt
//! runs itself, and bridge-mode networks over an existing host bridge (`cloudbr0`) or an Open
//! vSwitch bridge (`<virtualport type='openvswitch'/>`); define / start / destroy / undefine.
//!
//! ```
//! use kvmhost_libvirt::NetworkSpec;
//! assert_eq!(NetworkSpec::host_bridge("cloud", "cloudbr0").to_xml().unwrap(),
//!     "<network><name>cloud</name><forward mode=\"bridge\"/><bridge name=\"cloudbr0\"/></network>");
//! assert!(NetworkSpec::ovs_bridge("ovs", "br0").to_xml().unwrap()
//!     .contains("<virtualport type=\"openvswitch\"/>"));
//! ```

use kvmhost_core::xml::{Document, Element};
use serde::{Deserialize, Serialize};
use virt::connect::Connect;
use virt::network::Network;

use crate::{LibvirtError, Result};

/// What the network connects to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum NetworkKind {
    /// libvirt's own bridge with NAT to the host (`<forward mode='nat'/>`), an address and DHCP.
    Nat {
        /// Bridge libvirt creates (`virbr1`).
        bridge: String,
        /// Host address on it.
        address: String,
        /// Netmask.
        netmask: String,
        /// DHCP range (start, end).
        dhcp: Option<(String, String)>,
    },
    /// libvirt's own bridge with no forwarding.
    Isolated {
        /// Bridge libvirt creates.
        bridge: String,
    },
    /// An existing Linux bridge on the host (`<forward mode='bridge'/><bridge name=…/>`).
    HostBridge {
        /// The host bridge.
        bridge: String,
    },
    /// An existing Open vSwitch bridge (`<virtualport type='openvswitch'/>`).
    OvsBridge {
        /// The OVS bridge.
        bridge: String,
    },
}

/// A network to define.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NetworkSpec {
    /// Name.
    pub name: String,
    /// UUID (libvirt generates one when unset).
    pub uuid: Option<String>,
    /// Kind.
    pub kind: NetworkKind,
}

impl NetworkSpec {
    /// A bridge-mode network over the existing host bridge `bridge`.
    pub fn host_bridge(name: &str, bridge: &str) -> NetworkSpec {
        NetworkSpec { name: name.into(), uuid: None, kind: NetworkKind::HostBridge { bridge: bridge.into() } }
    }

    /// A network over the existing Open vSwitch bridge `bridge`.
    pub fn ovs_bridge(name: &str, bridge: &str) -> NetworkSpec {
        NetworkSpec { name: name.into(), uuid: None, kind: NetworkKind::OvsBridge { bridge: bridge.into() } }
    }

    /// A NAT network on a bridge libvirt creates, with an address and optional DHCP range.
    ///
    /// ```
    /// let n = kvmhost_libvirt::NetworkSpec::nat("n", "virbr7", "192.168.7.1", "255.255.255.0",
    ///     Some(("192.168.7.10", "192.168.7.99")));
    /// assert!(n.to_xml().unwrap().contains("<range start=\"192.168.7.10\" end=\"192.168.7.99\"/>"));
    /// ```
    pub fn nat(name: &str, bridge: &str, address: &str, netmask: &str, dhcp: Option<(&str, &str)>) -> NetworkSpec {
        NetworkSpec {
            name: name.into(),
            uuid: None,
            kind: NetworkKind::Nat {
                bridge: bridge.into(),
                address: address.into(),
                netmask: netmask.into(),
                dhcp: dhcp.map(|(a, b)| (a.into(), b.into())),
            },
        }
    }

    /// The `<network>` document.
    pub fn to_xml(&self) -> Result<String> {
        let mut root = Element::new("network");
        root.push_element(Element::new("name")).set_text(self.name.as_str());
        if let Some(u) = &self.uuid {
            root.push_element(Element::new("uuid")).set_text(u.as_str());
        }
        let bridge = |root: &mut Element, name: &str| {
            root.push_element(Element::new("bridge")).set_attr("name", name);
        };
        match &self.kind {
            NetworkKind::HostBridge { bridge: b } | NetworkKind::OvsBridge { bridge: b } => {
                root.push_element(Element::new("forward")).set_attr("mode", "bridge");
                bridge(&mut root, b);
                if matches!(self.kind, NetworkKind::OvsBridge { .. }) {
                    root.push_element(Element::new("virtualport")).set_attr("type", "openvswitch");
                }
            }
            NetworkKind::Isolated { bridge: b } => bridge(&mut root, b),
            NetworkKind::Nat { bridge: b, address, netmask, dhcp } => {
                root.push_element(Element::new("forward")).set_attr("mode", "nat");
                bridge(&mut root, b);
                let ip = root.push_element(Element::new("ip"));
                ip.set_attr("address", address.as_str());
                ip.set_attr("netmask", netmask.as_str());
                if let Some((start, end)) = dhcp {
                    let range = ip.push_element(Element::new("dhcp")).push_element(Element::new("range"));
                    range.set_attr("start", start.as_str());
                    range.set_attr("end", end.as_str());
                }
            }
        }
        Document::new(root).to_xml().map_err(|e| LibvirtError::InvalidArgument { message: e.to_string() })
    }
}

/// A network as libvirt reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NetworkInfo {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: String,
    /// Running.
    pub active: bool,
    /// Persistent.
    pub persistent: bool,
    /// Starts with the host.
    pub autostart: bool,
    /// Forward mode (`nat`, `bridge`, …), none for isolated networks.
    pub forward_mode: Option<String>,
    /// Bridge name.
    pub bridge: Option<String>,
    /// Virtual port type (`openvswitch`).
    pub virtualport: Option<String>,
}

pub(crate) fn info(n: &Network) -> Result<NetworkInfo> {
    let root = Document::parse(&n.xml_desc(0)?).map_err(|e| LibvirtError::parse("network", e))?.root;
    Ok(NetworkInfo {
        name: n.name()?,
        uuid: n.uuid_string()?,
        active: n.is_active()?,
        persistent: n.is_persistent()?,
        autostart: n.autostart()?,
        forward_mode: root.child("forward").map(|f| f.attr("mode").unwrap_or("nat").to_string()),
        bridge: root.child("bridge").and_then(|b| b.attr("name")).map(String::from),
        virtualport: root.child("virtualport").and_then(|v| v.attr("type")).map(String::from),
    })
}

pub(crate) fn lookup(c: &Connect, name: &str) -> Result<Network> {
    c.lookup_network_by_name(name).map_err(|e| crate::LibvirtError::from(e).about(name))
}

pub(crate) fn define(c: &Connect, spec: &NetworkSpec) -> Result<NetworkInfo> {
    info(&c.define_network_xml(&spec.to_xml()?)?)
}

pub(crate) fn list(c: &Connect) -> Result<Vec<NetworkInfo>> {
    c.list_all_networks(0)?.iter().map(info).collect()
}
