//! CloudStack host layouts, as CloudStack's installation guide builds them by hand: management
//! on a VLAN subinterface of the uplink carrying the host's address and default gateway, and a
//! bridge per guest network (public `cloudbr0`, private `cloudbr1`) on a VLAN subinterface each.
//! The Open vSwitch layout ([`CloudStackLinux::build_ovs`]): a main bridge on the uplink in trunk
//! mode and the VLAN fake bridges `mgmt0`, `cloudbr0`, `cloudbr1`, with the host's address and
//! default gateway on `mgmt0`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::addr::IpCidr;
use crate::model::OvsInterface;
use crate::model::{Bridge, HostNetwork, Route, Uplink, Vlan};
use crate::ovs::{CloudStackOvs, DatapathType, OvsConfig};

/// How the guest bridges are named.
///
/// ```
/// use kvmhost_net::cloudstack::BridgeNaming;
/// assert_eq!(BridgeNaming::PifVlan.bridge_name("eth0", 200, 0), "breth0-200");
/// assert_eq!(BridgeNaming::CloudBr.bridge_name("eth0", 200, 0), "cloudbr0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BridgeNaming {
    /// `cloudbr0` (public), `cloudbr1` (private): the installation guide's names.
    #[default]
    CloudBr,
    /// `br<pif>-<vlan>`: the names CloudStack's agent (`modifyvlan.sh`) gives guest VLAN bridges.
    PifVlan,
}

impl BridgeNaming {
    /// The bridge name for a VLAN on `pif`; `n` numbers the `cloudbrN` bridges.
    ///
    /// ```
    /// assert_eq!(kvmhost_net::cloudstack::BridgeNaming::CloudBr.bridge_name("eth0", 300, 1), "cloudbr1");
    /// ```
    pub fn bridge_name(&self, pif: &str, vlan: u16, n: usize) -> String {
        match self {
            Self::CloudBr => format!("cloudbr{n}"),
            Self::PifVlan => format!("br{pif}-{vlan}"),
        }
    }
}

/// The CloudStack Linux-bridge layout.
///
/// ```
/// use kvmhost_net::cloudstack::CloudStackLinux;
/// let net = CloudStackLinux::new("eth0", 100, 200, 300,
///     "192.168.42.11/24".parse().unwrap(), "192.168.42.1".parse().unwrap()).build();
/// net.validate().unwrap();
/// assert_eq!(net.bridges[0].name, "cloudbr0");
/// assert_eq!(net.bridges[0].ports, vec!["eth0.200".to_string()]);
/// assert_eq!(net.vlans[0].addresses[0].to_string(), "192.168.42.11/24");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CloudStackLinux {
    /// The physical uplink (trunk).
    pub uplink: String,
    /// Management VLAN (carries the host's address).
    pub mgmt_vlan: u16,
    /// Public guest VLAN.
    pub public_vlan: u16,
    /// Private (guest) VLAN.
    pub private_vlan: u16,
    /// The host's management address.
    pub address: IpCidr,
    /// The default gateway.
    pub gateway: IpAddr,
    /// Bridge names.
    pub naming: BridgeNaming,
    /// Forward delay of the guest bridges in seconds (the guide's `bridge_fd 5`).
    pub forward_delay: u32,
}

impl CloudStackLinux {
    /// The guide's layout: `cloudbr0`/`cloudbr1`, forward delay 5 s, STP off.
    ///
    /// ```
    /// let l = kvmhost_net::cloudstack::CloudStackLinux::new("eth0", 100, 200, 300,
    ///     "10.0.0.2/24".parse().unwrap(), "10.0.0.1".parse().unwrap());
    /// assert_eq!(l.forward_delay, 5);
    /// ```
    pub fn new(
        uplink: &str,
        mgmt_vlan: u16,
        public_vlan: u16,
        private_vlan: u16,
        address: IpCidr,
        gateway: IpAddr,
    ) -> Self {
        Self {
            uplink: uplink.into(),
            mgmt_vlan,
            public_vlan,
            private_vlan,
            address,
            gateway,
            naming: BridgeNaming::CloudBr,
            forward_delay: 5,
        }
    }

    /// With other bridge names.
    ///
    /// ```
    /// use kvmhost_net::cloudstack::{CloudStackLinux, BridgeNaming};
    /// let l = CloudStackLinux::new("eth0", 100, 200, 300, "10.0.0.2/24".parse().unwrap(),
    ///     "10.0.0.1".parse().unwrap()).naming(BridgeNaming::PifVlan);
    /// assert_eq!(l.build().bridges[1].name, "breth0-300");
    /// ```
    pub fn naming(mut self, naming: BridgeNaming) -> Self {
        self.naming = naming;
        self
    }

    /// The host network.
    ///
    /// ```
    /// let n = kvmhost_net::cloudstack::CloudStackLinux::new("eth0", 100, 200, 300,
    ///     "10.0.0.2/24".parse().unwrap(), "10.0.0.1".parse().unwrap()).build();
    /// assert_eq!(n.vlans.len(), 3);
    /// ```
    pub fn build(&self) -> HostNetwork {
        let mut net = HostNetwork::new();
        net.uplinks.push(Uplink::new(&self.uplink));
        let vname = |id: u16| format!("{}.{id}", self.uplink);
        let mut mgmt = Vlan::new(&vname(self.mgmt_vlan), &self.uplink, self.mgmt_vlan);
        mgmt.addresses.push(self.address);
        mgmt.routes.push(Route::default_via(self.gateway));
        net.vlans.push(mgmt);
        for (n, id) in [self.public_vlan, self.private_vlan].into_iter().enumerate() {
            net.vlans.push(Vlan::new(&vname(id), &self.uplink, id));
            let mut b = Bridge::new(&self.naming.bridge_name(&self.uplink, id, n));
            b.forward_delay = Some(self.forward_delay);
            b.ports.push(vname(id));
            net.bridges.push(b);
        }
        net
    }

    /// The Open vSwitch layout with the same parameters: bridge `br0` on the uplink (a trunk of
    /// the three VLANs), fake bridges `mgmt0` (management, with the address and default gateway),
    /// `cloudbr0` (public) and `cloudbr1` (private), all brought up. `datapath` is `Netdev` for
    /// the userspace datapath.
    ///
    /// ```
    /// use kvmhost_net::{cloudstack::CloudStackLinux, ovs::DatapathType};
    /// let n = CloudStackLinux::new("eth0", 100, 200, 300, "10.0.0.2/24".parse().unwrap(),
    ///     "10.0.0.1".parse().unwrap()).build_ovs(DatapathType::System);
    /// n.validate().unwrap();
    /// assert_eq!(n.ovs.as_ref().unwrap().bridges[0].fake_bridges[0].name, "mgmt0");
    /// assert_eq!(n.ovs_interfaces[0].addresses[0].to_string(), "10.0.0.2/24");
    /// assert!(n.uplinks[0].addresses.is_empty()); // moved onto mgmt0
    /// ```
    pub fn build_ovs(&self, datapath: DatapathType) -> HostNetwork {
        let p = CloudStackOvs::new(&self.uplink)
            .vlans(self.mgmt_vlan, self.public_vlan, self.private_vlan)
            .datapath(datapath)
            .fake_bridge_names(
                "mgmt0",
                &self.naming.bridge_name(&self.uplink, self.public_vlan, 0),
                &self.naming.bridge_name(&self.uplink, self.private_vlan, 1),
            );
        let mut net = HostNetwork::new();
        net.uplinks.push(Uplink::new(&self.uplink));
        let mut mgmt = OvsInterface::new(&p.mgmt_bridge);
        mgmt.addresses.push(self.address);
        mgmt.routes.push(Route::default_via(self.gateway));
        net.ovs_interfaces.push(mgmt);
        net.ovs_interfaces.push(OvsInterface::new(&p.public_bridge));
        net.ovs_interfaces.push(OvsInterface::new(&p.private_bridge));
        net.ovs = Some(OvsConfig::cloudstack(&p));
        net
    }
}
