//! # kvmhost-net
//!
//! Declarative host networking for KVM hosts: Linux bridges, bonds, 802.1Q VLANs, bridge VLAN
//! filtering, veth pairs and taps over rtnetlink, and Open vSwitch bridges, ports and VLAN fake
//! bridges over OVSDB, as one plan → apply → verify → roll back engine, inside any network
//! namespace.
//!
//! A tour, in the order data flows:
//! - [`model`]: the serde [`HostNetwork`] (YAML, JSON, TOML) and [`validate`] (every error names
//!   its field). [`cloudstack`] builds the CloudStack host layouts.
//! - [`state`]: what the kernel has ([`NetState`]); [`netlink`] reads it and executes steps
//!   ([`NetlinkKernel`], one socket opened inside the target [`Netns`]); [`netlink::message`]
//!   builds each step's netlink request without I/O.
//! - [`plan`]: the one ordered, printable [`Plan`] of [`Step`]s with reasons, each tagged by the
//!   backend that executes it ([`BackendKind`]: netlink, or OVSDB for [`Step::Ovs`]).
//! - [`Error`]: the one error type of the crate (`error.rs`).
//! - [`engine`]: one engine over the [`Backend`] trait ([`NetlinkBackend`],
//!   [`ovs::OvsdbBackend`]): capture, plan, execute, verify, and roll back every backend to the
//!   captured prior state (including the classic cut-off: the uplink's address and default
//!   route moving onto the bridge). Re-applying the same model performs zero writes.
//! - [`render`]: the same model as systemd-networkd, ifupdown or ifcfg files.
//! - [`ovs`] and [`ovsdb`]: the Open vSwitch model, its plan and apply with exact-row rollback,
//!   over an RFC 7047 client. A [`HostNetwork`] holds it as its `ovs` section, with the
//!   addresses and routes of the interfaces OVS makes in `ovs_interfaces` ([`OvsInterface`]); the
//!   [`Engine`] given an OVSDB socket ([`Engine::with_ovsdb`]) runs both backends
//!   together: OVS steps first, one verification, one rollback of both.
//!
//! Cargo features (both default): `netlink` (the netlink edge: [`netlink`], [`netns`], [`tap`],
//! `NetlinkKernel`; rtnetlink and nix) and `ovsdb` (the OVSDB client and `ovs::{apply, read,
//! OvsdbSession}`; no extra dependency); [`Engine`] needs both. The crate is blocking and owns
//! no async runtime: every call works from inside one (netlink exchanges and OVSDB requests are
//! short; namespace switches never outlive a call). With
//! `--no-default-features` what remains is pure: the model and its validation, plans against a
//! given state ([`engine::plan_against`]), the engine over any [`Kernel`], the renderers and the
//! CloudStack layouts.
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

/// The address types, shared with kvmhost-core (`kvmhost_core::addr`).
pub use kvmhost_core::addr;
pub mod cloudstack;
mod diff;
pub mod engine;
mod error;
pub mod model;
#[cfg(feature = "netlink")]
pub mod netlink;
#[cfg(feature = "netlink")]
pub mod netns;
pub mod ovs;
pub mod ovsdb;
pub mod plan;
pub mod render;
pub mod state;
#[cfg(feature = "netlink")]
pub mod tap;
pub mod validate;

pub use addr::{IpCidr, IpFamily, MacAddr};
#[cfg(all(feature = "netlink", feature = "ovsdb"))]
pub use engine::Engine;
pub use engine::{ApplyMode, ApplyOptions, ApplyReport, Backend, Goal, Kernel, NetlinkBackend, RollbackReport};
pub use error::{Error, Result};
pub use model::{
    Bond, BondMode, Bridge, DeviceRole, HostNetwork, IpInterface, LacpRate, OvsInterface, PortVlans, Route, Tap,
    Uplink, Veth, Vlan, VlanFiltering,
};
#[cfg(feature = "netlink")]
pub use netlink::NetlinkKernel;
#[cfg(feature = "netlink")]
pub use netns::Netns;
pub use plan::{BackendKind, Plan, PlannedStep, RouteSpec, Step};
pub use state::{LinkKind, LinkState, NetState, RouteState, VlanEntry};
pub use validate::{ValidationError, ValidationErrors};

// The crate README's code blocks run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
