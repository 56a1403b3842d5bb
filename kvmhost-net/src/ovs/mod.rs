//! Open vSwitch as declarative state: a serde model ([`OvsConfig`]: bridges, ports with VLAN
//! modes, VLAN "fake bridges"), read from OVSDB ([`read`], [`Snapshot`]), diffed into an
//! ordered, printable [`Plan`], applied through RFC 7047 `transact` ([`apply`]), verified by
//! reading back, and rolled back to the captured rows on any failure ([`restore`]).
//! Applying the same configuration twice writes nothing the second time.
//!
//! Combined with other engines (netlink), keep the [`Snapshot`] taken before planning: if a
//! later, non-OVS step fails, [`restore`] puts back exactly those rows (UUIDs included).
//!
//! Persistence: [`render_interfaces`] (Debian ifupdown with openvswitch-switch's hooks) and
//! [`ifcfg_files`] (RHEL network-scripts, `DEVICETYPE=ovs`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), kvmhost_net::ovs::Error> {
//! use kvmhost_net::ovs::{apply, plan, ApplyOptions, CloudStackOvs, DatapathType, OvsConfig, Snapshot};
//! use kvmhost_net::ovsdb::Client;
//!
//! // The CloudStack guide's layout: br0 on eth0 (trunk), mgmt0/100, cloudbr0/200, cloudbr1/300.
//! let cfg = OvsConfig::cloudstack(&CloudStackOvs::new("eth0").datapath(DatapathType::Netdev));
//! let mut ovsdb = Client::connect("/tmp/kvmhost-ovs/db.sock").await?;
//! print!("{}", plan(&cfg, &Snapshot::capture(&mut ovsdb).await?)?);   // nothing applied yet
//! let report = apply(&mut ovsdb, &cfg, ApplyOptions::default()).await?;
//! println!("{} steps in {} transaction(s)", report.steps, report.write_transactions);
//! # Ok(()) }
//! ```

mod apply;
mod cloudstack;
mod model;
mod plan;
mod render;
mod session;
mod state;
mod validate;

use std::time::Duration;

pub use apply::{apply, apply_plan, restore, restore_operations, ApplyMode, ApplyOptions, ApplyReport};
pub use cloudstack::CloudStackOvs;
pub use model::{DatapathType, FailMode, FakeBridge, OvsBridge, OvsConfig, OvsPort, PortKind, VlanMode};
pub use plan::{plan, Plan, Step};
pub use render::{ifcfg_files, interfaces_stanzas, render_interfaces, IfcfgFile, InterfacesStanza};
pub use session::OvsdbSession;
pub use state::{read, Snapshot, BRIDGE_COLUMNS, INTERFACE_COLUMNS, PORT_COLUMNS};
pub use validate::{check_name, ValidationError};

/// The database Open vSwitch keeps its configuration in.
pub const DB: &str = "Open_vSwitch";

/// Errors of the Open vSwitch engine.
///
/// ```
/// use kvmhost_net::ovs::{Error, ValidationError};
/// let e = Error::Invalid(vec![ValidationError::EmptyName { field: "bridges[0].name".into() }]);
/// assert_eq!(e.to_string(), "invalid Open vSwitch configuration: bridges[0].name: the name is empty");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid (nothing was touched).
    #[error("invalid Open vSwitch configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ValidationError>),
    /// Talking to OVSDB failed.
    #[error("OVSDB request failed")]
    Ovsdb(#[from] crate::ovsdb::Error),
    /// The database has no `Open_vSwitch` row (run `ovs-vsctl init`).
    #[error("the Open_vSwitch table has no row (database not initialised)")]
    NoRootRow,
    /// OVSDB content this module cannot interpret.
    #[error("unexpected OVSDB content: {0}")]
    State(String),
    /// A step failed; OVSDB was restored to the state before the apply.
    #[error("step {} ({step}) failed; OVSDB restored to its prior state", index + 1)]
    StepFailed {
        /// Index of the step in the plan (0-based).
        index: usize,
        /// The step, as printed in the plan.
        step: String,
        /// What OVSDB said.
        #[source]
        source: crate::ovsdb::Error,
    },
    /// ovs-vswitchd did not apply the configuration in time; OVSDB was restored.
    #[error("ovs-vswitchd did not apply the configuration within {0:?}; OVSDB restored to its prior state")]
    VswitchdTimeout(Duration),
    /// ovs-vswitchd could not set up interfaces; OVSDB was restored.
    #[error("ovs-vswitchd could not set up interfaces ({}); OVSDB restored to its prior state", .0.join("; "))]
    InterfaceErrors(Vec<String>),
    /// Reading back after the apply still showed differences; OVSDB was restored.
    #[error("verification after apply found {} remaining difference(s) ({}); OVSDB restored to its prior state", remaining.len(), remaining.join("; "))]
    VerifyFailed {
        /// The steps still needed, as printed in a plan.
        remaining: Vec<String>,
    },
    /// Rolling back after a failure failed too: OVSDB may be between the two states.
    #[error("rollback failed after: {cause}")]
    RollbackFailed {
        /// The failure that triggered the rollback.
        cause: String,
        /// Why the rollback failed.
        #[source]
        source: Box<Error>,
    },
}
