//! Persistence: the same [`HostNetwork`] as the files a distribution reads at boot, as
//! CloudStack's installation guide writes them by hand: systemd-networkd `.netdev`/`.network`
//! ([`networkd`]), Debian `/etc/network/interfaces` ([`interfaces`]), RHEL `ifcfg-*` and
//! `route-*` ([`ifcfg`]), each with the Open vSwitch part (`ovs` section) included: the
//! openvswitch-switch stanzas, `DEVICETYPE=ovs` files, or an `ovs-vsctl` script for networkd.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::model::{HostNetwork, Route};

pub mod ifcfg;
pub mod interfaces;
pub mod networkd;
mod ovs;

/// One file to write.
///
/// ```
/// use kvmhost_net::render::{render, Format};
/// let f = &render(&kvmhost_net::HostNetwork::new(), Format::Interfaces)[0];
/// assert!(f.path.ends_with("interfaces"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RenderedFile {
    /// Where the file goes.
    pub path: String,
    /// Its contents.
    pub contents: String,
}

/// A persistence format.
///
/// ```
/// use kvmhost_net::render::Format;
/// assert_eq!("networkd".parse::<Format>().unwrap(), Format::Networkd);
/// assert!("netplan".parse::<Format>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Format {
    /// systemd-networkd.
    Networkd,
    /// Debian ifupdown.
    Interfaces,
    /// RHEL network-scripts.
    Ifcfg,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "networkd" => Ok(Self::Networkd),
            "interfaces" => Ok(Self::Interfaces),
            "ifcfg" => Ok(Self::Ifcfg),
            other => Err(format!("unknown format {other:?} (networkd, interfaces, ifcfg)")),
        }
    }
}

/// Render `net` in `format`.
///
/// ```
/// use kvmhost_net::{render::{render, Format}, HostNetwork};
/// let net = HostNetwork::from_yaml("bridges: [{name: br0, addresses: [10.0.0.2/24]}]").unwrap();
/// let files = render(&net, Format::Interfaces);
/// assert!(files[0].contents.contains("iface br0 inet static"));
/// ```
pub fn render(net: &HostNetwork, format: Format) -> Vec<RenderedFile> {
    match format {
        Format::Networkd => networkd::render(net),
        Format::Interfaces => interfaces::render(net),
        Format::Ifcfg => ifcfg::render(net),
    }
}

/// All files, each preceded by a `# PATH` line (what the CLI prints).
///
/// ```
/// use kvmhost_net::render::{render, to_text, Format};
/// let t = to_text(&render(&kvmhost_net::HostNetwork::new(), Format::Interfaces));
/// assert!(t.starts_with("# /etc/network/interfaces"));
/// ```
pub fn to_text(files: &[RenderedFile]) -> String {
    let mut s = String::new();
    for f in files {
        let _ = writeln!(s, "# {}\n{}", f.path, f.contents);
    }
    s
}

/// `ip route` words for a non-default route (`10.0.0.0/8 via 10.1.1.1 dev br0 metric 5`).
pub(crate) fn route_words(r: &Route, dev: &str) -> String {
    let mut s = r.destination.to_string();
    if let Some(g) = r.gateway {
        let _ = write!(s, " via {g}");
    }
    let _ = write!(s, " dev {dev}");
    if let Some(m) = r.metric {
        let _ = write!(s, " metric {m}");
    }
    s
}

/// Every device with its addresses and routes: (name, addresses, routes).
pub(crate) fn l3(net: &HostNetwork, name: &str) -> (Vec<crate::IpCidr>, Vec<Route>) {
    (net.addresses_of(name).0, net.routes_of(name))
}
