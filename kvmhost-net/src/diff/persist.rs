//! What the partial-state rule keeps, written into the model so the renderers persist it.

use super::Desired;
use crate::addr::IpCidr;
use crate::model::{HostNetwork, Route};
use crate::state::NetState;

impl HostNetwork {
    /// The model with the addresses and routes the partial-state rule keeps written in: those
    /// of the families a device does not declare, as `current` holds them — where they stay,
    /// or on the device they move along to (an uplink's IPv6 address onto the bridge it
    /// becomes a port of). Render this one so the files written carry what the apply keeps:
    /// a host whose IPv6 address moved onto `br0` gets it back on `br0` after a reboot.
    ///
    /// ```
    /// use kvmhost_net::{render::{render, Format}, HostNetwork, LinkKind, LinkState, NetState};
    /// let net = HostNetwork::from_yaml("uplinks: [{name: eth0}]\n\
    ///     bridges: [{name: br0, ports: [eth0], addresses: [192.168.42.11/24]}]").unwrap();
    /// let mut eth0 = LinkState::new("eth0", LinkKind::Other { kind: String::new() });
    /// eth0.addresses = vec!["192.168.42.11/24".parse().unwrap(), "fd00:42::11/64".parse().unwrap()];
    /// let mut state = NetState::default();
    /// state.links.insert("eth0".into(), eth0);
    /// let kept = net.with_kept_addresses(&state);
    /// assert_eq!(kept.bridges[0].addresses.len(), 2); // the IPv6 address moved along
    /// let files = render(&kept, Format::Interfaces);
    /// assert!(files[0].contents.contains("fd00:42::11/64"));
    /// ```
    pub fn with_kept_addresses(&self, current: &NetState) -> HostNetwork {
        let desired = Desired::from_model(self);
        let settled = desired.settle(current);
        let mut out = self.clone();
        for (before, after) in desired.links.iter().zip(settled.links.iter()) {
            let added: Vec<IpCidr> = match (&before.addresses, &after.addresses) {
                (Some(b), Some(a)) => a.difference(b).copied().collect(),
                _ => vec![],
            };
            let routes: Vec<Route> = match (&before.routes, &after.routes) {
                (Some(b), Some(a)) => a
                    .iter()
                    .filter(|r| !b.contains(r))
                    .map(|r| {
                        let mut route = Route::new(r.destination, r.gateway);
                        route.metric = r.metric.filter(|m| *m != 0 && !(r.destination.is_ipv6() && *m == 1024));
                        route
                    })
                    .collect(),
                _ => vec![],
            };
            if added.is_empty() && routes.is_empty() {
                continue;
            }
            if let Some((addresses, rs)) = out.ip_of_mut(&after.name) {
                addresses.extend(added);
                if let Some(rs) = rs {
                    rs.extend(routes);
                }
            }
        }
        out
    }

    /// The addresses and (except a veth's peer) routes of the device named `name`.
    fn ip_of_mut(&mut self, name: &str) -> Option<(&mut Vec<IpCidr>, Option<&mut Vec<Route>>)> {
        if let Some(d) = self.uplinks.iter_mut().chain(self.ovs_interfaces.iter_mut()).find(|d| d.name == name) {
            return Some((&mut d.addresses, Some(&mut d.routes)));
        }
        if let Some(d) = self.bonds.iter_mut().find(|d| d.name == name) {
            return Some((&mut d.addresses, Some(&mut d.routes)));
        }
        if let Some(d) = self.bridges.iter_mut().find(|d| d.name == name) {
            return Some((&mut d.addresses, Some(&mut d.routes)));
        }
        if let Some(d) = self.vlans.iter_mut().find(|d| d.name == name) {
            return Some((&mut d.addresses, Some(&mut d.routes)));
        }
        for d in &mut self.veths {
            if d.name == name {
                return Some((&mut d.addresses, Some(&mut d.routes)));
            }
            if d.peer == name {
                return Some((&mut d.peer_addresses, None));
            }
        }
        None
    }
}
