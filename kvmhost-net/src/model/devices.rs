//! The devices the model creates: bonds, Linux bridges (with VLAN filtering), 802.1Q VLANs,
//! veth pairs and taps.

use serde::{Deserialize, Serialize};

use super::Route;
use crate::addr::{IpCidr, IpFamily, MacAddr};

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
