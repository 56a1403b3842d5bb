//! libvirt networks: typed network XML ([`NetworkSpec`]) for NAT / isolated networks libvirt
//! runs itself, and bridge-mode networks over an existing host bridge (`cloudbr0`) or an Open
//! vSwitch bridge (`<virtualport type='openvswitch'/>`); define / start / destroy / undefine.
//!
//! The network XML models ([`NetworkSpec`], [`NetworkKind`], and [`NetworkInfo`] read from
//! libvirt's XML, errors [`NetworkError`]) live in [`kvmhost_core::network`] and are
//! re-exported here; this module adds what only libvirt's calls give (a network's state).
//!
//! ```
//! use kvmhost_libvirt::NetworkSpec;
//! assert_eq!(NetworkSpec::host_bridge("cloud", "cloudbr0").to_xml().unwrap(),
//!     "<network><name>cloud</name><forward mode=\"bridge\"/><bridge name=\"cloudbr0\"/></network>");
//! assert!(NetworkSpec::ovs_bridge("ovs", "br0").to_xml().unwrap()
//!     .contains("<virtualport type=\"openvswitch\"/>"));
//! ```

pub use kvmhost_core::network::{NetworkError, NetworkInfo, NetworkKind, NetworkSpec};
use virt::connect::Connect;
use virt::network::Network;

use crate::Result;

pub(crate) fn info(n: &Network) -> Result<NetworkInfo> {
    let mut info = NetworkInfo::parse(&n.xml_desc(0)?)?;
    info.active = n.is_active()?;
    info.persistent = n.is_persistent()?;
    info.autostart = n.autostart()?;
    Ok(info)
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
