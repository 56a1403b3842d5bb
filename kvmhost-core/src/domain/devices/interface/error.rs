//! [`InterfaceError`] and [`InterfaceProblem`]: what [`Interface::validate`](super::Interface::validate)
//! reports. Its own file, so that [`DomainError`](crate::domain::DomainError) can wrap it
//! without reaching back into the interface model.

use serde::{Deserialize, Serialize};

use super::checked::{MacAddressError, VlanIdError};

/// An interface libvirt would refuse: which interface, which field, and why.
///
/// ```
/// use kvmhost_core::domain::{Interface, InterfaceProblem, VlanId};
/// let e = Interface::bridge("br0").with_vlan(VlanId::new(42).unwrap()).validate().unwrap_err();
/// assert_eq!(e.field, "vlan");
/// assert!(matches!(e.problem, InterfaceProblem::VlanNotSupported { .. }));
/// assert!(e.to_string().starts_with("interface type='bridge' source='br0': vlan: libvirt refuses a VLAN tag"), "{e}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("interface {interface}: {field}: {problem}")]
pub struct InterfaceError {
    /// The interface: its path in the domain (`/domain/devices/interface[2]`) when known, and
    /// its type and source (`type='bridge' source='cloudbr0'`).
    pub interface: String,
    /// The field, relative to `<interface>` (`mac/@address`, `vlan/tag[1]/@id`, `vlan`).
    pub field: String,
    /// What is wrong.
    pub problem: InterfaceProblem,
}

/// What is wrong with an interface field (see [`InterfaceError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum InterfaceProblem {
    /// The MAC address is malformed or multicast.
    #[error(transparent)]
    Mac(#[from] MacAddressError),
    /// A VLAN tag id above 4095 (or not a number).
    #[error(transparent)]
    VlanId(#[from] VlanIdError),
    /// A `<tag>` without `id`.
    #[error("a VLAN <tag> needs an id")]
    VlanTagWithoutId,
    /// A `<vlan>` without any `<tag>`.
    #[error("<vlan> needs at least one <tag id=…/>")]
    VlanWithoutTags,
    /// `nativeMode` other than `tagged` / `untagged`.
    #[error("nativeMode {value:?} is neither 'tagged' nor 'untagged'")]
    NativeMode {
        /// The value found.
        value: String,
    },
    /// More than one tag marked native.
    #[error("{count} tags carry nativeMode; a trunk has one native VLAN at most")]
    SeveralNativeVlans {
        /// How many.
        count: usize,
    },
    /// A VLAN on a connection that cannot carry one (libvirt's `virDomainActualNetDefValidate`:
    /// "vlan tag not supported for this connection type").
    #[error(
        "libvirt refuses a VLAN tag on {connection}: only an Open vSwitch port (<virtualport \
         type='openvswitch'/>), a hostdev (SR-IOV) or macvtap passthrough interface, or a libvirt \
         network providing one of these carries it"
    )]
    VlanNotSupported {
        /// The connection (`a Linux bridge (no <virtualport type='openvswitch'/>)`).
        connection: String,
    },
}
