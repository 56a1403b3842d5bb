//! [`HostEvents`]: a lifecycle event stream that follows a [`SharedConnection`] across
//! reconnects — what [`crate::Hypervisor::events`] returns.
//!
//! libvirt accepts one registration of a callback per connection, so all the streams of one
//! shared connection share one hub: one libvirt [`Registration`] whose events a task copies to
//! every stream. The hub's task owns the registration. It registers on the live connection,
//! then waits for [`SharedConnection::reconnected`]; after every reconnect it registers on the
//! new connection (and drops the old registration), so the caller's stream keeps delivering.
//! Every [`PROBE_INTERVAL`] it also makes an empty call on the connection, which notices a dead
//! daemon and reconnects by itself: a subscriber that makes no calls of its own still gets its
//! events back once the daemon returns. Events of the gap (while no connection existed) are
//! lost: libvirt does not replay them. Dropping the last stream of a connection stops the task
//! and deregisters.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use tokio::sync::{mpsc, oneshot, watch};

use super::{channel, DomainEvent, DomainEvents, EventSender, Registration};
use crate::connection::SharedConnection;
use crate::DomainId;

/// How often a stream's task checks the connection when nothing else happens.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Lifecycle events of a host, optionally of one domain (by name or UUID), re-registered on
/// the new connection after each reconnect. A `Stream<Item = DomainEvent>`, with
/// [`HostEvents::recv`] / [`HostEvents::recv_timeout`].
///
/// ```
/// use kvmhost_core::domain::DomainBuilder;
/// use kvmhost_libvirt::{events::EventKind, Hypervisor, LibvirtHypervisor};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let host = LibvirtHypervisor::connect("test:///default").await.unwrap();
/// let vm = host.define(&DomainBuilder::new("follow-doc").memory_mib(64).build().unwrap()).await.unwrap();
/// let mut events = host.events(Some(vm.domain_id())).await.unwrap();
/// host.start(&vm.domain_id()).await.unwrap();
/// let ev = events.recv_timeout(std::time::Duration::from_secs(5)).await.unwrap();
/// assert!(matches!(ev.kind, EventKind::Started(_)));
/// # host.destroy(&vm.domain_id()).await.unwrap();
/// # host.undefine(&vm.domain_id(), Default::default()).await.unwrap();
/// # });
/// ```
#[derive(Debug)]
pub struct HostEvents {
    rx: mpsc::UnboundedReceiver<DomainEvent>,
    filter: Option<DomainId>,
    registered: watch::Receiver<u64>,
    _hub: Arc<Hub>,
}

/// The one registration of a shared connection and the streams it feeds.
#[derive(Debug)]
struct Hub {
    subscribers: Subscribers,
    registered: watch::Receiver<u64>,
    _stop: oneshot::Sender<()>,
}

type Subscribers = Arc<Mutex<Vec<mpsc::UnboundedSender<DomainEvent>>>>;

/// The live hubs, by [`SharedConnection::key`].
fn hubs() -> &'static Mutex<HashMap<usize, Weak<Hub>>> {
    static HUBS: OnceLock<Mutex<HashMap<usize, Weak<Hub>>>> = OnceLock::new();
    HUBS.get_or_init(Default::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The hub of `conn`, started (first registration made) if none runs.
async fn hub(conn: &SharedConnection) -> crate::Result<Arc<Hub>> {
    if let Some(hub) = lock(hubs()).get(&conn.key()).and_then(Weak::upgrade) {
        return Ok(hub);
    }
    let (sender, events) = channel();
    let mut reconnected = conn.reconnected();
    let generation = *reconnected.borrow_and_update();
    let first = register(conn, None, &sender).await?;
    // Another task may have started one meanwhile: use it (ours is deregistered when dropped).
    let existing = lock(hubs()).get(&conn.key()).and_then(Weak::upgrade);
    if let Some(hub) = existing {
        let _ = tokio::task::spawn_blocking(move || drop(first)).await;
        return Ok(hub);
    }
    let (registered_tx, registered) = watch::channel(generation);
    let (stop, stopped) = oneshot::channel();
    let subscribers = Subscribers::default();
    let state =
        Follower { conn: conn.clone(), sender, events, subscribers: subscribers.clone(), registered: registered_tx };
    tokio::spawn(state.run(first, generation, reconnected, stopped));
    let hub = Arc::new(Hub { subscribers, registered, _stop: stop });
    let mut map = lock(hubs());
    map.retain(|_, w| w.strong_count() > 0);
    map.insert(conn.key(), Arc::downgrade(&hub));
    drop(map);
    Ok(hub)
}

impl HostEvents {
    /// Subscribes on `conn` and follows its reconnects. Returns once the first registration
    /// is made (its error, e.g. [`crate::LibvirtError::ConnectionLost`], otherwise). Must be
    /// called inside a tokio runtime (the follower is a tokio task).
    ///
    /// ```
    /// use kvmhost_libvirt::{connection::{ConnectOptions, SharedConnection}, events::HostEvents};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let conn = SharedConnection::open("test:///default", ConnectOptions::default()).await.unwrap();
    /// let events = HostEvents::follow(&conn, None).await.unwrap();
    /// assert_eq!(events.registered_generation(), conn.generation());
    /// # });
    /// ```
    pub async fn follow(conn: &SharedConnection, filter: Option<DomainId>) -> crate::Result<HostEvents> {
        let hub = hub(conn).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&hub.subscribers).push(tx);
        Ok(HostEvents { rx, filter, registered: hub.registered.clone(), _hub: hub })
    }

    /// The connection generation ([`SharedConnection::generation`]) the stream is registered
    /// on right now; 0 while it is not registered (the connection is down).
    ///
    /// ```
    /// # use kvmhost_libvirt::{Hypervisor, LibvirtHypervisor};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let host = LibvirtHypervisor::connect("test:///default").await.unwrap();
    /// let events = host.events(None).await.unwrap();
    /// assert!(events.registered_generation() >= 1);
    /// # });
    /// ```
    pub fn registered_generation(&self) -> u64 {
        *self.registered.borrow()
    }

    /// Waits until the stream is registered on connection generation `generation` or a later
    /// one; `false` after `timeout`.
    ///
    /// ```
    /// # use kvmhost_libvirt::{Hypervisor, LibvirtHypervisor};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let host = LibvirtHypervisor::connect("test:///default").await.unwrap();
    /// let mut events = host.events(None).await.unwrap();
    /// let now = host.connection().generation();
    /// assert!(events.wait_registered(now, std::time::Duration::from_secs(1)).await);
    /// # });
    /// ```
    pub async fn wait_registered(&mut self, generation: u64, timeout: Duration) -> bool {
        let wait = self.registered.wait_for(|g| *g >= generation);
        matches!(tokio::time::timeout(timeout, wait).await, Ok(Ok(_)))
    }

    /// The domain this stream is limited to, if any.
    ///
    /// ```
    /// # use kvmhost_libvirt::{DomainId, Hypervisor, LibvirtHypervisor};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let host = LibvirtHypervisor::connect("test:///default").await.unwrap();
    /// let events = host.events(Some(DomainId::name("test"))).await.unwrap();
    /// assert_eq!(events.domain_filter(), Some(&DomainId::name("test")));
    /// # });
    /// ```
    pub fn domain_filter(&self) -> Option<&DomainId> {
        self.filter.as_ref()
    }

    fn wanted(&self, ev: &DomainEvent) -> bool {
        match &self.filter {
            None => true,
            Some(DomainId::Name(n)) => &ev.domain == n,
            Some(DomainId::Uuid(u)) => ev.uuid.eq_ignore_ascii_case(u),
        }
    }

    /// The next event (of the filtered domain); waits for it.
    ///
    /// ```
    /// # use kvmhost_libvirt::{DomainId, Hypervisor, LibvirtHypervisor};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let host = LibvirtHypervisor::connect("test:///default").await.unwrap();
    /// let mut events = host.events(Some(DomainId::name("test"))).await.unwrap();
    /// host.suspend(&DomainId::name("test")).await.unwrap();
    /// assert_eq!(events.recv().await.unwrap().kind.name(), "Suspended");
    /// # });
    /// ```
    pub async fn recv(&mut self) -> Option<DomainEvent> {
        loop {
            let ev = self.rx.recv().await?;
            if self.wanted(&ev) {
                return Some(ev);
            }
        }
    }

    /// The next event, or `None` after `timeout`.
    ///
    /// ```
    /// # use kvmhost_libvirt::{Hypervisor, LibvirtHypervisor};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let host = LibvirtHypervisor::connect("test:///default").await.unwrap();
    /// let mut events = host.events(None).await.unwrap();
    /// assert!(events.recv_timeout(std::time::Duration::from_millis(10)).await.is_none());
    /// # });
    /// ```
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<DomainEvent> {
        tokio::time::timeout(timeout, self.recv()).await.ok().flatten()
    }
}

impl futures_core::Stream for HostEvents {
    type Item = DomainEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<DomainEvent>> {
        loop {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(ev)) if !self.wanted(&ev) => continue,
                other => return other,
            }
        }
    }
}

/// Registers `sender` on the live connection on a worker thread, dropping `old` there first.
async fn register(
    conn: &SharedConnection,
    old: Option<Registration>,
    sender: &EventSender,
) -> crate::Result<Registration> {
    let sender = sender.clone();
    conn.call(move |c| {
        drop(old);
        Registration::register(c, None, &sender)
    })
    .await
}

/// The hub's task and what it owns.
struct Follower {
    conn: SharedConnection,
    sender: EventSender,
    events: DomainEvents,
    subscribers: Subscribers,
    registered: watch::Sender<u64>,
}

impl Follower {
    /// Copies events to the streams, re-registers after each reconnect, probes the connection
    /// while idle; ends when the hub is dropped.
    async fn run(
        mut self,
        first: Registration,
        mut generation: u64,
        mut reconnected: watch::Receiver<u64>,
        mut stopped: oneshot::Receiver<()>,
    ) {
        let mut current = Some(first);
        let mut probe = tokio::time::interval(PROBE_INTERVAL);
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        probe.tick().await;
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                ev = self.events.recv() => {
                    if let Some(ev) = ev {
                        lock(&self.subscribers).retain(|s| s.send(ev.clone()).is_ok());
                    }
                    continue;
                }
                changed = reconnected.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                _ = probe.tick() => {
                    // Notices a dead connection (and reconnects): `reconnected` then changes.
                    let _ = self.conn.call(|_| Ok(())).await;
                }
            }
            let now = *reconnected.borrow_and_update();
            if now == generation && current.is_some() {
                continue;
            }
            self.registered.send_replace(0);
            match register(&self.conn, current.take(), &self.sender).await {
                Ok(reg) => {
                    current = Some(reg);
                    generation = now;
                    self.registered.send_replace(now);
                    tracing::info!(uri = %self.conn.uri(), generation = now, "domain event stream re-registered");
                }
                // Still down: the next probe tries again.
                Err(e) => {
                    tracing::debug!(uri = %self.conn.uri(), error = %e, "domain event stream not re-registered yet");
                    generation = 0
                }
            }
        }
        // Deregister on a worker thread (a libvirt call), not on the runtime.
        if let Some(reg) = current {
            let _ = tokio::task::spawn_blocking(move || drop(reg)).await;
        }
    }
}
