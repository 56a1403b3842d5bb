//! # kvmhost-net
//!
//! Declarative host networking for KVM hosts: Linux bridges, 802.1Q VLANs, bridge VLAN
//! filtering, veth pairs and taps over rtnetlink, and Open vSwitch bridges, ports and VLAN fake
//! bridges over OVSDB, as one plan → apply → verify → roll back engine, inside any network
//! namespace.
//!
//! A tour, in the order data flows:
//! - [`model`]: the serde [`HostNetwork`] (YAML, JSON, TOML) and [`validate`] (every error names
//!   its field). [`cloudstack`] builds the CloudStack host layouts.
//! - [`state`]: what the kernel has ([`NetState`]); [`netlink`] reads it and executes steps
//!   ([`NetlinkKernel`], one socket opened inside the target [`Netns`]).
//! - [`plan`]: the ordered, printable [`Plan`] of [`Step`]s with reasons; [`message`] builds
//!   each step's netlink request without I/O.
//! - [`engine`]: apply with verification and rollback to the captured prior state (including
//!   the classic cut-off: the uplink's address and default route moving onto the bridge).
//!   Re-applying the same model performs zero writes.
//! - [`render`]: the same model as systemd-networkd, ifupdown or ifcfg files.
//! - [`ovs`] and [`ovsdb`]: the Open vSwitch model, its plan and apply with exact-row rollback,
//!   over an RFC 7047 client. A [`HostNetwork`] holds it as its `ovs` section, with the
//!   addresses and routes of the interfaces OVS makes in `ovs_interfaces` ([`ovs_ip`]); the
//!   [`Engine`] given an OVSDB socket ([`Engine::with_ovsdb`]) plans and applies both parts
//!   together: OVS steps first, one verification, one rollback of both.
//!
//! ```no_run
//! use kvmhost_net::{cloudstack, Engine, Netns};
//! let layout = cloudstack::CloudStackLinux::new("eth0", 100, 200, 300,
//!     "192.168.42.11/24".parse().unwrap(), "192.168.42.1".parse().unwrap());
//! let net = layout.build();
//! let engine = Engine::new(Netns::Current);
//! print!("{}", engine.plan(&net)?);          // what would change, and why
//! let report = engine.apply(&net)?;          // rolled back if anything fails
//! assert_eq!(engine.apply(&net)?.writes, 0); // idempotent
//! # Ok::<(), kvmhost_net::Error>(())
//! ```
//!
//! The Open vSwitch layout (bridge `br0` on `eth0` as a trunk, fake bridges `mgmt0`, `cloudbr0`,
//! `cloudbr1`, the host's address and default route on `mgmt0`):
//!
//! ```no_run
//! use kvmhost_net::{cloudstack::CloudStackLinux, ovs::DatapathType, Engine, Netns};
//! let net = CloudStackLinux::new("eth0", 100, 200, 300, "192.168.42.11/24".parse().unwrap(),
//!     "192.168.42.1".parse().unwrap()).build_ovs(DatapathType::System);
//! let engine = Engine::new(Netns::Current).with_ovsdb("unix:/var/run/openvswitch/db.sock");
//! print!("{}", engine.plan(&net)?);          // OVS steps, then the netlink steps
//! engine.apply(&net)?;                       // on failure OVSDB and links are both restored
//! # Ok::<(), kvmhost_net::Error>(())
//! ```

pub mod addr;
pub mod cloudstack;
mod diff;
pub mod engine;
pub mod message;
pub mod model;
pub mod netlink;
pub mod netns;
pub mod ovs;
pub mod ovs_ip;
pub mod ovsdb;
pub mod plan;
mod rawlink;
pub mod render;
pub mod state;
pub mod tap;
pub mod validate;

pub use addr::{IpCidr, MacAddr};
pub use engine::{ApplyOptions, ApplyReport, Engine, Kernel, RollbackReport};
pub use model::{Bridge, DeviceRole, HostNetwork, PortVlans, Route, Tap, Uplink, Veth, Vlan, VlanFiltering};
pub use netlink::NetlinkKernel;
pub use netns::Netns;
pub use plan::{Plan, PlannedStep, RouteSpec, Step};
pub use state::{LinkKind, LinkState, NetState, RouteState, VlanEntry};
pub use validate::{ValidationError, ValidationErrors};

/// Errors of this crate.
///
/// ```
/// let e = kvmhost_net::Error::MissingDevice { name: "eth9".into(), field: "uplinks[0]".into() };
/// assert_eq!(e.to_string(), "uplinks[0]: device eth9 does not exist");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The model is invalid; every problem is listed.
    #[error("invalid host network: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ValidationError>),
    /// A model file could not be parsed.
    #[error("cannot parse the host network as {format}: {message}")]
    Parse {
        /// YAML, JSON or TOML.
        format: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A model file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A device the model needs (an uplink, a parent) does not exist.
    #[error("{field}: device {name} does not exist")]
    MissingDevice {
        /// Device name.
        name: String,
        /// Field of the model that names it.
        field: String,
    },
    /// A device exists with another kind or peer than the model says.
    #[error("{field}: {name} cannot be used: {reason}")]
    Conflict {
        /// Device name.
        name: String,
        /// Field of the model.
        field: String,
        /// Why.
        reason: String,
    },
    /// An address the model wants is held by a device the model does not manage.
    #[error("{field}: address {address} is held by {device}, which this host network does not manage")]
    AddressHeldElsewhere {
        /// Field of the model.
        field: String,
        /// The address.
        address: String,
        /// The device holding it.
        device: String,
    },
    /// The namespace could not be entered (or a socket made in it).
    #[error("cannot work in {netns}")]
    Netns {
        /// The namespace.
        netns: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The kernel refused a request.
    #[error("{context}: the kernel refused (errno {errno}): {message}")]
    Kernel {
        /// The step (as its `ip` command) or the read.
        context: String,
        /// The errno (positive), 0 when unknown.
        errno: i32,
        /// The kernel's message.
        message: String,
    },
    /// After applying, the state read back still differs.
    #[error("verification failed, still to do:\n{remaining}")]
    Verify {
        /// The plan that remains.
        remaining: String,
    },
    /// The model has an `ovs` section but no OVSDB connection was given.
    #[error("ovs: the host network has an Open vSwitch section: an OVSDB socket is needed (Engine::with_ovsdb, --ovsdb unix:PATH)")]
    OvsdbRequired,
    /// The Open vSwitch part failed (OVSDB, ovs-vswitchd, or its validation).
    #[error("Open vSwitch")]
    Ovs(#[source] crate::ovs::Error),
    /// Interfaces Open vSwitch makes did not appear (or, on rollback, go away) in the namespace.
    #[error("Open vSwitch interfaces {} {reason}", names.join(", "))]
    OvsDevices {
        /// The interfaces.
        names: Vec<String>,
        /// What did not happen.
        reason: String,
    },
    /// Applying failed at a step; the rollback's outcome is attached.
    #[error("step {} ({step}) failed{}", index + 1, rollback_summary(.rollback))]
    Apply {
        /// Index of the failed step (`plan.len()` for the verification).
        index: usize,
        /// The step as its command.
        step: String,
        /// The cause.
        #[source]
        source: Box<Error>,
        /// The rollback, when one ran.
        rollback: Option<Box<RollbackReport>>,
    },
}

fn rollback_summary(r: &Option<Box<RollbackReport>>) -> String {
    match r {
        None => ", no rollback".into(),
        Some(r) if r.restored && r.errors.is_empty() => {
            let ovs = r.ovs_operations.map(|n| format!(" and {n} OVSDB operations")).unwrap_or_default();
            format!("; rolled back ({} steps{ovs}), the prior state is restored", r.plan.len())
        }
        Some(r) => format!("; rollback incomplete: {}", r.errors.join("; ")),
    }
}

// The crate README's code blocks run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
