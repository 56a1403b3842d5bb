//! # kvmhost-templates
//!
//! Archipel-style VMCasts: VM appliance templates distributed through feeds — compatible with
//! what Archipel wrote and read, and fixed where Archipel was unsafe.
//!
//! - [`archive`]: packages. The native format (one zstd-compressed tar stream: a manifest with
//!   the domain XML, metadata and the SHA-256 of every member, an optional minisign signature,
//!   then sparse disk members read with `SEEK_DATA`/`SEEK_HOLE`) and Archipel's `.xvm2`
//!   (plain tar, gzipped disks). [`archive::pack`], [`archive::verify`], [`archive::unpack`].
//! - [`feed`]: RSS 2.0 VMCast feeds, read tolerantly (Archipel's unescaped text, both date
//!   styles, the bare `<uuid>`) and written properly, with kvmhost's extensions (SHA-256,
//!   size, format, signing key) in their own namespace; [`feed::generate`] builds one from a
//!   directory of packages.
//! - [`catalog`]: subscriptions and the local catalog of appliances (not installed /
//!   downloading / installed / error), kept on disk so that it survives a crash, and
//!   [`catalog::Catalog::download`], which resumes with HTTP `Range` and verifies.
//! - [`instantiate`]: a new VM from an unpacked package — new name and UUID, fresh MACs,
//!   disks copied or as qcow2 overlays on a golden image, ready to define (with the `libvirt`
//!   feature, defined, or with its disks uploaded as new volumes of a storage pool).
//! - [`signing`], [`sparse`], [`manifest`], [`date`], [`Limits`]: the parts underneath.
//!
//! Hostile input is normal input: every package and feed is read in one streaming pass with
//! typed errors, bounded memory, the [`Limits`], and nothing written outside the target.
//!
//! ```
//! use kvmhost_core::domain::Domain;
//! use kvmhost_templates::archive::{self, PackRequest, ReadOptions};
//! use kvmhost_templates::instantiate::{instantiate, InstantiateOptions};
//! let dir = tempfile::tempdir().unwrap();
//! let img = dir.path().join("vda.qcow2");
//! std::fs::write(&img, b"not really qcow2").unwrap();
//! let xml = format!("<domain type='kvm'><name>tpl</name><devices><disk type='file' device='disk'>\
//!                    <source file='{}'/><target dev='vda'/></disk><interface type='network'>\
//!                    <mac address='52:54:00:00:00:01'/><source network='default'/></interface></devices></domain>",
//!                   img.display());
//! let pkg = dir.path().join("tpl.vmcast");
//! archive::pack(&PackRequest::new(&Domain::parse(&xml).unwrap(), vec![img]), &pkg, &mut |_| {}).unwrap();
//! let vm_dir = dir.path().join("web1");
//! let unpacked = archive::unpack(&pkg, &vm_dir, &ReadOptions::default(), &mut |_| {}).unwrap();
//! let vm = instantiate(&unpacked, &vm_dir, &InstantiateOptions::new("web1")).unwrap();
//! assert_eq!(vm.domain.name().as_deref(), Some("web1"));
//! assert!(vm.domain.to_xml().unwrap().contains(&format!("{}/vda.qcow2", vm_dir.display())));
//! ```

pub mod archive;
pub mod catalog;
pub mod date;
pub mod feed;
mod fsutil;
pub mod instantiate;
mod limits;
pub mod manifest;
pub mod signing;
pub mod sparse;
pub mod transport;

pub use archive::{Format, PackRequest, Package, Progress, ReadOptions};
pub use limits::Limits;

// The crate README's code blocks run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
