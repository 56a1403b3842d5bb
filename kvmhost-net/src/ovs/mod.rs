//! Open vSwitch as declarative state: a serde model ([`OvsConfig`]: bridges, ports with VLAN
//! modes, VLAN "fake bridges"), read from OVSDB ([`read`], [`Snapshot`]), diffed into the
//! crate's one ordered, printable [`Plan`](crate::Plan) of [`OvsStep`]s, applied by the engine
//! through the OVSDB backend ([`OvsdbBackend`]: RFC 7047 `transact`, waited for, verified by
//! reading back, rolled back to the captured rows on any failure — [`restore`]). [`apply`]
//! runs the engine with this backend alone; [`Engine`](crate::Engine) with an OVSDB socket runs
//! it before the netlink backend. Applying the same configuration twice writes nothing the
//! second time.
//!
//! Persistence: [`render_interfaces`] (Debian ifupdown with openvswitch-switch's hooks) and
//! [`ifcfg_files`] (RHEL network-scripts, `DEVICETYPE=ovs`).
//!
//! ```no_run
//! # fn demo() -> Result<(), kvmhost_net::Error> {
//! use kvmhost_net::ovs::{apply, plan, CloudStackOvs, DatapathType, OvsConfig, Snapshot};
//! use kvmhost_net::{ovsdb::Client, ApplyOptions};
//!
//! // The CloudStack guide's layout: br0 on eth0 (trunk), mgmt0/100, cloudbr0/200, cloudbr1/300.
//! let cfg = OvsConfig::cloudstack(&CloudStackOvs::new("eth0").datapath(DatapathType::Netdev));
//! let mut ovsdb = Client::connect("/tmp/kvmhost-ovs/db.sock")?;
//! print!("{}", plan(&cfg, &Snapshot::capture(&mut ovsdb)?)?);   // nothing applied yet
//! let report = apply(&mut ovsdb, &cfg, &ApplyOptions::default())?;
//! println!("{} steps in {} transaction(s)", report.plan.len(), report.ovs_writes);
//! # Ok(()) }
//! ```

#[cfg(feature = "ovsdb")]
mod apply;
#[cfg(feature = "ovsdb")]
mod backend;
mod cloudstack;
mod model;
mod plan;
mod render;
#[cfg(feature = "ovsdb")]
mod session;
mod state;
mod step;
mod validate;

#[cfg(feature = "ovsdb")]
pub use apply::{restore, restore_operations};
#[cfg(feature = "ovsdb")]
pub use backend::{apply, OvsdbBackend};
pub use cloudstack::CloudStackOvs;
pub use model::{DatapathType, FailMode, FakeBridge, OvsBridge, OvsConfig, OvsPort, PortKind, VlanMode};
pub use plan::plan;
pub use render::{ifcfg_files, interfaces_stanzas, render_interfaces, IfcfgFile, InterfacesStanza};
#[cfg(feature = "ovsdb")]
pub use session::OvsdbSession;
#[cfg(feature = "ovsdb")]
pub use state::read;
pub use state::{Snapshot, BRIDGE_COLUMNS, INTERFACE_COLUMNS, PORT_COLUMNS};
pub use step::OvsStep;

/// The database Open vSwitch keeps its configuration in.
pub const DB: &str = "Open_vSwitch";
