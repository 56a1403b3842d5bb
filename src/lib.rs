//! # kvmhost
//!
//! Facade over the kvmhost crate family, re-exporting each crate under a short name:
//!
//! - [`core`] (`kvmhost-core`): the lossless, typed libvirt domain XML model and builder.
//! - [`net`] (`kvmhost-net`): host networking.
//! - [`libvirt`] (`kvmhost-libvirt`): a typed API over libvirt connections.
//! - [`templates`] (`kvmhost-templates`): VM appliance templates (VMCasts).
//!
//! ```
//! use kvmhost::core::domain::Domain;
//! let d = Domain::parse("<domain type='kvm'><name>vm</name></domain>").unwrap();
//! assert_eq!(d.name().as_deref(), Some("vm"));
//! ```

pub use kvmhost_core as core;
pub use kvmhost_libvirt as libvirt;
pub use kvmhost_net as net;
pub use kvmhost_templates as templates;

/// The README's code blocks, compiled and run as doc tests (`cargo test --doc -p kvmhost`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
