//! The bond and Open vSwitch checks of [`HostNetwork::validate`](crate::HostNetwork::validate).

use std::collections::BTreeMap;

use super::{check_ip_interface, check_mtu, check_routes, ValidationError};
use crate::model::{BondMode, DeviceRole, HostNetwork};
use crate::ovs::{OvsConfig, PortKind};

/// The kernel's bound of `miimon` (an `int` in milliseconds).
const MIIMON_MAX: u32 = i32::MAX as u32;

impl HostNetwork {
    /// The bond checks of [`HostNetwork::validate`](crate::HostNetwork::validate): options that fit the mode, members that
    /// are declared uplinks or veths, in one bond only, and no bridge or OVS port themselves.
    pub(super) fn validate_bonds(&self, out: &mut Vec<ValidationError>, role: &dyn Fn(&str) -> Option<DeviceRole>) {
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

    /// The OVS checks of [`HostNetwork::validate`](crate::HostNetwork::validate): the `ovs` section itself (fields prefixed
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
