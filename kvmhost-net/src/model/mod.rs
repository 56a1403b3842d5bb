//! The declarative model: a [`HostNetwork`] says which Linux bridges, bonds, VLAN devices, veth
//! pairs and taps a host should have, which devices are their ports, and which addresses and routes
//! each carries. It loads from YAML, JSON or TOML and is checked by [`HostNetwork::validate`]
//! before anything touches the kernel.
//!
//! Open vSwitch bridges are the `ovs` section (an [`OvsConfig`](crate::ovs::OvsConfig), planned
//! as OVSDB steps before the netlink ones); the addresses and routes of the interfaces OVS makes
//! are in `ovs_interfaces` (an [`OvsInterface`]).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::addr::{IpCidr, IpFamily};
use crate::Error;

mod devices;
mod query;

pub use devices::{Bond, BondMode, Bridge, LacpRate, PortVlans, Tap, Veth, Vlan, VlanFiltering};

/// The desired host network: every device this library manages.
///
/// Devices not named here are never changed (except that an address or route wanted here is
/// reported if another device holds it). For a device named here, nmstate's partial-state rule
/// holds per address family: when it declares an address of a family (or lists the family in
/// `owns`), its addresses of that family are exactly the listed ones, and likewise its routes;
/// a family it does not mention is left alone, unless the device hands its addresses over (it
/// is a port of a bridge configured here, or an address it holds is declared on another device):
/// then its addresses and routes of that family move along to that device. So an uplink that
/// becomes a bridge port declares nothing, and its IPv4 *and* IPv6 addresses and routes move to
/// the bridge; each is added there before it leaves the uplink (a route in one `ip route
/// replace`), so the host keeps its address and default route at every step.
///
/// ```
/// use kvmhost_net::HostNetwork;
/// let net = HostNetwork::from_yaml(r#"
/// uplinks:
///   - name: eth0
/// bridges:
///   - name: cloudbr0
///     ports: [eth0]
///     stp: false
///     forward_delay: 0
///     addresses: [192.168.42.11/24]
///     routes:
///       - gateway: 192.168.42.1
/// "#).unwrap();
/// net.validate().unwrap();
/// assert_eq!(net.bridges[0].routes[0].destination.to_string(), "0.0.0.0/0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct HostNetwork {
    /// Existing (physical) interfaces: never created or deleted, only configured.
    pub uplinks: Vec<Uplink>,
    /// Bonds (`ip link add bond0 type bond`) over members declared as uplinks or veths.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bonds: Vec<Bond>,
    /// Linux bridges.
    pub bridges: Vec<Bridge>,
    /// 802.1Q VLAN subinterfaces (`eth0.200`).
    pub vlans: Vec<Vlan>,
    /// veth pairs.
    pub veths: Vec<Veth>,
    /// Persistent tap devices.
    pub taps: Vec<Tap>,
    /// Open vSwitch bridges, ports and VLAN fake bridges (applied through OVSDB, before the
    /// netlink steps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ovs: Option<crate::ovs::OvsConfig>,
    /// Addresses, routes and MTU of Open vSwitch internal interfaces (bridges, fake bridges,
    /// internal ports of `ovs`), set over netlink once OVS has made the devices.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ovs_interfaces: Vec<OvsInterface>,
}

/// An interface the model does not create but addresses: its MTU, addresses and routes. The
/// one type of both [`Uplink`]s (existing NICs, or in tests one end of a veth pair made
/// beforehand) and [`OvsInterface`]s (the interfaces the `ovs` section makes).
///
/// ```
/// let u = kvmhost_net::IpInterface::new("eth0");
/// assert!(u.addresses.is_empty() && u.routes.is_empty() && u.mtu.is_none());
/// let o: kvmhost_net::OvsInterface = kvmhost_net::Uplink::new("mgmt0"); // one type
/// assert_eq!(o.name, "mgmt0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct IpInterface {
    /// Interface name (an uplink, or a bridge, fake bridge or internal port of the `ovs`
    /// section).
    pub name: String,
    /// MTU; left as it is when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Addresses (of each family listed here, exactly these; none on an uplink that is a
    /// bridge port).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpCidr>,
    /// Routes through this interface, the default gateway included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// Address families whose addresses and routes on this device are exactly the declared
    /// ones even when none of that family is declared (`[ipv4, ipv6]`). A family with an address
    /// declared owns its addresses, one with a route declared its routes; any other is left as
    /// it is (nmstate's partial-state rule), or moves along when the device hands its addresses
    /// over (a bridge port, or a device whose address is declared elsewhere).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owns: Vec<IpFamily>,
}

impl IpInterface {
    /// An interface with no addresses or routes and the MTU left alone.
    ///
    /// ```
    /// assert_eq!(kvmhost_net::Uplink::new("eth1").name, "eth1");
    /// ```
    pub fn new(name: &str) -> Self {
        Self { name: name.into(), mtu: None, addresses: vec![], routes: vec![], owns: vec![] }
    }
}

/// An existing interface (a NIC, or in tests one end of a veth pair made beforehand): an
/// [`IpInterface`] listed in `uplinks`.
pub type Uplink = IpInterface;

/// A route through the device that lists it. The destination defaults to the default route of
/// the gateway's family, so `{gateway: 192.168.42.1}` is the default gateway.
///
/// ```
/// let r = kvmhost_net::Route::default_via("192.168.42.1".parse().unwrap());
/// assert!(r.destination.is_default());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Route {
    /// Destination network; the default route when absent.
    #[serde(default = "default_destination_placeholder")]
    pub destination: IpCidr,
    /// Next hop; a directly connected (link) route when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Route metric (priority); the kernel default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
}

fn default_destination_placeholder() -> IpCidr {
    IpCidr::default_route(false)
}

impl Route {
    /// The default route through `gateway`.
    ///
    /// ```
    /// let r = kvmhost_net::Route::default_via("fd00::1".parse().unwrap());
    /// assert!(r.destination.is_ipv6());
    /// ```
    pub fn default_via(gateway: IpAddr) -> Self {
        Self { destination: IpCidr::default_route(gateway.is_ipv6()), gateway: Some(gateway), metric: None }
    }

    /// A route to `destination` through `gateway` (or on-link when `None`).
    ///
    /// ```
    /// let r = kvmhost_net::Route::new("10.0.0.0/8".parse().unwrap(), None);
    /// assert!(r.gateway.is_none());
    /// ```
    pub fn new(destination: IpCidr, gateway: Option<IpAddr>) -> Self {
        Self { destination, gateway, metric: None }
    }

    /// After deserializing: a default destination written without one takes the gateway's
    /// family (`{gateway: fd00::1}` is `::/0`).
    fn fix_family(&mut self) {
        if let Some(gw) = self.gateway {
            if self.destination.is_default() && self.destination.is_ipv6() != gw.is_ipv6() {
                self.destination = IpCidr::default_route(gw.is_ipv6());
            }
        }
    }
}

/// Which kind of device a name denotes in a [`HostNetwork`].
///
/// ```
/// use kvmhost_net::{HostNetwork, DeviceRole};
/// let net = HostNetwork::from_yaml("uplinks: [{name: eth0}]").unwrap();
/// assert_eq!(net.role_of("eth0"), Some(DeviceRole::Uplink));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeviceRole {
    /// An existing interface.
    Uplink,
    /// A bond.
    Bond,
    /// A Linux bridge.
    Bridge,
    /// An 802.1Q subinterface.
    Vlan,
    /// One end of a veth pair (the `name` end).
    Veth,
    /// The `peer` end of a veth pair.
    VethPeer,
    /// A tap device.
    Tap,
    /// An Open vSwitch bridge (its internal interface carries the bridge's name).
    OvsBridge,
    /// An Open vSwitch fake bridge or internal port (an internal interface OVS makes).
    OvsInternal,
}

/// IP configuration of an interface Open vSwitch makes (an OVS bridge's own interface, a fake
/// bridge, an internal port). The device itself comes from the `ovs` section; this sets it up,
/// gives it exactly these addresses and routes, and optionally an MTU. Checked together with
/// the Linux part:
///
/// ```
/// use kvmhost_net::HostNetwork;
/// let net = HostNetwork::from_yaml(r#"
/// uplinks: [{name: eth0}]
/// ovs:
///   bridges:
///     - name: br0
///       ports: [{name: eth0, trunks: [100, 200], vlan_mode: trunk}]
///       fake_bridges: [{name: mgmt0, vlan: 100}, {name: cloudbr0, vlan: 200}]
/// ovs_interfaces:
///   - name: mgmt0
///     addresses: [192.168.42.11/24]
///     routes: [{gateway: 192.168.42.1}]
/// "#).unwrap();
/// net.validate().unwrap();
/// assert_eq!(net.ovs_port_bridge("eth0"), Some("br0"));
/// ```
///
/// ```
/// let i = kvmhost_net::OvsInterface::new("mgmt0");
/// assert!(i.addresses.is_empty() && i.routes.is_empty());
/// ```
pub type OvsInterface = IpInterface;

/// Parses YAML (JSON is YAML too), as [`HostNetwork::from_yaml`].
///
/// ```
/// use kvmhost_net::HostNetwork;
/// let net: HostNetwork = "bridges:\n  - name: cloudbr0\n".parse().unwrap();
/// assert_eq!(net.bridges[0].name, "cloudbr0");
/// assert_eq!(net.to_string().parse::<HostNetwork>().unwrap(), net);
/// ```
impl std::str::FromStr for HostNetwork {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::from_yaml(s)
    }
}

/// Writes YAML, as [`HostNetwork::to_yaml`].
impl std::fmt::Display for HostNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_norway::to_string(self).map_err(|_| std::fmt::Error)?)
    }
}
