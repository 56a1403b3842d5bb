//! libvirt networks: typed network XML ([`NetworkSpec`]) for NAT / isolated networks libvirt
//! runs itself, and bridge-mode networks over an existing host bridge (`cloudbr0`) or an Open
//! vSwitch bridge (`<virtualport type='openvswitch'/>`); define / start / destroy / undefine.
//!
//! The network XML models ([`NetworkSpec`], [`NetworkKind`]) live in [`kvmhost_core::network`]
//! and are re-exported here; [`NetworkInfo`] combines libvirt's calls with the network's XML.
//!
//! ```
//! use kvmhost_libvirt::NetworkSpec;
//! assert_eq!(NetworkSpec::host_bridge("cloud", "cloudbr0").to_xml().unwrap(),
//!     "<network><name>cloud</name><forward mode=\"bridge\"/><bridge name=\"cloudbr0\"/></network>");
//! assert!(NetworkSpec::ovs_bridge("ovs", "br0").to_xml().unwrap()
//!     .contains("<virtualport type=\"openvswitch\"/>"));
//! ```

pub use kvmhost_core::network::{NetworkKind, NetworkSpec};
use kvmhost_core::xml::Document;
use serde::{Deserialize, Serialize};
use virt::connect::Connect;
use virt::network::Network;

use crate::{LibvirtError, Result};

/// A network as libvirt reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NetworkInfo {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: String,
    /// Running.
    pub active: bool,
    /// Persistent.
    pub persistent: bool,
    /// Starts with the host.
    pub autostart: bool,
    /// Forward mode (`nat`, `bridge`, …), none for isolated networks.
    pub forward_mode: Option<String>,
    /// Bridge name.
    pub bridge: Option<String>,
    /// Virtual port type (`openvswitch`).
    pub virtualport: Option<String>,
}

pub(crate) fn info(n: &Network) -> Result<NetworkInfo> {
    let root = Document::parse(&n.xml_desc(0)?).map_err(|e| LibvirtError::parse("network", e))?.root;
    Ok(NetworkInfo {
        name: n.name()?,
        uuid: n.uuid_string()?,
        active: n.is_active()?,
        persistent: n.is_persistent()?,
        autostart: n.autostart()?,
        forward_mode: root.child("forward").map(|f| f.attr("mode").unwrap_or("nat").to_string()),
        bridge: root.child("bridge").and_then(|b| b.attr("name")).map(String::from),
        virtualport: root.child("virtualport").and_then(|v| v.attr("type")).map(String::from),
    })
}

pub(crate) fn lookup(c: &Connect, name: &str) -> Result<Network> {
    c.lookup_network_by_name(name).map_err(|e| crate::LibvirtError::from(e).about(name))
}

pub(crate) fn define(c: &Connect, spec: &NetworkSpec) -> Result<NetworkInfo> {
    info(&c.define_network_xml(&spec.to_xml()?)?)
}

pub(crate) fn list(c: &Connect) -> Result<Vec<NetworkInfo>> {
    c.list_all_networks(0)?.iter().map(info).collect()
}
