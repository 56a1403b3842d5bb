//! [`Engine`]: the engine bound to a namespace and, optionally, an OVSDB socket.

use std::path::PathBuf;

use super::{apply_on, plan_on, teardown_on, ApplyOptions, ApplyReport, Backend, NetlinkBackend};
use crate::model::HostNetwork;
use crate::netlink::NetlinkKernel;
use crate::netns::Netns;
use crate::ovs::{self, OvsdbSession};
use crate::plan::Plan;
use crate::state::NetState;
use crate::Error;

/// The engine bound to a namespace: each call opens a netlink connection inside it.
///
/// ```no_run
/// use kvmhost_net::{Engine, HostNetwork, Netns};
/// let engine = Engine::new(Netns::named("blue"));
/// let report = engine.apply(&HostNetwork::load("host.yaml".as_ref()).unwrap()).unwrap();
/// assert_eq!(engine.apply(&HostNetwork::load("host.yaml".as_ref()).unwrap()).unwrap().writes, 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Engine {
    netns: Netns,
    ovsdb: Option<PathBuf>,
}

impl Engine {
    /// An engine working in `netns`.
    ///
    /// ```
    /// let e = kvmhost_net::Engine::new(kvmhost_net::Netns::Current);
    /// assert_eq!(e.netns().to_string(), "the current namespace");
    /// ```
    pub fn new(netns: Netns) -> Self {
        Self { netns, ovsdb: None }
    }

    /// Use the ovsdb-server at this unix socket (`unix:PATH` or `PATH`) for the `ovs` section.
    ///
    /// ```
    /// let e = kvmhost_net::Engine::default().with_ovsdb("unix:/var/run/openvswitch/db.sock");
    /// assert_eq!(e.ovsdb().unwrap().to_str(), Some("unix:/var/run/openvswitch/db.sock"));
    /// ```
    pub fn with_ovsdb(mut self, path: impl Into<PathBuf>) -> Self {
        self.ovsdb = Some(path.into());
        self
    }

    /// The OVSDB socket, when set.
    ///
    /// ```
    /// assert!(kvmhost_net::Engine::default().ovsdb().is_none());
    /// ```
    pub fn ovsdb(&self) -> Option<&std::path::Path> {
        self.ovsdb.as_deref()
    }

    /// An OVSDB connection (`None` when no socket is set).
    ///
    /// ```no_run
    /// let s = kvmhost_net::Engine::default().with_ovsdb("/tmp/db.sock").connect_ovsdb().unwrap();
    /// assert!(s.is_some());
    /// ```
    pub fn connect_ovsdb(&self) -> Result<Option<OvsdbSession>, Error> {
        self.ovsdb.as_deref().map(OvsdbSession::connect).transpose()
    }

    /// The Open vSwitch configuration OVSDB holds now (`None` when no socket is set).
    ///
    /// ```no_run
    /// let cfg = kvmhost_net::Engine::default().with_ovsdb("/tmp/db.sock").read_ovs().unwrap();
    /// ```
    pub fn read_ovs(&self) -> Result<Option<ovs::OvsConfig>, Error> {
        match self.connect_ovsdb()? {
            None => Ok(None),
            Some(mut s) => Ok(Some(s.capture()?.config())),
        }
    }

    /// The namespace.
    ///
    /// ```
    /// assert!(matches!(kvmhost_net::Engine::default().netns(), kvmhost_net::Netns::Current));
    /// ```
    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// A netlink connection inside the namespace.
    ///
    /// ```no_run
    /// let k = kvmhost_net::Engine::default().connect().unwrap();
    /// ```
    pub fn connect(&self) -> Result<NetlinkKernel, Error> {
        NetlinkKernel::open(&self.netns)
    }

    /// The namespace's current state.
    ///
    /// ```no_run
    /// println!("{}", kvmhost_net::Engine::default().read_state().unwrap().to_yaml());
    /// ```
    pub fn read_state(&self) -> Result<NetState, Error> {
        use crate::Kernel as _;
        self.connect()?.read_state()
    }

    /// The plan that `apply` would execute.
    ///
    /// ```no_run
    /// print!("{}", kvmhost_net::Engine::default().plan(&kvmhost_net::HostNetwork::new()).unwrap());
    /// ```
    pub fn plan(&self, net: &HostNetwork) -> Result<Plan, Error> {
        self.with_backends(|b| plan_on(b, net))
    }

    /// Apply with verification and rollback.
    ///
    /// ```no_run
    /// kvmhost_net::Engine::default().apply(&kvmhost_net::HostNetwork::new()).unwrap();
    /// ```
    pub fn apply(&self, net: &HostNetwork) -> Result<ApplyReport, Error> {
        self.apply_with(net, &ApplyOptions::default())
    }

    /// Apply with options.
    ///
    /// ```no_run
    /// let o = kvmhost_net::ApplyOptions::default();
    /// kvmhost_net::Engine::default().apply_with(&kvmhost_net::HostNetwork::new(), &o).unwrap();
    /// ```
    pub fn apply_with(&self, net: &HostNetwork, opts: &ApplyOptions) -> Result<ApplyReport, Error> {
        self.with_backends(|b| apply_on(b, net, opts))
    }

    /// Remove what `net` creates: its links and, with an OVSDB socket, the bridges of its `ovs`
    /// section ([`teardown_on`](super::teardown_on)).
    ///
    /// ```no_run
    /// kvmhost_net::Engine::default().teardown(&kvmhost_net::HostNetwork::new()).unwrap();
    /// ```
    pub fn teardown(&self, net: &HostNetwork) -> Result<ApplyReport, Error> {
        self.with_backends(|b| teardown_on(b, net, &ApplyOptions::default()))
    }

    /// Put the namespace's links back as `prior` had them ([`plan_restore`](super::plan_restore)),
    /// then read back and check; Open vSwitch is not touched (see
    /// [`ovs::restore`](crate::ovs::restore) for its rows). A recorded `NetState` (from
    /// [`Engine::read_state`], kept as YAML or JSON) is enough.
    ///
    /// ```no_run
    /// let engine = kvmhost_net::Engine::new(kvmhost_net::Netns::named("blue"));
    /// let before = engine.read_state().unwrap();
    /// // ... changes by anyone ...
    /// engine.restore(&before).unwrap();
    /// ```
    pub fn restore(&self, prior: &NetState) -> Result<ApplyReport, Error> {
        use crate::Kernel as _;
        let mut kernel = self.connect()?;
        let now = kernel.read_state()?;
        let plan = super::plan_restore(prior, &now)?;
        let _span = tracing::info_span!("restore", steps = plan.len()).entered();
        let start = kernel.writes();
        for (i, p) in plan.steps.iter().enumerate() {
            tracing::info!(step = i + 1, iproute2 = %p.step, reason = %p.reason, "restore step");
            kernel.execute(&p.step).map_err(|e| Error::Apply {
                index: i,
                step: p.step.to_string(),
                source: Box::new(e),
                rollback: None,
            })?;
        }
        let after = kernel.read_state()?;
        let rest = super::plan_restore(prior, &after)?;
        if !rest.is_empty() {
            return Err(Error::Verify { remaining: rest.to_string() });
        }
        Ok(ApplyReport { plan, writes: kernel.writes() - start, ovs_writes: 0, after })
    }

    /// Run `f` over this engine's backends: OVSDB (when a socket is set), then netlink.
    fn with_backends<T>(&self, f: impl FnOnce(&mut [&mut dyn Backend]) -> Result<T, Error>) -> Result<T, Error> {
        let mut kernel = self.connect()?;
        let mut netlink = NetlinkBackend::new(&mut kernel);
        match self.connect_ovsdb()? {
            Some(mut db) => f(&mut [&mut db.backend(), &mut netlink]),
            None => f(&mut [&mut netlink]),
        }
    }
}
