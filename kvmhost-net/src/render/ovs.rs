//! The `ovs` section of a [`HostNetwork`] in each format: the Open vSwitch stanzas of Debian's
//! openvswitch-switch ifupdown hooks and RHEL's `DEVICETYPE=ovs` ifcfg files (from the `ovs`
//! module's renderers), with the addresses, gateway, routes and MTU of `ovs_interfaces` and
//! OVS-attached uplinks merged in; for systemd-networkd, which has no Open vSwitch support, an
//! idempotent `ovs-vsctl` script (OVSDB keeps the configuration across reboots by itself).

use std::fmt::Write as _;

use super::{l3, route_words, RenderedFile};
use crate::model::HostNetwork;
use crate::ovs::{ifcfg_files, interfaces_stanzas, PortKind};

/// Devices the Linux renderers leave to this module: the interfaces OVS makes and its ports.
pub(crate) fn is_ovs_device(net: &HostNetwork, name: &str) -> bool {
    net.is_ovs_made(name) || net.ovs_port_bridge(name).is_some()
}

fn mtu_of(net: &HostNetwork, name: &str) -> Option<u32> {
    let o = net.ovs_interfaces.iter().find(|o| o.name == name).and_then(|o| o.mtu);
    o.or_else(|| net.uplinks.iter().find(|u| u.name == name).and_then(|u| u.mtu))
}

/// The OVS stanzas for `/etc/network/interfaces` (empty without an `ovs` section).
pub(crate) fn interfaces(net: &HostNetwork) -> String {
    let Some(cfg) = &net.ovs else { return String::new() };
    let mut s = String::new();
    for mut st in interfaces_stanzas(cfg) {
        let (addrs, routes) = l3(net, &st.name);
        let name = st.name.clone();
        let mut opt = |k: &str, v: String| st.options.push((k.to_string(), v));
        let v4: Vec<_> = addrs.iter().filter(|a| !a.is_ipv6()).collect();
        if let Some(a) = v4.first() {
            opt("address", a.to_string());
        }
        for r in routes.iter().filter(|r| r.destination.is_default() && !r.destination.is_ipv6()) {
            if let Some(g) = r.gateway {
                opt("gateway", g.to_string());
            }
        }
        if let Some(m) = mtu_of(net, &name) {
            opt("mtu", m.to_string());
        }
        for a in v4.iter().skip(1) {
            opt("up", format!("ip addr add {a} dev {name}"));
        }
        for a in addrs.iter().filter(|a| a.is_ipv6()) {
            opt("up", format!("ip -6 addr add {a} dev {name}"));
        }
        for r in routes.iter().filter(|r| !r.destination.is_default() || r.destination.is_ipv6()) {
            let six = if r.destination.is_ipv6() { "-6 " } else { "" };
            opt("up", format!("ip {six}route add {}", route_words(r, &name)));
        }
        if !v4.is_empty() {
            st.method = "static".into();
        }
        let _ = write!(s, "\n{st}");
    }
    s
}

/// The OVS `ifcfg-*` (and `route-*`) files (none without an `ovs` section).
pub(crate) fn ifcfg(net: &HostNetwork, dir: &str) -> Vec<RenderedFile> {
    let Some(cfg) = &net.ovs else { return Vec::new() };
    let mut out = Vec::new();
    for mut f in ifcfg_files(cfg) {
        let (addrs, routes) = l3(net, &f.name);
        let name = f.name.clone();
        for (i, a) in addrs.iter().filter(|a| !a.is_ipv6()).enumerate() {
            let n = if i == 0 { String::new() } else { i.to_string() };
            f.vars.push((format!("IPADDR{n}"), a.addr().to_string()));
            f.vars.push((format!("PREFIX{n}"), a.prefix().to_string()));
        }
        let v6: Vec<String> = addrs.iter().filter(|a| a.is_ipv6()).map(ToString::to_string).collect();
        if !v6.is_empty() {
            f.vars.push(("IPV6INIT".into(), "yes".into()));
            f.vars.push(("IPV6ADDR".into(), v6[0].clone()));
            if v6.len() > 1 {
                f.vars.push(("IPV6ADDR_SECONDARIES".into(), v6[1..].join(" ")));
            }
        }
        for r in routes.iter().filter(|r| r.destination.is_default()) {
            if let Some(g) = r.gateway {
                let key = if g.is_ipv6() { "IPV6_DEFAULTGW" } else { "GATEWAY" };
                f.vars.push((key.into(), g.to_string()));
            }
        }
        if let Some(m) = mtu_of(net, &name) {
            f.vars.push(("MTU".into(), m.to_string()));
        }
        out.push(RenderedFile { path: format!("{dir}/{}", f.file_name()), contents: f.to_string() });
        for six in [false, true] {
            let lines: Vec<String> = routes
                .iter()
                .filter(|r| !r.destination.is_default() && r.destination.is_ipv6() == six)
                .map(|r| route_words(r, &name))
                .collect();
            if !lines.is_empty() {
                let file = if six { "route6" } else { "route" };
                out.push(RenderedFile { path: format!("{dir}/{file}-{name}"), contents: lines.join("\n") + "\n" });
            }
        }
    }
    out
}

/// For systemd-networkd: an idempotent script making the OVS bridges, ports and fake bridges
/// (`ovs-vsctl --may-exist`), run once; the `.network` files of the interfaces are rendered
/// with the Linux devices.
pub(crate) fn vsctl_script(net: &HostNetwork) -> Option<RenderedFile> {
    let cfg = net.ovs.as_ref()?;
    let mut s = String::from(
        "#!/bin/sh -e\n# Open vSwitch part of the host network. systemd-networkd does not configure OVS;\n\
         # OVSDB keeps this configuration across reboots, so run this once (it is idempotent).\n",
    );
    for b in &cfg.bridges {
        let _ = write!(
            s,
            "ovs-vsctl --may-exist add-br {0} -- set bridge {0} datapath_type={1}",
            b.name,
            b.datapath_type.as_str()
        );
        if let Some(m) = b.fail_mode {
            let _ = write!(s, " fail_mode={}", m.as_str());
        }
        let _ = writeln!(s, " stp_enable={}", b.stp);
        for p in &b.ports {
            let p = b.resolved_port(p);
            let _ = write!(s, "ovs-vsctl --may-exist add-port {} {}", b.name, p.name);
            if let Some(t) = p.tag {
                let _ = write!(s, " tag={t}");
            }
            if !p.trunks.is_empty() {
                let t: Vec<String> = p.trunks.iter().map(u16::to_string).collect();
                let _ = write!(s, " trunks={}", t.join(","));
            }
            if let Some(m) = p.vlan_mode {
                let _ = write!(s, " vlan_mode={}", m.as_str());
            }
            match &p.kind {
                PortKind::System => {}
                PortKind::Patch { peer } => {
                    let _ = write!(s, " -- set interface {} type=patch options:peer={peer}", p.name);
                }
                k => {
                    let _ = write!(s, " -- set interface {} type={}", p.name, k.ovs_type());
                }
            }
            s.push('\n');
        }
        for f in &b.fake_bridges {
            let _ = writeln!(s, "ovs-vsctl --may-exist add-br {} {} {}", f.name, b.name, f.vlan);
        }
    }
    Some(RenderedFile { path: "/etc/openvswitch/kvmhost-ovs.sh".into(), contents: s })
}
