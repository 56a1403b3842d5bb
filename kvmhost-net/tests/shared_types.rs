//! The address types are kvmhost-core's: a MAC or an address read from a host network model
//! goes into a domain's interface or a libvirt network without conversion.

use kvmhost_core::domain::Interface;
use kvmhost_net::{HostNetwork, IpCidr, MacAddr};

#[test]
fn a_mac_from_the_host_network_model_is_the_domain_models_mac() {
    let net =
        HostNetwork::from_yaml("bridges: [{name: br0, mac: '52:54:00:AA:bb:01', addresses: [10.0.0.1/24]}]").unwrap();
    let mac: MacAddr = net.bridges[0].mac.unwrap();
    let same: kvmhost_core::addr::MacAddr = mac; // one type, not a conversion
    let nic = Interface::bridge("br0").with_mac(same);
    assert_eq!(nic.mac_address(), Some("52:54:00:aa:bb:01"));
    let addr: IpCidr = net.bridges[0].addresses[0];
    let core_addr: kvmhost_core::addr::IpCidr = addr;
    assert_eq!(core_addr.network().to_string(), "10.0.0.0/24");
}
