//! Checks of a [`HostNetwork`] made before anything touches the kernel. Every problem found is
//! reported (not only the first), each naming the field it is about (`bridges[1].ports[0]`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{BondMode, DeviceRole, HostNetwork, IpInterface, Route};
use crate::ovs::{OvsConfig, PortKind};

/// One problem in a [`HostNetwork`], with the path of the field it is about.
///
/// ```
/// use kvmhost_net::{HostNetwork, ValidationError};
/// let net = HostNetwork::from_yaml("vlans: [{name: eth0.5000, parent: eth0, id: 5000}]").unwrap();
/// let errors = net.validate().unwrap_err();
/// assert!(errors.iter().any(|e| matches!(e, ValidationError::VlanId { field, .. } if field == "vlans[0].id")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// An interface name the kernel refuses.
    #[error("{field}: interface name {name:?} is invalid: {reason}")]
    Name {
        /// Field path.
        field: String,
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A VLAN id outside 1..=4094.
    #[error("{field}: VLAN id {id} is outside 1..=4094")]
    VlanId {
        /// Field path.
        field: String,
        /// The id.
        id: u16,
    },
    /// A device name declared twice.
    #[error("{field}: {name:?} is already declared at {first}")]
    Duplicate {
        /// Field path of the second declaration.
        field: String,
        /// The name.
        name: String,
        /// Field path of the first declaration.
        first: String,
    },
    /// A reference to a device the model does not declare.
    #[error("{field}: {name:?} is not declared (declare it as an uplink, bond, bridge, VLAN, veth or tap)")]
    UnknownDevice {
        /// Field path of the reference.
        field: String,
        /// The name referred to.
        name: String,
    },
    /// A port listed by two bridges, or a bridge enslaved to a bridge.
    #[error("{field}: {port:?} cannot be a port here: {reason}")]
    Port {
        /// Field path.
        field: String,
        /// The port.
        port: String,
        /// Why.
        reason: String,
    },
    /// The same address declared twice (on one device or two).
    #[error("{field}: address {address} is also declared at {other}")]
    AddressConflict {
        /// Field path of the second declaration.
        field: String,
        /// The address.
        address: String,
        /// Field path of the first.
        other: String,
    },
    /// An address on a device that is a bridge port: it would be left on the wrong device
    /// (the classic mistake: the uplink keeps the address that belongs on the bridge).
    #[error("{field}: address {address} is on {device}, a port of bridge {bridge}; put it on {bridge}")]
    AddressOnPort {
        /// Field path.
        field: String,
        /// The address.
        address: String,
        /// The port holding it.
        device: String,
        /// The bridge it belongs on.
        bridge: String,
    },
    /// An address that cannot be a host address.
    #[error("{field}: {address} is not usable as an interface address: {reason}")]
    Address {
        /// Field path.
        field: String,
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// An MTU outside 68..=65535.
    #[error("{field}: MTU {mtu} is outside 68..=65535")]
    Mtu {
        /// Field path.
        field: String,
        /// The MTU.
        mtu: u32,
    },
    /// A route that cannot be right.
    #[error("{field}: {reason}")]
    Route {
        /// Field path.
        field: String,
        /// Why.
        reason: String,
    },
    /// A bridge setting out of range or inconsistent.
    #[error("{field}: {reason}")]
    Bridge {
        /// Field path.
        field: String,
        /// Why.
        reason: String,
    },
    /// A VLAN listed twice in an OVS port's `trunks`, or two fake bridges on one VLAN of a parent.
    #[error("{field}: VLAN {vlan} appears twice")]
    DuplicateVlan {
        /// Field path.
        field: String,
        /// The id.
        vlan: u16,
    },
    /// An OVS patch port whose peer is not a patch port of this configuration pointing back.
    #[error("{field}: patch peer {peer:?} is not a patch port of this configuration whose peer is this port")]
    UnknownPeer {
        /// Field path.
        field: String,
        /// The peer named.
        peer: String,
    },
    /// An OVS port plugged into a fake bridge its bridge does not have.
    #[error("{field}: {parent:?} is not a fake bridge of this bridge")]
    UnknownParent {
        /// Field path.
        field: String,
        /// The fake bridge named.
        parent: String,
    },
    /// A bond member that cannot be one: not an uplink or veth of the model, already a member
    /// of another bond, a bridge port or an OVS port itself, or declaring addresses or routes
    /// (they belong on the bond).
    #[error("{field}: {member:?} cannot be a member of bond {bond}: {reason}")]
    BondMember {
        /// Field path.
        field: String,
        /// The member.
        member: String,
        /// The bond.
        bond: String,
        /// Why.
        reason: String,
    },
    /// A bond option out of range, or one its mode does not have (`lacp_rate` outside 802.3ad).
    #[error("{field}: {reason}")]
    BondOption {
        /// Field path.
        field: String,
        /// Why.
        reason: String,
    },
    /// An OVS port's `tag`/`trunks` that contradict its `vlan_mode`.
    #[error("{field}: {reason}")]
    VlanModeConflict {
        /// Field path.
        field: String,
        /// What contradicts.
        reason: String,
    },
}

impl ValidationError {
    /// The path of the field the error is about.
    ///
    /// ```
    /// let e = kvmhost_net::ValidationError::Mtu { field: "bridges[0].mtu".into(), mtu: 1 };
    /// assert_eq!(e.field(), "bridges[0].mtu");
    /// ```
    pub fn field(&self) -> &str {
        match self {
            Self::Name { field, .. }
            | Self::VlanId { field, .. }
            | Self::Duplicate { field, .. }
            | Self::UnknownDevice { field, .. }
            | Self::Port { field, .. }
            | Self::AddressConflict { field, .. }
            | Self::AddressOnPort { field, .. }
            | Self::Address { field, .. }
            | Self::Mtu { field, .. }
            | Self::Route { field, .. }
            | Self::Bridge { field, .. }
            | Self::DuplicateVlan { field, .. }
            | Self::UnknownPeer { field, .. }
            | Self::UnknownParent { field, .. }
            | Self::BondMember { field, .. }
            | Self::BondOption { field, .. }
            | Self::VlanModeConflict { field, .. } => field,
        }
    }

    /// The same error with its field path under `prefix` (`ovs.` + `bridges[0].name`).
    ///
    /// ```
    /// let e = kvmhost_net::ValidationError::Mtu { field: "bridges[0].mtu".into(), mtu: 1 };
    /// assert_eq!(e.under("ovs.").field(), "ovs.bridges[0].mtu");
    /// ```
    pub fn under(mut self, prefix: &str) -> Self {
        let field = match &mut self {
            Self::Name { field, .. }
            | Self::VlanId { field, .. }
            | Self::Duplicate { field, .. }
            | Self::UnknownDevice { field, .. }
            | Self::Port { field, .. }
            | Self::AddressConflict { field, .. }
            | Self::AddressOnPort { field, .. }
            | Self::Address { field, .. }
            | Self::Mtu { field, .. }
            | Self::Route { field, .. }
            | Self::Bridge { field, .. }
            | Self::DuplicateVlan { field, .. }
            | Self::UnknownPeer { field, .. }
            | Self::UnknownParent { field, .. }
            | Self::BondMember { field, .. }
            | Self::BondOption { field, .. }
            | Self::VlanModeConflict { field, .. } => field,
        };
        field.insert_str(0, prefix);
        self
    }
}

/// The one name rule (Linux devices and Open vSwitch alike): an interface name as the kernel
/// checks it (`dev_valid_name`): 1..=15 bytes, not `.` or `..`, no `/`, `:` or whitespace.
///
/// ```
/// assert!(kvmhost_net::validate::check_name("cloudbr0").is_ok());
/// assert!(kvmhost_net::validate::check_name("a-name-far-too-long").is_err());
/// ```
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > 15 {
        return Err(format!("it is {} bytes long, at most 15 are allowed", name.len()));
    }
    if name == "." || name == ".." {
        return Err("`.` and `..` are reserved".into());
    }
    if let Some(c) = name.chars().find(|c| *c == '/' || *c == ':' || c.is_whitespace() || c.is_control()) {
        return Err(format!("it contains {c:?}"));
    }
    Ok(())
}

/// The error for `name` at `field`, if the name breaks [`check_name`].
///
/// ```
/// use kvmhost_net::validate::name_error;
/// assert!(name_error("bridges[0].name", "br/0").is_some());
/// ```
pub fn name_error(field: &str, name: &str) -> Option<ValidationError> {
    check_name(name).err().map(|reason| ValidationError::Name { field: field.into(), name: name.into(), reason })
}

/// The one MTU rule: 68 (IPv4's minimum) ..= 65535.
pub(crate) fn check_mtu(out: &mut Vec<ValidationError>, field: String, mtu: Option<u32>) {
    if let Some(mtu) = mtu {
        if !(68..=65535).contains(&mtu) {
            out.push(ValidationError::Mtu { field, mtu });
        }
    }
}

/// The MTU and routes of an uplink or OVS interface (one type: [`IpInterface`]).
fn check_ip_interface(out: &mut Vec<ValidationError>, field: &str, i: &IpInterface) {
    check_mtu(out, format!("{field}.mtu"), i.mtu);
    check_routes(out, field, &i.routes);
}

fn check_routes(out: &mut Vec<ValidationError>, base: &str, routes: &[Route]) {
    let mut defaults: BTreeMap<(bool, Option<u32>), usize> = BTreeMap::new();
    for (i, r) in routes.iter().enumerate() {
        let field = format!("{base}.routes[{i}]");
        if let Some(gw) = r.gateway {
            if gw.is_ipv6() != r.destination.is_ipv6() {
                out.push(ValidationError::Route {
                    field: format!("{field}.gateway"),
                    reason: format!("gateway {gw} is not of the family of destination {}", r.destination),
                });
            }
            if gw.is_unspecified() || gw.is_multicast() {
                out.push(ValidationError::Route {
                    field: format!("{field}.gateway"),
                    reason: format!("{gw} cannot be a gateway"),
                });
            }
        }
        if r.destination.network() != r.destination {
            out.push(ValidationError::Route {
                field: format!("{field}.destination"),
                reason: format!("{} has host bits set (did you mean {}?)", r.destination, r.destination.network()),
            });
        }
        if r.destination.is_default() {
            if let Some(j) = defaults.insert((r.destination.is_ipv6(), r.metric), i) {
                out.push(ValidationError::Route {
                    field,
                    reason: format!("a second default route with the same metric ({base}.routes[{j}] is the first)"),
                });
            }
        }
    }
}

/// Every problem [`HostNetwork::validate`] found (at least one), as one error: `?` propagates
/// it, its message lists each problem (`; `-separated), and it reads as a slice of
/// [`ValidationError`]s.
///
/// ```
/// fn check(yaml: &str) -> Result<(), Box<dyn std::error::Error>> {
///     kvmhost_net::HostNetwork::from_yaml(yaml)?.validate()?;
///     Ok(())
/// }
/// let e = check("vlans: [{name: eth0.5000, parent: eth0, id: 5000}]").unwrap_err();
/// assert!(e.to_string().contains("vlans[0].id: VLAN id 5000 is outside 1..=4094"), "{e}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// The problems, in the order found.
    pub fn into_vec(self) -> Vec<ValidationError> {
        self.0
    }
}

impl std::ops::Deref for ValidationErrors {
    type Target = [ValidationError];
    fn deref(&self) -> &[ValidationError] {
        &self.0
    }
}

impl From<ValidationErrors> for Vec<ValidationError> {
    fn from(e: ValidationErrors) -> Vec<ValidationError> {
        e.0
    }
}

impl From<ValidationErrors> for crate::Error {
    fn from(e: ValidationErrors) -> crate::Error {
        crate::Error::Invalid(e.0)
    }
}

impl IntoIterator for ValidationErrors {
    type Item = ValidationError;
    type IntoIter = std::vec::IntoIter<ValidationError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl HostNetwork {
    /// Checks the whole model and returns every problem found.
    ///
    /// ```
    /// let net = kvmhost_net::HostNetwork::from_yaml(r#"
    /// uplinks: [{name: eth0, addresses: [192.168.42.11/24]}]
    /// bridges: [{name: cloudbr0, ports: [eth0]}]
    /// "#).unwrap();
    /// let errors = net.validate().unwrap_err();
    /// assert_eq!(errors[0].field(), "uplinks[0].addresses[0]");
    /// ```
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut out = Vec::new();
        let devices = self.devices();
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        let is_ovs = |r: &DeviceRole| matches!(r, DeviceRole::OvsBridge | DeviceRole::OvsInternal);
        let mut first_role: BTreeMap<&str, DeviceRole> = BTreeMap::new();
        for (name, role, field) in &devices {
            let name_field = if *role == DeviceRole::VethPeer { field.clone() } else { format!("{field}.name") };
            // Names inside the OVS section are checked by its own validation.
            if is_ovs(role) && first_role.get(name.as_str()).is_none_or(is_ovs) {
                first_role.entry(name).or_insert(*role);
                seen.entry(name).or_insert(field);
                continue;
            }
            if let Err(reason) = check_name(name) {
                out.push(ValidationError::Name { field: name_field.clone(), name: name.clone(), reason });
            }
            if let Some(first) = seen.insert(name, field) {
                out.push(ValidationError::Duplicate {
                    field: name_field,
                    name: name.clone(),
                    first: first.to_string(),
                });
                seen.insert(name, first);
            }
            first_role.entry(name).or_insert(*role);
        }
        self.validate_ovs(&mut out);
        let role = |n: &str| devices.iter().find(|(d, _, _)| d == n).map(|(_, r, _)| *r);

        for (i, u) in self.uplinks.iter().enumerate() {
            check_ip_interface(&mut out, &format!("uplinks[{i}]"), u);
        }
        for (i, v) in self.vlans.iter().enumerate() {
            if !(1..=4094).contains(&v.id) {
                out.push(ValidationError::VlanId { field: format!("vlans[{i}].id"), id: v.id });
            }
            match role(&v.parent) {
                None => out.push(ValidationError::UnknownDevice {
                    field: format!("vlans[{i}].parent"),
                    name: v.parent.clone(),
                }),
                Some(DeviceRole::Vlan) if v.parent == v.name => out.push(ValidationError::UnknownDevice {
                    field: format!("vlans[{i}].parent"),
                    name: v.parent.clone(),
                }),
                Some(_) => {}
            }
            check_mtu(&mut out, format!("vlans[{i}].mtu"), v.mtu);
            check_routes(&mut out, &format!("vlans[{i}]"), &v.routes);
        }
        let mut parent_ids: BTreeMap<(&str, u16), usize> = BTreeMap::new();
        for (i, v) in self.vlans.iter().enumerate() {
            if let Some(j) = parent_ids.insert((&v.parent, v.id), i) {
                out.push(ValidationError::Duplicate {
                    field: format!("vlans[{i}].id"),
                    name: format!("VLAN {} on {}", v.id, v.parent),
                    first: format!("vlans[{j}]"),
                });
            }
        }
        for (i, v) in self.veths.iter().enumerate() {
            check_mtu(&mut out, format!("veths[{i}].mtu"), v.mtu);
            check_routes(&mut out, &format!("veths[{i}]"), &v.routes);
        }
        for (i, t) in self.taps.iter().enumerate() {
            check_mtu(&mut out, format!("taps[{i}].mtu"), t.mtu);
        }

        self.validate_bonds(&mut out, &role);

        let mut port_owner: BTreeMap<&str, String> = BTreeMap::new();
        for (i, b) in self.bridges.iter().enumerate() {
            check_mtu(&mut out, format!("bridges[{i}].mtu"), b.mtu);
            check_routes(&mut out, &format!("bridges[{i}]"), &b.routes);
            if let Some(fd) = b.forward_delay {
                let range = if b.stp { 2..=30 } else { 0..=30 };
                if !range.contains(&fd) {
                    out.push(ValidationError::Bridge {
                        field: format!("bridges[{i}].forward_delay"),
                        reason: format!(
                            "forward delay {fd} s is outside {}..={} s{}",
                            range.start(),
                            range.end(),
                            if b.stp { " (STP is on)" } else { "" }
                        ),
                    });
                }
            }
            if let Some(mac) = b.mac {
                if mac.is_multicast() || mac.octets() == [0; 6] {
                    out.push(ValidationError::Bridge {
                        field: format!("bridges[{i}].mac"),
                        reason: format!("{mac} cannot be an interface address"),
                    });
                }
            }
            for (j, p) in b.ports.iter().enumerate() {
                let field = format!("bridges[{i}].ports[{j}]");
                match role(p) {
                    None => out.push(ValidationError::UnknownDevice { field, name: p.clone() }),
                    Some(DeviceRole::Bridge) => out.push(ValidationError::Port {
                        field,
                        port: p.clone(),
                        reason: "a Linux bridge cannot be a port of another bridge".into(),
                    }),
                    Some(DeviceRole::OvsBridge | DeviceRole::OvsInternal) => out.push(ValidationError::Port {
                        field,
                        port: p.clone(),
                        reason: "an Open vSwitch internal interface cannot be a port of a Linux bridge".into(),
                    }),
                    Some(_) => {
                        if let Some(first) = port_owner.insert(p, field.clone()) {
                            out.push(ValidationError::Port {
                                field,
                                port: p.clone(),
                                reason: format!("it is already a port at {first}"),
                            });
                        }
                    }
                }
            }
            if let Some(f) = &b.vlan_filtering {
                for (j, pv) in f.ports.iter().enumerate() {
                    let field = format!("bridges[{i}].vlan_filtering.ports[{j}]");
                    if pv.port != b.name && !b.ports.contains(&pv.port) {
                        out.push(ValidationError::UnknownDevice {
                            field: format!("{field}.port"),
                            name: pv.port.clone(),
                        });
                    }
                    for (k, id) in pv.vids.iter().enumerate() {
                        if !(1..=4094).contains(id) {
                            out.push(ValidationError::VlanId { field: format!("{field}.vids[{k}]"), id: *id });
                        }
                    }
                    if let Some(id) = pv.pvid {
                        if !(1..=4094).contains(&id) {
                            out.push(ValidationError::VlanId { field: format!("{field}.pvid"), id });
                        }
                    }
                    for (k, id) in pv.untagged.iter().enumerate() {
                        if !pv.vids.contains(id) && pv.pvid != Some(*id) {
                            out.push(ValidationError::Bridge {
                                field: format!("{field}.untagged[{k}]"),
                                reason: format!("VLAN {id} is untagged but not among the port's vids or pvid"),
                            });
                        }
                    }
                }
            }
        }

        // Addresses: well-formed, not declared twice, not on a bridge port.
        let mut addr_seen: BTreeMap<std::net::IpAddr, String> = BTreeMap::new();
        let mut names_done = BTreeSet::new();
        for (name, _, _) in &devices {
            if !names_done.insert(name.clone()) {
                continue;
            }
            let (addrs, base) = self.addresses_of(name);
            for (k, a) in addrs.iter().enumerate() {
                let field = format!("{base}[{k}]");
                if a.is_network_address() {
                    out.push(ValidationError::Address {
                        field: field.clone(),
                        address: a.to_string(),
                        reason: "it is the network address of its prefix".into(),
                    });
                }
                if a.addr().is_unspecified() || a.addr().is_multicast() {
                    out.push(ValidationError::Address {
                        field: field.clone(),
                        address: a.to_string(),
                        reason: "unspecified and multicast addresses cannot be assigned".into(),
                    });
                }
                if let Some(other) = addr_seen.insert(a.addr(), field.clone()) {
                    out.push(ValidationError::AddressConflict {
                        field: field.clone(),
                        address: a.to_string(),
                        other: other.clone(),
                    });
                    addr_seen.insert(a.addr(), other);
                }
                if let Some(b) = self.bridge_of(name) {
                    out.push(ValidationError::AddressOnPort {
                        field,
                        address: a.to_string(),
                        device: name.clone(),
                        bridge: b.name.clone(),
                    });
                }
            }
            if let Some(b) = self.bond_of(name) {
                for (k, a) in addrs.iter().enumerate() {
                    out.push(ValidationError::BondMember {
                        field: format!("{base}[{k}]"),
                        member: name.clone(),
                        bond: b.name.clone(),
                        reason: format!("a bond member carries no address: put {a} on {}", b.name),
                    });
                }
                for (k, _) in self.routes_of(name).iter().enumerate() {
                    let base = base.trim_end_matches(".addresses");
                    out.push(ValidationError::BondMember {
                        field: format!("{base}.routes[{k}]"),
                        member: name.clone(),
                        bond: b.name.clone(),
                        reason: format!("a bond member carries no route: put it on {}", b.name),
                    });
                }
            }
            if self.bridge_of(name).is_some() {
                for (k, _) in self.routes_of(name).iter().enumerate() {
                    let base = base.trim_end_matches(".addresses");
                    out.push(ValidationError::Route {
                        field: format!("{base}.routes[{k}]"),
                        reason: format!("{name} is a bridge port: its routes belong on the bridge"),
                    });
                }
            }
        }
        if out.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(out))
        }
    }
}

/// The kernel's bound of `miimon` (an `int` in milliseconds).
const MIIMON_MAX: u32 = i32::MAX as u32;

impl HostNetwork {
    /// The bond checks of [`HostNetwork::validate`]: options that fit the mode, members that
    /// are declared uplinks or veths, in one bond only, and no bridge or OVS port themselves.
    fn validate_bonds(&self, out: &mut Vec<ValidationError>, role: &dyn Fn(&str) -> Option<DeviceRole>) {
        let mut member_of: BTreeMap<&str, String> = BTreeMap::new();
        for (i, b) in self.bonds.iter().enumerate() {
            check_mtu(out, format!("bonds[{i}].mtu"), b.mtu);
            check_routes(out, &format!("bonds[{i}]"), &b.routes);
            if let Some(ms) = b.miimon.filter(|ms| *ms > MIIMON_MAX) {
                out.push(ValidationError::BondOption {
                    field: format!("bonds[{i}].miimon"),
                    reason: format!("miimon {ms} ms is outside 0..={MIIMON_MAX} ms"),
                });
            }
            if let (Some(rate), false) = (b.lacp_rate, b.mode == BondMode::Ieee8023ad) {
                out.push(ValidationError::BondOption {
                    field: format!("bonds[{i}].lacp_rate"),
                    reason: format!("lacp_rate {rate} needs mode 802.3ad (the mode is {})", b.mode),
                });
            }
            for (j, m) in b.members.iter().enumerate() {
                let field = format!("bonds[{i}].members[{j}]");
                let refuse = |reason: String| ValidationError::BondMember {
                    field: field.clone(),
                    member: m.clone(),
                    bond: b.name.clone(),
                    reason,
                };
                match role(m) {
                    None => {
                        out.push(ValidationError::UnknownDevice { field: field.clone(), name: m.clone() });
                        continue;
                    }
                    Some(DeviceRole::Uplink | DeviceRole::Veth | DeviceRole::VethPeer) => {}
                    Some(r) => {
                        let what = serde_json::to_value(r).ok().and_then(|v| v.as_str().map(String::from));
                        out.push(refuse(format!(
                            "only uplinks and veths can be members (it is declared as {})",
                            what.unwrap_or_default()
                        )));
                        continue;
                    }
                }
                if let Some(first) = member_of.insert(m, field.clone()) {
                    out.push(refuse(format!("it is already a member at {first}")));
                    member_of.insert(m, first);
                }
                if let Some(br) = self.bridge_of(m) {
                    out.push(refuse(format!("it is a port of bridge {}: make the bond the port", br.name)));
                }
                if let Some(br) = self.ovs_port_bridge(m) {
                    out.push(refuse(format!("it is a port of OVS bridge {br}: make the bond the port")));
                }
            }
        }
    }

    /// The OVS checks of [`HostNetwork::validate`]: the `ovs` section itself (fields prefixed
    /// `ovs.`), `ovs_interfaces` naming interfaces OVS makes, ports shared with Linux bridges,
    /// addresses and routes left on a device that became an OVS port.
    pub(crate) fn validate_ovs(&self, out: &mut Vec<ValidationError>) {
        if let Some(cfg) = &self.ovs {
            out.extend(cfg.validation_errors().into_iter().map(|e| e.under("ovs.")));
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
            check_ip_interface(out, &field, o);
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
