//! The errors of validation: one [`ValidationError`] per problem, all of them together as
//! [`ValidationErrors`].

use serde::{Deserialize, Serialize};

/// One problem in a [`HostNetwork`](crate::HostNetwork), with the path of the field it is about.
///
/// ```
/// use kvmhost_net::{HostNetwork, ValidationError};
/// let net = HostNetwork::from_yaml("vlans: [{name: eth0.5000, parent: eth0, id: 5000}]").unwrap();
/// let errors = net.validate().unwrap_err();
/// assert!(errors.iter().any(|e| matches!(e, ValidationError::VlanId { field, .. } if field == "vlans[0].id")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// An interface name the kernel refuses.
    #[error("{field}: interface name {name:?} is invalid: {reason}")]
    Name {
        /// Field path.
        field: String,
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A VLAN id outside 1..=4094.
    #[error("{field}: VLAN id {id} is outside 1..=4094")]
    VlanId {
        /// Field path.
        field: String,
        /// The id.
        id: u16,
    },
    /// A device name declared twice.
    #[error("{field}: {name:?} is already declared at {first}")]
    Duplicate {
        /// Field path of the second declaration.
        field: String,
        /// The name.
        name: String,
        /// Field path of the first declaration.
        first: String,
    },
    /// A reference to a device the model does not declare.
    #[error("{field}: {name:?} is not declared (declare it as an uplink, bond, bridge, VLAN, veth or tap)")]
    UnknownDevice {
        /// Field path of the reference.
        field: String,
        /// The name referred to.
        name: String,
    },
    /// A port listed by two bridges, or a bridge enslaved to a bridge.
    #[error("{field}: {port:?} cannot be a port here: {reason}")]
    Port {
        /// Field path.
        field: String,
        /// The port.
        port: String,
        /// Why.
        reason: String,
    },
    /// The same address declared twice (on one device or two).
    #[error("{field}: address {address} is also declared at {other}")]
    AddressConflict {
        /// Field path of the second declaration.
        field: String,
        /// The address.
        address: String,
        /// Field path of the first.
        other: String,
    },
    /// An address on a device that is a bridge port: it would be left on the wrong device
    /// (the classic mistake: the uplink keeps the address that belongs on the bridge).
    #[error("{field}: address {address} is on {device}, a port of bridge {bridge}; put it on {bridge}")]
    AddressOnPort {
        /// Field path.
        field: String,
        /// The address.
        address: String,
        /// The port holding it.
        device: String,
        /// The bridge it belongs on.
        bridge: String,
    },
    /// An address that cannot be a host address.
    #[error("{field}: {address} is not usable as an interface address: {reason}")]
    Address {
        /// Field path.
        field: String,
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// An MTU outside 68..=65535.
    #[error("{field}: MTU {mtu} is outside 68..=65535")]
    Mtu {
        /// Field path.
        field: String,
        /// The MTU.
        mtu: u32,
    },
    /// A route that cannot be right.
    #[error("{field}: {reason}")]
    Route {
        /// Field path.
        field: String,
        /// Why.
        reason: String,
    },
    /// A bridge setting out of range or inconsistent.
    #[error("{field}: {reason}")]
    Bridge {
        /// Field path.
        field: String,
        /// Why.
        reason: String,
    },
    /// A VLAN listed twice in an OVS port's `trunks`, or two fake bridges on one VLAN of a parent.
    #[error("{field}: VLAN {vlan} appears twice")]
    DuplicateVlan {
        /// Field path.
        field: String,
        /// The id.
        vlan: u16,
    },
    /// An OVS patch port whose peer is not a patch port of this configuration pointing back.
    #[error("{field}: patch peer {peer:?} is not a patch port of this configuration whose peer is this port")]
    UnknownPeer {
        /// Field path.
        field: String,
        /// The peer named.
        peer: String,
    },
    /// An OVS port plugged into a fake bridge its bridge does not have.
    #[error("{field}: {parent:?} is not a fake bridge of this bridge")]
    UnknownParent {
        /// Field path.
        field: String,
        /// The fake bridge named.
        parent: String,
    },
    /// A bond member that cannot be one: not an uplink or veth of the model, already a member
    /// of another bond, a bridge port or an OVS port itself, or declaring addresses or routes
    /// (they belong on the bond).
    #[error("{field}: {member:?} cannot be a member of bond {bond}: {reason}")]
    BondMember {
        /// Field path.
        field: String,
        /// The member.
        member: String,
        /// The bond.
        bond: String,
        /// Why.
        reason: String,
    },
    /// A bond option out of range, or one its mode does not have (`lacp_rate` outside 802.3ad).
    #[error("{field}: {reason}")]
    BondOption {
        /// Field path.
        field: String,
        /// Why.
        reason: String,
    },
    /// An OVS port's `tag`/`trunks` that contradict its `vlan_mode`.
    #[error("{field}: {reason}")]
    VlanModeConflict {
        /// Field path.
        field: String,
        /// What contradicts.
        reason: String,
    },
}

/// The `field` of any variant of `$error` (a `ValidationError`, or a `&`/`&mut` one): every
/// variant has one, listed once here for [`ValidationError::field`] and
/// [`ValidationError::under`].
macro_rules! field_of {
    ($error:expr) => {
        match $error {
            ValidationError::Name { field, .. }
            | ValidationError::VlanId { field, .. }
            | ValidationError::Duplicate { field, .. }
            | ValidationError::UnknownDevice { field, .. }
            | ValidationError::Port { field, .. }
            | ValidationError::AddressConflict { field, .. }
            | ValidationError::AddressOnPort { field, .. }
            | ValidationError::Address { field, .. }
            | ValidationError::Mtu { field, .. }
            | ValidationError::Route { field, .. }
            | ValidationError::Bridge { field, .. }
            | ValidationError::DuplicateVlan { field, .. }
            | ValidationError::UnknownPeer { field, .. }
            | ValidationError::UnknownParent { field, .. }
            | ValidationError::BondMember { field, .. }
            | ValidationError::BondOption { field, .. }
            | ValidationError::VlanModeConflict { field, .. } => field,
        }
    };
}

impl ValidationError {
    /// The path of the field the error is about.
    ///
    /// ```
    /// let e = kvmhost_net::ValidationError::Mtu { field: "bridges[0].mtu".into(), mtu: 1 };
    /// assert_eq!(e.field(), "bridges[0].mtu");
    /// ```
    pub fn field(&self) -> &str {
        field_of!(self)
    }

    /// The same error with its field path under `prefix` (`ovs.` + `bridges[0].name`).
    ///
    /// ```
    /// let e = kvmhost_net::ValidationError::Mtu { field: "bridges[0].mtu".into(), mtu: 1 };
    /// assert_eq!(e.under("ovs.").field(), "ovs.bridges[0].mtu");
    /// ```
    pub fn under(mut self, prefix: &str) -> Self {
        field_of!(&mut self).insert_str(0, prefix);
        self
    }
}

/// Every problem [`HostNetwork::validate`](crate::HostNetwork::validate) found (at least one), as one error: `?` propagates
/// it, its message lists each problem (`; `-separated), and it reads as a slice of
/// [`ValidationError`]s.
///
/// ```
/// fn check(yaml: &str) -> Result<(), Box<dyn std::error::Error>> {
///     kvmhost_net::HostNetwork::from_yaml(yaml)?.validate()?;
///     Ok(())
/// }
/// let e = check("vlans: [{name: eth0.5000, parent: eth0, id: 5000}]").unwrap_err();
/// assert!(e.to_string().contains("vlans[0].id: VLAN id 5000 is outside 1..=4094"), "{e}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// The problems, in the order found.
    pub fn into_vec(self) -> Vec<ValidationError> {
        self.0
    }
}

impl std::ops::Deref for ValidationErrors {
    type Target = [ValidationError];
    fn deref(&self) -> &[ValidationError] {
        &self.0
    }
}

impl From<ValidationErrors> for Vec<ValidationError> {
    fn from(e: ValidationErrors) -> Vec<ValidationError> {
        e.0
    }
}

impl From<ValidationErrors> for crate::Error {
    fn from(e: ValidationErrors) -> crate::Error {
        crate::Error::Invalid(e.0)
    }
}

impl IntoIterator for ValidationErrors {
    type Item = ValidationError;
    type IntoIter = std::vec::IntoIter<ValidationError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
