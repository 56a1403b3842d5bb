//! systemd-networkd: a `.netdev` per created device, a `.network` per device (a bond is
//! `Kind=bond` with a `[Bond]` section; each member's `.network` says `Bond=`).

use std::fmt::Write as _;

use super::{l3, RenderedFile};
use crate::model::{Bridge, DeviceRole, HostNetwork};

const DIR: &str = "/etc/systemd/network";

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn netdev(name: &str, kind: &str, mtu: Option<u32>, extra: &str) -> RenderedFile {
    let mut s = format!("[NetDev]\nName={name}\nKind={kind}\n");
    if let Some(m) = mtu {
        let _ = writeln!(s, "MTUBytes={m}");
    }
    s.push_str(extra);
    RenderedFile { path: format!("{DIR}/10-{name}.netdev"), contents: s }
}

fn bridge_vlans(net: &HostNetwork, port: &str) -> String {
    let mut s = String::new();
    for b in &net.bridges {
        let Some(f) = &b.vlan_filtering else { continue };
        for pv in f.ports.iter().filter(|p| p.port == port) {
            for v in &pv.vids {
                let _ = writeln!(s, "\n[BridgeVLAN]\nVLAN={v}");
                if pv.untagged.contains(v) {
                    let _ = writeln!(s, "EgressUntagged={v}");
                }
            }
            if let Some(p) = pv.pvid {
                let _ = writeln!(s, "\n[BridgeVLAN]\nPVID={p}\nEgressUntagged={p}");
            }
        }
    }
    s
}

fn bridge_netdev(b: &Bridge) -> RenderedFile {
    let mut extra = String::new();
    if let Some(m) = b.mac {
        let _ = writeln!(extra, "MACAddress={m}");
    }
    let _ = writeln!(extra, "\n[Bridge]\nSTP={}", yes(b.stp));
    if let Some(fd) = b.forward_delay {
        let _ = writeln!(extra, "ForwardDelaySec={fd}");
    }
    if b.vlan_filtering.is_some() {
        let _ = writeln!(extra, "VLANFiltering=yes\nDefaultPVID=none");
    }
    netdev(&b.name, "bridge", b.mtu, &extra)
}

/// The `.netdev` and `.network` files of `net`.
///
/// ```
/// use kvmhost_net::cloudstack::CloudStackLinux;
/// let net = CloudStackLinux::new("eth0", 100, 200, 300, "192.168.42.11/24".parse().unwrap(),
///     "192.168.42.1".parse().unwrap()).build();
/// let files = kvmhost_net::render::networkd::render(&net);
/// let eth0 = files.iter().find(|f| f.path.ends_with("20-eth0.network")).unwrap();
/// assert!(eth0.contents.contains("VLAN=eth0.200"));
/// ```
pub fn render(net: &HostNetwork) -> Vec<RenderedFile> {
    let mut out = Vec::new();
    for b in &net.bridges {
        out.push(bridge_netdev(b));
    }
    for b in &net.bonds {
        let mut extra = format!("\n[Bond]\nMode={}\n", b.mode);
        if let Some(ms) = b.miimon {
            let _ = writeln!(extra, "MIIMonitorSec={ms}ms");
        }
        if let Some(r) = b.lacp_rate {
            let _ = writeln!(extra, "LACPTransmitRate={r}");
        }
        out.push(netdev(&b.name, "bond", b.mtu, &extra));
    }
    for v in &net.vlans {
        out.push(netdev(&v.name, "vlan", v.mtu, &format!("\n[VLAN]\nId={}\n", v.id)));
    }
    for v in &net.veths {
        out.push(netdev(&v.name, "veth", v.mtu, &format!("\n[Peer]\nName={}\n", v.peer)));
    }
    for t in &net.taps {
        out.push(netdev(&t.name, "tap", t.mtu, ""));
    }
    let mut done = std::collections::BTreeSet::new();
    for (name, role, _) in net.devices() {
        if !done.insert(name.clone()) {
            continue;
        }
        let mut s = format!("[Match]\nName={name}\n");
        if let (DeviceRole::Uplink, Some(m)) = (role, net.uplinks.iter().find(|u| u.name == name).and_then(|u| u.mtu)) {
            let _ = writeln!(s, "\n[Link]\nMTUBytes={m}");
        }
        s.push_str("\n[Network]\n");
        if matches!(role, DeviceRole::Bridge | DeviceRole::OvsBridge | DeviceRole::OvsInternal) {
            s.push_str("ConfigureWithoutCarrier=yes\n");
        }
        let (addrs, routes) = l3(net, &name);
        if addrs.is_empty() {
            s.push_str("LinkLocalAddressing=no\n");
        }
        for v in net.vlans.iter().filter(|v| v.parent == name) {
            let _ = writeln!(s, "VLAN={}", v.name);
        }
        if let Some(b) = net.bridge_of(&name) {
            let _ = writeln!(s, "Bridge={}", b.name);
        }
        if let Some(b) = net.bond_of(&name) {
            let _ = writeln!(s, "Bond={}", b.name);
        }
        for a in &addrs {
            let _ = writeln!(s, "Address={a}");
        }
        for r in &routes {
            s.push_str("\n[Route]\n");
            if !r.destination.is_default() {
                let _ = writeln!(s, "Destination={}", r.destination);
            }
            if let Some(g) = r.gateway {
                let _ = writeln!(s, "Gateway={g}");
            }
            if let Some(m) = r.metric {
                let _ = writeln!(s, "Metric={m}");
            }
        }
        s.push_str(&bridge_vlans(net, &name));
        out.push(RenderedFile { path: format!("{DIR}/20-{name}.network"), contents: s });
    }
    out.extend(super::ovs::vsctl_script(net));
    out
}
