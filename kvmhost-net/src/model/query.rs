//! What a [`HostNetwork`] says about its devices (roles, addresses, routes, the interfaces
//! its `ovs` section makes), and reading and writing it as YAML, JSON and TOML.

use std::path::Path;

use super::{Bond, Bridge, DeviceRole, HostNetwork, Route};
use crate::addr::IpCidr;
use crate::ovs::PortKind;
use crate::Error;

impl HostNetwork {
    /// An empty network.
    ///
    /// ```
    /// assert!(kvmhost_net::HostNetwork::new().bridges.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    fn fixed(mut self) -> Self {
        for r in self.routes_mut() {
            r.fix_family();
        }
        self
    }

    fn routes_mut(&mut self) -> impl Iterator<Item = &mut Route> {
        let a = self.uplinks.iter_mut().flat_map(|u| u.routes.iter_mut());
        let a = a.chain(self.bonds.iter_mut().flat_map(|u| u.routes.iter_mut()));
        let b = self.bridges.iter_mut().flat_map(|u| u.routes.iter_mut());
        let c = self.vlans.iter_mut().flat_map(|u| u.routes.iter_mut());
        let d = self.veths.iter_mut().flat_map(|u| u.routes.iter_mut());
        let e = self.ovs_interfaces.iter_mut().flat_map(|u| u.routes.iter_mut());
        a.chain(b).chain(c).chain(d).chain(e)
    }

    /// Parse YAML.
    ///
    /// ```
    /// assert!(kvmhost_net::HostNetwork::from_yaml("bogus: 1").is_err());
    /// ```
    pub fn from_yaml(s: &str) -> Result<Self, Error> {
        serde_norway::from_str::<Self>(s)
            .map(Self::fixed)
            .map_err(|e| Error::Parse { format: "YAML", message: e.to_string() })
    }

    /// Parse JSON.
    ///
    /// ```
    /// let n = kvmhost_net::HostNetwork::from_json(r#"{"taps": [{"name": "vnet0"}]}"#).unwrap();
    /// assert_eq!(n.taps.len(), 1);
    /// ```
    pub fn from_json(s: &str) -> Result<Self, Error> {
        serde_json::from_str::<Self>(s)
            .map(Self::fixed)
            .map_err(|e| Error::Parse { format: "JSON", message: e.to_string() })
    }

    /// Parse TOML.
    ///
    /// ```
    /// let n = kvmhost_net::HostNetwork::from_toml("[[bridges]]\nname = \"br0\"\n").unwrap();
    /// assert_eq!(n.bridges[0].name, "br0");
    /// ```
    pub fn from_toml(s: &str) -> Result<Self, Error> {
        toml::from_str::<Self>(s).map(Self::fixed).map_err(|e| Error::Parse { format: "TOML", message: e.to_string() })
    }

    /// Read a file, choosing the format by extension (`.json`, `.toml`, otherwise YAML).
    ///
    /// ```no_run
    /// let net = kvmhost_net::HostNetwork::load("host.yaml".as_ref()).unwrap();
    /// ```
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.display().to_string(), source })?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Self::from_json(&text),
            Some("toml") => Self::from_toml(&text),
            _ => Self::from_yaml(&text),
        }
    }

    /// As YAML.
    ///
    /// ```
    /// let y = kvmhost_net::HostNetwork::new().to_yaml();
    /// assert!(y.contains("bridges"));
    /// ```
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_default()
    }

    /// The role of a declared device name, `None` when the model does not declare it.
    ///
    /// ```
    /// let mut n = kvmhost_net::HostNetwork::new();
    /// n.veths.push(kvmhost_net::Veth::new("a", "b"));
    /// assert_eq!(n.role_of("b"), Some(kvmhost_net::DeviceRole::VethPeer));
    /// ```
    pub fn role_of(&self, name: &str) -> Option<DeviceRole> {
        self.devices().into_iter().find(|(n, _, _)| n == name).map(|(_, r, _)| r)
    }

    /// Every declared device: its name, role and field path (`bridges[0]`), in declaration
    /// order (uplinks, bonds, bridges, VLANs, veths with their peers, taps, then the interfaces Open
    /// vSwitch makes: bridges, fake bridges and internal ports of `ovs`).
    ///
    /// ```
    /// let n = kvmhost_net::HostNetwork::from_yaml("uplinks: [{name: eth0}]").unwrap();
    /// assert_eq!(n.devices()[0].2, "uplinks[0]");
    /// ```
    pub fn devices(&self) -> Vec<(String, DeviceRole, String)> {
        let mut out = Vec::new();
        for (i, d) in self.uplinks.iter().enumerate() {
            out.push((d.name.clone(), DeviceRole::Uplink, format!("uplinks[{i}]")));
        }
        for (i, d) in self.bonds.iter().enumerate() {
            out.push((d.name.clone(), DeviceRole::Bond, format!("bonds[{i}]")));
        }
        for (i, d) in self.bridges.iter().enumerate() {
            out.push((d.name.clone(), DeviceRole::Bridge, format!("bridges[{i}]")));
        }
        for (i, d) in self.vlans.iter().enumerate() {
            out.push((d.name.clone(), DeviceRole::Vlan, format!("vlans[{i}]")));
        }
        for (i, d) in self.veths.iter().enumerate() {
            out.push((d.name.clone(), DeviceRole::Veth, format!("veths[{i}]")));
            out.push((d.peer.clone(), DeviceRole::VethPeer, format!("veths[{i}].peer")));
        }
        for (i, d) in self.taps.iter().enumerate() {
            out.push((d.name.clone(), DeviceRole::Tap, format!("taps[{i}]")));
        }
        out.extend(self.ovs_devices());
        out
    }

    /// The bridge that lists `port` among its ports.
    ///
    /// ```
    /// let n = kvmhost_net::HostNetwork::from_yaml("bridges: [{name: br0, ports: [eth0]}]").unwrap();
    /// assert_eq!(n.bridge_of("eth0").unwrap().name, "br0");
    /// ```
    pub fn bridge_of(&self, port: &str) -> Option<&Bridge> {
        self.bridges.iter().find(|b| b.ports.iter().any(|p| p == port))
    }

    /// The bond that lists `member` among its members.
    ///
    /// ```
    /// let n = kvmhost_net::HostNetwork::from_yaml("bonds: [{name: bond0, mode: active-backup, members: [eth1]}]").unwrap();
    /// assert_eq!(n.bond_of("eth1").unwrap().name, "bond0");
    /// ```
    pub fn bond_of(&self, member: &str) -> Option<&Bond> {
        self.bonds.iter().find(|b| b.members.iter().any(|m| m == member))
    }

    /// Addresses declared on a device, with the field path of the list.
    ///
    /// ```
    /// let n = kvmhost_net::HostNetwork::from_yaml("bridges: [{name: br0, addresses: [10.0.0.1/24]}]").unwrap();
    /// assert_eq!(n.addresses_of("br0").0.len(), 1);
    /// ```
    pub fn addresses_of(&self, name: &str) -> (Vec<IpCidr>, String) {
        for (i, d) in self.uplinks.iter().enumerate() {
            if d.name == name {
                return (d.addresses.clone(), format!("uplinks[{i}].addresses"));
            }
        }
        for (i, d) in self.bonds.iter().enumerate() {
            if d.name == name {
                return (d.addresses.clone(), format!("bonds[{i}].addresses"));
            }
        }
        for (i, d) in self.bridges.iter().enumerate() {
            if d.name == name {
                return (d.addresses.clone(), format!("bridges[{i}].addresses"));
            }
        }
        for (i, d) in self.vlans.iter().enumerate() {
            if d.name == name {
                return (d.addresses.clone(), format!("vlans[{i}].addresses"));
            }
        }
        for (i, d) in self.veths.iter().enumerate() {
            if d.name == name {
                return (d.addresses.clone(), format!("veths[{i}].addresses"));
            }
            if d.peer == name {
                return (d.peer_addresses.clone(), format!("veths[{i}].peer_addresses"));
            }
        }
        for (i, d) in self.ovs_interfaces.iter().enumerate() {
            if d.name == name {
                return (d.addresses.clone(), format!("ovs_interfaces[{i}].addresses"));
            }
        }
        (Vec::new(), String::new())
    }

    /// Routes declared on a device.
    ///
    /// ```
    /// let n = kvmhost_net::HostNetwork::from_yaml("uplinks: [{name: eth0, routes: [{gateway: 10.0.0.1}]}]").unwrap();
    /// assert_eq!(n.routes_of("eth0").len(), 1);
    /// ```
    pub fn routes_of(&self, name: &str) -> Vec<Route> {
        let u = self.uplinks.iter().filter(|d| d.name == name).flat_map(|d| d.routes.clone());
        let u = u.chain(self.bonds.iter().filter(|d| d.name == name).flat_map(|d| d.routes.clone()));
        let b = self.bridges.iter().filter(|d| d.name == name).flat_map(|d| d.routes.clone());
        let v = self.vlans.iter().filter(|d| d.name == name).flat_map(|d| d.routes.clone());
        let e = self.veths.iter().filter(|d| d.name == name).flat_map(|d| d.routes.clone());
        let o = self.ovs_interfaces.iter().filter(|d| d.name == name).flat_map(|d| d.routes.clone());
        u.chain(b).chain(v).chain(e).chain(o).collect()
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
}
