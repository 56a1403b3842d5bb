//! The CloudStack installation guide's Open vSwitch layout.

use serde::{Deserialize, Serialize};

use super::model::{DatapathType, FakeBridge, OvsBridge, OvsConfig, OvsPort};

impl OvsConfig {
    /// The CloudStack Open vSwitch layout: a main bridge on the uplink, the uplink a trunk of
    /// the three VLANs, and the fake bridges `mgmt0`, `cloudbr0` (public) and `cloudbr1`
    /// (private) on them — what the CloudStack installation guide does with
    /// `ovs-vsctl add-br cloudbr0 br0 200`.
    ///
    /// ```
    /// use kvmhost_net::ovs::{CloudStackOvs, OvsConfig};
    /// let cfg = OvsConfig::cloudstack(&CloudStackOvs::new("eth0"));
    /// let br = &cfg.bridges[0];
    /// assert_eq!((br.name.as_str(), br.ports[0].trunks.as_slice()), ("br0", &[100, 200, 300][..]));
    /// assert_eq!(br.fake_bridges.iter().map(|f| (f.name.as_str(), f.vlan)).collect::<Vec<_>>(),
    ///            [("mgmt0", 100), ("cloudbr0", 200), ("cloudbr1", 300)]);
    /// ```
    pub fn cloudstack(p: &CloudStackOvs) -> Self {
        let bridge = OvsBridge::new(&p.bridge)
            .datapath(p.datapath_type)
            .port(OvsPort::trunk(&p.uplink, [p.mgmt_vlan, p.public_vlan, p.private_vlan]))
            .fake_bridge(FakeBridge::new(&p.mgmt_bridge, p.mgmt_vlan))
            .fake_bridge(FakeBridge::new(&p.public_bridge, p.public_vlan))
            .fake_bridge(FakeBridge::new(&p.private_bridge, p.private_vlan));
        OvsConfig::new().bridge(bridge)
    }
}

/// Parameters of [`OvsConfig::cloudstack`], with the guide's defaults.
///
/// ```
/// use kvmhost_net::ovs::{CloudStackOvs, DatapathType};
/// let p = CloudStackOvs::new("eth0").vlans(10, 20, 30).datapath(DatapathType::Netdev);
/// assert_eq!((p.mgmt_vlan, p.public_vlan, p.private_vlan), (10, 20, 30));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CloudStackOvs {
    /// The uplink (trunk port).
    pub uplink: String,
    /// The main bridge (`br0`).
    pub bridge: String,
    /// Datapath of the main bridge.
    pub datapath_type: DatapathType,
    /// Management fake bridge (`mgmt0`).
    pub mgmt_bridge: String,
    /// Management VLAN (100).
    pub mgmt_vlan: u16,
    /// Public fake bridge (`cloudbr0`).
    pub public_bridge: String,
    /// Public VLAN (200).
    pub public_vlan: u16,
    /// Private fake bridge (`cloudbr1`).
    pub private_bridge: String,
    /// Private VLAN (300).
    pub private_vlan: u16,
}

impl CloudStackOvs {
    /// The guide's layout on `uplink`: `br0`, mgmt0/100, cloudbr0/200, cloudbr1/300, kernel datapath.
    ///
    /// ```
    /// assert_eq!(kvmhost_net::ovs::CloudStackOvs::new("eth0").public_bridge, "cloudbr0");
    /// ```
    pub fn new(uplink: &str) -> Self {
        CloudStackOvs {
            uplink: uplink.into(),
            bridge: "br0".into(),
            datapath_type: DatapathType::System,
            mgmt_bridge: "mgmt0".into(),
            mgmt_vlan: 100,
            public_bridge: "cloudbr0".into(),
            public_vlan: 200,
            private_bridge: "cloudbr1".into(),
            private_vlan: 300,
        }
    }

    /// Sets the management, public and private VLAN ids.
    ///
    /// ```
    /// # use kvmhost_net::ovs::CloudStackOvs;
    /// assert_eq!(CloudStackOvs::new("eth0").vlans(1, 2, 3).private_vlan, 3);
    /// ```
    pub fn vlans(mut self, mgmt: u16, public: u16, private: u16) -> Self {
        (self.mgmt_vlan, self.public_vlan, self.private_vlan) = (mgmt, public, private);
        self
    }

    /// Sets the main bridge's name.
    ///
    /// ```
    /// # use kvmhost_net::ovs::CloudStackOvs;
    /// assert_eq!(CloudStackOvs::new("eth0").bridge_name("cloudbr").bridge, "cloudbr");
    /// ```
    pub fn bridge_name(mut self, name: &str) -> Self {
        self.bridge = name.into();
        self
    }

    /// Sets the fake bridges' names (management, public, private).
    ///
    /// ```
    /// # use kvmhost_net::ovs::CloudStackOvs;
    /// assert_eq!(CloudStackOvs::new("eth0").fake_bridge_names("m", "p", "q").mgmt_bridge, "m");
    /// ```
    pub fn fake_bridge_names(mut self, mgmt: &str, public: &str, private: &str) -> Self {
        (self.mgmt_bridge, self.public_bridge, self.private_bridge) = (mgmt.into(), public.into(), private.into());
        self
    }

    /// Sets the datapath (`Netdev` for the userspace datapath).
    ///
    /// ```
    /// # use kvmhost_net::ovs::{CloudStackOvs, DatapathType};
    /// assert_eq!(CloudStackOvs::new("eth0").datapath(DatapathType::Netdev).datapath_type, DatapathType::Netdev);
    /// ```
    pub fn datapath(mut self, datapath_type: DatapathType) -> Self {
        self.datapath_type = datapath_type;
        self
    }
}
