//! Host networks for kernels without 802.1Q (feature `net`).
//!
//! Some kernels the tests run on (containers, minimal VMs) have no 802.1Q module: a VLAN
//! subinterface cannot be made there. [`vlans_as_veths`] turns a network's VLAN devices into veth
//! pairs of the same names, so that the rest of a layout (bridges, ports, addresses, routes) can
//! still be applied and checked for real.

use kvmhost_net::{HostNetwork, Veth};

/// The same network with every 802.1Q subinterface replaced by a veth pair of the same name
/// (peer `NAMEp`, left unconfigured): a stand-in for kernels without 802.1Q, which keeps the
/// bridges, ports, addresses and routes but carries no tags.
///
/// ```
/// use kvmhost_net::cloudstack::CloudStackLinux;
/// use kvmhost_testdata::net::vlans_as_veths;
/// let net = CloudStackLinux::new("eth0", 100, 200, 300, "10.0.0.2/24".parse().unwrap(),
///     "10.0.0.1".parse().unwrap()).build();
/// let v = vlans_as_veths(&net);
/// assert!(v.vlans.is_empty());
/// assert_eq!(v.veths[0].name, "eth0.100");
/// assert_eq!(v.veths[0].addresses, net.vlans[0].addresses);
/// ```
pub fn vlans_as_veths(net: &HostNetwork) -> HostNetwork {
    let mut out = net.clone();
    for v in std::mem::take(&mut out.vlans) {
        let mut e = Veth::new(&v.name, &format!("{}p", v.name));
        e.mtu = v.mtu;
        e.addresses = v.addresses;
        e.routes = v.routes;
        e.owns = v.owns;
        out.veths.push(e);
    }
    out
}
