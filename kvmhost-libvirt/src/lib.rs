//! # kvmhost-libvirt
//!
//! An async, typed, robust API over libvirt (through the [`virt`] crate) that speaks
//! [`kvmhost_core::domain::Domain`] instead of XML strings.
//!
//! - [`Hypervisor`] (trait) / [`LibvirtHypervisor`]: one object per host for async code — host
//!   facts ([`host`]), domains ([`domains`]), snapshots ([`snapshot`]), storage ([`storage`]),
//!   networks ([`network`]), lifecycle events ([`Hypervisor::events`], a [`events::HostEvents`]
//!   stream that survives reconnects) and live migration ([`LibvirtHypervisor::migrate`], see
//!   [`migration`]: libvirt's CPU check and the CPU engine's, offline).
//! - The pure XML models libvirt takes and returns live in kvmhost-core next to the domain model
//!   and are re-exported here under their old paths: [`Capabilities`] and
//!   [`DomainCapabilities`] ([`kvmhost_core::capabilities`], errors [`CapabilitiesError`]),
//!   [`SnapshotSpec`] / [`SnapshotInfo`] ([`kvmhost_core::snapshot`]), [`NetworkSpec`] /
//!   [`NetworkInfo`] ([`kvmhost_core::network`], errors [`NetworkError`]), [`PoolSpec`] /
//!   [`VolumeSpec`] / [`PoolInfo`] / [`VolumeInfo`] ([`kvmhost_core::storage`], errors
//!   [`StorageError`]). This crate adds what only libvirt's calls give (state, live sizes).
//! - [`connection`]: one shared connection per URI, blocking calls on a bounded worker pool
//!   (each call and its thread-local error on one thread), keepalive, typed
//!   [`LibvirtError::ConnectionLost`] and automatic reconnect with backoff.
//! - [`error`]: libvirt's error codes as [`LibvirtError`] variants with libvirt's message;
//!   nothing is printed to stderr.
//! - [`preflight`]: the facts a connection knows (running daemon's versions, domains, host
//!   CPU) completing [`kvmhost_core::preflight::HostFacts`].
//! - [`testing`]: an isolated `test:///` host seeded with domains, networks and pools for
//!   users' integration tests.
//! - [`blocking`]: the small synchronous [`Connection`] for tools without a runtime.
//! - [`event_loop`]: libvirt's event loop thread (keepalive, events), started automatically.
//!
//! ```
//! use kvmhost_core::domain::DomainBuilder;
//! use kvmhost_libvirt::{DomainState, Hypervisor, LibvirtHypervisor, UndefineOptions, XmlView};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let host = LibvirtHypervisor::connect("test:///default").await.unwrap();
//! let vm = host.define(&DomainBuilder::new("doc-vm").memory_mib(256).build().unwrap()).await.unwrap();
//! let id = vm.domain_id();
//! host.start(&id).await.unwrap();
//! assert_eq!(host.state(&id).await.unwrap().state, DomainState::Running);
//! let live = host.domain_xml(&id, XmlView::Live).await.unwrap();
//! assert_eq!(live.name().as_deref(), Some("doc-vm"));
//! host.destroy(&id).await.unwrap();
//! host.undefine(&id, UndefineOptions::default()).await.unwrap();
//! # });
//! ```

pub mod blocking;
pub mod connection;
mod domain_cache;
pub mod domains;
pub mod error;
pub mod event_loop;
pub mod events;
pub mod host;
pub mod hypervisor;
mod libvirt_host;
pub mod migration;
pub mod network;
pub mod preflight;
pub mod snapshot;
pub mod state;
pub mod storage;
pub mod testing;

pub use blocking::{Connection, DomainHandle};
pub use domains::{DomainFilter, DomainId, DomainSummary, Scope, ShutdownOutcome, UndefineOptions, XmlView};
pub use error::{LibvirtError, Result};
pub use host::{Capabilities, CapabilitiesError, DomainCapabilities, DomainCapsQuery, NodeInfo, Version, Versions};
pub use hypervisor::Hypervisor;
pub use libvirt_host::LibvirtHypervisor;
pub use network::{NetworkError, NetworkInfo, NetworkKind, NetworkSpec};
pub use snapshot::{
    RevertTo, SnapshotDelete, SnapshotDisk, SnapshotError, SnapshotInfo, SnapshotOptions, SnapshotSpec,
};
pub use state::{DomainRuntime, DomainState, StateWithReason};
pub use storage::{PoolInfo, PoolSpec, StorageError, TransferProgress, UploadSource, VolumeInfo, VolumeSpec};

// The crate README's code blocks run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
