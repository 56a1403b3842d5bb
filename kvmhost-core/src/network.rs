//! libvirt network XML (`<network>`), typed: [`NetworkSpec`] for NAT / isolated networks libvirt
//! runs itself, and bridge-mode networks over an existing host bridge (`cloudbr0`) or an Open
//! vSwitch bridge (`<virtualport type='openvswitch'/>`), and [`NetworkInfo`] read from the XML
//! libvirt returns (`virNetworkGetXMLDesc`), with typed [`NetworkError`]s. Read and written with
//! the same XML layer as the domain model ([`crate::xml`]); kvmhost-libvirt defines and starts
//! networks, fills in what only libvirt's calls know (a network's state) and re-exports these
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

/// Errors from reading network XML, naming the element at fault (or the line and column when
/// the text is not XML).
///
/// ```
/// use kvmhost_core::network::{NetworkError, NetworkInfo};
/// assert!(matches!(NetworkInfo::parse("<network/>"),
///     Err(NetworkError::Missing { path }) if path == "/network/name"));
/// assert!(matches!(NetworkInfo::parse("<pool/>"), Err(NetworkError::WrongRoot { .. })));
/// let e = NetworkInfo::parse("<network>\n<name>n</nam></network>").unwrap_err();
/// assert_eq!(e.position().map(|(line, _)| line), Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum NetworkError {
    /// The text is not well-formed XML (or is over the parser's limits), with its position.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The root element is not `<network>`.
    #[error("expected a <network> root element, found <{found}>")]
    WrongRoot {
        /// The root element found.
        found: String,
    },
    /// A required element is absent or empty.
    #[error("missing {path}")]
    Missing {
        /// Its path (`/network/name`).
        path: String,
    },
}

impl NetworkError {
    /// The 1-based line and column of a parse error, when the error has a position.
    ///
    /// ```
    /// use kvmhost_core::network::NetworkInfo;
    /// assert_eq!(NetworkInfo::parse("<network/>").unwrap_err().position(), None);
    /// ```
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            NetworkError::Xml(e) => Some((e.line()?, e.column()?)),
            _ => None,
        }
    }
}

/// A network as libvirt reports it: what its XML says, and its state (which only libvirt's
/// calls give: kvmhost-libvirt fills in `active`, `persistent` and `autostart`).
///
/// ```
/// use kvmhost_core::network::NetworkInfo;
/// let n = NetworkInfo::parse("<network><name>cloud</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\
///     <forward mode='bridge'/><bridge name='br0'/><virtualport type='openvswitch'/></network>").unwrap();
/// assert_eq!((n.forward_mode.as_deref(), n.bridge.as_deref()), (Some("bridge"), Some("br0")));
/// assert_eq!(n.virtualport.as_deref(), Some("openvswitch"));
/// assert!(!n.active);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NetworkInfo {
    /// Name.
    pub name: String,
    /// UUID (empty when the XML has none; libvirt's always has one).
    pub uuid: String,
    /// Running (not in the XML: kvmhost-libvirt fills it in).
    pub active: bool,
    /// Persistent (not in the XML: kvmhost-libvirt fills it in).
    pub persistent: bool,
    /// Starts with the host (not in the XML: kvmhost-libvirt fills it in).
    pub autostart: bool,
    /// Forward mode (`nat`, `bridge`, …; `nat` for a `<forward>` without one, as libvirt
    /// reads it), none for isolated networks.
    pub forward_mode: Option<String>,
    /// Bridge name.
    pub bridge: Option<String>,
    /// Virtual port type (`openvswitch`).
    pub virtualport: Option<String>,
}

impl NetworkInfo {
    /// Reads `<network>` XML: name, UUID, forward mode, bridge and virtual port type.
    /// `active`, `persistent` and `autostart` are left false.
    ///
    /// ```
    /// use kvmhost_core::network::NetworkInfo;
    /// let n = NetworkInfo::parse("<network><name>default</name><forward/><bridge name='virbr0'/></network>").unwrap();
    /// assert_eq!(n.forward_mode.as_deref(), Some("nat"));
    /// let iso = NetworkInfo::parse("<network><name>iso</name></network>").unwrap();
    /// assert_eq!((iso.forward_mode, iso.uuid.as_str()), (None, ""));
    /// ```
    pub fn parse(xml: &str) -> Result<NetworkInfo, NetworkError> {
        let doc = Document::parse(xml)?;
        let r = &doc.root;
        if r.name != "network" {
            return Err(NetworkError::WrongRoot { found: r.name.to_string() });
        }
        let text = |name: &str| r.child(name).map(|c| c.text().trim().to_string()).filter(|t| !t.is_empty());
        Ok(NetworkInfo {
            name: text("name").ok_or_else(|| NetworkError::Missing { path: "/network/name".into() })?,
            uuid: text("uuid").unwrap_or_default(),
            active: false,
            persistent: false,
            autostart: false,
            forward_mode: r.child("forward").map(|f| f.attr("mode").unwrap_or("nat").to_string()),
            bridge: r.child("bridge").and_then(|b| b.attr("name")).map(String::from),
            virtualport: r.child("virtualport").and_then(|v| v.attr("type")).map(String::from),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_specs_read_back() {
        let cases = [
            (NetworkSpec::host_bridge("cloud", "cloudbr0"), Some("bridge"), None),
            (NetworkSpec::ovs_bridge("ovs", "br-int"), Some("bridge"), Some("openvswitch")),
            (NetworkSpec::nat("nat", "virbr7", "192.168.7.1", "255.255.255.0", None), Some("nat"), None),
        ];
        for (spec, mode, port) in cases {
            let n = NetworkInfo::parse(&spec.to_xml().unwrap()).unwrap();
            assert_eq!(n.name, spec.name);
            assert_eq!((n.forward_mode.as_deref(), n.virtualport.as_deref()), (mode, port), "{spec:?}");
        }
    }

    #[test]
    fn hostile_input_is_a_typed_error() {
        for xml in ["", "<", "<network", "<network><name>n</network>", "<a/><b/>", "<network>&bogus;</network>"] {
            assert!(matches!(NetworkInfo::parse(xml), Err(NetworkError::Xml(_))), "{xml:?}");
        }
        assert_eq!(
            NetworkInfo::parse("<network><name>\n</name></network>"),
            Err(NetworkError::Missing { path: "/network/name".into() })
        );
    }

    #[test]
    fn serde_round_trip() {
        let n = NetworkInfo::parse("<network><name>n</name><bridge name='b'/></network>").unwrap();
        assert_eq!(serde_json::from_str::<NetworkInfo>(&serde_json::to_string(&n).unwrap()).unwrap(), n);
    }
}
