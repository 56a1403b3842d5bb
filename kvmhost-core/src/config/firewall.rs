//! The TCP ports a KVM host needs open, and the firewall rules opening them.
//!
//! ```
//! use kvmhost_core::config::firewall::{kvm_host_ports, render, FirewallKind};
//! let rules = render(FirewallKind::Ufw, &kvm_host_ports());
//! assert!(rules.contains("ufw allow proto tcp from any to any port 5900:6100"));
//! let nft = render("nftables".parse().unwrap(), &kvm_host_ports());
//! assert!(nft.contains("tcp dport { 22, 1798, 16509, 16514, 5900-6100, 49152-49216 } accept"));
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;

/// An inclusive range of TCP ports (a single port when `first == last`).
///
/// ```
/// use kvmhost_core::config::firewall::PortRange;
/// let r: PortRange = "5900-6100".parse().unwrap();
/// assert_eq!((r.first, r.last), (5900, 6100));
/// assert_eq!("5900:6100".parse::<PortRange>().unwrap(), r);
/// assert_eq!(r.to_string(), "5900-6100");
/// assert!(r.contains(&"6000".parse().unwrap()));
/// assert!("6100-5900".parse::<PortRange>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortRange {
    /// First port.
    pub first: u16,
    /// Last port (inclusive).
    pub last: u16,
}

impl PortRange {
    /// One port.
    pub const fn single(port: u16) -> PortRange {
        PortRange { first: port, last: port }
    }

    /// Whether every port of `other` is in this range.
    pub fn contains(&self, other: &PortRange) -> bool {
        self.first <= other.first && other.last <= self.last
    }

    fn with(&self, sep: char) -> String {
        if self.first == self.last {
            self.first.to_string()
        } else {
            format!("{}{sep}{}", self.first, self.last)
        }
    }
}

impl std::str::FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<PortRange, String> {
        let s = s.trim();
        let parse = |p: &str| p.trim().parse::<u16>().map_err(|_| format!("invalid port {p:?}"));
        let r = match s.split_once(['-', ':']) {
            Some((a, b)) => PortRange { first: parse(a)?, last: parse(b)? },
            None => PortRange::single(parse(s)?),
        };
        if r.first > r.last {
            return Err(format!("invalid port range {s:?} (first after last)"));
        }
        Ok(r)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.with('-'))
    }
}

/// A port range and why the host needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    /// The ports.
    pub range: PortRange,
    /// What uses them.
    pub purpose: String,
}

/// The ports of the CloudStack KVM host guide (plus libvirt's TLS port): SSH 22, the
/// CloudStack agent 1798, libvirt TCP 16509 and TLS 16514, VNC/SPICE consoles 5900-6100 and
/// live migration 49152-49216.
pub fn kvm_host_ports() -> Vec<Port> {
    [
        (22, 22, "SSH"),
        (1798, 1798, "CloudStack agent"),
        (16509, 16509, "libvirt TCP (migration, remote management)"),
        (16514, 16514, "libvirt TLS"),
        (5900, 6100, "VNC/SPICE consoles"),
        (49152, 49216, "libvirt live migration"),
    ]
    .into_iter()
    .map(|(first, last, purpose)| Port { range: PortRange { first, last }, purpose: purpose.into() })
    .collect()
}

/// A host firewall front end.
///
/// ```
/// use kvmhost_core::config::firewall::FirewallKind;
/// assert_eq!("ufw".parse::<FirewallKind>().unwrap(), FirewallKind::Ufw);
/// assert_eq!(FirewallKind::Nftables.to_string(), "nftables");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FirewallKind {
    /// nftables (`nft`, `/etc/nftables.conf`).
    Nftables,
    /// iptables (`/etc/sysconfig/iptables`, `/etc/iptables/rules.v4`).
    Iptables,
    /// Ubuntu's Uncomplicated Firewall.
    Ufw,
    /// firewalld (RHEL, Fedora).
    Firewalld,
}

impl std::str::FromStr for FirewallKind {
    type Err = String;
    fn from_str(s: &str) -> Result<FirewallKind, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "nftables" | "nft" => Ok(FirewallKind::Nftables),
            "iptables" => Ok(FirewallKind::Iptables),
            "ufw" => Ok(FirewallKind::Ufw),
            "firewalld" | "firewall-cmd" => Ok(FirewallKind::Firewalld),
            other => Err(format!("unknown firewall {other:?} (nftables, iptables, ufw, firewalld)")),
        }
    }
}

impl fmt::Display for FirewallKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FirewallKind::Nftables => "nftables",
            FirewallKind::Iptables => "iptables",
            FirewallKind::Ufw => "ufw",
            FirewallKind::Firewalld => "firewalld",
        })
    }
}

/// The commands opening `ports` (TCP, incoming) with `kind`, one per line, with a closing
/// line that makes them survive a reboot.
///
/// ```
/// use kvmhost_core::config::firewall::{render, FirewallKind, Port, PortRange};
/// let p = [Port { range: PortRange::single(16509), purpose: "libvirt".into() }];
/// assert_eq!(render(FirewallKind::Iptables, &p),
///     "iptables -I INPUT -p tcp -m tcp --dport 16509 -j ACCEPT   # libvirt\n\
///      iptables-save > /etc/iptables/rules.v4   # RHEL: service iptables save\n");
/// ```
pub fn render(kind: FirewallKind, ports: &[Port]) -> String {
    let mut out = String::new();
    match kind {
        FirewallKind::Nftables => {
            let set: Vec<String> = ports.iter().map(|p| p.range.to_string()).collect();
            let set = set.join(", ");
            out.push_str(&format!("nft add rule inet filter input tcp dport {{ {set} }} accept\n"));
            out.push_str(&format!(
                "# and in /etc/nftables.conf, chain input of table inet filter: tcp dport {{ {set} }} accept\n"
            ));
        }
        FirewallKind::Iptables => {
            for p in ports {
                out.push_str(&format!(
                    "iptables -I INPUT -p tcp -m tcp --dport {} -j ACCEPT   # {}\n",
                    p.range.with(':'),
                    p.purpose
                ));
            }
            out.push_str("iptables-save > /etc/iptables/rules.v4   # RHEL: service iptables save\n");
        }
        FirewallKind::Ufw => {
            for p in ports {
                out.push_str(&format!(
                    "ufw allow proto tcp from any to any port {}   # {}\n",
                    p.range.with(':'),
                    p.purpose
                ));
            }
        }
        FirewallKind::Firewalld => {
            for p in ports {
                out.push_str(&format!("firewall-cmd --permanent --add-port={}/tcp   # {}\n", p.range, p.purpose));
            }
            out.push_str("firewall-cmd --reload\n");
        }
    }
    out
}
