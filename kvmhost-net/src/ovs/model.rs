//! The desired Open vSwitch configuration: bridges, ports, VLAN fake bridges.

use serde::{Deserialize, Serialize};

/// The Open vSwitch part of a host's network.
///
/// Bridges listed are managed completely: ports and fake bridges found on them but not listed
/// are removed. Bridges not listed are left alone unless `prune` is set.
///
/// ```
/// use kvmhost_net::ovs::{OvsConfig, OvsBridge, OvsPort, FakeBridge, DatapathType};
/// let cfg = OvsConfig::new()
///     .bridge(OvsBridge::new("br0").datapath(DatapathType::Netdev).port(OvsPort::trunk("eth0", [100, 200]))
///         .fake_bridge(FakeBridge::new("cloudbr0", 200)));
/// cfg.validate().unwrap();
/// let yaml_like: OvsConfig = serde_json::from_str(r#"{"bridges": [{"name": "br0", "ports": [{"name": "eth0"}]}]}"#).unwrap();
/// assert_eq!(yaml_like.bridges[0].ports[0].name, "eth0");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OvsConfig {
    /// The bridges.
    #[serde(default)]
    pub bridges: Vec<OvsBridge>,
    /// Remove bridges that exist in OVSDB but are not listed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prune: bool,
}

impl OvsConfig {
    /// An empty configuration.
    ///
    /// ```
    /// assert!(kvmhost_net::ovs::OvsConfig::new().bridges.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a bridge.
    ///
    /// ```
    /// # use kvmhost_net::ovs::{OvsConfig, OvsBridge};
    /// assert_eq!(OvsConfig::new().bridge(OvsBridge::new("br0")).bridges.len(), 1);
    /// ```
    pub fn bridge(mut self, bridge: OvsBridge) -> Self {
        self.bridges.push(bridge);
        self
    }

    /// Sets `prune` (remove unlisted bridges).
    ///
    /// ```
    /// # use kvmhost_net::ovs::OvsConfig;
    /// assert!(OvsConfig::new().pruning(true).prune);
    /// ```
    pub fn pruning(mut self, prune: bool) -> Self {
        self.prune = prune;
        self
    }

    /// The bridge with this name.
    ///
    /// ```
    /// # use kvmhost_net::ovs::{OvsConfig, OvsBridge};
    /// assert!(OvsConfig::new().bridge(OvsBridge::new("br0")).find_bridge("br0").is_some());
    /// ```
    pub fn find_bridge(&self, name: &str) -> Option<&OvsBridge> {
        self.bridges.iter().find(|b| b.name == name)
    }

    /// As YAML (the form of a host network's `ovs` section).
    ///
    /// ```
    /// # use kvmhost_net::ovs::{OvsConfig, OvsBridge};
    /// assert!(OvsConfig::new().bridge(OvsBridge::new("br0")).to_yaml().contains("name: br0"));
    /// ```
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_default()
    }
}

/// An OVS bridge (`ovs-vsctl add-br NAME`).
///
/// ```
/// use kvmhost_net::ovs::{OvsBridge, FailMode};
/// let br = OvsBridge::new("br0").fail_mode(FailMode::Standalone).stp(true);
/// assert!(br.stp);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OvsBridge {
    /// Bridge name (also the name of its local internal port).
    pub name: String,
    /// Datapath: `system` (kernel module) or `netdev` (userspace).
    #[serde(default)]
    pub datapath_type: DatapathType,
    /// What to do without a controller; `None` leaves OVS's default (standalone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_mode: Option<FailMode>,
    /// 802.1D spanning tree.
    #[serde(default)]
    pub stp: bool,
    /// Ports (the bridge's own local port is implicit).
    #[serde(default)]
    pub ports: Vec<OvsPort>,
    /// VLAN fake bridges on this bridge.
    #[serde(default)]
    pub fake_bridges: Vec<FakeBridge>,
}

impl OvsBridge {
    /// A bridge with the kernel datapath, no ports.
    ///
    /// ```
    /// # use kvmhost_net::ovs::{OvsBridge, DatapathType};
    /// assert_eq!(OvsBridge::new("br0").datapath_type, DatapathType::System);
    /// ```
    pub fn new(name: &str) -> Self {
        OvsBridge {
            name: name.into(),
            datapath_type: DatapathType::System,
            fail_mode: None,
            stp: false,
            ports: Vec::new(),
            fake_bridges: Vec::new(),
        }
    }

    /// Sets the datapath.
    ///
    /// ```
    /// # use kvmhost_net::ovs::{OvsBridge, DatapathType};
    /// assert_eq!(OvsBridge::new("b").datapath(DatapathType::Netdev).datapath_type, DatapathType::Netdev);
    /// ```
    pub fn datapath(mut self, datapath_type: DatapathType) -> Self {
        self.datapath_type = datapath_type;
        self
    }

    /// Sets the fail mode.
    ///
    /// ```
    /// # use kvmhost_net::ovs::{OvsBridge, FailMode};
    /// assert_eq!(OvsBridge::new("b").fail_mode(FailMode::Secure).fail_mode, Some(FailMode::Secure));
    /// ```
    pub fn fail_mode(mut self, mode: FailMode) -> Self {
        self.fail_mode = Some(mode);
        self
    }

    /// Enables or disables STP.
    ///
    /// ```
    /// # use kvmhost_net::ovs::OvsBridge;
    /// assert!(!OvsBridge::new("b").stp(false).stp);
    /// ```
    pub fn stp(mut self, on: bool) -> Self {
        self.stp = on;
        self
    }

    /// Adds a port.
    ///
    /// ```
    /// # use kvmhost_net::ovs::{OvsBridge, OvsPort};
    /// assert_eq!(OvsBridge::new("b").port(OvsPort::new("eth0")).ports.len(), 1);
    /// ```
    pub fn port(mut self, port: OvsPort) -> Self {
        self.ports.push(port);
        self
    }

    /// A port as OVSDB holds it: a port on a fake bridge gets that fake bridge's VLAN as `tag`
    /// (and no `fake_bridge` reference), trunks are sorted and deduplicated.
    ///
    /// ```
    /// # use kvmhost_net::ovs::{OvsBridge, OvsPort, FakeBridge};
    /// let br = OvsBridge::new("br0").fake_bridge(FakeBridge::new("cloudbr0", 200));
    /// let p = br.resolved_port(&OvsPort::new("vnet0").on_fake_bridge("cloudbr0"));
    /// assert_eq!((p.tag, p.fake_bridge), (Some(200), None));
    /// ```
    pub fn resolved_port(&self, port: &OvsPort) -> OvsPort {
        let mut p = port.clone();
        if let Some(fb) = p.fake_bridge.take() {
            if let Some(f) = self.fake_bridges.iter().find(|f| f.name == fb) {
                p.tag = Some(f.vlan);
            }
        }
        p.trunks.sort_unstable();
        p.trunks.dedup();
        p
    }

    /// Adds a fake bridge.
    ///
    /// ```
    /// # use kvmhost_net::ovs::{OvsBridge, FakeBridge};
    /// assert_eq!(OvsBridge::new("b").fake_bridge(FakeBridge::new("v", 5)).fake_bridges[0].vlan, 5);
    /// ```
    pub fn fake_bridge(mut self, fake: FakeBridge) -> Self {
        self.fake_bridges.push(fake);
        self
    }
}

/// Bridge datapath (`Bridge.datapath_type`).
///
/// ```
/// use kvmhost_net::ovs::DatapathType;
/// assert_eq!(DatapathType::Netdev.as_str(), "netdev");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatapathType {
    /// The kernel datapath (OVSDB's empty string or `system`).
    #[default]
    System,
    /// The userspace datapath.
    Netdev,
}

impl DatapathType {
    /// The OVSDB spelling.
    ///
    /// ```
    /// # use kvmhost_net::ovs::DatapathType;
    /// assert_eq!(DatapathType::System.as_str(), "system");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            DatapathType::System => "system",
            DatapathType::Netdev => "netdev",
        }
    }
}

/// Bridge fail mode (`Bridge.fail_mode`).
///
/// ```
/// use kvmhost_net::ovs::FailMode;
/// assert_eq!(FailMode::Secure.as_str(), "secure");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// Act as a learning switch without a controller.
    Standalone,
    /// Forward nothing without a controller's flows.
    Secure,
}

impl FailMode {
    /// The OVSDB spelling.
    ///
    /// ```
    /// # use kvmhost_net::ovs::FailMode;
    /// assert_eq!(FailMode::Standalone.as_str(), "standalone");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            FailMode::Standalone => "standalone",
            FailMode::Secure => "secure",
        }
    }
}

/// A port with one interface of the same name.
///
/// ```
/// use kvmhost_net::ovs::{OvsPort, PortKind, VlanMode};
/// let p = OvsPort::access("vnet0", 200);
/// assert_eq!((p.tag, p.vlan_mode), (Some(200), Some(VlanMode::Access)));
/// assert_eq!(OvsPort::internal("mgmt").kind, PortKind::Internal);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OvsPort {
    /// Port (and interface) name.
    pub name: String,
    /// Interface type.
    #[serde(default)]
    pub kind: PortKind,
    /// Access VLAN (`Port.tag`), or the native VLAN of the native modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<u16>,
    /// VLANs carried by a trunk (`Port.trunks`; empty with `vlan_mode: trunk` means all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trunks: Vec<u16>,
    /// VLAN mode (`None`: OVS's default, access if tagged, else trunk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_mode: Option<VlanMode>,
    /// Plug the port into this fake bridge of the same bridge (`ovs-vsctl add-port cloudbr0
    /// vnet0`): it becomes an access port on the fake bridge's VLAN (read back as `tag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fake_bridge: Option<String>,
}

impl OvsPort {
    /// A port for an existing network device (`ovs-vsctl add-port BR NAME`).
    ///
    /// ```
    /// # use kvmhost_net::ovs::{OvsPort, PortKind};
    /// assert_eq!(OvsPort::new("eth0").kind, PortKind::System);
    /// ```
    pub fn new(name: &str) -> Self {
        OvsPort {
            name: name.into(),
            kind: PortKind::System,
            tag: None,
            trunks: Vec::new(),
            vlan_mode: None,
            fake_bridge: None,
        }
    }

    /// An internal port (OVS creates the device).
    ///
    /// ```
    /// # use kvmhost_net::ovs::{OvsPort, PortKind};
    /// assert_eq!(OvsPort::internal("i0").kind, PortKind::Internal);
    /// ```
    pub fn internal(name: &str) -> Self {
        OvsPort { kind: PortKind::Internal, ..OvsPort::new(name) }
    }

    /// An access port on `vlan` (`tag=VLAN vlan_mode=access`).
    ///
    /// ```
    /// # use kvmhost_net::ovs::OvsPort;
    /// assert_eq!(OvsPort::access("v", 300).tag, Some(300));
    /// ```
    pub fn access(name: &str, vlan: u16) -> Self {
        OvsPort { tag: Some(vlan), vlan_mode: Some(VlanMode::Access), ..OvsPort::new(name) }
    }

    /// A trunk port carrying `vlans` (`trunks=… vlan_mode=trunk`).
    ///
    /// ```
    /// # use kvmhost_net::ovs::OvsPort;
    /// assert_eq!(OvsPort::trunk("eth0", [1, 2]).trunks, [1, 2]);
    /// ```
    pub fn trunk(name: &str, vlans: impl IntoIterator<Item = u16>) -> Self {
        OvsPort { trunks: vlans.into_iter().collect(), vlan_mode: Some(VlanMode::Trunk), ..OvsPort::new(name) }
    }

    /// Plugs the port into a fake bridge of its bridge (its VLAN becomes the port's tag).
    ///
    /// ```
    /// # use kvmhost_net::ovs::OvsPort;
    /// assert_eq!(OvsPort::new("vnet0").on_fake_bridge("cloudbr0").fake_bridge.as_deref(), Some("cloudbr0"));
    /// ```
    pub fn on_fake_bridge(mut self, fake_bridge: &str) -> Self {
        self.fake_bridge = Some(fake_bridge.into());
        self
    }

    /// Sets the interface type.
    ///
    /// ```
    /// # use kvmhost_net::ovs::{OvsPort, PortKind};
    /// assert_eq!(OvsPort::access("t", 5).kind(PortKind::Internal).kind, PortKind::Internal);
    /// ```
    pub fn kind(mut self, kind: PortKind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets the VLAN mode and native/access tag.
    ///
    /// ```
    /// # use kvmhost_net::ovs::{OvsPort, VlanMode};
    /// let p = OvsPort::trunk("eth0", [200]).vlan(VlanMode::NativeUntagged, Some(100));
    /// assert_eq!(p.tag, Some(100));
    /// ```
    pub fn vlan(mut self, mode: VlanMode, tag: Option<u16>) -> Self {
        self.vlan_mode = Some(mode);
        self.tag = tag;
        self
    }
}

/// Interface type of a port (`Interface.type`).
///
/// ```
/// use kvmhost_net::ovs::PortKind;
/// assert_eq!(PortKind::Internal.ovs_type(), "internal");
/// assert_eq!(PortKind::Patch { peer: "p1".into() }.ovs_type(), "patch");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortKind {
    /// An existing network device (OVSDB's empty type).
    #[default]
    System,
    /// A device OVS creates (tap in the userspace datapath).
    Internal,
    /// A TUN/TAP device OVS opens.
    Tap,
    /// A patch port to another bridge's patch port.
    Patch {
        /// The peer patch port.
        peer: String,
    },
    /// Another OVS interface type (`vxlan`, `geneve`, …) kept as read.
    Other(String),
}

impl PortKind {
    /// The OVSDB spelling (empty for a system device).
    ///
    /// ```
    /// # use kvmhost_net::ovs::PortKind;
    /// assert_eq!(PortKind::System.ovs_type(), "");
    /// ```
    pub fn ovs_type(&self) -> &str {
        match self {
            PortKind::System => "",
            PortKind::Internal => "internal",
            PortKind::Tap => "tap",
            PortKind::Patch { .. } => "patch",
            PortKind::Other(t) => t,
        }
    }
}

/// VLAN mode of a port (`Port.vlan_mode`).
///
/// ```
/// use kvmhost_net::ovs::VlanMode;
/// assert_eq!(VlanMode::NativeUntagged.as_str(), "native-untagged");
/// let m: VlanMode = serde_json::from_str("\"native-tagged\"").unwrap();
/// assert_eq!(m, VlanMode::NativeTagged);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VlanMode {
    /// Untagged frames on `tag` only.
    Access,
    /// Tagged frames of `trunks`.
    Trunk,
    /// Trunk, with `tag` as native VLAN sent tagged.
    NativeTagged,
    /// Trunk, with `tag` as native VLAN sent untagged.
    NativeUntagged,
}

impl VlanMode {
    /// The OVSDB spelling.
    ///
    /// ```
    /// # use kvmhost_net::ovs::VlanMode;
    /// assert_eq!(VlanMode::Trunk.as_str(), "trunk");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            VlanMode::Access => "access",
            VlanMode::Trunk => "trunk",
            VlanMode::NativeTagged => "native-tagged",
            VlanMode::NativeUntagged => "native-untagged",
        }
    }

    /// Reads the OVSDB spelling.
    ///
    /// ```
    /// # use kvmhost_net::ovs::VlanMode;
    /// assert_eq!(VlanMode::parse("access"), Some(VlanMode::Access));
    /// assert_eq!(VlanMode::parse("dot1q-tunnel"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "access" => VlanMode::Access,
            "trunk" => VlanMode::Trunk,
            "native-tagged" => VlanMode::NativeTagged,
            "native-untagged" => VlanMode::NativeUntagged,
            _ => return None,
        })
    }
}

/// A VLAN "fake bridge" on its parent: an internal port tagged `vlan` with `fake_bridge=true`,
/// what `ovs-vsctl add-br NAME PARENT VLAN` creates.
///
/// ```
/// use kvmhost_net::ovs::FakeBridge;
/// assert_eq!(FakeBridge::new("cloudbr0", 200).vlan, 200);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FakeBridge {
    /// Name of the fake bridge (and of its internal port).
    pub name: String,
    /// Its VLAN on the parent.
    pub vlan: u16,
}

impl FakeBridge {
    /// A fake bridge.
    ///
    /// ```
    /// # use kvmhost_net::ovs::FakeBridge;
    /// assert_eq!(FakeBridge::new("mgmt0", 100).name, "mgmt0");
    /// ```
    pub fn new(name: &str, vlan: u16) -> Self {
        FakeBridge { name: name.into(), vlan }
    }
}
