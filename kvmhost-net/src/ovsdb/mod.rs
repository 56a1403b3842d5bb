//! An RFC 7047 OVSDB client: JSON-RPC over ovsdb-server's unix socket.
//!
//! - [`Client`]: `list_dbs`, `get_schema`, `transact`, `echo`, with the server's own `echo`
//!   probes answered while waiting; messages are framed by [`Framer`] (JSON values back to back
//!   on the stream, not lines).
//! - [`Operation`]: typed `insert`/`select`/`update`/`mutate`/`delete`/`wait`/`commit`/`abort`/
//!   `comment`; values are [`Atom`]s, sets and maps ([`Value`]), `["named-uuid", …]` references
//!   to rows inserted earlier in the same transaction.
//! - Errors are typed: transport ([`Error::Connect`], [`Error::Io`], [`Error::Closed`],
//!   [`Error::Timeout`]), JSON-RPC ([`Error::Rpc`]) and per operation ([`Error::Operation`] with
//!   the index of the failing operation).
//!
//! No `ovs-vsctl` processes are involved.
//!
//! ```no_run
//! # fn demo() -> Result<(), kvmhost_net::ovsdb::Error> {
//! use kvmhost_net::ovsdb::{Atom, Client, Condition, Mutation, Mutator, Operation, Row, Value};
//! let mut c = Client::connect("unix:/tmp/kvmhost-ovs/db.sock")?;
//! let iface = Row::from([("name".to_string(), Value::from("br9")), ("type".to_string(), Value::from("internal"))]);
//! let port = Row::from([("name".to_string(), Value::from("br9")), ("interfaces".to_string(), Value::from(Atom::named("i")))]);
//! let bridge = Row::from([("name".to_string(), Value::from("br9")), ("ports".to_string(), Value::from(Atom::named("p")))]);
//! c.transact("Open_vSwitch", &[
//!     Operation::insert("Interface", iface, Some("i")),
//!     Operation::insert("Port", port, Some("p")),
//!     Operation::insert("Bridge", bridge, Some("b")),
//!     Operation::mutate("Open_vSwitch", vec![], vec![Mutation::new("bridges", Mutator::Insert, Value::set([Atom::named("b")]))]),
//! ])?;
//! # Ok(()) }
//! ```

#[cfg(feature = "ovsdb")]
mod client;
mod framing;
mod ops;
mod value;

use std::path::PathBuf;
use std::time::Duration;

#[cfg(feature = "ovsdb")]
pub use client::{Client, ColumnSchema, Schema, Stats, TableSchema};
pub use framing::Framer;
pub use ops::{Condition, Function, Mutation, Mutator, OpResult, Operation, WaitUntil};
pub use value::{Atom, Row, Uuid, Value};

/// Errors of the OVSDB client.
///
/// ```
/// use kvmhost_net::ovsdb::Error;
/// let e = Error::Operation { index: 2, op: "update".into(), error: "constraint violation".into(), details: None };
/// assert_eq!(e.to_string(), "OVSDB operation 2 (update) failed: constraint violation");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket could not be opened.
    #[error("couldn't connect to OVSDB at {}", path.display())]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("OVSDB connection failed")]
    Io(#[source] std::io::Error),
    /// The server closed the connection.
    #[error("OVSDB closed the connection")]
    Closed,
    /// No reply in time.
    #[error("no reply from OVSDB to {method} within {after:?}")]
    Timeout {
        /// The request.
        method: String,
        /// The timeout.
        after: Duration,
    },
    /// The bytes received are not a JSON-RPC message stream.
    #[error("OVSDB stream framing: {0}")]
    Framing(String),
    /// Malformed JSON.
    #[error("malformed JSON in the OVSDB stream")]
    Json(#[source] serde_json::Error),
    /// The server answered with a JSON-RPC error.
    #[error("OVSDB answered {method} with error {error}")]
    Rpc {
        /// The request.
        method: String,
        /// The `error` member.
        error: serde_json::Value,
    },
    /// A reply that does not follow RFC 7047.
    #[error("unexpected OVSDB reply to {method}: {detail}")]
    Protocol {
        /// The request.
        method: String,
        /// What was wrong.
        detail: String,
    },
    /// One operation of a transaction failed; the transaction had no effect.
    #[error("OVSDB operation {index} ({op}) failed: {error}{}", details.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Operation {
        /// Index of the operation in the request (`ops.len()` for an error found at commit).
        index: usize,
        /// The operation's name (`commit` for an error found at commit).
        op: String,
        /// RFC 7047 error string (`constraint violation`, `referential integrity violation`, …).
        error: String,
        /// Server's explanation.
        details: Option<String>,
    },
    /// A value that is not valid OVSDB notation.
    #[error("invalid OVSDB value: {0}")]
    Value(String),
}
