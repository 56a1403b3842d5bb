//! # kvmhost-core
//!
//! The pure core of kvmhost: no libvirt, no tokio, no daemons, no sockets. Its only I/O sits at
//! two edges: gathering a host's facts for [`preflight`] (files under a root directory and a few
//! syscalls) and writing configuration files in [`config`].
//!
//! - [`addr`]: the address types every crate shares ([`addr::IpCidr`], [`addr::MacAddr`]).
//! - [`xml`]: an order-preserving XML tree (the lossless substrate every model below is read
//!   and written with), with limits for hostile input.
//! - [`domain`]: [`domain::Domain`] (parse any real document, edit typed parts, write it back
//!   with everything else untouched), [`domain::DomainBuilder`] and [`domain::DomainError`].
//! - [`capabilities`]: libvirt's host [`capabilities::Capabilities`] and
//!   [`capabilities::DomainCapabilities`], and [`capabilities::host_model_cpu`], the one
//!   reader of the host-model CPU.
//! - [`snapshot`], [`network`], [`storage`]: the snapshot, network, storage pool and volume
//!   XML libvirt takes and returns ([`snapshot::SnapshotSpec`], [`network::NetworkSpec`],
//!   [`storage::PoolSpec`], [`storage::VolumeSpec`], …). kvmhost-libvirt sends them to libvirt
//!   and re-exports them.
//! - [`cpu`]: the CPU engine, libvirt 9.0's x86 CPU driver in Rust — the CPU map
//!   ([`cpu::CpuMap`]), [`cpu::compare`], [`cpu::baseline`], CPUID decode, guest CPU update,
//!   migration checks across a cluster — and CPU mode policy ([`cpu::CpuPolicy`]).
//! - [`preflight`]: a host's facts (gathered from a root directory and a few syscalls), checks
//!   and profiles (`virt-host-validate`'s, CloudStack's, Archipel's), fixes, cluster checks.
//! - [`config`]: lossless editing of libvirt's configuration files and shell-variable files,
//!   atomic writes with backups and diffs, firewall rules.
//!
//! Every parser here takes text and returns a typed error naming the element or attribute at
//! fault (and the line and column when the text is not XML); none panics on hostile input.
//!
//! ```
//! use kvmhost_core::domain::{Domain, Memory};
//! let mut d = Domain::parse("<domain type='kvm'><name>vm1</name>\
//!   <memory unit='KiB'>1048576</memory><devices/></domain>").unwrap();
//! assert_eq!(d.memory().unwrap().unwrap().bytes(), Some(1 << 30));
//! d.set_name(Some("vm2")).unwrap();
//! assert!(d.to_xml().unwrap().contains("<name>vm2</name>"));
//! ```

pub mod addr;
pub mod capabilities;
pub mod config;
pub mod cpu;
pub mod domain;
pub mod network;
pub mod preflight;
pub mod snapshot;
pub mod storage;
pub mod xml;

// The crate README's code blocks run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
