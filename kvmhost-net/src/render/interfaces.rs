//! Debian ifupdown: one `/etc/network/interfaces` (bridge-utils, vlan and ifenslave package
//! syntax: a bond lists its members with `bond-slaves`, which stay `inet manual`; the
//! VLAN-aware bridge keys are ifupdown2's).

use std::fmt::Write as _;

use super::{l3, route_words, RenderedFile};
use crate::model::{DeviceRole, HostNetwork};

/// `/etc/network/interfaces` for `net`.
///
/// ```
/// use kvmhost_net::cloudstack::CloudStackLinux;
/// let net = CloudStackLinux::new("eth0", 100, 200, 300, "192.168.42.11/24".parse().unwrap(),
///     "192.168.42.1".parse().unwrap()).build();
/// let text = &kvmhost_net::render::interfaces::render(&net)[0].contents;
/// assert!(text.contains("iface eth0.100 inet static\n    address 192.168.42.11/24\n    gateway 192.168.42.1"));
/// assert!(text.contains("    bridge_ports eth0.200\n"));
/// ```
pub fn render(net: &HostNetwork) -> Vec<RenderedFile> {
    let mut s = String::from("auto lo\niface lo inet loopback\n");
    let mut done = std::collections::BTreeSet::new();
    for (name, role, _) in net.devices() {
        if !done.insert(name.clone()) || role == DeviceRole::VethPeer || super::ovs::is_ovs_device(net, &name) {
            continue;
        }
        let (addrs, routes) = l3(net, &name);
        let v4: Vec<_> = addrs.iter().filter(|a| !a.is_ipv6()).collect();
        let v6: Vec<_> = addrs.iter().filter(|a| a.is_ipv6()).collect();
        let method = if v4.is_empty() { "manual" } else { "static" };
        let _ = write!(s, "\nauto {name}\niface {name} inet {method}\n");
        if let Some(a) = v4.first() {
            let _ = writeln!(s, "    address {a}");
        }
        for r in routes.iter().filter(|r| r.destination.is_default() && !r.destination.is_ipv6()) {
            if let Some(g) = r.gateway {
                let _ = writeln!(s, "    gateway {g}");
            }
        }
        match role {
            DeviceRole::Uplink => {
                if let Some(m) = net.uplinks.iter().find(|u| u.name == name).and_then(|u| u.mtu) {
                    let _ = writeln!(s, "    mtu {m}");
                }
            }
            DeviceRole::Bond => {
                let b = net.bonds.iter().find(|b| b.name == name).expect("declared");
                let members = if b.members.is_empty() { "none".to_string() } else { b.members.join(" ") };
                let _ = writeln!(s, "    bond-slaves {members}\n    bond-mode {}", b.mode);
                if let Some(ms) = b.miimon {
                    let _ = writeln!(s, "    bond-miimon {ms}");
                }
                if let Some(r) = b.lacp_rate {
                    let _ = writeln!(s, "    bond-lacp-rate {r}");
                }
                if let Some(m) = b.mtu {
                    let _ = writeln!(s, "    mtu {m}");
                }
            }
            DeviceRole::Vlan => {
                let v = net.vlans.iter().find(|v| v.name == name).expect("declared");
                let _ = writeln!(s, "    vlan-raw-device {}", v.parent);
                if let Some(m) = v.mtu {
                    let _ = writeln!(s, "    mtu {m}");
                }
            }
            DeviceRole::Bridge => {
                let b = net.bridges.iter().find(|b| b.name == name).expect("declared");
                let ports = if b.ports.is_empty() { "none".to_string() } else { b.ports.join(" ") };
                let _ = writeln!(s, "    bridge_ports {ports}");
                if let Some(fd) = b.forward_delay {
                    let _ = writeln!(s, "    bridge_fd {fd}");
                }
                let _ = writeln!(s, "    bridge_stp {}\n    bridge_maxwait 1", if b.stp { "on" } else { "off" });
                if let Some(m) = b.mtu {
                    let _ = writeln!(s, "    mtu {m}");
                }
                if let Some(m) = b.mac {
                    let _ = writeln!(s, "    hwaddress ether {m}");
                }
                if b.vlan_filtering.is_some() {
                    let _ = writeln!(s, "    bridge-vlan-aware yes");
                }
            }
            DeviceRole::Veth => {
                let v = net.veths.iter().find(|v| v.name == name).expect("declared");
                let _ = writeln!(s, "    pre-up ip link add {name} type veth peer name {} || true", v.peer);
                let _ = writeln!(s, "    up ip link set {} up", v.peer);
                for a in &v.peer_addresses {
                    let _ = writeln!(s, "    up ip addr add {a} dev {}", v.peer);
                }
                let _ = writeln!(s, "    post-down ip link del {name}");
            }
            DeviceRole::Tap => {
                let _ = writeln!(s, "    pre-up ip tuntap add {name} mode tap || true");
                let _ = writeln!(s, "    post-down ip tuntap del {name} mode tap");
            }
            _ => {}
        }
        for b in &net.bridges {
            let Some(f) = &b.vlan_filtering else { continue };
            for pv in f.ports.iter().filter(|p| p.port == name) {
                if !pv.vids.is_empty() {
                    let vids: Vec<String> = pv.vids.iter().map(u16::to_string).collect();
                    let _ = writeln!(s, "    bridge-vids {}", vids.join(" "));
                }
                if let Some(p) = pv.pvid {
                    let _ = writeln!(s, "    bridge-pvid {p}");
                }
            }
        }
        for a in v4.iter().skip(1) {
            let _ = writeln!(s, "    up ip addr add {a} dev {name}");
        }
        for r in routes.iter().filter(|r| !r.destination.is_default()) {
            let _ = writeln!(s, "    up ip route add {}", route_words(r, &name));
        }
        if !v6.is_empty() {
            let _ = write!(s, "\niface {name} inet6 static\n    address {}\n", v6[0]);
            for r in routes.iter().filter(|r| r.destination.is_default() && r.destination.is_ipv6()) {
                if let Some(g) = r.gateway {
                    let _ = writeln!(s, "    gateway {g}");
                }
            }
            for a in v6.iter().skip(1) {
                let _ = writeln!(s, "    up ip -6 addr add {a} dev {name}");
            }
        }
    }
    s.push_str(&super::ovs::interfaces(net));
    vec![RenderedFile { path: "/etc/network/interfaces".into(), contents: s }]
}
