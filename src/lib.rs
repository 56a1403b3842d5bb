//! # kvmhost
//!
//! Facade over the kvmhost crate family, re-exporting each crate under a short name, each
//! behind the Cargo feature of the same name (all on by default):
//!
//! - `core` (`kvmhost-core`): the lossless, typed libvirt domain XML model and builder,
//!   libvirt's other XML (capabilities, domain capabilities, snapshots, networks, storage pools
//!   and volumes), the CPU engine, host preflight and config editors. Pure: no libvirt, no tokio.
//! - `net` (`kvmhost-net`): host networking over netlink and OVSDB.
//! - `libvirt` (`kvmhost-libvirt`): a typed, async API over libvirt connections (links libvirt).
//! - `templates` (`kvmhost-templates`): VM appliance templates (VMCasts).
//!
//! The facade is not published on crates.io: depend on it by path (or git).
//! `kvmhost = { path = "../kvmhost", default-features = false, features = ["core"] }` gives the
//! pure part alone.
//!
//! ```
//! use kvmhost::core::domain::Domain;
//! let d = Domain::parse("<domain type='kvm'><name>vm</name></domain>").unwrap();
//! assert_eq!(d.name().as_deref(), Some("vm"));
//! ```

#[cfg(feature = "core")]
pub use kvmhost_core as core;
#[cfg(feature = "libvirt")]
pub use kvmhost_libvirt as libvirt;
#[cfg(feature = "net")]
pub use kvmhost_net as net;
#[cfg(feature = "templates")]
pub use kvmhost_templates as templates;

/// The README's code blocks, compiled and run as doc tests (`cargo test --doc -p kvmhost`).
#[cfg(all(doctest, feature = "core", feature = "net", feature = "libvirt", feature = "templates"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
