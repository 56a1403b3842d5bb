//! RHEL network-scripts: `ifcfg-NAME` per device, `route-NAME`/`route6-NAME` for other routes.
//! A bond is `TYPE=Bond` with `BONDING_OPTS`; its members say `MASTER=` and `SLAVE=yes`.

use std::fmt::Write as _;

use super::{l3, route_words, RenderedFile};
use crate::model::{DeviceRole, HostNetwork};

const DIR: &str = "/etc/sysconfig/network-scripts";

/// The `ifcfg-*` and `route-*` files of `net`.
///
/// ```
/// use kvmhost_net::cloudstack::CloudStackLinux;
/// let net = CloudStackLinux::new("eth0", 100, 200, 300, "192.168.42.11/24".parse().unwrap(),
///     "192.168.42.1".parse().unwrap()).build();
/// let files = kvmhost_net::render::ifcfg::render(&net);
/// let v = files.iter().find(|f| f.path.ends_with("ifcfg-eth0.200")).unwrap();
/// assert!(v.contents.contains("VLAN=yes\n") && v.contents.contains("BRIDGE=cloudbr0\n"));
/// ```
pub fn render(net: &HostNetwork) -> Vec<RenderedFile> {
    let mut out = Vec::new();
    let mut done = std::collections::BTreeSet::new();
    for (name, role, _) in net.devices() {
        if !done.insert(name.clone()) || super::ovs::is_ovs_device(net, &name) {
            continue;
        }
        let mut s = String::new();
        let mut mtu = None;
        match role {
            DeviceRole::Veth | DeviceRole::VethPeer => {
                let v = net.veths.iter().find(|v| v.name == name || v.peer == name).expect("declared");
                let _ = writeln!(
                    s,
                    "# ifcfg has no veth type: create the pair first (ip link add {} type veth peer name {})",
                    v.name, v.peer
                );
                mtu = v.mtu;
            }
            DeviceRole::Tap => {
                let _ = writeln!(s, "# ifcfg has no tap type: create it first (ip tuntap add {name} mode tap)");
            }
            _ => {}
        }
        let _ = writeln!(s, "DEVICE={name}\nONBOOT=yes\nBOOTPROTO=none\nNM_CONTROLLED=no");
        match role {
            DeviceRole::Uplink => mtu = net.uplinks.iter().find(|u| u.name == name).and_then(|u| u.mtu),
            DeviceRole::Vlan => {
                let v = net.vlans.iter().find(|v| v.name == name).expect("declared");
                let _ = writeln!(s, "VLAN=yes\nPHYSDEV={}\nVLAN_ID={}", v.parent, v.id);
                mtu = v.mtu;
            }
            DeviceRole::Bond => {
                let b = net.bonds.iter().find(|b| b.name == name).expect("declared");
                let mut opts = format!("mode={}", b.mode);
                if let Some(ms) = b.miimon {
                    let _ = write!(opts, " miimon={ms}");
                }
                if let Some(r) = b.lacp_rate {
                    let _ = write!(opts, " lacp_rate={r}");
                }
                let _ = writeln!(s, "TYPE=Bond\nBONDING_MASTER=yes\nBONDING_OPTS=\"{opts}\"");
                mtu = b.mtu;
            }
            DeviceRole::Bridge => {
                let b = net.bridges.iter().find(|b| b.name == name).expect("declared");
                let _ = writeln!(s, "TYPE=Bridge\nSTP={}", if b.stp { "yes" } else { "no" });
                if let Some(fd) = b.forward_delay {
                    let _ = writeln!(s, "DELAY={fd}");
                }
                if let Some(m) = b.mac {
                    let _ = writeln!(s, "MACADDR={m}");
                }
                if b.vlan_filtering.is_some() {
                    let _ = writeln!(s, "BRIDGING_OPTS=\"vlan_filtering=1 default_pvid=0\"");
                }
                mtu = b.mtu;
            }
            _ => {}
        }
        if let Some(m) = mtu {
            let _ = writeln!(s, "MTU={m}");
        }
        if let Some(b) = net.bridge_of(&name) {
            let _ = writeln!(s, "BRIDGE={}", b.name);
        }
        if let Some(b) = net.bond_of(&name) {
            let _ = writeln!(s, "MASTER={}\nSLAVE=yes", b.name);
        }
        let (addrs, routes) = l3(net, &name);
        for (i, a) in addrs.iter().filter(|a| !a.is_ipv6()).enumerate() {
            let n = if i == 0 { String::new() } else { i.to_string() };
            let _ = writeln!(s, "IPADDR{n}={}\nPREFIX{n}={}", a.addr(), a.prefix());
        }
        let v6: Vec<String> = addrs.iter().filter(|a| a.is_ipv6()).map(|a| a.to_string()).collect();
        if !v6.is_empty() {
            let _ = writeln!(s, "IPV6INIT=yes\nIPV6ADDR={}", v6[0]);
            if v6.len() > 1 {
                let _ = writeln!(s, "IPV6ADDR_SECONDARIES=\"{}\"", v6[1..].join(" "));
            }
        }
        for r in routes.iter().filter(|r| r.destination.is_default()) {
            if let Some(g) = r.gateway {
                let key = if g.is_ipv6() { "IPV6_DEFAULTGW" } else { "GATEWAY" };
                let _ = writeln!(s, "{key}={g}");
            }
        }
        out.push(RenderedFile { path: format!("{DIR}/ifcfg-{name}"), contents: s });
        for v6 in [false, true] {
            let lines: Vec<String> = routes
                .iter()
                .filter(|r| !r.destination.is_default() && r.destination.is_ipv6() == v6)
                .map(|r| route_words(r, &name))
                .collect();
            if !lines.is_empty() {
                let file = if v6 { "route6" } else { "route" };
                out.push(RenderedFile { path: format!("{DIR}/{file}-{name}"), contents: lines.join("\n") + "\n" });
            }
        }
    }
    out.extend(super::ovs::ifcfg(net, DIR));
    out
}
