//! libvirt network XML (`<network>`), typed: [`NetworkSpec`] for NAT / isolated networks libvirt
//! runs itself, and bridge-mode networks over an existing host bridge (`cloudbr0`) or an Open
//! vSwitch bridge (`<virtualport type='openvswitch'/>`). Written with the same XML layer as the
//! domain model ([`crate::xml`]); kvmhost-libvirt defines and starts them and re-exports these
//! types.
//!
//! ```
//! use kvmhost_core::network::NetworkSpec;
//! assert_eq!(NetworkSpec::host_bridge("cloud", "cloudbr0").to_xml().unwrap(),
//!     "<network><name>cloud</name><forward mode=\"bridge\"/><bridge name=\"cloudbr0\"/></network>");
//! assert!(NetworkSpec::ovs_bridge("ovs", "br0").to_xml().unwrap()
//!     .contains("<virtualport type=\"openvswitch\"/>"));
//! ```

use serde::{Deserialize, Serialize};

use crate::xml::{Document, Element, XmlError};

/// What the network connects to.
///
/// ```
/// use kvmhost_core::network::{NetworkKind, NetworkSpec};
/// let mut n = NetworkSpec::host_bridge("iso", "x");
/// n.kind = NetworkKind::Isolated { bridge: "virbr9".into() };
/// assert_eq!(n.to_xml().unwrap(), "<network><name>iso</name><bridge name=\"virbr9\"/></network>");
/// ```
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
///
/// ```
/// use kvmhost_core::network::NetworkSpec;
/// let mut n = NetworkSpec::host_bridge("cloud", "cloudbr0");
/// n.uuid = Some("c7a5fdbd-edaf-9455-926a-d65c16db1809".into());
/// assert!(n.to_xml().unwrap().contains("<uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>"));
/// ```
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
    ///
    /// ```
    /// use kvmhost_core::network::{NetworkKind, NetworkSpec};
    /// assert_eq!(NetworkSpec::host_bridge("n", "br0").kind, NetworkKind::HostBridge { bridge: "br0".into() });
    /// ```
    pub fn host_bridge(name: &str, bridge: &str) -> NetworkSpec {
        NetworkSpec { name: name.into(), uuid: None, kind: NetworkKind::HostBridge { bridge: bridge.into() } }
    }

    /// A network over the existing Open vSwitch bridge `bridge`.
    ///
    /// ```
    /// use kvmhost_core::network::{NetworkKind, NetworkSpec};
    /// assert_eq!(NetworkSpec::ovs_bridge("n", "br0").kind, NetworkKind::OvsBridge { bridge: "br0".into() });
    /// ```
    pub fn ovs_bridge(name: &str, bridge: &str) -> NetworkSpec {
        NetworkSpec { name: name.into(), uuid: None, kind: NetworkKind::OvsBridge { bridge: bridge.into() } }
    }

    /// A NAT network on a bridge libvirt creates, with an address and optional DHCP range.
    ///
    /// ```
    /// let n = kvmhost_core::network::NetworkSpec::nat("n", "virbr7", "192.168.7.1", "255.255.255.0",
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

    /// The `<network>` document; a value XML cannot carry is an [`XmlError`].
    ///
    /// ```
    /// use kvmhost_core::{network::NetworkSpec, xml::XmlError};
    /// assert!(matches!(NetworkSpec::host_bridge("n\u{1}", "br0").to_xml(), Err(XmlError::InvalidCharacter { .. })));
    /// ```
    pub fn to_xml(&self) -> Result<String, XmlError> {
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
        Document::new(root).to_xml()
    }
}
