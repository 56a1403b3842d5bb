//! The observed state of a network namespace, as the kernel reports it: links with their kind,
//! MTU, MAC, up flag, bridge (controller), addresses and bridge VLANs; routes of the main table.
//! Pure data: reading it is the netlink edge's job ([`crate::netlink`]).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::addr::{IpCidr, MacAddr};
use crate::model::{BondMode, LacpRate};

/// Everything [`crate::Engine::read_state`] sees in a namespace.
///
/// ```
/// let s = kvmhost_net::NetState::default();
/// assert!(s.link("eth0").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NetState {
    /// Links by name.
    pub links: BTreeMap<String, LinkState>,
    /// Routes of the main table (IPv6 link-local and multicast routes left out), sorted.
    pub routes: Vec<RouteState>,
}

impl NetState {
    /// The link of that name.
    ///
    /// ```
    /// assert!(kvmhost_net::NetState::default().link("lo").is_none());
    /// ```
    pub fn link(&self, name: &str) -> Option<&LinkState> {
        self.links.get(name)
    }

    /// Routes through a device.
    ///
    /// ```
    /// assert_eq!(kvmhost_net::NetState::default().routes_on("eth0").count(), 0);
    /// ```
    pub fn routes_on<'a>(&'a self, device: &'a str) -> impl Iterator<Item = &'a RouteState> + 'a {
        self.routes.iter().filter(move |r| r.device == device)
    }

    /// The same state with interface indexes zeroed, to compare two snapshots of a namespace in
    /// which links were deleted and made again.
    ///
    /// ```
    /// let s = kvmhost_net::NetState::default();
    /// assert_eq!(s.without_indexes(), s);
    /// ```
    pub fn without_indexes(&self) -> NetState {
        let mut s = self.clone();
        for l in s.links.values_mut() {
            l.index = 0;
        }
        s
    }

    /// As YAML (what the CLI's `show` prints).
    ///
    /// ```
    /// assert!(kvmhost_net::NetState::default().to_yaml().contains("links"));
    /// ```
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_default()
    }

    /// Parses the YAML [`NetState::to_yaml`] writes (and the `host_network` example's `show`
    /// prints): a host's state read elsewhere, to plan against with [`crate::engine::plan_against`].
    ///
    /// ```
    /// use kvmhost_net::{LinkKind, LinkState, NetState};
    /// let mut s = NetState::default();
    /// s.links.insert("eth0".into(), LinkState::new("eth0", LinkKind::Other { kind: String::new() }));
    /// assert_eq!(NetState::from_yaml(&s.to_yaml()).unwrap(), s);
    /// assert!(NetState::from_yaml("links: 1").is_err());
    /// ```
    pub fn from_yaml(s: &str) -> Result<Self, crate::Error> {
        serde_norway::from_str(s).map_err(|e| crate::Error::Parse { format: "YAML", message: e.to_string() })
    }
}

/// One link.
///
/// ```
/// let l = kvmhost_net::LinkState::new("br0", kvmhost_net::LinkKind::Other { kind: String::new() });
/// assert!(!l.up);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LinkState {
    /// Name.
    pub name: String,
    /// Interface index.
    pub index: u32,
    /// Kind and kind-specific settings.
    pub kind: LinkKind,
    /// MTU.
    pub mtu: u32,
    /// MAC address, when the link has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddr>,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// The bridge this link is a port of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// Addresses (IPv6 link-local ones left out), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpCidr>,
    /// Bridge VLAN entries of this port (or of the bridge itself), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vlans: Vec<VlanEntry>,
}

impl LinkState {
    /// A link with nothing set (MTU 1500, down).
    ///
    /// ```
    /// assert_eq!(kvmhost_net::LinkState::new("x", kvmhost_net::LinkKind::Tap).mtu, 1500);
    /// ```
    pub fn new(name: &str, kind: LinkKind) -> Self {
        Self {
            name: name.into(),
            index: 0,
            kind,
            mtu: 1500,
            mac: None,
            up: false,
            controller: None,
            addresses: vec![],
            vlans: vec![],
        }
    }
}

/// The kind of a link, with the settings this library manages.
///
/// ```
/// let k = kvmhost_net::LinkKind::Vlan { parent: Some("eth0".into()), id: 200 };
/// assert_eq!(k.name(), "vlan");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LinkKind {
    /// A Linux bridge.
    Bridge {
        /// STP on.
        stp: bool,
        /// Forward delay in centiseconds (the kernel's clock_t unit).
        forward_delay_cs: u32,
        /// VLAN filtering on.
        vlan_filtering: bool,
    },
    /// One end of a veth pair.
    Veth {
        /// The other end, when it is in the same namespace.
        peer: Option<String>,
    },
    /// An 802.1Q subinterface.
    Vlan {
        /// The lower device.
        parent: Option<String>,
        /// VLAN id.
        id: u16,
    },
    /// A bond, with the settings the kernel reports (`None` where it reports none).
    Bond {
        /// Its mode; `None` for a mode the model does not name (balance-rr, broadcast,
        /// balance-tlb, balance-alb).
        mode: Option<BondMode>,
        /// MII link monitoring interval, in milliseconds.
        miimon: Option<u32>,
        /// LACP rate (802.3ad).
        lacp_rate: Option<LacpRate>,
    },
    /// A tap device.
    Tap,
    /// Anything else (`kind` empty for physical devices and loopback).
    Other {
        /// The kernel's kind string (`IFLA_INFO_KIND`).
        kind: String,
    },
}

impl LinkKind {
    /// The kernel's kind name (`bridge`, `veth`, `vlan`, `tun`, …).
    ///
    /// ```
    /// assert_eq!(kvmhost_net::LinkKind::Tap.name(), "tun");
    /// ```
    pub fn name(&self) -> &str {
        match self {
            Self::Bridge { .. } => "bridge",
            Self::Veth { .. } => "veth",
            Self::Vlan { .. } => "vlan",
            Self::Bond { .. } => "bond",
            Self::Tap => "tun",
            Self::Other { kind } => kind,
        }
    }
}

/// One bridge VLAN entry of a port (`bridge vlan show`).
///
/// ```
/// let e = kvmhost_net::VlanEntry { vid: 200, pvid: false, untagged: false };
/// assert_eq!(e.vid, 200);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VlanEntry {
    /// VLAN id.
    pub vid: u16,
    /// Untagged ingress goes to this VLAN.
    pub pvid: bool,
    /// Egress untagged.
    pub untagged: bool,
}

/// One route of the main table.
///
/// ```
/// let r = kvmhost_net::RouteState::new("0.0.0.0/0".parse().unwrap(), Some("10.0.0.1".parse().unwrap()), "eth0");
/// assert_eq!(r.metric, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RouteState {
    /// Destination network.
    pub destination: IpCidr,
    /// Next hop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Output device.
    pub device: String,
    /// Metric (priority).
    pub metric: u32,
    /// Who installed it (`RTPROT_*`: 2 kernel, 3 boot, 4 static, …).
    pub protocol: u8,
    /// Scope (`RT_SCOPE_*`: 0 universe, 253 link, …).
    pub scope: u8,
}

/// `RTPROT_KERNEL`: routes the kernel makes for an address (connected routes).
pub const RTPROT_KERNEL: u8 = 2;
/// `RTPROT_BOOT`: what `ip route add` uses when not told otherwise.
pub const RTPROT_BOOT: u8 = 3;
/// `RTPROT_STATIC`: administrator routes (this library's routes).
pub const RTPROT_STATIC: u8 = 4;

impl RouteState {
    /// A static route (protocol `static`, metric 0, scope chosen by gateway).
    ///
    /// ```
    /// let r = kvmhost_net::RouteState::new("10.0.0.0/8".parse().unwrap(), None, "br0");
    /// assert_eq!(r.scope, 253);
    /// ```
    pub fn new(destination: IpCidr, gateway: Option<IpAddr>, device: &str) -> Self {
        Self {
            destination,
            gateway,
            device: device.into(),
            metric: 0,
            protocol: RTPROT_STATIC,
            scope: if gateway.is_some() { 0 } else { 253 },
        }
    }

    /// Whether the kernel made this route for an address (it comes and goes with the address).
    ///
    /// ```
    /// let mut r = kvmhost_net::RouteState::new("10.0.0.0/8".parse().unwrap(), None, "br0");
    /// r.protocol = 2;
    /// assert!(r.is_kernel());
    /// ```
    pub fn is_kernel(&self) -> bool {
        self.protocol == RTPROT_KERNEL
    }
}
