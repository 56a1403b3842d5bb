//! Checked values for interface builders: a [`MacAddr`] (the address type shared with
//! kvmhost-net) cannot be malformed and [`VlanId`] can only hold what libvirt accepts, so
//! `Interface::bridge(..).with_mac(mac).with_vlan(id)` cannot write a malformed MAC or an
//! out-of-range tag (a multicast MAC is refused by [`check_interface_mac`] and
//! [`Interface::validate`](super::Interface::validate)). Documents keep their own text (the model's
//! `InterfaceMac::address` and `VlanTag::id` are plain values, so any document round-trips);
//! [`Interface::validate`](super::Interface::validate) checks those.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::addr::MacAddr;

/// Why a MAC address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MacAddressError {
    /// Not six colon-separated pairs of hex digits.
    #[error("{input:?} is not a MAC address: expected six colon-separated pairs of hex digits (52:54:00:12:34:56)")]
    Syntax {
        /// The text given.
        input: String,
    },
    /// The group bit (lowest bit of the first octet) is set.
    #[error("{address} is a multicast MAC address (first octet odd); libvirt refuses it for an interface")]
    Multicast {
        /// The address, as written by libvirt.
        address: String,
    },
}

/// The MAC address libvirt accepts for an interface's `<mac address=…/>`: six colon-separated
/// pairs of hex digits (either case), not multicast (libvirt refuses those for interfaces).
///
/// ```
/// use kvmhost_core::domain::{check_interface_mac, MacAddressError};
/// assert_eq!(check_interface_mac("52:54:00:AB:cd:0F").unwrap().to_string(), "52:54:00:ab:cd:0f");
/// assert!(matches!(check_interface_mac("not-a-mac"), Err(MacAddressError::Syntax { .. })));
/// assert!(matches!(check_interface_mac("01:00:5e:00:00:01"), Err(MacAddressError::Multicast { .. })));
/// ```
pub fn check_interface_mac(text: &str) -> Result<MacAddr, MacAddressError> {
    let mac: MacAddr = text.parse().map_err(|_| MacAddressError::Syntax { input: text.to_string() })?;
    if mac.is_multicast() {
        return Err(MacAddressError::Multicast { address: mac.to_string() });
    }
    Ok(mac)
}

/// An 802.1Q VLAN id in libvirt's range, 0 to 4095 (`<tag id=…/>`, schema `networkcommon.rng`).
/// Serialised as the number.
///
/// ```
/// use kvmhost_core::domain::VlanId;
/// assert_eq!(VlanId::new(300).unwrap().get(), 300);
/// assert!(VlanId::new(4095).is_ok());
/// let e = VlanId::new(70000).unwrap_err();
/// assert_eq!(e.to_string(), "VLAN id 70000 is out of range (0 to 4095)");
/// assert_eq!("42".parse::<VlanId>().unwrap(), VlanId::new(42).unwrap());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct VlanId(u16);

/// A VLAN id outside 0 to 4095 (or, parsed from text, not a number).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("VLAN id {value} is out of range (0 to {max})", max = VlanId::MAX)]
pub struct VlanIdError {
    /// The value given, as written.
    pub value: String,
}

impl VlanId {
    /// The largest id libvirt accepts.
    pub const MAX: u16 = 4095;

    /// The id `id`, if it is at most [`VlanId::MAX`].
    pub fn new(id: u32) -> Result<VlanId, VlanIdError> {
        match u16::try_from(id) {
            Ok(v) if v <= VlanId::MAX => Ok(VlanId(v)),
            _ => Err(VlanIdError { value: id.to_string() }),
        }
    }

    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl FromStr for VlanId {
    type Err = VlanIdError;
    fn from_str(s: &str) -> Result<VlanId, VlanIdError> {
        s.trim().parse::<u32>().map_err(|_| VlanIdError { value: s.to_string() }).and_then(VlanId::new)
    }
}

impl fmt::Display for VlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<VlanId> for u32 {
    fn from(v: VlanId) -> u32 {
        v.0.into()
    }
}

impl TryFrom<u32> for VlanId {
    type Error = VlanIdError;
    fn try_from(v: u32) -> Result<VlanId, VlanIdError> {
        VlanId::new(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_syntax_is_libvirts_schema() {
        for bad in
            ["", "52:54:00:12:34", "52:54:00:12:34:56:78", "52-54-00-12-34-56", "5:54:00:12:34:56", "52:54:00:12:34:5g"]
        {
            assert!(matches!(check_interface_mac(bad), Err(MacAddressError::Syntax { .. })), "{bad}");
        }
        let e = check_interface_mac("ff:ff:ff:ff:ff:ff").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ff:ff:ff:ff:ff:ff is a multicast MAC address (first octet odd); libvirt refuses it for an interface"
        );
        assert!(check_interface_mac("fe:ff:ff:ff:ff:ff").is_ok());
    }

    #[test]
    fn serde_checks_values() {
        let mac: MacAddr = serde_json::from_str("\"52:54:00:00:00:01\"").unwrap();
        assert_eq!(serde_json::to_string(&mac).unwrap(), "\"52:54:00:00:00:01\"");
        assert!(serde_json::from_str::<MacAddr>("\"03:00:00:00:00:zz\"").is_err());
        assert_eq!(serde_json::from_str::<VlanId>("4095").unwrap().get(), 4095);
        assert!(serde_json::from_str::<VlanId>("4096").is_err());
        assert!("x".parse::<VlanId>().is_err());
    }
}
