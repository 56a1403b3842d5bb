//! The one error type of the crate, and its `Result`.

use crate::{RollbackReport, ValidationError};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The errors of this crate: the model, the netlink edge, Open vSwitch and OVSDB, the engine.
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
    /// The kernel lacks a link kind the plan creates: its module is neither loaded nor
    /// loadable (a bond without `bonding`, a VLAN without `8021q`). Nothing of the step was
    /// done; the engine rolls back the steps before it.
    #[error("{context}: this kernel has no {kind} links (module {module} missing; errno {errno}): {message}")]
    Unsupported {
        /// The step, as its `ip` command.
        context: String,
        /// The link kind (`bond`, `vlan`).
        kind: String,
        /// The kernel module that provides it (`bonding`, `8021q`).
        module: String,
        /// The errno (positive): `EOPNOTSUPP` for an unknown link kind.
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
    /// Talking to OVSDB failed.
    #[error("OVSDB request failed")]
    Ovsdb(#[from] crate::ovsdb::Error),
    /// The database has no `Open_vSwitch` row (run `ovs-vsctl init`).
    #[error("the Open_vSwitch table has no row (database not initialised)")]
    NoRootRow,
    /// OVSDB content this crate cannot interpret.
    #[error("unexpected OVSDB content: {0}")]
    OvsState(String),
    /// An Open vSwitch step failed; OVSDB was restored to the state before the apply.
    #[error("step {} ({step}) failed; OVSDB restored to its prior state", index + 1)]
    StepFailed {
        /// Index of the step in the OVS plan (0-based).
        index: usize,
        /// The step, as printed in the plan.
        step: String,
        /// What OVSDB said.
        #[source]
        source: crate::ovsdb::Error,
    },
    /// ovs-vswitchd did not apply the configuration in time; OVSDB was restored.
    #[error("ovs-vswitchd did not apply the configuration within {0:?}; OVSDB restored to its prior state")]
    VswitchdTimeout(std::time::Duration),
    /// ovs-vswitchd could not set up interfaces; OVSDB was restored.
    #[error("ovs-vswitchd could not set up interfaces ({}); OVSDB restored to its prior state", .0.join("; "))]
    InterfaceErrors(Vec<String>),
    /// Reading OVSDB back after the apply still showed differences; OVSDB was restored.
    #[error("verification after apply found {} remaining difference(s) ({}); OVSDB restored to its prior state", remaining.len(), remaining.join("; "))]
    OvsVerifyFailed {
        /// The steps still needed, as printed in a plan.
        remaining: Vec<String>,
    },
    /// Rolling OVSDB back after a failure failed too: OVSDB may be between the two states.
    #[error("rollback failed after: {cause}")]
    RollbackFailed {
        /// The failure that triggered the rollback.
        cause: String,
        /// Why the rollback failed.
        #[source]
        source: Box<Error>,
    },
    /// Interfaces Open vSwitch makes did not appear (or, on rollback, go away) in the namespace.
    #[error("Open vSwitch interfaces {} {reason}", names.join(", "))]
    OvsDevices {
        /// The interfaces.
        names: Vec<String>,
        /// What did not happen.
        reason: String,
    },
    /// A checkpoint's files or guard could not be written or started.
    #[error("checkpoint {dir}: cannot write or run {what}")]
    Checkpoint {
        /// The checkpoint's directory.
        dir: String,
        /// Which part (`prior.json`, `rollback.sh`, the guard, …).
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The checkpoint's deadline passed before it was confirmed: its guard rolled it back.
    #[error("checkpoint {dir} expired before it was confirmed: the change is rolled back (see its rollback.log)")]
    CheckpointExpired {
        /// The checkpoint's directory.
        dir: String,
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
