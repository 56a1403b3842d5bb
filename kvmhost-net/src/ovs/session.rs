//! An OVSDB connection for the (blocking) host network engine: the blocking [`Client`], no
//! runtime of its own, so it may be called from anywhere, async code included (each call is
//! one request on a unix socket; from a busy async executor, prefer `spawn_blocking` for a whole
//! apply).

use std::path::{Path, PathBuf};

use super::{plan, restore, OvsConfig, OvsdbBackend, Snapshot};
use crate::ovsdb::Client;
use crate::plan::Plan;
use crate::Error;

/// One OVSDB connection with blocking calls.
///
/// ```no_run
/// use kvmhost_net::ovs::{OvsConfig, OvsdbSession};
/// let mut s = OvsdbSession::connect("unix:/tmp/kvmhost-ovs/db.sock".as_ref()).unwrap();
/// let before = s.capture().unwrap();
/// print!("{}", s.plan(&OvsConfig::new(), &before).unwrap());
/// ```
pub struct OvsdbSession {
    client: Client,
    path: PathBuf,
}

impl std::fmt::Debug for OvsdbSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OvsdbSession").field("path", &self.path).field("stats", &self.client.stats()).finish()
    }
}

impl OvsdbSession {
    /// Connects to ovsdb-server's unix socket (`unix:PATH` or `PATH`).
    ///
    /// ```no_run
    /// let s = kvmhost_net::ovs::OvsdbSession::connect("/var/run/openvswitch/db.sock".as_ref()).unwrap();
    /// ```
    pub fn connect(path: &Path) -> Result<Self, Error> {
        let client = Client::connect(path)?;
        Ok(Self { client, path: path.to_path_buf() })
    }

    /// The socket path given to [`OvsdbSession::connect`].
    ///
    /// ```no_run
    /// let s = kvmhost_net::ovs::OvsdbSession::connect("/tmp/db.sock".as_ref()).unwrap();
    /// assert_eq!(s.path().to_str(), Some("/tmp/db.sock"));
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current bridges, ports and interfaces.
    ///
    /// ```no_run
    /// let mut s = kvmhost_net::ovs::OvsdbSession::connect("/tmp/db.sock".as_ref()).unwrap();
    /// println!("{} bridges", s.capture().unwrap().bridges.len());
    /// ```
    pub fn capture(&mut self) -> Result<Snapshot, Error> {
        Snapshot::capture(&mut self.client)
    }

    /// The plan from `current` to `desired` (pure; no request).
    ///
    /// ```no_run
    /// # let mut s = kvmhost_net::ovs::OvsdbSession::connect("/tmp/db.sock".as_ref()).unwrap();
    /// let now = s.capture().unwrap();
    /// assert!(s.plan(&kvmhost_net::ovs::OvsConfig::new(), &now).unwrap().is_empty());
    /// ```
    pub fn plan(&self, desired: &OvsConfig, current: &Snapshot) -> Result<Plan, Error> {
        plan(desired, current)
    }

    /// The engine's OVSDB backend over this connection.
    ///
    /// ```no_run
    /// use kvmhost_net::engine::{self, Backend};
    /// let mut s = kvmhost_net::ovs::OvsdbSession::connect("/tmp/db.sock".as_ref()).unwrap();
    /// let net = kvmhost_net::HostNetwork::from_yaml("ovs: {bridges: [{name: br0}]}").unwrap();
    /// engine::apply_on(&mut [&mut s.backend() as &mut dyn Backend], &net, &Default::default()).unwrap();
    /// ```
    pub fn backend(&mut self) -> OvsdbBackend<'_> {
        OvsdbBackend::new(&mut self.client)
    }

    /// [`restore`](super::restore): puts back exactly the rows of `prior` (UUIDs included);
    /// returns the number of operations written (0 when nothing changed).
    ///
    /// ```no_run
    /// # let mut s = kvmhost_net::ovs::OvsdbSession::connect("/tmp/db.sock".as_ref()).unwrap();
    /// let before = s.capture().unwrap();
    /// assert_eq!(s.restore(&before).unwrap(), 0);
    /// ```
    pub fn restore(&mut self, prior: &Snapshot) -> Result<usize, Error> {
        restore(&mut self.client, prior)
    }

    /// Transactions that wrote, so far on this connection.
    ///
    /// ```no_run
    /// let s = kvmhost_net::ovs::OvsdbSession::connect("/tmp/db.sock".as_ref()).unwrap();
    /// assert_eq!(s.write_transactions(), 0);
    /// ```
    pub fn write_transactions(&self) -> u64 {
        self.client.stats().write_transactions
    }
}
