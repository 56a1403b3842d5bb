//! # x86 CPU models, the way libvirt 9.0 sees them
//!
//! A pure-Rust reading of libvirt's CPU map (`/usr/share/libvirt/cpu_map`) and its x86 CPU
//! driver, checked against libvirt's own test suite and against libvirt itself:
//!
//! - [`CpuMap`]: vendors, features (CPUID / MSR bits) and models from `index.xml` and the
//!   `x86_*.xml` files it includes, parsed from text ([`CpuMap::parse_index`]) or read from a
//!   directory ([`CpuMap::load`]); [`CpuidData`]: the bit algebra.
//! - [`CpuDef`]: a `<cpu>` (the domain model's [`Cpu`](crate::domain::Cpu) plus kind, arch and
//!   signature), written back as libvirt formats it ([`CpuDef::to_xml`]).
//! - [`compare`] / [`compare_defs`]: host vs guest ([`CompareResult`]); [`baseline`] (with
//!   [`BaselineOptions`]) and [`expand_features`]; [`decode`] / [`decode_host`] / [`decode_guest`]: raw CPUID (a
//!   `<cpudata>` dump or this machine's [`host_cpuid`]) to the CPU libvirt reports;
//!   [`update`], [`translate`], [`guest_cpu`], [`has_feature`], [`copy_migratable`].
//! - Policy: [`CpuPolicy`] from CloudStack's `agent.properties` or Nova's options, rendered as
//!   the domain `<cpu>` with per-host exclusions ([`KVM_MSR_0X10A_QUIRK`]).
//! - Cluster planning: [`migration_safe_cpu`], [`placement`] (each refusal explained),
//!   [`check_migration`] (says when host-passthrough / host-model cannot migrate).
//!
//! The map is data: [`CpuMap::load`] reads the one libvirt installs ([`CpuMap::default_path`]),
//! the only file I/O here; [`CpuMap::parse`] and [`CpuMap::parse_index`] take its XML as text.
//! The examples in this module's documentation parse `cpu_map_excerpt.xml`, which ships with
//! the crate: a few real models (Penryn, Westmere, SandyBridge, Haswell, Skylake-Client,
//! Skylake-Server, Opteron_G3) with their vendors and features, copied from libvirt 9.0.0's
//! `src/cpu_map` (LGPL-2.1-or-later); with the full map their results are the same.
//!
//! ```
//! use kvmhost_core::cpu::CpuMap;
//! // a few of libvirt's models; CpuMap::load(CpuMap::default_path()) reads the installed map
//! let map = CpuMap::parse(include_str!("cpu_map_excerpt.xml")).unwrap();
//! let haswell = map.expand(Some("Haswell"), &[]).unwrap();
//! let avx2 = map.expand(None, &["avx2"]).unwrap();
//! assert!(avx2.is_subset_of(&haswell));
//! ```

mod baseline;
mod cluster;
mod compare;
mod cpuid;
mod data;
mod decode;
mod format;
mod load;
mod map;
mod policy;
mod update;

pub use baseline::{baseline, expand_features, filter_qemu_unsupported, BaselineOptions, QEMU_FILTERED_FEATURES};
pub use cluster::{check_migration, migration_safe_cpu, placement, ClusterHost, HostVerdict, MigrationCheck};
pub use compare::{compare, compare_defs, CompareResult, CpuDef, CpuKind};

pub use cpuid::host_cpuid;
pub use data::{CpuidData, CpuidLeaf, MsrBits};
pub use decode::{decode, decode_guest, decode_host, CpuSignature, DecodeOptions, Decoded, HvModel};
pub use map::{CpuMap, Feature, FeatureAlias, Model, Signature, Vendor};
pub use policy::{CpuFlag, CpuPolicy, KVM_MSR_0X10A_QUIRK};
pub use update::{copy_migratable, guest_cpu, has_feature, translate, update};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything that can go wrong loading a CPU map or reasoning about CPUs.
///
/// ```
/// use kvmhost_core::cpu::CpuError;
/// let e = CpuError::UnknownModel("Bogus".into());
/// assert_eq!(e.to_string(), "unknown CPU model Bogus");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CpuError {
    /// A CPU map file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        message: String,
    },
    /// A CPU map file is not well-formed XML.
    #[error("{path}: malformed XML: {message}")]
    Xml {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        message: String,
    },
    /// A CPU map file is well-formed but its content is invalid.
    #[error("{path}: {element}: {message}")]
    InvalidMap {
        /// The file.
        path: PathBuf,
        /// Where in the file (`model[name='Haswell']/feature[name='x']`).
        element: String,
        /// What is wrong.
        message: String,
    },
    /// A CPU model name not in the map.
    #[error("unknown CPU model {0}")]
    UnknownModel(String),
    /// A CPU feature name not in the map.
    #[error("unknown CPU feature {0}")]
    UnknownFeature(String),
    /// A `<cpu>` definition that cannot be used (malformed XML, invalid policy).
    #[error("invalid CPU definition: {0}")]
    InvalidCpu(String),
    /// The operation cannot be done for these CPUs (libvirt's `VIR_ERR_OPERATION_FAILED` /
    /// `CONFIG_UNSUPPORTED`: incompatible vendors, no usable model, …).
    #[error("{0}")]
    Unsupported(String),
}
