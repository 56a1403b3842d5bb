//! A plan: the ordered steps that take a host from what it is to what a [`HostNetwork`] says,
//! each with the reason it is there and tagged by the backend that executes it ([`BackendKind`]:
//! netlink or OVSDB). Printable before anything is applied; every step prints as the
//! `ip`/`bridge`/`ovs-vsctl` command that does the same.
//!
//! [`HostNetwork`]: crate::HostNetwork

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::addr::{IpCidr, MacAddr};
use crate::model::{BondMode, LacpRate};
use crate::ovs::OvsStep;

/// One change to the kernel. Each kernel step is one netlink request (a tap is one ioctl
/// sequence on `/dev/net/tun`).
///
/// ```
/// use kvmhost_net::Step;
/// let s = Step::SetController { name: "eth0".into(), controller: Some("cloudbr0".into()) };
/// assert_eq!(s.to_string(), "ip link set eth0 master cloudbr0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Step {
    /// Create a Linux bridge, up.
    CreateBridge {
        /// Name.
        name: String,
        /// STP on.
        stp: bool,
        /// Forward delay in centiseconds, when set.
        forward_delay_cs: Option<u32>,
        /// VLAN filtering, when set.
        vlan_filtering: Option<bool>,
        /// MTU, when set.
        mtu: Option<u32>,
        /// MAC, when set.
        mac: Option<MacAddr>,
    },
    /// Create a veth pair, both ends up.
    CreateVeth {
        /// This end.
        name: String,
        /// The other end.
        peer: String,
        /// MTU of both ends, when set.
        mtu: Option<u32>,
        /// The bridge this end joins at creation.
        controller: Option<String>,
    },
    /// Create an 802.1Q subinterface, up.
    CreateVlan {
        /// Name.
        name: String,
        /// Lower device.
        parent: String,
        /// VLAN id.
        id: u16,
        /// MTU, when set.
        mtu: Option<u32>,
        /// The bridge it joins at creation.
        controller: Option<String>,
    },
    /// Create a bond, up and without members (they are enslaved by `SetController` steps,
    /// each set down first: the kernel enslaves only a link that is down).
    CreateBond {
        /// Name.
        name: String,
        /// Bonding mode.
        mode: BondMode,
        /// MII monitoring interval in milliseconds, when set.
        miimon: Option<u32>,
        /// LACP rate (802.3ad), when set.
        lacp_rate: Option<LacpRate>,
        /// MTU, when set.
        mtu: Option<u32>,
    },
    /// Change an existing bond's link monitoring or LACP rate (its mode is changed only by
    /// making it again).
    SetBond {
        /// Name.
        name: String,
        /// New MII monitoring interval in milliseconds, when it changes.
        miimon: Option<u32>,
        /// New LACP rate, when it changes.
        lacp_rate: Option<LacpRate>,
    },
    /// Create a persistent tap device (down, no bridge).
    CreateTap {
        /// Name.
        name: String,
    },
    /// Delete a link (a veth pair goes as a whole).
    DeleteLink {
        /// Name.
        name: String,
    },
    /// Set the MTU.
    SetMtu {
        /// Link.
        name: String,
        /// MTU.
        mtu: u32,
    },
    /// Set the MAC address.
    SetMac {
        /// Link.
        name: String,
        /// MAC.
        mac: MacAddr,
    },
    /// Change bridge settings.
    SetBridge {
        /// Bridge.
        name: String,
        /// STP, when it changes.
        stp: Option<bool>,
        /// Forward delay in centiseconds, when it changes.
        forward_delay_cs: Option<u32>,
        /// VLAN filtering, when it changes.
        vlan_filtering: Option<bool>,
    },
    /// Make a link a bridge port or bond member (`Some`) or release it (`None`).
    SetController {
        /// Link.
        name: String,
        /// The bridge.
        controller: Option<String>,
    },
    /// Set a link up or down.
    SetUp {
        /// Link.
        name: String,
        /// Up.
        up: bool,
    },
    /// Add a bridge VLAN entry to a port (or to the bridge itself: `self`).
    AddBridgeVlan {
        /// Port (or bridge).
        port: String,
        /// The entry.
        vid: u16,
        /// PVID flag.
        pvid: bool,
        /// Untagged flag.
        untagged: bool,
        /// The entry is the bridge's own (`bridge vlan add … self`).
        bridge_self: bool,
    },
    /// Remove a bridge VLAN entry.
    DelBridgeVlan {
        /// Port (or bridge).
        port: String,
        /// VLAN id.
        vid: u16,
        /// The entry is the bridge's own.
        bridge_self: bool,
    },
    /// Add an address.
    AddAddress {
        /// Link.
        device: String,
        /// Address.
        address: IpCidr,
    },
    /// Remove an address.
    DelAddress {
        /// Link.
        device: String,
        /// Address.
        address: IpCidr,
    },
    /// Add a route.
    AddRoute(RouteSpec),
    /// Remove a route.
    DelRoute(RouteSpec),
    /// Move a route onto another device in one request (`ip route replace`): the kernel swaps
    /// the route of the same destination and metric, so the route (the default route of a host
    /// whose address moves into a bridge) is never missing.
    ReplaceRoute {
        /// The device the route leaves.
        from: String,
        /// The route as it will be.
        route: RouteSpec,
    },
    /// An Open vSwitch change, written through OVSDB (the OVS steps of a plan share one
    /// transaction unless [`ApplyMode::Stepwise`](crate::ApplyMode::Stepwise) is asked for).
    Ovs {
        /// The change.
        change: OvsStep,
    },
}

/// The backend that executes a [`Step`].
///
/// ```
/// use kvmhost_net::{BackendKind, Step};
/// assert_eq!(Step::CreateTap { name: "t0".into() }.backend(), BackendKind::Netlink);
/// assert_eq!(BackendKind::Ovsdb.to_string(), "ovsdb");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// The kernel, over rtnetlink (and `/dev/net/tun` for taps).
    Netlink,
    /// Open vSwitch, over its database (RFC 7047).
    Ovsdb,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Netlink => "netlink",
            Self::Ovsdb => "ovsdb",
        })
    }
}

/// A route as a step adds or removes it.
///
/// ```
/// let r = kvmhost_net::RouteSpec::new("0.0.0.0/0".parse().unwrap(), Some("10.0.0.1".parse().unwrap()), "br0");
/// assert_eq!(r.to_string(), "default via 10.0.0.1 dev br0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RouteSpec {
    /// Destination.
    pub destination: IpCidr,
    /// Next hop.
    pub gateway: Option<IpAddr>,
    /// Output device.
    pub device: String,
    /// Metric, when set.
    pub metric: Option<u32>,
    /// `RTPROT_*`, when set (otherwise `static`).
    pub protocol: Option<u8>,
}

impl RouteSpec {
    /// A route with default metric and protocol.
    ///
    /// ```
    /// let r = kvmhost_net::RouteSpec::new("10.0.0.0/8".parse().unwrap(), None, "eth0");
    /// assert!(r.metric.is_none());
    /// ```
    pub fn new(destination: IpCidr, gateway: Option<IpAddr>, device: &str) -> Self {
        Self { destination, gateway, device: device.into(), metric: None, protocol: None }
    }
}

impl fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.destination.is_default() {
            write!(f, "default")?;
        } else {
            write!(f, "{}", self.destination)?;
        }
        if let Some(g) = self.gateway {
            write!(f, " via {g}")?;
        }
        write!(f, " dev {}", self.device)?;
        if let Some(m) = self.metric {
            write!(f, " metric {m}")?;
        }
        Ok(())
    }
}

impl Step {
    /// The link the step is about.
    ///
    /// ```
    /// assert_eq!(kvmhost_net::Step::CreateTap { name: "vnet0".into() }.device(), "vnet0");
    /// ```
    pub fn device(&self) -> &str {
        match self {
            Self::CreateBridge { name, .. }
            | Self::CreateVeth { name, .. }
            | Self::CreateVlan { name, .. }
            | Self::CreateBond { name, .. }
            | Self::SetBond { name, .. }
            | Self::CreateTap { name }
            | Self::DeleteLink { name }
            | Self::SetMtu { name, .. }
            | Self::SetMac { name, .. }
            | Self::SetBridge { name, .. }
            | Self::SetController { name, .. }
            | Self::SetUp { name, .. } => name,
            Self::AddBridgeVlan { port, .. } | Self::DelBridgeVlan { port, .. } => port,
            Self::AddAddress { device, .. } | Self::DelAddress { device, .. } => device,
            Self::AddRoute(r) | Self::DelRoute(r) | Self::ReplaceRoute { route: r, .. } => &r.device,
            Self::Ovs { change } => change.name(),
        }
    }

    /// The backend that executes the step.
    ///
    /// ```
    /// use kvmhost_net::{ovs::{FakeBridge, OvsStep}, BackendKind, Step};
    /// let change = OvsStep::AddFakeBridge { parent: "br0".into(), fake: FakeBridge::new("cloudbr0", 200) };
    /// let s = Step::Ovs { change };
    /// assert_eq!(s.backend(), BackendKind::Ovsdb);
    /// ```
    pub fn backend(&self) -> BackendKind {
        match self {
            Self::Ovs { .. } => BackendKind::Ovsdb,
            _ => BackendKind::Netlink,
        }
    }

    /// The command-line tool's command that does the same (`ip …`, `bridge …`, `ovs-vsctl …`).
    ///
    /// ```
    /// assert_eq!(kvmhost_net::Step::CreateTap { name: "t0".into() }.command(), "ip tuntap add t0 mode tap");
    /// ```
    pub fn command(&self) -> String {
        match self {
            Self::Ovs { change } => change.vsctl(),
            _ => self.to_string(),
        }
    }
}

fn opt<T: fmt::Display>(f: &mut fmt::Formatter<'_>, key: &str, v: &Option<T>) -> fmt::Result {
    match v {
        Some(v) => write!(f, " {key} {v}"),
        None => Ok(()),
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateBridge { name, stp, forward_delay_cs, vlan_filtering, mtu, mac } => {
                write!(f, "ip link add {name}")?;
                opt(f, "address", mac)?;
                opt(f, "mtu", mtu)?;
                write!(f, " up type bridge stp_state {}", u8::from(*stp))?;
                opt(f, "forward_delay", forward_delay_cs)?;
                opt(f, "vlan_filtering", &vlan_filtering.map(u8::from))
            }
            Self::CreateVeth { name, peer, mtu, controller } => {
                write!(f, "ip link add {name}")?;
                opt(f, "mtu", mtu)?;
                opt(f, "master", controller)?;
                write!(f, " up type veth peer name {peer}")?;
                opt(f, "mtu", mtu)
            }
            Self::CreateVlan { name, parent, id, mtu, controller } => {
                write!(f, "ip link add link {parent} name {name}")?;
                opt(f, "mtu", mtu)?;
                opt(f, "master", controller)?;
                write!(f, " up type vlan id {id}")
            }
            Self::CreateBond { name, mode, miimon, lacp_rate, mtu } => {
                write!(f, "ip link add {name}")?;
                opt(f, "mtu", mtu)?;
                write!(f, " up type bond mode {mode}")?;
                opt(f, "miimon", miimon)?;
                opt(f, "lacp_rate", lacp_rate)
            }
            Self::SetBond { name, miimon, lacp_rate } => {
                write!(f, "ip link set {name} type bond")?;
                opt(f, "miimon", miimon)?;
                opt(f, "lacp_rate", lacp_rate)
            }
            Self::CreateTap { name } => write!(f, "ip tuntap add {name} mode tap"),
            Self::DeleteLink { name } => write!(f, "ip link del {name}"),
            Self::SetMtu { name, mtu } => write!(f, "ip link set {name} mtu {mtu}"),
            Self::SetMac { name, mac } => write!(f, "ip link set {name} address {mac}"),
            Self::SetBridge { name, stp, forward_delay_cs, vlan_filtering } => {
                write!(f, "ip link set {name} type bridge")?;
                opt(f, "stp_state", &stp.map(u8::from))?;
                opt(f, "forward_delay", forward_delay_cs)?;
                opt(f, "vlan_filtering", &vlan_filtering.map(u8::from))
            }
            Self::SetController { name, controller: Some(c) } => write!(f, "ip link set {name} master {c}"),
            Self::SetController { name, controller: None } => write!(f, "ip link set {name} nomaster"),
            Self::SetUp { name, up } => write!(f, "ip link set {name} {}", if *up { "up" } else { "down" }),
            Self::AddBridgeVlan { port, vid, pvid, untagged, bridge_self } => {
                write!(f, "bridge vlan add dev {port} vid {vid}")?;
                if *pvid {
                    write!(f, " pvid")?;
                }
                if *untagged {
                    write!(f, " untagged")?;
                }
                if *bridge_self {
                    write!(f, " self")?;
                }
                Ok(())
            }
            Self::DelBridgeVlan { port, vid, bridge_self } => {
                write!(f, "bridge vlan del dev {port} vid {vid}{}", if *bridge_self { " self" } else { "" })
            }
            Self::AddAddress { device, address } => write!(f, "ip addr add {address} dev {device}"),
            Self::DelAddress { device, address } => write!(f, "ip addr del {address} dev {device}"),
            Self::AddRoute(r) => write!(f, "ip route add {r}"),
            Self::DelRoute(r) => write!(f, "ip route del {r}"),
            Self::ReplaceRoute { route, .. } => write!(f, "ip route replace {route}"),
            Self::Ovs { change } => write!(f, "OVS: {change}"),
        }
    }
}

/// A step with the reason it is in the plan.
///
/// ```
/// let net = kvmhost_net::HostNetwork::from_yaml("taps: [{name: t0}]").unwrap();
/// let plan = kvmhost_net::engine::plan_against(&net, &Default::default()).unwrap();
/// assert_eq!(plan.steps[0].step.to_string(), "ip tuntap add t0 mode tap");
/// assert!(plan.steps[0].reason.contains("taps[0]"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PlannedStep {
    /// The change.
    pub step: Step,
    /// Why it is needed.
    pub reason: String,
}

impl PlannedStep {
    /// A step with its reason.
    ///
    /// ```
    /// let p = kvmhost_net::PlannedStep::new(kvmhost_net::Step::CreateTap { name: "t0".into() }, "a test");
    /// assert_eq!(p.reason, "a test");
    /// ```
    pub fn new(step: Step, reason: impl Into<String>) -> Self {
        Self { step, reason: reason.into() }
    }
}

/// The ordered steps; empty when the namespace already is as wanted.
///
/// Order: remove routes and addresses that go away (and are not wanted on another device),
/// delete links, create links, change link settings, add addresses, enslave/release ports (a
/// link joining a bond first loses the addresses that moved off it, then goes down: the kernel
/// enslaves only links that are down), bridge VLANs, set links up, add routes (a route that moves to another device is replaced in
/// one request), remove the addresses that moved from the devices they left, and last delete
/// links that go away but held what moved (a rollback taking the host back off a bridge). So an
/// address or default route that moves is always somewhere: added before it is deleted.
///
/// ```
/// let p = kvmhost_net::Plan::default();
/// assert!(p.is_empty());
/// assert_eq!(p.to_string(), "nothing to do\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plan {
    /// The steps, in order: the Open vSwitch steps ([`BackendKind::Ovsdb`]) come first, so bridges
    /// and fake bridges exist before addresses and routes go onto their interfaces.
    pub steps: Vec<PlannedStep>,
}

impl Plan {
    /// Whether there is nothing to do.
    ///
    /// ```
    /// assert!(kvmhost_net::Plan::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Number of Open vSwitch steps (they come first in the numbering).
    ///
    /// ```
    /// assert_eq!(kvmhost_net::Plan::default().ovs_len(), 0);
    /// ```
    pub fn ovs_len(&self) -> usize {
        self.of(BackendKind::Ovsdb).count()
    }

    /// The steps one backend executes, in order.
    ///
    /// ```
    /// assert_eq!(kvmhost_net::Plan::default().of(kvmhost_net::BackendKind::Netlink).count(), 0);
    /// ```
    pub fn of(&self, backend: BackendKind) -> impl Iterator<Item = &PlannedStep> + '_ {
        self.steps.iter().filter(move |p| p.step.backend() == backend)
    }

    /// The Open vSwitch changes, in order.
    ///
    /// ```
    /// let net = kvmhost_net::HostNetwork::from_yaml("ovs: {bridges: [{name: br0}]}").unwrap();
    /// let p = kvmhost_net::engine::plan_against(&net, &Default::default()).unwrap();
    /// assert_eq!(p.ovs_changes()[0].name(), "br0");
    /// ```
    pub fn ovs_changes(&self) -> Vec<&OvsStep> {
        self.steps
            .iter()
            .filter_map(|p| match &p.step {
                Step::Ovs { change } => Some(change),
                _ => None,
            })
            .collect()
    }

    /// The step with this (0-based) number in the printed plan: OVS steps first.
    ///
    /// ```
    /// assert!(kvmhost_net::Plan::default().describe(0).is_none());
    /// ```
    pub fn describe(&self, index: usize) -> Option<String> {
        self.steps.get(index).map(|p| p.step.to_string())
    }

    /// Number of steps.
    ///
    /// ```
    /// assert_eq!(kvmhost_net::Plan::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub(crate) fn push(&mut self, step: Step, reason: impl Into<String>) {
        self.steps.push(PlannedStep { step, reason: reason.into() });
    }

    /// The steps as the shell commands that would do the same, one per line.
    ///
    /// ```
    /// assert!(kvmhost_net::Plan::default().to_script().starts_with("#!/bin/sh"));
    /// ```
    pub fn to_script(&self) -> String {
        let mut s = String::from("#!/bin/sh -e\n");
        for p in &self.steps {
            s.push_str(&p.step.command());
            s.push('\n');
        }
        s
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "nothing to do");
        }
        let width = self.len().to_string().len();
        for (i, p) in self.steps.iter().enumerate() {
            writeln!(f, "{:>width$}. {}", i + 1, p.step)?;
            writeln!(f, "{:>width$}  # {}", "", p.reason)?;
        }
        Ok(())
    }
}
