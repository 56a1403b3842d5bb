//! The connection manager: one shared libvirt connection per URI, used from async code.
//!
//! - **Shared**: [`SharedConnection::open`] returns the same connection for the same URI to every
//!   caller in the process (while any of them holds it), so hundreds of tasks are one client of
//!   the daemon, never hundreds (libvirtd refuses clients beyond `max_clients`: the "Connection
//!   reset by peer" failure).
//! - **Blocking calls off the runtime**: every libvirt call runs on tokio's blocking pool, and the
//!   call *and the read of its error* happen inside one closure on one thread (libvirt's last
//!   error is thread-local). At most [`ConnectOptions::max_concurrent`] calls run at once per
//!   connection (a semaphore), which bounds the pool threads used and the requests in flight to
//!   the daemon (its `max_client_requests`).
//! - **Keepalive**: libvirt's keepalive probes (`virConnectSetKeepAlive`) run on the event loop
//!   thread ([`crate::event_loop`]), so a dead daemon is noticed even on an idle connection.
//! - **Lost connections** are detected (`virConnectIsAlive` after a call fails, and before each
//!   call) and reported as [`LibvirtError::ConnectionLost`]; the next call **reconnects** with
//!   exponential backoff ([`Backoff`]). Only one task reconnects at a time; tasks that queued
//!   behind a failed reconnect round get its error at once instead of starting their own.
//!   A call that was in flight when the connection broke is not retried (it may not be
//!   idempotent): the caller sees `ConnectionLost` and decides.
//!
//! ```
//! use kvmhost_libvirt::connection::{ConnectOptions, SharedConnection};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let a = SharedConnection::open("test:///default", ConnectOptions::default()).await.unwrap();
//! let b = SharedConnection::open("test:///default", ConnectOptions::default()).await.unwrap();
//! assert!(a.same_as(&b));
//! let names = a.call(|c| Ok(c.list_defined_domains()?)).await.unwrap();
//! assert!(names.is_empty() || !names.is_empty());
//! let running = a.call(|c| Ok(c.num_of_domains()?)).await.unwrap();
//! assert!(running >= 1); // test:///default starts with the running domain "test"
//! # });
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Semaphore};

use crate::domain_cache::DomainCache;
use crate::{event_loop, LibvirtError, Result};

/// Exponential backoff for reconnecting.
///
/// ```
/// use kvmhost_libvirt::connection::Backoff;
/// let b = Backoff::default();
/// assert!(b.initial < b.max && b.max <= b.give_up_after);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    /// First wait after a failed attempt.
    pub initial: Duration,
    /// Longest wait between attempts (the wait doubles up to this).
    pub max: Duration,
    /// Total time one reconnect round may take before the waiting calls get `ConnectionLost`.
    pub give_up_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(1),
            give_up_after: Duration::from_secs(5),
        }
    }
}

/// How a [`SharedConnection`] behaves. The first opener of a URI decides; later openers share it.
///
/// ```
/// use kvmhost_libvirt::connection::ConnectOptions;
/// let o = ConnectOptions { max_concurrent: 4, ..ConnectOptions::default() };
/// assert_eq!(o.max_concurrent, 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectOptions {
    /// At most this many libvirt calls run at once on the connection; more callers wait.
    /// libvirtd serves 5 concurrent requests per client by default (`max_client_requests`).
    pub max_concurrent: usize,
    /// Seconds between keepalive probes on an idle remote connection (0 disables keepalive).
    pub keepalive_interval: i32,
    /// Unanswered probes after which libvirt closes the connection.
    pub keepalive_count: u32,
    /// Reconnect pacing.
    pub reconnect: Backoff,
    /// Which thread runs each libvirt call.
    #[serde(default)]
    pub calls: CallThread,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            max_concurrent: 5,
            keepalive_interval: 5,
            keepalive_count: 3,
            reconnect: Backoff::default(),
            calls: CallThread::default(),
        }
    }
}

/// Which thread runs a libvirt call (the call and its error read always share one thread).
///
/// ```
/// use kvmhost_libvirt::connection::{CallThread, ConnectOptions};
/// let o = ConnectOptions { calls: CallThread::InPlace, ..ConnectOptions::default() };
/// assert_ne!(o, ConnectOptions::default());
/// assert_eq!(ConnectOptions::default().calls, CallThread::BlockingPool);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CallThread {
    /// Hand each call to tokio's blocking pool (`spawn_blocking`): the caller's task and every
    /// other future in it stay responsive while libvirt blocks. One thread hand-off per call.
    #[default]
    BlockingPool,
    /// Run each call on the calling thread through `tokio::task::block_in_place` (on a
    /// multi-thread runtime; a current-thread runtime falls back to the pool). No hand-off when
    /// called from `Runtime::block_on`, and a worker thread gives its other tasks to another
    /// thread while it blocks, but futures joined *within the same task* wait for the call.
    /// For callers that make many short calls one after another.
    InPlace,
}

static QUIET: std::sync::Once = std::sync::Once::new();

/// Process-wide libvirt setup done before the first connection: libvirt's default error
/// handler is replaced by a silent one (errors are returned, never printed to stderr), and the
/// event loop thread is started (keepalive and events need it).
pub(crate) fn init_libvirt() -> Result<()> {
    QUIET.call_once(virt::error::clear_error_callback);
    event_loop::ensure_running()
}

/// The live libvirt connection and its generation (incremented at every reconnect).
#[derive(Clone)]
struct Live {
    conn: Arc<virt::connect::Connect>,
    generation: u64,
    /// Domain handles by UUID, valid for this connection only (a reconnect starts empty).
    domains: Arc<DomainCache>,
}

impl Live {
    fn new(conn: virt::connect::Connect, generation: u64) -> Live {
        Live { conn: Arc::new(conn), generation, domains: Arc::new(DomainCache::default()) }
    }
}

struct Inner {
    uri: String,
    options: ConnectOptions,
    permits: Semaphore,
    live: Mutex<Option<Live>>,
    reconnect: tokio::sync::Mutex<Round>,
    rounds: AtomicU64,
    generation: watch::Sender<u64>,
}

/// Bookkeeping of reconnect rounds, guarded by the reconnect lock.
#[derive(Default)]
struct Round {
    last_failure: Option<String>,
}

/// One libvirt connection shared by every caller of a URI in this process. Cheap to clone.
#[derive(Clone)]
pub struct SharedConnection {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SharedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedConnection")
            .field("uri", &self.inner.uri)
            .field("generation", &self.generation())
            .finish()
    }
}

fn registry() -> &'static Mutex<HashMap<String, Weak<Inner>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Weak<Inner>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Runs `f` on tokio's blocking pool and maps a failed worker to a typed error.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| LibvirtError::Worker { message: e.to_string() })
}

/// Opens `uri` on the calling thread and turns keepalive on (ignored by drivers without it).
fn open_blocking(uri: &str, options: &ConnectOptions) -> std::result::Result<virt::connect::Connect, String> {
    let conn = virt::connect::Connect::open(Some(uri)).map_err(|e| e.message().to_string())?;
    if options.keepalive_interval > 0 {
        // Local drivers (test://, qemu:// in-process) have no keepalive and say so: not an error.
        match conn.set_keep_alive(options.keepalive_interval, options.keepalive_count) {
            Ok(_) => tracing::debug!(
                uri,
                interval_s = options.keepalive_interval,
                count = options.keepalive_count,
                "libvirt keepalive on"
            ),
            Err(e) => tracing::debug!(uri, reason = %e.message(), "libvirt keepalive not available"),
        }
    }
    Ok(conn)
}

enum Outcome<T, F> {
    Done(Result<T>),
    NotAlive(F),
}

impl SharedConnection {
    /// The shared connection for `uri`, opening it if no caller holds one. Fails with
    /// [`LibvirtError::Connect`] when the first open fails.
    ///
    /// ```
    /// use kvmhost_libvirt::{connection::{ConnectOptions, SharedConnection}, LibvirtError};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let err = SharedConnection::open("nonexistent:///x", ConnectOptions::default()).await.unwrap_err();
    /// assert!(matches!(err, LibvirtError::Connect { .. }));
    /// # });
    /// ```
    #[tracing::instrument(level = "debug", skip(options), err(Display))]
    pub async fn open(uri: &str, options: ConnectOptions) -> Result<SharedConnection> {
        init_libvirt()?;
        let existing = registry().lock().unwrap_or_else(|p| p.into_inner()).get(uri).and_then(Weak::upgrade);
        if let Some(inner) = existing {
            let shared = SharedConnection { inner };
            shared.live().await?;
            return Ok(shared);
        }
        let (uri_owned, opts) = (uri.to_string(), options);
        let conn = blocking(move || open_blocking(&uri_owned, &opts))
            .await?
            .map_err(|message| LibvirtError::Connect { uri: uri.to_string(), message })?;
        let (inner, unused) = {
            let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
            // Another task may have opened the same URI meanwhile: use theirs, drop ours.
            if let Some(inner) = reg.get(uri).and_then(Weak::upgrade) {
                (inner, Some(conn))
            } else {
                let inner = Arc::new(Inner {
                    uri: uri.to_string(),
                    options,
                    permits: Semaphore::new(options.max_concurrent.max(1)),
                    live: Mutex::new(Some(Live::new(conn, 1))),
                    reconnect: tokio::sync::Mutex::new(Round::default()),
                    rounds: AtomicU64::new(0),
                    generation: watch::channel(1).0,
                });
                reg.retain(|_, w| w.strong_count() > 0);
                reg.insert(uri.to_string(), Arc::downgrade(&inner));
                tracing::info!(uri, max_concurrent = options.max_concurrent, "libvirt connection opened");
                (inner, None)
            }
        };
        if let Some(conn) = unused {
            let _ = blocking(move || drop(conn)).await;
        }
        Ok(SharedConnection { inner })
    }

    /// The URI.
    ///
    /// ```
    /// # use kvmhost_libvirt::connection::{ConnectOptions, SharedConnection};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let c = SharedConnection::open("test:///default", ConnectOptions::default()).await.unwrap();
    /// assert_eq!(c.uri(), "test:///default");
    /// # });
    /// ```
    pub fn uri(&self) -> &str {
        &self.inner.uri
    }

    /// The options in effect (the first opener's).
    pub fn options(&self) -> ConnectOptions {
        self.inner.options
    }

    /// A process-unique key of the shared connection (stable while any handle exists).
    pub(crate) fn key(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// Whether two handles share one connection.
    pub fn same_as(&self, other: &SharedConnection) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// How many times the connection has been (re)opened: 1 after the first open, +1 per
    /// reconnect.
    ///
    /// ```
    /// # use kvmhost_libvirt::connection::{ConnectOptions, SharedConnection};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let c = SharedConnection::open("test:///default", ConnectOptions::default()).await.unwrap();
    /// assert!(c.generation() >= 1);
    /// # });
    /// ```
    pub fn generation(&self) -> u64 {
        *self.inner.generation.borrow()
    }

    /// A receiver that changes after every reconnect (its value is the new generation): what
    /// event subscriptions watch to register again on the new connection.
    pub fn reconnected(&self) -> watch::Receiver<u64> {
        self.inner.generation.subscribe()
    }

    /// Whether a live connection is held right now (no call is made).
    pub fn is_connected(&self) -> bool {
        self.inner.live.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Runs `f` with the connection on a blocking worker thread, at most
    /// [`ConnectOptions::max_concurrent`] at a time. `f` must make its libvirt calls and read
    /// their errors itself (the `virt` wrappers do), all on that thread.
    ///
    /// If the connection is found dead before `f` runs, it is reopened first; if `f` fails and
    /// the connection turns out to be dead, the error is [`LibvirtError::ConnectionLost`] and the
    /// next call reconnects.
    ///
    /// ```
    /// # use kvmhost_libvirt::connection::{ConnectOptions, SharedConnection};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let c = SharedConnection::open("test:///default", ConnectOptions::default()).await.unwrap();
    /// let host = c.call(|conn| Ok(conn.hostname()?)).await.unwrap();
    /// assert!(!host.is_empty());
    /// # });
    /// ```
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&virt::connect::Connect) -> Result<T> + Send + 'static,
    {
        self.call_cached(None, move |c, _| f(c)).await
    }

    /// The live `virt` connection (reconnecting first if there is none), for work that must
    /// outlive one call, such as a migration thread. Calls on it bypass the concurrency bound.
    pub(crate) async fn raw(&self) -> Result<Arc<virt::connect::Connect>> {
        Ok(self.live().await?.conn)
    }

    /// [`SharedConnection::call`] with the connection's domain-handle cache.
    /// `thread` overrides [`ConnectOptions::calls`] for this call.
    pub(crate) async fn call_cached<T, F>(&self, thread: Option<CallThread>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&virt::connect::Connect, &DomainCache) -> Result<T> + Send + 'static,
    {
        let _permit =
            self.inner.permits.acquire().await.map_err(|e| LibvirtError::Worker { message: e.to_string() })?;
        let mut f = f;
        // At most one reopen for a connection found dead before `f` ran (so `f` never runs twice).
        for _ in 0..2 {
            let live = self.live().await?;
            let (conn, cache) = (live.conn.clone(), live.domains.clone());
            let uri = self.inner.uri.clone();
            let outcome = self
                .run(thread, move || {
                    if !conn.is_alive().unwrap_or(false) {
                        return Outcome::NotAlive(f);
                    }
                    match f(&conn, &cache) {
                        Err(e) if e.may_mean_connection_loss() && !conn.is_alive().unwrap_or(false) => {
                            Outcome::Done(Err(LibvirtError::ConnectionLost { uri, message: e.message() }))
                        }
                        other => Outcome::Done(other),
                    }
                })
                .await?;
            match outcome {
                Outcome::Done(result) => {
                    if let Err(e) = &result {
                        tracing::debug!(uri = %self.inner.uri, error = %e, "libvirt call failed");
                    }
                    if matches!(&result, Err(e) if e.is_connection_lost()) {
                        self.mark_dead(live.generation).await;
                    }
                    return result;
                }
                Outcome::NotAlive(back) => {
                    f = back;
                    self.mark_dead(live.generation).await;
                }
            }
        }
        Err(LibvirtError::ConnectionLost {
            uri: self.inner.uri.clone(),
            message: "the connection closed again right after reconnecting".into(),
        })
    }

    /// Runs one call's closure on the thread [`ConnectOptions::calls`] chooses.
    async fn run<T: Send + 'static>(
        &self,
        thread: Option<CallThread>,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        match thread.unwrap_or(self.inner.options.calls) {
            CallThread::InPlace if multi_thread => Ok(tokio::task::block_in_place(f)),
            _ => blocking(f).await,
        }
    }

    /// Forgets the connection of `generation` (if it is still the current one); the next call
    /// reconnects. The old connection is closed on a worker thread.
    async fn mark_dead(&self, generation: u64) {
        let old = {
            let mut live = self.inner.live.lock().unwrap_or_else(|p| p.into_inner());
            match &*live {
                Some(l) if l.generation == generation => live.take(),
                _ => None,
            }
        };
        if let Some(old) = old {
            tracing::warn!(uri = %self.inner.uri, generation, "libvirt connection lost; the next call reconnects");
            let _ = blocking(move || drop(old)).await;
        }
    }

    /// The live connection, reconnecting with backoff when there is none.
    async fn live(&self) -> Result<Live> {
        if let Some(live) = self.inner.live.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(live);
        }
        let seen_round = self.inner.rounds.load(Ordering::Acquire);
        let mut round = self.inner.reconnect.lock().await;
        if let Some(live) = self.inner.live.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(live);
        }
        // A round finished (and failed) while we queued: share its verdict instead of starting
        // another full round per queued caller.
        if let Some(message) = &round.last_failure {
            if self.inner.rounds.load(Ordering::Acquire) != seen_round {
                return Err(LibvirtError::ConnectionLost { uri: self.inner.uri.clone(), message: message.clone() });
            }
        }
        let backoff = self.inner.options.reconnect;
        let deadline = Instant::now() + backoff.give_up_after;
        let mut delay = backoff.initial;
        let uri_for_log = self.inner.uri.clone();
        tracing::info!(uri = %uri_for_log, "reconnecting to libvirt");
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let (uri, opts) = (self.inner.uri.clone(), self.inner.options);
            match blocking(move || open_blocking(&uri, &opts)).await? {
                Ok(conn) => {
                    let generation = self.generation() + 1;
                    let live = Live::new(conn, generation);
                    *self.inner.live.lock().unwrap_or_else(|p| p.into_inner()) = Some(live.clone());
                    self.inner.generation.send_replace(generation);
                    round.last_failure = None;
                    self.inner.rounds.fetch_add(1, Ordering::AcqRel);
                    tracing::info!(uri = %uri_for_log, generation, attempt, "reconnected to libvirt");
                    return Ok(live);
                }
                Err(message) => {
                    tracing::debug!(uri = %uri_for_log, attempt, reason = %message, retry_in_ms = delay.as_millis() as u64, "reconnect attempt failed");
                    if Instant::now() + delay > deadline {
                        tracing::warn!(uri = %uri_for_log, attempt, reason = %message, "giving up reconnecting for now; the next call tries again");
                        round.last_failure = Some(message.clone());
                        self.inner.rounds.fetch_add(1, Ordering::AcqRel);
                        return Err(LibvirtError::ConnectionLost { uri: self.inner.uri.clone(), message });
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(backoff.max);
                }
            }
        }
    }
}
