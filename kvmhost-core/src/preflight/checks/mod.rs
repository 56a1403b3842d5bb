//! The built-in checks and profiles.
//!
//! Every check is a pure function of [`HostFacts`]: `host` holds `virt-host-validate qemu`'s
//! set (done right), `cloudstack` the CloudStack KVM host guide's rules, `archipel` the libvirt
//! settings of Archipel's notes. Each is public so users can compose their own profiles.

pub mod archipel;
pub mod cloudstack;
pub mod daemon;
pub mod host;

use super::{ConfFile, Fact, HostFacts, PreflightError, Profile, Verdict};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The built-in profiles.
///
/// ```
/// use kvmhost_core::preflight::ProfileName;
/// let p: ProfileName = "cloudstack".parse().unwrap();
/// assert_eq!(p.to_string(), "cloudstack");
/// assert!(p.profile().checks.iter().any(|c| c.id == "fqdn"));
/// assert!("nova".parse::<ProfileName>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileName {
    /// `virt-host-validate qemu`'s checks, done right.
    Libvirt,
    /// The CloudStack KVM host guide (includes `libvirt`).
    Cloudstack,
    /// Archipel's notes (includes `libvirt`).
    Archipel,
}

impl ProfileName {
    /// Every built-in profile.
    pub const ALL: [ProfileName; 3] = [ProfileName::Libvirt, ProfileName::Cloudstack, ProfileName::Archipel];

    /// The profile.
    pub fn profile(self) -> Profile {
        match self {
            ProfileName::Libvirt => Profile::libvirt(),
            ProfileName::Cloudstack => Profile::cloudstack(),
            ProfileName::Archipel => Profile::archipel(),
        }
    }
}

impl std::str::FromStr for ProfileName {
    type Err = PreflightError;
    fn from_str(s: &str) -> Result<ProfileName, PreflightError> {
        match s {
            "libvirt" => Ok(ProfileName::Libvirt),
            "cloudstack" => Ok(ProfileName::Cloudstack),
            "archipel" => Ok(ProfileName::Archipel),
            other => Err(PreflightError::UnknownProfile(other.to_string())),
        }
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProfileName::Libvirt => "libvirt",
            ProfileName::Cloudstack => "cloudstack",
            ProfileName::Archipel => "archipel",
        })
    }
}

impl Profile {
    /// `virt-host-validate qemu`'s checks (hardware virtualization by KVM's own answer,
    /// `/dev/kvm`, `/dev/vhost-net`, `/dev/net/tun`, six cgroup controllers in v1 or v2, IOMMU,
    /// secure guests) and that libvirt's configuration parses.
    pub fn libvirt() -> Profile {
        host::checks().into_iter().fold(Profile::new("libvirt"), Profile::with)
    }

    /// The CloudStack KVM host guide: `libvirt`'s checks and its own rules.
    pub fn cloudstack() -> Profile {
        let mut p = Profile::libvirt();
        p.name = "cloudstack".into();
        cloudstack::checks().into_iter().fold(p, Profile::with)
    }

    /// Archipel's notes: `libvirt`'s checks, QEMU with SPICE, `spice_listen`, `max_clients`.
    pub fn archipel() -> Profile {
        let mut p = Profile::libvirt();
        p.name = "archipel".into();
        archipel::checks().into_iter().fold(p, Profile::with)
    }
}

/// The value of a fact, or an unknown verdict saying why not.
pub(crate) fn known<'a, T>(fact: &'a Fact<T>, what: &str) -> Result<&'a T, Verdict> {
    match fact {
        Fact::Known(v) => Ok(v),
        Fact::Unknown(why) => Err(Verdict::Unknown(format!("{what} unknown: {why}"))),
    }
}

/// `a, b, c`, or `none`.
pub(crate) fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// The daemon that takes remote (TCP) connections: `virtproxyd` with modular daemons,
/// `libvirtd` otherwise; with its configuration file.
pub(crate) fn remote_daemon(f: &HostFacts) -> (&'static str, &Fact<ConfFile>) {
    let l = &f.libvirtd;
    let running_modular =
        l.running.known().is_some_and(|r| r.iter().any(|c| c.first().is_some_and(|a| a.ends_with("virtproxyd"))));
    let units_modular =
        matches!(&l.socket_units, Fact::Known(Some(u)) if u.iter().any(|u| u.starts_with("virtproxyd")));
    let running_mono =
        l.running.known().is_some_and(|r| r.iter().any(|c| c.first().is_some_and(|a| a.ends_with("libvirtd"))));
    if (running_modular || units_modular) && !running_mono {
        ("virtproxyd", &l.virtproxyd_conf)
    } else {
        ("libvirtd", &l.conf)
    }
}

/// Whether the host runs systemd (`None`: unknown).
pub(crate) fn systemd(f: &HostFacts) -> Option<bool> {
    f.libvirtd.socket_units.known().map(Option::is_some)
}

/// The command installing and starting a package on this OS.
pub(crate) fn install(f: &HostFacts, debian: &str, rhel: &str, service: (&str, &str)) -> String {
    if systemd(f) == Some(false) {
        let pkg = if f.os.known().is_some_and(|o| o.is_like("debian")) { debian } else { rhel };
        return format!("install {pkg} and start {} (this host runs no systemd)", service.1);
    }
    match f.os.known() {
        Some(os) if os.is_like("debian") => {
            format!("apt-get install -y {debian} && systemctl enable --now {}", service.0)
        }
        Some(os) if os.is_like("rhel") || os.is_like("fedora") || os.is_like("centos") => {
            format!("dnf install -y {rhel} && systemctl enable --now {}", service.1)
        }
        _ => format!("install {debian} (Debian/Ubuntu) or {rhel} (RHEL) and enable it at boot"),
    }
}
