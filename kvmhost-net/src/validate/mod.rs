//! Checks of a [`HostNetwork`] made before anything touches the kernel. Every problem found is
//! reported (not only the first), each naming the field it is about (`bridges[1].ports[0]`).

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{DeviceRole, HostNetwork, IpInterface, Route};

mod error;
mod parts;

pub use error::{ValidationError, ValidationErrors};

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
