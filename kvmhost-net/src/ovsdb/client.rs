//! The JSON-RPC connection to ovsdb-server over its unix socket.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use super::framing::Framer;
use super::ops::{decode_results, OpResult, Operation};
use super::Error;

/// Counters of what a [`Client`] sent.
///
/// ```
/// use kvmhost_net::ovsdb::Stats;
/// assert_eq!(Stats::default().write_transactions, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// `transact` requests sent.
    pub transactions: u64,
    /// `transact` requests with at least one insert, update, mutate or delete.
    pub write_transactions: u64,
    /// Requests of any method sent.
    pub requests: u64,
}

/// A column of a table schema (RFC 7047 §3.2 `<column-schema>`).
///
/// ```
/// use kvmhost_net::ovsdb::ColumnSchema;
/// let c: ColumnSchema = serde_json::from_value(serde_json::json!({"type": "string", "mutable": false})).unwrap();
/// assert!(!c.mutable && !c.ephemeral);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSchema {
    /// The `<type>` as written in the schema.
    #[serde(rename = "type")]
    pub kind: Json,
    /// Not written to disk.
    #[serde(default)]
    pub ephemeral: bool,
    /// Whether the column may change after insertion.
    #[serde(default = "yes")]
    pub mutable: bool,
}

fn yes() -> bool {
    true
}

/// A table schema.
///
/// ```
/// use kvmhost_net::ovsdb::TableSchema;
/// let t: TableSchema = serde_json::from_value(serde_json::json!({"columns": {}, "isRoot": true})).unwrap();
/// assert!(t.is_root);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Columns by name.
    pub columns: BTreeMap<String, ColumnSchema>,
    /// Root tables keep unreferenced rows; others are garbage collected.
    #[serde(rename = "isRoot", default)]
    pub is_root: bool,
    /// Unique column sets.
    #[serde(default)]
    pub indexes: Vec<Vec<String>>,
}

/// A database schema (`get_schema`).
///
/// ```
/// use kvmhost_net::ovsdb::Schema;
/// let s: Schema = serde_json::from_value(serde_json::json!({"name": "db", "version": "1.0.0", "tables": {}})).unwrap();
/// assert_eq!(s.name, "db");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Database name.
    pub name: String,
    /// Schema version.
    #[serde(default)]
    pub version: String,
    /// Tables by name.
    pub tables: BTreeMap<String, TableSchema>,
}

/// An RFC 7047 client on ovsdb-server's unix socket.
///
/// Requests are sent one at a time; while waiting for a reply the client answers the server's
/// `echo` requests (inactivity probes) and skips notifications. Between requests nothing reads
/// the socket: ovsdb-server does not probe unix-socket clients, but over a connection where it
/// does, an idle client is disconnected ([`Error::Closed`] on the next call; connect again).
///
/// ```no_run
/// # fn demo() -> Result<(), kvmhost_net::ovsdb::Error> {
/// use kvmhost_net::ovsdb::{Client, Operation};
/// let mut c = Client::connect("/tmp/kvmhost-ovs/db.sock")?;
/// assert!(c.list_dbs()?.contains(&"Open_vSwitch".to_string()));
/// let r = c.transact("Open_vSwitch", &[Operation::select("Bridge", vec![], Some(&["name"]))])?;
/// println!("{} bridges", r[0].rows().len());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    framer: Framer,
    next_id: u64,
    timeout: Duration,
    stats: Stats,
    path: PathBuf,
}

impl Client {
    /// Connects to `unix:PATH` (the `unix:` prefix is optional).
    ///
    /// ```
    /// use kvmhost_net::ovsdb::{Client, Error};
    /// let e = Client::connect("/nonexistent/db.sock").unwrap_err();
    /// assert!(matches!(e, Error::Connect { .. }));
    /// ```
    pub fn connect(path: impl AsRef<Path>) -> Result<Self, Error> {
        let raw = path.as_ref();
        let path = raw.to_str().and_then(|s| s.strip_prefix("unix:")).map(PathBuf::from).unwrap_or(raw.to_path_buf());
        let stream = UnixStream::connect(&path).map_err(|source| Error::Connect { path: path.clone(), source })?;
        Ok(Client {
            stream,
            framer: Framer::default(),
            next_id: 1,
            timeout: Duration::from_secs(30),
            stats: Stats::default(),
            path,
        })
    }

    /// Sets how long to wait for each reply (default 30 s).
    ///
    /// ```no_run
    /// # fn demo(c: &mut kvmhost_net::ovsdb::Client) {
    /// c.set_timeout(std::time::Duration::from_secs(5));
    /// # }
    /// ```
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The socket path.
    ///
    /// ```no_run
    /// # fn demo(c: &kvmhost_net::ovsdb::Client) { println!("{}", c.path().display()); }
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What this client has sent so far.
    ///
    /// ```no_run
    /// # fn demo(c: &kvmhost_net::ovsdb::Client) { println!("{} writes", c.stats().write_transactions); }
    /// ```
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// `list_dbs` (RFC 7047 §4.1.1).
    ///
    /// ```no_run
    /// # fn demo(c: &mut kvmhost_net::ovsdb::Client) -> Result<(), kvmhost_net::ovsdb::Error> {
    /// println!("{:?}", c.list_dbs()?);
    /// # Ok(()) }
    /// ```
    pub fn list_dbs(&mut self) -> Result<Vec<String>, Error> {
        let r = self.call("list_dbs", json!([]))?;
        serde_json::from_value(r.clone()).map_err(|_| Error::Protocol {
            method: "list_dbs".into(),
            detail: format!("result {r} is not a list of names"),
        })
    }

    /// `get_schema` (RFC 7047 §4.1.2).
    ///
    /// ```no_run
    /// # fn demo(c: &mut kvmhost_net::ovsdb::Client) -> Result<(), kvmhost_net::ovsdb::Error> {
    /// let s = c.get_schema("Open_vSwitch")?;
    /// assert!(!s.tables["Port"].columns["name"].mutable);
    /// # Ok(()) }
    /// ```
    pub fn get_schema(&mut self, db: &str) -> Result<Schema, Error> {
        let r = self.call("get_schema", json!([db]))?;
        serde_json::from_value(r)
            .map_err(|e| Error::Protocol { method: "get_schema".into(), detail: format!("schema not understood: {e}") })
    }

    /// `transact` (RFC 7047 §4.1.3): runs `ops` atomically; the first failing operation is an
    /// [`Error::Operation`] carrying its index.
    ///
    /// ```no_run
    /// # fn demo(c: &mut kvmhost_net::ovsdb::Client) -> Result<(), kvmhost_net::ovsdb::Error> {
    /// use kvmhost_net::ovsdb::{Operation, Error};
    /// match c.transact("Open_vSwitch", &[Operation::Abort]) {
    ///     Err(Error::Operation { index: 0, error, .. }) => assert_eq!(error, "aborted"),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn transact(&mut self, db: &str, ops: &[Operation]) -> Result<Vec<OpResult>, Error> {
        let mut params = Vec::with_capacity(ops.len() + 1);
        params.push(json!(db));
        params.extend(ops.iter().map(Operation::to_json));
        self.stats.transactions += 1;
        if ops.iter().any(Operation::writes) {
            self.stats.write_transactions += 1;
        }
        let r = self.call("transact", Json::Array(params))?;
        decode_results(ops, &r)
    }

    /// `echo` (RFC 7047 §4.1.11): the server sends back `params`.
    ///
    /// ```no_run
    /// # fn demo(c: &mut kvmhost_net::ovsdb::Client) -> Result<(), kvmhost_net::ovsdb::Error> {
    /// assert_eq!(c.echo(serde_json::json!(["ping"]))?, serde_json::json!(["ping"]));
    /// # Ok(()) }
    /// ```
    pub fn echo(&mut self, params: Json) -> Result<Json, Error> {
        self.call("echo", params)
    }

    /// Sends any JSON-RPC request and returns its `result`; a non-null `error` is [`Error::Rpc`].
    ///
    /// ```no_run
    /// # fn demo(c: &mut kvmhost_net::ovsdb::Client) -> Result<(), kvmhost_net::ovsdb::Error> {
    /// let r = c.call("list_dbs", serde_json::json!([]))?;
    /// # Ok(()) }
    /// ```
    pub fn call(&mut self, method: &str, params: Json) -> Result<Json, Error> {
        let id = self.next_id;
        self.next_id += 1;
        self.stats.requests += 1;
        let request = json!({"method": method, "params": params, "id": id});
        self.send(&request)?;
        self.wait_reply(method, id, Instant::now() + self.timeout)
    }

    fn send(&mut self, msg: &Json) -> Result<(), Error> {
        let bytes = serde_json::to_vec(msg).map_err(Error::Json)?;
        self.stream.write_all(&bytes).map_err(Error::Io)
    }

    fn wait_reply(&mut self, method: &str, id: u64, deadline: Instant) -> Result<Json, Error> {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            while let Some(msg) = self.framer.next_message()? {
                if let Some(m) = msg.get("method").and_then(Json::as_str) {
                    // A request or notification from the server.
                    if m == "echo" && msg.get("id").is_some_and(|i| !i.is_null()) {
                        let reply = json!({"id": msg["id"], "result": msg.get("params").cloned().unwrap_or(json!([])), "error": null});
                        self.send(&reply)?;
                    }
                    continue;
                }
                if msg.get("id").and_then(Json::as_u64) != Some(id) {
                    continue; // a late reply to a request that timed out
                }
                match msg.get("error") {
                    Some(e) if !e.is_null() => return Err(Error::Rpc { method: method.to_string(), error: e.clone() }),
                    _ => {}
                }
                return msg.get("result").cloned().ok_or_else(|| Error::Protocol {
                    method: method.to_string(),
                    detail: "reply without result".into(),
                });
            }
            let timeout = Error::Timeout { method: method.to_string(), after: self.timeout };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timeout);
            }
            self.stream.set_read_timeout(Some(left)).map_err(Error::Io)?;
            let n = match self.stream.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return Err(timeout)
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Io(e)),
            };
            if n == 0 {
                return Err(Error::Closed);
            }
            self.framer.push(&chunk[..n]);
        }
    }
}
