//! [`Interface::validate`]: what libvirt certainly refuses in an interface, found before
//! libvirt is asked.

use super::error::{InterfaceError, InterfaceProblem};
use super::{check_interface_mac, Interface, InterfaceType, VirtualPortType, VlanId};
use crate::domain::codec::{children_parts, ElementPath};
use crate::domain::error::DomainError;
use crate::domain::Domain;

impl Interface {
    /// Checks what libvirt certainly refuses, before libvirt is asked:
    ///
    /// - the MAC address (`<mac address>`) must be six colon-separated pairs of hex digits and
    ///   unicast ([`check_interface_mac`]);
    /// - each VLAN `<tag id>` must be 0 to 4095 ([`VlanId`]), a `<vlan>` needs a tag, one
    ///   native VLAN at most;
    /// - a VLAN needs a connection that carries it: libvirt (`virDomainActualNetDefValidate`,
    ///   when the guest starts or the NIC is plugged) accepts it only on an Open vSwitch port
    ///   (`type='bridge'` with `<virtualport type='openvswitch'/>`), a `hostdev` interface, or
    ///   a `direct` interface in `passthrough` mode. A `type='network'` interface is not
    ///   refused here: whether its network provides such a connection is known at run time
    ///   only. An unknown type is not judged either.
    ///
    /// Documents that break these rules still parse and round-trip; this is for what a
    /// program is about to hand to libvirt. [`DomainBuilder::build`](crate::domain::DomainBuilder::build)
    /// runs it on every NIC.
    ///
    /// ```
    /// use kvmhost_core::domain::{Interface, VlanId};
    /// let vlan = VlanId::new(100).unwrap();
    /// assert!(Interface::ovs_bridge("ovsbr0", None).with_vlan(vlan).validate().is_ok());
    /// assert!(Interface::network("ovs-net").with_vlan(vlan).validate().is_ok());
    /// assert!(Interface::direct("eth0", "passthrough").with_vlan(vlan).validate().is_ok());
    /// assert!(Interface::direct("eth0", "bridge").with_vlan(vlan).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), InterfaceError> {
        self.validate_named(None)
    }

    /// [`Interface::validate`] naming the interface by `path` as well.
    pub(crate) fn validate_named(&self, path: Option<&str>) -> Result<(), InterfaceError> {
        let fail = |field: String, problem: InterfaceProblem| InterfaceError {
            interface: match path {
                Some(p) => format!("{p} ({})", self.describe()),
                None => self.describe(),
            },
            field,
            problem,
        };
        if let Some(address) = self.mac_address() {
            check_interface_mac(address).map_err(|e| fail("mac/@address".into(), e.into()))?;
        }
        let Some(vlan) = &self.vlan else { return Ok(()) };
        if vlan.tags.is_empty() {
            return Err(fail("vlan".into(), InterfaceProblem::VlanWithoutTags));
        }
        for (i, tag) in vlan.tags.iter().enumerate() {
            let id =
                tag.id.ok_or_else(|| fail(format!("vlan/tag[{}]/@id", i + 1), InterfaceProblem::VlanTagWithoutId))?;
            VlanId::new(id).map_err(|e| fail(format!("vlan/tag[{}]/@id", i + 1), e.into()))?;
            if let Some(mode) = tag.native_mode.as_deref().filter(|m| !matches!(*m, "tagged" | "untagged")) {
                let problem = InterfaceProblem::NativeMode { value: mode.to_string() };
                return Err(fail(format!("vlan/tag[{}]/@nativeMode", i + 1), problem));
            }
        }
        let natives = vlan.tags.iter().filter(|t| t.native_mode.is_some()).count();
        if natives > 1 {
            return Err(fail("vlan".into(), InterfaceProblem::SeveralNativeVlans { count: natives }));
        }
        match self.vlan_refusal() {
            Some(connection) => Err(fail("vlan".into(), InterfaceProblem::VlanNotSupported { connection })),
            None => Ok(()),
        }
    }

    /// The connection, if it certainly cannot carry a VLAN.
    fn vlan_refusal(&self) -> Option<String> {
        match self.interface_type.as_ref()? {
            InterfaceType::Network | InterfaceType::Hostdev | InterfaceType::Other(_) => None,
            InterfaceType::Bridge => {
                let port = self.virtualport.as_ref().and_then(|v| v.port_type.as_ref());
                match port {
                    Some(VirtualPortType::OpenVswitch) => None,
                    None => Some("a Linux bridge (no <virtualport type='openvswitch'/>)".into()),
                    Some(other) => Some(format!("a bridge with <virtualport type='{other}'/>")),
                }
            }
            InterfaceType::Direct => {
                let mode = self.source.as_ref().and_then(|s| s.mode.as_deref()).unwrap_or("vepa");
                (mode != "passthrough").then(|| format!("a macvtap interface in mode '{mode}'"))
            }
            t => Some(format!("an interface of type '{t}'")),
        }
    }

    /// `type='bridge' source='br0'`, for messages.
    fn describe(&self) -> String {
        let mut out = match &self.interface_type {
            Some(t) => format!("type='{t}'"),
            None => "without type".to_string(),
        };
        if let Some(s) = &self.source {
            let name = [&s.bridge, &s.network, &s.dev].into_iter().find_map(|v| v.as_deref());
            if let Some(name) = name {
                out.push_str(&format!(" source='{name}'"));
            }
        }
        out
    }
}

impl Domain {
    /// Runs [`Interface::validate`] on every `<interface>`, naming each by its path
    /// (`/domain/devices/interface[2]`); an interface that does not decode is its decode error.
    ///
    /// ```
    /// use kvmhost_core::domain::Domain;
    /// let d = Domain::parse("<domain><devices><interface type='network'/>\
    ///                        <interface type='user'><mac address='not-a-mac'/></interface></devices></domain>").unwrap();
    /// let e = d.validate_interfaces().unwrap_err();
    /// assert!(e.to_string().starts_with("interface /domain/devices/interface[2] (type='user'): mac/@address:"), "{e}");
    /// ```
    pub fn validate_interfaces(&self) -> Result<(), DomainError> {
        let root = ElementPath::root("domain");
        let Some(devices) = self.root().child("devices") else { return Ok(()) };
        let nics: Vec<Interface> = children_parts(devices, &root.child("devices"))?;
        for (i, nic) in nics.iter().enumerate() {
            nic.validate_named(Some(&format!("/domain/devices/interface[{}]", i + 1)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{InterfaceMac, MacAddressError, Vlan, VlanTag};

    fn problem(nic: &Interface) -> (String, InterfaceProblem) {
        let e = nic.validate().unwrap_err();
        (e.field, e.problem)
    }

    #[test]
    fn values_from_documents_are_checked() {
        let mut nic = Interface::user();
        nic.mac = Some(InterfaceMac { address: Some("03:00:00:00:00:01".into()), ..Default::default() });
        assert!(
            matches!(problem(&nic), (f, InterfaceProblem::Mac(MacAddressError::Multicast { .. })) if f == "mac/@address")
        );
        let mut nic = Interface::ovs_bridge("ovsbr0", None);
        let tag = |id: Option<u32>, native: Option<&str>| VlanTag { id, native_mode: native.map(Into::into) };
        nic.vlan = Some(Vlan { trunk: None, tags: vec![tag(Some(1), None), tag(Some(70000), None)] });
        assert!(matches!(problem(&nic), (f, InterfaceProblem::VlanId(_)) if f == "vlan/tag[2]/@id"));
        nic.vlan = Some(Vlan { trunk: None, tags: vec![tag(None, None)] });
        assert_eq!(problem(&nic), ("vlan/tag[1]/@id".into(), InterfaceProblem::VlanTagWithoutId));
        nic.vlan = Some(Vlan { trunk: None, tags: vec![] });
        assert_eq!(problem(&nic), ("vlan".into(), InterfaceProblem::VlanWithoutTags));
        nic.vlan = Some(Vlan { trunk: None, tags: vec![tag(Some(1), Some("sometimes"))] });
        assert!(matches!(problem(&nic), (_, InterfaceProblem::NativeMode { .. })));
        nic.vlan = Some(Vlan { trunk: None, tags: vec![tag(Some(1), Some("untagged")), tag(Some(2), Some("tagged"))] });
        assert_eq!(problem(&nic).1, InterfaceProblem::SeveralNativeVlans { count: 2 });
        nic.vlan = Some(Vlan { trunk: None, tags: vec![tag(Some(0), None), tag(Some(4095), Some("untagged"))] });
        assert_eq!(nic.validate(), Ok(()));
    }

    #[test]
    fn vlan_needs_a_connection_that_carries_it() {
        let vlan = VlanId::new(7).unwrap();
        let refused = |nic: Interface| match nic.with_vlan(vlan).validate() {
            Err(InterfaceError { problem: InterfaceProblem::VlanNotSupported { connection }, .. }) => connection,
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(Interface::bridge("br0")), "a Linux bridge (no <virtualport type='openvswitch'/>)");
        assert_eq!(refused(Interface::direct("eth0", "vepa")), "a macvtap interface in mode 'vepa'");
        assert_eq!(refused(Interface::user()), "an interface of type 'user'");
        for t in [InterfaceType::Hostdev, InterfaceType::Other("future".into())] {
            let nic = Interface { interface_type: Some(t), ..Interface::default() };
            assert_eq!(nic.with_vlan(vlan).validate(), Ok(()));
        }
    }
}
