//! The address types shared by the crates: an interface address with its prefix
//! ([`IpCidr`]) and an Ethernet address ([`MacAddr`]). kvmhost-net's host network model and
//! kvmhost-core's domain and network models use these same types. Both read and write as
//! strings (`192.168.42.11/24`, `52:54:00:12:34:56`) in every serde format.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an address string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddrError {
    /// Not `ADDRESS/PREFIX`.
    #[error("{0:?} is not an address with a prefix length (like 192.168.42.11/24)")]
    Cidr(String),
    /// Prefix longer than the family allows.
    #[error("prefix length {prefix} is too long for {addr} (at most {max})")]
    Prefix {
        /// The address.
        addr: IpAddr,
        /// The prefix length given.
        prefix: u8,
        /// The longest prefix of the family.
        max: u8,
    },
    /// Not six colon-separated hex octets.
    #[error("{0:?} is not a MAC address (like 52:54:00:12:34:56)")]
    Mac(String),
}

/// An IP address family, as the model names it (`ipv4`, `ipv6`).
///
/// ```
/// use kvmhost_core::addr::IpFamily;
/// let a: kvmhost_core::addr::IpCidr = "fd00::1/64".parse().unwrap();
/// assert_eq!(a.family(), IpFamily::Ipv6);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpFamily {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// An interface address with its prefix length, as `ip addr add 192.168.42.11/24` takes it.
///
/// ```
/// use kvmhost_core::addr::IpCidr;
/// let a: IpCidr = "192.168.42.11/24".parse().unwrap();
/// assert_eq!(a.prefix(), 24);
/// assert_eq!(a.network().to_string(), "192.168.42.0/24");
/// assert!(a.contains("192.168.42.1".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpCidr {
    addr: IpAddr,
    prefix: u8,
}

impl IpCidr {
    /// An address with a prefix; fails when the prefix is too long for the family.
    ///
    /// ```
    /// use kvmhost_core::addr::IpCidr;
    /// assert!(IpCidr::new("10.0.0.1".parse().unwrap(), 33).is_err());
    /// ```
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, AddrError> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(AddrError::Prefix { addr, prefix, max });
        }
        Ok(Self { addr, prefix })
    }

    /// The default route's destination of a family (`0.0.0.0/0` or `::/0`).
    ///
    /// ```
    /// assert_eq!(kvmhost_core::addr::IpCidr::default_route(false).to_string(), "0.0.0.0/0");
    /// ```
    pub fn default_route(ipv6: bool) -> Self {
        let addr = if ipv6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
        Self { addr, prefix: 0 }
    }

    /// The address.
    ///
    /// ```
    /// let a: kvmhost_core::addr::IpCidr = "10.1.2.3/8".parse().unwrap();
    /// assert_eq!(a.addr().to_string(), "10.1.2.3");
    /// ```
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    ///
    /// ```
    /// let a: kvmhost_core::addr::IpCidr = "fd00::1/64".parse().unwrap();
    /// assert_eq!(a.prefix(), 64);
    /// ```
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether this is an IPv6 address.
    ///
    /// ```
    /// assert!("fd00::1/64".parse::<kvmhost_core::addr::IpCidr>().unwrap().is_ipv6());
    /// ```
    pub fn is_ipv6(&self) -> bool {
        self.addr.is_ipv6()
    }

    /// The address family.
    ///
    /// ```
    /// let a: kvmhost_core::addr::IpCidr = "10.0.0.1/8".parse().unwrap();
    /// assert_eq!(a.family(), kvmhost_core::addr::IpFamily::Ipv4);
    /// ```
    pub fn family(&self) -> IpFamily {
        if self.is_ipv6() {
            IpFamily::Ipv6
        } else {
            IpFamily::Ipv4
        }
    }

    /// Whether this is a default-route destination (prefix 0).
    ///
    /// ```
    /// assert!("0.0.0.0/0".parse::<kvmhost_core::addr::IpCidr>().unwrap().is_default());
    /// ```
    pub fn is_default(&self) -> bool {
        self.prefix == 0
    }

    fn mask_bits(&self) -> u128 {
        let width = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == 0 {
            0
        } else {
            (!0u128 << (width - u32::from(self.prefix))) & if width == 32 { 0xffff_ffff } else { !0 }
        }
    }

    fn bits(addr: IpAddr) -> u128 {
        match addr {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        }
    }

    /// The network this address lies in (host bits cleared).
    ///
    /// ```
    /// let a: kvmhost_core::addr::IpCidr = "192.168.42.11/28".parse().unwrap();
    /// assert_eq!(a.network().to_string(), "192.168.42.0/28");
    /// ```
    pub fn network(&self) -> IpCidr {
        let bits = Self::bits(self.addr) & self.mask_bits();
        let addr = match self.addr {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(bits as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(bits)),
        };
        IpCidr { addr, prefix: self.prefix }
    }

    /// Whether `other` lies in this address's network.
    ///
    /// ```
    /// let a: kvmhost_core::addr::IpCidr = "192.168.42.11/24".parse().unwrap();
    /// assert!(!a.contains("192.168.43.1".parse().unwrap()));
    /// ```
    pub fn contains(&self, other: IpAddr) -> bool {
        other.is_ipv4() == self.addr.is_ipv4()
            && (Self::bits(other) & self.mask_bits()) == Self::bits(self.network().addr)
    }

    /// Whether the address is the network address of its own prefix (`192.168.42.0/24`), which
    /// cannot be a host address on IPv4 unless the prefix is /31 or /32.
    ///
    /// ```
    /// assert!("10.0.0.0/24".parse::<kvmhost_core::addr::IpCidr>().unwrap().is_network_address());
    /// ```
    pub fn is_network_address(&self) -> bool {
        self.addr.is_ipv4() && self.prefix < 31 && self.network().addr == self.addr
    }

    /// Whether the address is an IPv6 link-local address (`fe80::/10`), which the kernel manages.
    ///
    /// ```
    /// assert!("fe80::1/64".parse::<kvmhost_core::addr::IpCidr>().unwrap().is_link_local());
    /// ```
    pub fn is_link_local(&self) -> bool {
        match self.addr {
            IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80 || (a.segments()[0] & 0xff00) == 0xff00,
            IpAddr::V4(_) => false,
        }
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for IpCidr {
    type Err = AddrError;
    fn from_str(s: &str) -> Result<Self, AddrError> {
        let (a, p) = s.split_once('/').ok_or_else(|| AddrError::Cidr(s.to_string()))?;
        let addr: IpAddr = a.trim().parse().map_err(|_| AddrError::Cidr(s.to_string()))?;
        let prefix: u8 = p.trim().parse().map_err(|_| AddrError::Cidr(s.to_string()))?;
        IpCidr::new(addr, prefix)
    }
}

impl Serialize for IpCidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpCidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An Ethernet (MAC) address.
///
/// ```
/// use kvmhost_core::addr::MacAddr;
/// let m: MacAddr = "52:54:00:AB:cd:01".parse().unwrap();
/// assert_eq!(m.to_string(), "52:54:00:ab:cd:01");
/// assert_eq!(m.octets()[3], 0xab);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr([u8; 6]);

impl MacAddr {
    /// A MAC address from its six octets.
    ///
    /// ```
    /// let m = kvmhost_core::addr::MacAddr::new([2, 0, 0, 0, 0, 1]);
    /// assert_eq!(m.to_string(), "02:00:00:00:00:01");
    /// ```
    pub fn new(octets: [u8; 6]) -> Self {
        Self(octets)
    }

    /// The six octets.
    ///
    /// ```
    /// assert_eq!(kvmhost_core::addr::MacAddr::new([1; 6]).octets(), [1; 6]);
    /// ```
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Whether the address is multicast (the low bit of the first octet), which no interface may
    /// carry.
    ///
    /// ```
    /// assert!("01:00:5e:00:00:01".parse::<kvmhost_core::addr::MacAddr>().unwrap().is_multicast());
    /// ```
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3], o[4], o[5])
    }
}

impl FromStr for MacAddr {
    type Err = AddrError;
    fn from_str(s: &str) -> Result<Self, AddrError> {
        let mut out = [0u8; 6];
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 6 {
            return Err(AddrError::Mac(s.to_string()));
        }
        for (o, p) in out.iter_mut().zip(parts) {
            if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(AddrError::Mac(s.to_string()));
            }
            *o = u8::from_str_radix(p, 16).map_err(|_| AddrError::Mac(s.to_string()))?;
        }
        Ok(MacAddr(out))
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_round_trip_and_network() {
        let a: IpCidr = "192.168.42.11/24".parse().unwrap();
        assert_eq!(a.to_string(), "192.168.42.11/24");
        assert!(a.contains("192.168.42.1".parse().unwrap()));
        assert!(!a.contains("fd00::1".parse().unwrap()));
        let d = IpCidr::default_route(false);
        assert!(d.contains("8.8.8.8".parse().unwrap()));
        let v6: IpCidr = "fd00:1::5/64".parse().unwrap();
        assert_eq!(v6.network().to_string(), "fd00:1::/64");
        assert!("10.0.0.1".parse::<IpCidr>().is_err());
        assert!("10.0.0.1/40".parse::<IpCidr>().is_err());
        assert!("::1/129".parse::<IpCidr>().is_err());
    }

    #[test]
    fn mac_parse_errors() {
        assert!("52:54:00:12:34".parse::<MacAddr>().is_err());
        assert!("52:54:00:12:34:zz".parse::<MacAddr>().is_err());
        assert!("52:54:00:12:34:5".parse::<MacAddr>().is_err());
        assert!("52:54:00:12:34:+f".parse::<MacAddr>().is_err());
    }
}
