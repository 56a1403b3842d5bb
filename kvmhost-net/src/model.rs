//! The declarative model: a [`HostNetwork`] says which Linux bridges, bonds, VLAN devices, veth
//! pairs and taps a host should have, which devices are their ports, and which addresses and routes
//! each carries. It loads from YAML, JSON or TOML and is checked by [`HostNetwork::validate`]
//! before anything touches the kernel.
//!
//! Open vSwitch bridges are the `ovs` section (an [`OvsConfig`](crate::ovs::OvsConfig), planned
//! as OVSDB steps before the netlink ones); the addresses and routes of the interfaces OVS makes
//! are in `ovs_interfaces` (an [`OvsInterface`]).

use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::addr::{IpCidr, IpFamily, MacAddr};
use crate::ovs::PortKind;
use crate::Error;

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

/// A bond (`ip link add NAME type bond mode MODE miimon MS [lacp_rate RATE]`) over `members`,
/// each enslaved down and set up again (`ip link set eth1 master bond0`). Like a bridge port, a
/// member hands its addresses and routes over to the bond. A bond can be a bridge port and
/// carry VLANs (`vlans[].parent`) like an uplink.
///
/// The kernel enslaves only a link that is down: a host reached through a member alone is
/// unreachable from the moment that member goes down until it is up in the bond (the address
/// is on the bond before, the routes follow right after). The settings of a bond that already
/// exists are read back: another `miimon` or `lacp_rate` is changed in place (`ip link set bond0
/// type bond miimon 100`); another mode is a conflict (the kernel changes it only on a bond that
/// is down and has no members).
///
/// ```
/// use kvmhost_net::{BondMode, HostNetwork, LacpRate};
/// let net = HostNetwork::from_yaml(r#"
/// uplinks: [{name: eth1}, {name: eth2}]
/// bonds:
///   - name: bond0
///     mode: 802.3ad
///     miimon: 100
///     lacp_rate: fast
///     members: [eth1, eth2]
///     addresses: [192.168.42.11/24]
/// "#).unwrap();
/// net.validate().unwrap();
/// assert_eq!(net.bonds[0].mode, BondMode::Ieee8023ad);
/// assert_eq!(net.bonds[0].lacp_rate, Some(LacpRate::Fast));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Bond {
    /// Interface name.
    pub name: String,
    /// Bonding mode.
    pub mode: BondMode,
    /// MII link monitoring interval in milliseconds (`miimon`); the kernel default (0, off)
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miimon: Option<u32>,
    /// LACPDU rate asked of the partner (`lacp_rate`); 802.3ad only, the kernel default
    /// (slow) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lacp_rate: Option<LacpRate>,
    /// Members: names of uplinks or veths of this model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// MTU; left as it is when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Addresses (of each family listed here, exactly these).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpCidr>,
    /// Routes through this bond, the default gateway included.
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

impl Bond {
    /// A bond in `mode` with no members, miimon and LACP rate left to the kernel.
    ///
    /// ```
    /// let b = kvmhost_net::Bond::new("bond0", kvmhost_net::BondMode::ActiveBackup);
    /// assert!(b.members.is_empty() && b.miimon.is_none());
    /// ```
    pub fn new(name: &str, mode: BondMode) -> Self {
        Self {
            name: name.into(),
            mode,
            miimon: None,
            lacp_rate: None,
            members: vec![],
            mtu: None,
            addresses: vec![],
            routes: vec![],
            owns: vec![],
        }
    }
}

/// A bonding mode, written as the kernel and iproute2 name it.
///
/// ```
/// use kvmhost_net::BondMode;
/// assert_eq!(BondMode::Ieee8023ad.to_string(), "802.3ad");
/// assert_eq!("balance-xor".parse::<BondMode>().unwrap(), BondMode::BalanceXor);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum BondMode {
    /// `active-backup` (mode 1): one member carries traffic, another takes over on failure.
    #[serde(rename = "active-backup")]
    ActiveBackup,
    /// `balance-xor` (mode 2): a member chosen by a hash of each flow.
    #[serde(rename = "balance-xor")]
    BalanceXor,
    /// `802.3ad` (mode 4): LACP link aggregation with the switch.
    #[serde(rename = "802.3ad")]
    Ieee8023ad,
}

impl BondMode {
    /// The name iproute2 and the kernel's sysfs use (`active-backup`, `802.3ad`, …).
    ///
    /// ```
    /// assert_eq!(kvmhost_net::BondMode::ActiveBackup.as_str(), "active-backup");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ActiveBackup => "active-backup",
            Self::BalanceXor => "balance-xor",
            Self::Ieee8023ad => "802.3ad",
        }
    }
}

impl std::fmt::Display for BondMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for BondMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "active-backup" => Ok(Self::ActiveBackup),
            "balance-xor" => Ok(Self::BalanceXor),
            "802.3ad" => Ok(Self::Ieee8023ad),
            other => Err(format!("unknown bond mode {other:?} (active-backup, balance-xor, 802.3ad)")),
        }
    }
}

/// The rate at which an 802.3ad bond asks its partner to send LACPDUs (`lacp_rate`).
///
/// ```
/// assert_eq!(kvmhost_net::LacpRate::Fast.to_string(), "fast");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LacpRate {
    /// Every 30 seconds (the kernel default).
    Slow,
    /// Every second.
    Fast,
}

impl LacpRate {
    /// `slow` or `fast`.
    ///
    /// ```
    /// assert_eq!(kvmhost_net::LacpRate::Slow.as_str(), "slow");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slow => "slow",
            Self::Fast => "fast",
        }
    }
}

impl std::fmt::Display for LacpRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Linux bridge (`ip link add NAME type bridge`).
///
/// ```
/// let b = kvmhost_net::Bridge::new("cloudbr0");
/// assert!(!b.stp);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Bridge {
    /// Interface name.
    pub name: String,
    /// Spanning tree on (`stp_state 1`).
    #[serde(default)]
    pub stp: bool,
    /// Forward delay in seconds (`bridge_fd`); the kernel default (15) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_delay: Option<u32>,
    /// MTU; left as it is when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// MAC address; left as the kernel chooses when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddr>,
    /// Ports: names of uplinks, VLANs, veths or taps of this model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    /// Addresses (of each family listed here, exactly these).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpCidr>,
    /// Routes through this bridge, the default gateway included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// Address families whose addresses and routes on this device are exactly the declared
    /// ones even when none of that family is declared (`[ipv4, ipv6]`). A family with an address
    /// declared owns its addresses, one with a route declared its routes; any other is left as
    /// it is (nmstate's partial-state rule), or moves along when the device hands its addresses
    /// over (a bridge port, or a device whose address is declared elsewhere).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owns: Vec<IpFamily>,
    /// Bridge VLAN filtering (`vlan_filtering 1` and `bridge vlan add`); none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_filtering: Option<VlanFiltering>,
}

impl Bridge {
    /// A bridge with STP off, no ports and no addresses.
    ///
    /// ```
    /// assert!(kvmhost_net::Bridge::new("br0").ports.is_empty());
    /// ```
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            stp: false,
            forward_delay: None,
            mtu: None,
            mac: None,
            ports: vec![],
            addresses: vec![],
            routes: vec![],
            owns: vec![],
            vlan_filtering: None,
        }
    }
}

/// VLAN filtering on a Linux bridge: which VLANs each port carries.
///
/// ```
/// let f = kvmhost_net::VlanFiltering::default();
/// assert!(f.ports.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct VlanFiltering {
    /// Per-port VLAN membership (a port may be the bridge itself, for its own addresses).
    pub ports: Vec<PortVlans>,
}

/// VLANs of one bridge port (`bridge vlan add dev PORT vid N [pvid] [untagged]`).
///
/// ```
/// let p = kvmhost_net::PortVlans::new("eth0", &[200, 300]);
/// assert_eq!(p.vids, vec![200, 300]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PortVlans {
    /// The port (or the bridge's own name for its `self` entries).
    pub port: String,
    /// Tagged VLAN ids.
    #[serde(default)]
    pub vids: Vec<u16>,
    /// Port VLAN id: untagged frames in are put on this VLAN (it is added as `pvid untagged`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvid: Option<u16>,
    /// VLANs among `vids` that leave the port untagged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untagged: Vec<u16>,
}

impl PortVlans {
    /// A port carrying the given VLANs tagged.
    ///
    /// ```
    /// assert_eq!(kvmhost_net::PortVlans::new("vnet0", &[5]).pvid, None);
    /// ```
    pub fn new(port: &str, vids: &[u16]) -> Self {
        Self { port: port.into(), vids: vids.to_vec(), pvid: None, untagged: vec![] }
    }
}

/// An 802.1Q VLAN subinterface (`ip link add link PARENT name NAME type vlan id ID`).
///
/// ```
/// let v = kvmhost_net::Vlan::new("eth0.200", "eth0", 200);
/// assert_eq!(v.id, 200);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Vlan {
    /// Interface name (`eth0.200`).
    pub name: String,
    /// The device the VLAN is tagged on.
    pub parent: String,
    /// VLAN id, 1..=4094.
    pub id: u16,
    /// MTU; left as it is when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Addresses (of each family listed here, exactly these).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpCidr>,
    /// Routes through this VLAN device.
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

impl Vlan {
    /// A VLAN subinterface with no addresses.
    ///
    /// ```
    /// assert_eq!(kvmhost_net::Vlan::new("eth0.100", "eth0", 100).parent, "eth0");
    /// ```
    pub fn new(name: &str, parent: &str, id: u16) -> Self {
        Self {
            name: name.into(),
            parent: parent.into(),
            id,
            mtu: None,
            addresses: vec![],
            routes: vec![],
            owns: vec![],
        }
    }
}

/// A veth pair (`ip link add NAME type veth peer name PEER`).
///
/// ```
/// let v = kvmhost_net::Veth::new("veth0", "veth0p");
/// assert_eq!(v.peer, "veth0p");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Veth {
    /// Name of this end.
    pub name: String,
    /// Name of the other end.
    pub peer: String,
    /// MTU of both ends; left as it is when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Addresses of this end (exactly these).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpCidr>,
    /// Addresses of the peer end (exactly these).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peer_addresses: Vec<IpCidr>,
    /// Routes through this end.
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

impl Veth {
    /// A veth pair with no addresses.
    ///
    /// ```
    /// assert!(kvmhost_net::Veth::new("a", "b").addresses.is_empty());
    /// ```
    pub fn new(name: &str, peer: &str) -> Self {
        Self {
            name: name.into(),
            peer: peer.into(),
            mtu: None,
            addresses: vec![],
            peer_addresses: vec![],
            routes: vec![],
            owns: vec![],
        }
    }
}

/// A persistent tap device (`ip tuntap add NAME mode tap`).
///
/// ```
/// assert_eq!(kvmhost_net::Tap::new("vnet0").name, "vnet0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Tap {
    /// Interface name.
    pub name: String,
    /// MTU; left as it is when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
}

impl Tap {
    /// A tap device.
    ///
    /// ```
    /// assert_eq!(kvmhost_net::Tap::new("tap1").mtu, None);
    /// ```
    pub fn new(name: &str) -> Self {
        Self { name: name.into(), mtu: None }
    }
}

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
