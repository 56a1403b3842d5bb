//! Open vSwitch inside a [`HostNetwork`]: the `ovs` section (an [`OvsConfig`] applied through
//! OVSDB) and the IP configuration of the interfaces OVS makes ([`OvsInterface`]: the address
//! and default route of `mgmt0` in the CloudStack layout), checked together with the Linux part.
//!
//! ```
//! use kvmhost_net::HostNetwork;
//! let net = HostNetwork::from_yaml(r#"
//! uplinks: [{name: eth0}]
//! ovs:
//!   bridges:
//!     - name: br0
//!       ports: [{name: eth0, trunks: [100, 200], vlan_mode: trunk}]
//!       fake_bridges: [{name: mgmt0, vlan: 100}, {name: cloudbr0, vlan: 200}]
//! ovs_interfaces:
//!   - name: mgmt0
//!     addresses: [192.168.42.11/24]
//!     routes: [{gateway: 192.168.42.1}]
//! "#).unwrap();
//! net.validate().unwrap();
//! assert_eq!(net.ovs_port_bridge("eth0"), Some("br0"));
//! ```

use serde::{Deserialize, Serialize};

use crate::addr::IpCidr;
use crate::model::{DeviceRole, HostNetwork, Route};
use crate::ovs::{OvsConfig, PortKind};
use crate::validate::ValidationError;

/// IP configuration of an interface Open vSwitch makes (an OVS bridge's own interface, a fake
/// bridge, an internal port). The device itself comes from the `ovs` section; this sets it up,
/// gives it exactly these addresses and routes, and optionally an MTU.
///
/// ```
/// let i = kvmhost_net::ovs_ip::OvsInterface::new("mgmt0");
/// assert!(i.addresses.is_empty() && i.routes.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OvsInterface {
    /// Interface name (a bridge, fake bridge or internal port of the `ovs` section).
    pub name: String,
    /// MTU; left as it is when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Addresses (exactly these).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpCidr>,
    /// Routes through this interface, the default gateway included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

impl OvsInterface {
    /// An interface brought up with no addresses or routes.
    ///
    /// ```
    /// assert_eq!(kvmhost_net::ovs_ip::OvsInterface::new("cloudbr0").name, "cloudbr0");
    /// ```
    pub fn new(name: &str) -> Self {
        Self { name: name.into(), mtu: None, addresses: vec![], routes: vec![] }
    }
}

impl HostNetwork {
    /// The interfaces the `ovs` section makes: each bridge's own interface, fake bridges and
    /// internal ports, with their field paths (`ovs.bridges[0].fake_bridges[1]`).
    ///
    /// ```
    /// use kvmhost_net::{HostNetwork, DeviceRole};
    /// let net = HostNetwork::from_yaml("ovs: {bridges: [{name: br0, fake_bridges: [{name: mgmt0, vlan: 100}]}]}").unwrap();
    /// let d = net.ovs_devices();
    /// assert_eq!(d[1], ("mgmt0".to_string(), DeviceRole::OvsInternal, "ovs.bridges[0].fake_bridges[0]".to_string()));
    /// ```
    pub fn ovs_devices(&self) -> Vec<(String, DeviceRole, String)> {
        let mut out = Vec::new();
        let Some(cfg) = &self.ovs else { return out };
        for (i, b) in cfg.bridges.iter().enumerate() {
            out.push((b.name.clone(), DeviceRole::OvsBridge, format!("ovs.bridges[{i}]")));
            for (j, f) in b.fake_bridges.iter().enumerate() {
                out.push((f.name.clone(), DeviceRole::OvsInternal, format!("ovs.bridges[{i}].fake_bridges[{j}]")));
            }
            for (j, p) in b.ports.iter().enumerate() {
                if p.kind == PortKind::Internal {
                    out.push((p.name.clone(), DeviceRole::OvsInternal, format!("ovs.bridges[{i}].ports[{j}]")));
                }
            }
        }
        out
    }

    /// The OVS bridge that has `name` as a (non-internal) port: an existing device OVS attaches.
    ///
    /// ```
    /// let net = kvmhost_net::HostNetwork::from_yaml("ovs: {bridges: [{name: br0, ports: [{name: eth0}]}]}").unwrap();
    /// assert_eq!(net.ovs_port_bridge("eth0"), Some("br0"));
    /// assert_eq!(net.ovs_port_bridge("eth1"), None);
    /// ```
    pub fn ovs_port_bridge(&self, name: &str) -> Option<&str> {
        let cfg = self.ovs.as_ref()?;
        cfg.bridges
            .iter()
            .find(|b| b.ports.iter().any(|p| p.name == name && p.kind != PortKind::Internal))
            .map(|b| b.name.as_str())
    }

    /// Whether `name` is an interface the `ovs` section makes.
    ///
    /// ```
    /// let net = kvmhost_net::HostNetwork::from_yaml("ovs: {bridges: [{name: br0}]}").unwrap();
    /// assert!(net.is_ovs_made("br0"));
    /// ```
    pub fn is_ovs_made(&self, name: &str) -> bool {
        self.ovs_devices().iter().any(|(n, _, _)| n == name)
    }

    /// The OVS checks of [`HostNetwork::validate`]: the `ovs` section itself (fields prefixed
    /// `ovs.`), `ovs_interfaces` naming interfaces OVS makes, ports shared with Linux bridges,
    /// addresses and routes left on a device that became an OVS port.
    pub(crate) fn validate_ovs(&self, out: &mut Vec<ValidationError>) {
        if let Some(cfg) = &self.ovs {
            out.extend(
                cfg.validation_errors()
                    .into_iter()
                    .map(|error| ValidationError::Ovs { field: format!("ovs.{}", error.field()), error }),
            );
            self.validate_ovs_ports(cfg, out);
        }
        let made = self.ovs_devices();
        let mut seen = std::collections::BTreeMap::new();
        for (i, o) in self.ovs_interfaces.iter().enumerate() {
            let field = format!("ovs_interfaces[{i}]");
            if !made.iter().any(|(n, _, _)| *n == o.name) {
                out.push(ValidationError::UnknownDevice { field: format!("{field}.name"), name: o.name.clone() });
            }
            if let Some(first) = seen.insert(o.name.as_str(), field.clone()) {
                out.push(ValidationError::Duplicate { field: format!("{field}.name"), name: o.name.clone(), first });
            }
            if let Some(mtu) = o.mtu.filter(|m| !(68..=65535).contains(m)) {
                out.push(ValidationError::Mtu { field: format!("{field}.mtu"), mtu });
            }
        }
    }

    fn validate_ovs_ports(&self, cfg: &OvsConfig, out: &mut Vec<ValidationError>) {
        for (i, b) in cfg.bridges.iter().enumerate() {
            for (j, p) in b.ports.iter().enumerate().filter(|(_, p)| p.kind != PortKind::Internal) {
                let field = format!("ovs.bridges[{i}].ports[{j}]");
                match self.role_of(&p.name) {
                    Some(DeviceRole::Bridge) | Some(DeviceRole::OvsBridge) | Some(DeviceRole::OvsInternal) => {
                        out.push(ValidationError::Port {
                            field: format!("{field}.name"),
                            port: p.name.clone(),
                            reason: "a bridge or an OVS internal interface cannot be a port of an OVS bridge".into(),
                        })
                    }
                    _ => {}
                }
                if let Some(lb) = self.bridge_of(&p.name) {
                    out.push(ValidationError::Port {
                        field: format!("{field}.name"),
                        port: p.name.clone(),
                        reason: format!("it is also a port of Linux bridge {}", lb.name),
                    });
                }
                let (addrs, base) = self.addresses_of(&p.name);
                for (k, a) in addrs.iter().enumerate() {
                    out.push(ValidationError::AddressOnPort {
                        field: format!("{base}[{k}]"),
                        address: a.to_string(),
                        device: p.name.clone(),
                        bridge: b.name.clone(),
                    });
                }
                if !self.routes_of(&p.name).is_empty() {
                    let base = base.trim_end_matches(".addresses");
                    out.push(ValidationError::Route {
                        field: format!("{base}.routes"),
                        reason: format!(
                            "{} is a port of OVS bridge {}: its routes belong on an internal interface",
                            p.name, b.name
                        ),
                    });
                }
            }
        }
    }
}
