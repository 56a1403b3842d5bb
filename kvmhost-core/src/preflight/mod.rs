//! Host preflight: gather a KVM host's facts, evaluate checks, explain every verdict, and fix
//! what a configuration edit can fix.
//!
//! Everything the CloudStack KVM host guide and Archipel's install notes make an admin check
//! or edit by hand, as a library, and `virt-host-validate qemu` done right (hardware
//! virtualization is KVM answering `KVM_GET_API_VERSION`, not `vmx`/`svm` in `/proc/cpuinfo`):
//!
//! - [`gather()`] / [`Gatherer`] (module [`gather`](mod@gather)): the only I/O. Files under a
//!   root directory (`/`, or a fixture, or a mounted image) and a few syscalls ([`LiveProbe`])
//!   become [`HostFacts`], serde serialisable; a fact that cannot be read is [`Fact::Unknown`]
//!   with the reason.
//! - [`Check`]: a stable id, a [`Severity`] and a pure function of the facts giving a
//!   [`Verdict`] — a [`CheckResult`] with a [`Status`], a message saying why and a remedy (the
//!   exact edit or command), plus [`Fix`]es where a file edit does it.
//! - [`Profile`]: `libvirt`, `cloudstack`, `archipel` ([`ProfileName`]) or one's own
//!   composition; [`Profile::run`] gives a [`Report`].
//! - [`plan_fixes`]: the report's fixes as [`FileEdit`](crate::config::FileEdit)s — a unified
//!   diff for a dry run, atomic writes with backups, nothing written the second time.
//! - [`cluster_checks`]: several hosts compared (release, architecture, CPU model through the
//!   [`cpu`](crate::cpu) engine: which model the cluster can share, which host stands out).
//!
//! ```
//! use kvmhost_core::preflight::{Fact, Gatherer, Kvm, Profile, Status};
//! let facts = Gatherer::live().gather();
//! let report = Profile::libvirt().run(&facts);
//! let hw = report.get("hw-virt").unwrap();
//! // KVM's own answer decides, whatever /proc/cpuinfo shows:
//! match &facts.kvm {
//!     Fact::Known(Kvm { usable: true, .. }) => assert_eq!(hw.status, Status::Pass),
//!     Fact::Known(_) => assert_eq!(hw.status, Status::Fail),
//!     Fact::Unknown(_) => assert_eq!(hw.status, Status::Unknown),
//! }
//! println!("{}: {}", hw.id, hw.message);
//! ```

mod check;
pub mod checks;
mod cluster;
mod facts;
mod fix;
pub mod gather;
mod version;

pub use check::{Check, CheckResult, Contract, ContractCheck, Fix, Profile, Report, Severity, Status, Verdict};
pub use checks::ProfileName;
pub use cluster::cluster_checks;
pub use facts::*;
pub use fix::{plan_fixes, FixPlan, ManualStep, Refused};
pub use gather::{gather, FileProbe, Gatherer, LiveProbe, SystemProbe};
pub use version::Version;

/// Preflight's errors (gathering never fails: unreadable facts are [`Fact::Unknown`]).
///
/// ```
/// use kvmhost_core::preflight::{PreflightError, ProfileName};
/// let e = "nova".parse::<ProfileName>().unwrap_err();
/// assert_eq!(e.to_string(), "unknown profile nova (libvirt, cloudstack, archipel)");
/// assert!(matches!(e, PreflightError::UnknownProfile(_)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreflightError {
    /// No built-in profile has this name.
    #[error("unknown profile {0} (libvirt, cloudstack, archipel)")]
    UnknownProfile(String),
}
