//! Persistent configuration files for the Open vSwitch part: Debian `/etc/network/interfaces`
//! stanzas (openvswitch-switch's ifupdown hooks) and RHEL `ifcfg-*` files (`DEVICETYPE=ovs`).
//!
//! A fake bridge is written as an internal port with `tag=VLAN fake_bridge=true`, which both
//! hooks pass to `ovs-vsctl add-port`: the result is the same row `ovs-vsctl add-br NAME PARENT
//! VLAN` creates.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::model::{DatapathType, OvsBridge, OvsConfig, OvsPort, PortKind};

/// One `iface` stanza of `/etc/network/interfaces`.
///
/// Callers holding addresses for an interface (e.g. `mgmt0`) change `method` to `static` and
/// push `address`/`gateway` options.
///
/// ```
/// use kvmhost_net::ovs::{interfaces_stanzas, CloudStackOvs, OvsConfig};
/// let mut st = interfaces_stanzas(&OvsConfig::cloudstack(&CloudStackOvs::new("eth0")));
/// let mgmt = st.iter_mut().find(|s| s.name == "mgmt0").unwrap();
/// mgmt.method = "static".into();
/// mgmt.options.push(("address".into(), "192.168.42.11/24".into()));
/// assert!(mgmt.to_string().contains("iface mgmt0 inet static\n    ovs_bridge br0\n"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfacesStanza {
    /// Interface name.
    pub name: String,
    /// The `allow-…` class (`ovs` for bridges, the bridge's name for its ports).
    pub allow: String,
    /// Address method (`manual`, `static`, `dhcp`).
    pub method: String,
    /// Options in order.
    pub options: Vec<(String, String)>,
}

impl fmt::Display for InterfacesStanza {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "allow-{} {}", self.allow, self.name)?;
        writeln!(f, "iface {} inet {}", self.name, self.method)?;
        for (k, v) in &self.options {
            writeln!(f, "    {k} {v}")?;
        }
        Ok(())
    }
}

fn port_options(port: &OvsPort) -> Vec<String> {
    let mut o = Vec::new();
    if let Some(t) = port.tag {
        o.push(format!("tag={t}"));
    }
    if !port.trunks.is_empty() {
        o.push(format!("trunks={}", port.trunks.iter().map(u16::to_string).collect::<Vec<_>>().join(",")));
    }
    if let Some(m) = port.vlan_mode {
        o.push(format!("vlan_mode={}", m.as_str()));
    }
    o
}

/// `set bridge NAME …` settings beyond a plain `add-br` (datapath, fail mode, STP).
fn bridge_extra(b: &OvsBridge) -> Vec<String> {
    let mut o = Vec::new();
    if b.datapath_type == DatapathType::Netdev {
        o.push("datapath_type=netdev".to_string());
    }
    if let Some(m) = b.fail_mode {
        o.push(format!("fail_mode={}", m.as_str()));
    }
    if b.stp {
        o.push("stp_enable=true".to_string());
    }
    o
}

/// The stanzas: each bridge (`ovs_type OVSBridge`, `ovs_ports`), then its ports (`OVSPort`,
/// `OVSIntPort`, `OVSPatchPort` with `ovs_bridge` and `ovs_options tag=…`) and fake bridges.
///
/// ```
/// use kvmhost_net::ovs::{interfaces_stanzas, CloudStackOvs, OvsConfig};
/// let st = interfaces_stanzas(&OvsConfig::cloudstack(&CloudStackOvs::new("eth0")));
/// assert_eq!(st.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["br0", "eth0", "mgmt0", "cloudbr0", "cloudbr1"]);
/// ```
pub fn interfaces_stanzas(cfg: &OvsConfig) -> Vec<InterfacesStanza> {
    let mut out = Vec::new();
    for b in &cfg.bridges {
        let members: Vec<&str> =
            b.ports.iter().map(|p| p.name.as_str()).chain(b.fake_bridges.iter().map(|f| f.name.as_str())).collect();
        let mut options = vec![("ovs_type".to_string(), "OVSBridge".to_string())];
        if !members.is_empty() {
            options.push(("ovs_ports".into(), members.join(" ")));
        }
        let extra = bridge_extra(b);
        if !extra.is_empty() {
            options.push(("ovs_extra".into(), format!("set bridge ${{IFACE}} {}", extra.join(" "))));
        }
        out.push(InterfacesStanza { name: b.name.clone(), allow: "ovs".into(), method: "manual".into(), options });
        for p in &b.ports {
            let p = &b.resolved_port(p);
            let kind = match &p.kind {
                PortKind::Internal => "OVSIntPort",
                PortKind::Patch { .. } => "OVSPatchPort",
                _ => "OVSPort",
            };
            let mut options =
                vec![("ovs_bridge".to_string(), b.name.clone()), ("ovs_type".to_string(), kind.to_string())];
            if let PortKind::Patch { peer } = &p.kind {
                options.push(("ovs_patch_peer".into(), peer.clone()));
            }
            if let PortKind::Tap | PortKind::Other(_) = &p.kind {
                options.push(("ovs_extra".into(), format!("set interface ${{IFACE}} type={}", p.kind.ovs_type())));
            }
            let po = port_options(p);
            if !po.is_empty() {
                options.push(("ovs_options".into(), po.join(" ")));
            }
            out.push(InterfacesStanza {
                name: p.name.clone(),
                allow: b.name.clone(),
                method: "manual".into(),
                options,
            });
        }
        for f in &b.fake_bridges {
            out.push(InterfacesStanza {
                name: f.name.clone(),
                allow: b.name.clone(),
                method: "manual".into(),
                options: vec![
                    ("ovs_bridge".into(), b.name.clone()),
                    ("ovs_type".into(), "OVSIntPort".into()),
                    ("ovs_options".into(), format!("tag={} fake_bridge=true", f.vlan)),
                ],
            });
        }
    }
    out
}

/// `/etc/network/interfaces` text for the whole configuration (stanzas separated by blank lines).
///
/// ```
/// use kvmhost_net::ovs::{render_interfaces, CloudStackOvs, OvsConfig};
/// let text = render_interfaces(&OvsConfig::cloudstack(&CloudStackOvs::new("eth0")));
/// assert!(text.contains("iface cloudbr0 inet manual\n    ovs_bridge br0\n    ovs_type OVSIntPort\n    ovs_options tag=200 fake_bridge=true\n"));
/// assert!(text.contains("    ovs_options trunks=100,200,300 vlan_mode=trunk\n"));
/// ```
pub fn render_interfaces(cfg: &OvsConfig) -> String {
    interfaces_stanzas(cfg).iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// One `/etc/sysconfig/network-scripts/ifcfg-NAME` file.
///
/// ```
/// use kvmhost_net::ovs::{ifcfg_files, CloudStackOvs, OvsConfig};
/// let files = ifcfg_files(&OvsConfig::cloudstack(&CloudStackOvs::new("eth0")));
/// let f = files.iter().find(|f| f.name == "cloudbr1").unwrap();
/// assert_eq!(f.file_name(), "ifcfg-cloudbr1");
/// assert!(f.to_string().contains("OVS_OPTIONS=\"tag=300 fake_bridge=true\"\n"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IfcfgFile {
    /// Interface name.
    pub name: String,
    /// `KEY=value` lines in order (values quoted on output when needed).
    pub vars: Vec<(String, String)>,
}

impl IfcfgFile {
    /// `ifcfg-NAME`.
    ///
    /// ```
    /// # use kvmhost_net::ovs::IfcfgFile;
    /// assert_eq!(IfcfgFile { name: "br0".into(), vars: vec![] }.file_name(), "ifcfg-br0");
    /// ```
    pub fn file_name(&self) -> String {
        format!("ifcfg-{}", self.name)
    }
}

impl fmt::Display for IfcfgFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.vars {
            if v.chars().all(|c| c.is_ascii_alphanumeric() || "._-/:".contains(c)) && !v.is_empty() {
                writeln!(f, "{k}={v}")?;
            } else {
                writeln!(f, "{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$"))?;
            }
        }
        Ok(())
    }
}

fn ifcfg(name: &str, kind: &str, bridge: Option<&str>) -> IfcfgFile {
    let mut vars = vec![
        ("DEVICE".to_string(), name.to_string()),
        ("ONBOOT".to_string(), "yes".to_string()),
        ("DEVICETYPE".to_string(), "ovs".to_string()),
        ("TYPE".to_string(), kind.to_string()),
        ("BOOTPROTO".to_string(), "none".to_string()),
        ("HOTPLUG".to_string(), "no".to_string()),
    ];
    if let Some(b) = bridge {
        vars.push(("OVS_BRIDGE".into(), b.into()));
    }
    IfcfgFile { name: name.into(), vars }
}

/// The RHEL network-scripts files: `TYPE=OVSBridge` for bridges, `OVSPort`/`OVSIntPort`/
/// `OVSPatchPort` with `OVS_BRIDGE` and `OVS_OPTIONS` for ports and fake bridges.
///
/// ```
/// use kvmhost_net::ovs::{ifcfg_files, CloudStackOvs, OvsConfig};
/// let files = ifcfg_files(&OvsConfig::cloudstack(&CloudStackOvs::new("eth0")));
/// let text = files[0].to_string();
/// assert!(text.starts_with("DEVICE=br0\nONBOOT=yes\nDEVICETYPE=ovs\nTYPE=OVSBridge\n"));
/// ```
pub fn ifcfg_files(cfg: &OvsConfig) -> Vec<IfcfgFile> {
    let mut out = Vec::new();
    for b in &cfg.bridges {
        let mut f = ifcfg(&b.name, "OVSBridge", None);
        let extra = bridge_extra(b);
        if !extra.is_empty() {
            f.vars.push(("OVS_EXTRA".into(), format!("set bridge {} {}", b.name, extra.join(" "))));
        }
        out.push(f);
        for p in &b.ports {
            let p = &b.resolved_port(p);
            let kind = match &p.kind {
                PortKind::Internal => "OVSIntPort",
                PortKind::Patch { .. } => "OVSPatchPort",
                _ => "OVSPort",
            };
            let mut f = ifcfg(&p.name, kind, Some(&b.name));
            if let PortKind::Patch { peer } = &p.kind {
                f.vars.push(("OVS_PATCH_PEER".into(), peer.clone()));
            }
            let po = port_options(p);
            if !po.is_empty() {
                f.vars.push(("OVS_OPTIONS".into(), po.join(" ")));
            }
            if let PortKind::Tap | PortKind::Other(_) = &p.kind {
                f.vars.push(("OVS_EXTRA".into(), format!("set interface {} type={}", p.name, p.kind.ovs_type())));
            }
            out.push(f);
        }
        for fb in &b.fake_bridges {
            let mut f = ifcfg(&fb.name, "OVSIntPort", Some(&b.name));
            f.vars.push(("OVS_OPTIONS".into(), format!("tag={} fake_bridge=true", fb.vlan)));
            out.push(f);
        }
    }
    out
}
