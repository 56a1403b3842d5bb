//! Domain lifecycle events as an async [`Stream`](futures_core::Stream).
//!
//! `virt` 0.5 does not wrap `virConnectDomainEventRegisterAny`; this module does, with one small
//! unsafe trampoline ([`Registration`]). libvirt calls the trampoline on its event-loop thread
//! (see [`crate::event_loop`]); the trampoline decodes the event into a typed [`DomainEvent`]
//! and sends it into an unbounded tokio channel, so it never blocks libvirt's loop. The
//! receiving end, [`DomainEvents`], is a `Stream` and has `recv().await`.
//!
//! Through a [`crate::Hypervisor`], use [`crate::Hypervisor::events`]: its [`HostEvents`]
//! stream is re-registered by itself after every reconnect of the shared connection.
//!
//! A registration belongs to one connection. After a reconnect (new `virConnect`), call
//! [`DomainEvents::reregister`] with the new connection: the same stream keeps delivering.
//! Dropping a [`Registration`] (or the [`DomainEvents`] holding it) deregisters the callback.
//!
//! ```
//! use kvmhost_libvirt::events::{self, EventKind, StoppedDetail};
//! kvmhost_libvirt::event_loop::ensure_running().unwrap();
//! let conn = virt::connect::Connect::open(Some("test:///default")).unwrap();
//! let mut events = events::subscribe(&conn).unwrap();
//! let dom = conn.lookup_domain_by_name("test").unwrap();
//! dom.destroy().unwrap();
//! let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! let ev = rt.block_on(events.recv_timeout(std::time::Duration::from_secs(5))).unwrap();
//! assert_eq!((ev.domain.as_str(), ev.kind), ("test", EventKind::Stopped(StoppedDetail::Destroyed)));
//! ```

mod follow;
mod kind;

pub use follow::{HostEvents, PROBE_INTERVAL};

pub use kind::{
    CrashedDetail, DefinedDetail, DomainEvent, EventKind, PmSuspendedDetail, ResumedDetail, ShutdownDetail,
    StartedDetail, StoppedDetail, SuspendedDetail, UndefinedDetail,
};

use std::ffi::{c_char, c_int, c_void, CStr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use virt::connect::Connect;
use virt::sys;

use crate::LibvirtError;

/// The sending side of an event stream: what a [`Registration`] delivers into. Cloning it is
/// cheap; every clone feeds the same [`DomainEvents`].
///
/// ```
/// let (sender, events) = kvmhost_libvirt::events::channel();
/// assert!(!sender.is_closed());
/// drop(events);
/// assert!(sender.is_closed());
/// ```
#[derive(Clone, Debug)]
pub struct EventSender {
    tx: UnboundedSender<DomainEvent>,
}

impl EventSender {
    /// Whether the receiving [`DomainEvents`] is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// A new, unregistered event stream and its sender; connect them to libvirt with
/// [`Registration::register`] or [`DomainEvents::reregister`].
///
/// ```
/// let (_sender, mut events) = kvmhost_libvirt::events::channel();
/// assert!(events.try_recv().is_none());
/// ```
pub fn channel() -> (EventSender, DomainEvents) {
    let (tx, rx) = unbounded_channel();
    let sender = EventSender { tx };
    (sender.clone(), DomainEvents { rx, sender, filter: None, registration: None })
}

/// What libvirt's callback owns (through its `opaque` pointer) for one registration.
struct CallbackState {
    sender: EventSender,
}

/// The lifecycle callback libvirt calls on its event-loop thread
/// (`virConnectDomainEventCallback`).
///
/// # Safety
/// Called by libvirt only, with `dom` valid for the duration of the call and `opaque` the
/// `Box<CallbackState>` pointer given to `virConnectDomainEventRegisterAny`, which stays alive
/// until libvirt calls [`free_state`].
unsafe extern "C" fn lifecycle_trampoline(
    _conn: sys::virConnectPtr,
    dom: sys::virDomainPtr,
    event: c_int,
    detail: c_int,
    opaque: *mut c_void,
) -> c_int {
    // A panic must not unwind into C; nothing below is expected to panic, but be sure.
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `opaque` is the live `CallbackState` (see the function's safety contract);
        // it is only read here.
        let state = unsafe { &*(opaque as *const CallbackState) };
        if state.sender.is_closed() {
            return;
        }
        // SAFETY: `dom` is valid during the callback; the name belongs to it and is copied.
        let name = unsafe { copy_c_str(sys::virDomainGetName(dom)) };
        let mut uuid = [0 as c_char; sys::VIR_UUID_STRING_BUFLEN as usize];
        // SAFETY: `uuid` has the VIR_UUID_STRING_BUFLEN bytes libvirt writes (NUL included).
        let uuid = if unsafe { sys::virDomainGetUUIDString(dom, uuid.as_mut_ptr()) } == 0 {
            // SAFETY: on success libvirt wrote a NUL-terminated string into the buffer.
            unsafe { copy_c_str(uuid.as_ptr()) }
        } else {
            String::new()
        };
        let kind = EventKind::from_raw(event, detail);
        let _ = state.sender.tx.send(DomainEvent { domain: name, uuid, kind });
    });
    0
}

/// Copies a C string libvirt owns into a `String` (empty for NULL).
///
/// # Safety
/// `p` is NULL or a valid NUL-terminated string.
unsafe fn copy_c_str(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// libvirt's `virFreeCallback` for the opaque pointer: called exactly once, when libvirt drops
/// the registration (after deregistration, or when the connection is finally closed).
///
/// # Safety
/// `opaque` is the pointer `Box::into_raw` produced in [`Registration::register`].
unsafe extern "C" fn free_state(opaque: *mut c_void) {
    if !opaque.is_null() {
        // SAFETY: ownership returns from libvirt to Rust exactly once.
        drop(unsafe { Box::from_raw(opaque as *mut CallbackState) });
    }
}

/// One callback registered on one connection (`virConnectDomainEventRegisterAny` with
/// `VIR_DOMAIN_EVENT_ID_LIFECYCLE`); deregistered when dropped.
///
/// ```
/// use kvmhost_libvirt::events::{channel, Registration};
/// kvmhost_libvirt::event_loop::ensure_running().unwrap();
/// let conn = virt::connect::Connect::open(Some("test:///default")).unwrap();
/// let (sender, _events) = channel();
/// let reg = Registration::register(&conn, None, &sender).unwrap();
/// assert!(reg.callback_id() >= 0);
/// ```
#[derive(Debug)]
pub struct Registration {
    conn: Connect,
    id: c_int,
}

impl Registration {
    /// Registers a lifecycle callback on `conn` delivering into `sender`, for every domain or
    /// only `domain`. libvirt's default event loop must run ([`crate::event_loop::ensure_running`])
    /// and should have been started before `conn` was opened (remote connections watch their
    /// socket only when a loop existed at open time); this function starts it if needed.
    ///
    /// ```
    /// use kvmhost_libvirt::events::{channel, Registration};
    /// kvmhost_libvirt::event_loop::ensure_running().unwrap();
    /// let conn = virt::connect::Connect::open(Some("test:///default")).unwrap();
    /// let dom = conn.lookup_domain_by_name("test").unwrap();
    /// let (sender, _events) = channel();
    /// assert!(Registration::register(&conn, Some(&dom), &sender).is_ok());
    /// ```
    pub fn register(
        conn: &Connect,
        domain: Option<&virt::domain::Domain>,
        sender: &EventSender,
    ) -> Result<Registration, LibvirtError> {
        crate::event_loop::ensure_running()?;
        let state = Box::into_raw(Box::new(CallbackState { sender: sender.clone() }));
        // libvirt's generic registration takes `virConnectDomainEventGenericCallback` and casts it
        // back to the event-specific signature (its VIR_DOMAIN_EVENT_CALLBACK macro); do the same.
        // SAFETY: both are `extern "C"` function pointers; libvirt calls it with the lifecycle
        // signature for VIR_DOMAIN_EVENT_ID_LIFECYCLE.
        let generic: unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, *mut c_void) = unsafe {
            std::mem::transmute::<
                unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, c_int, c_int, *mut c_void) -> c_int,
                unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, *mut c_void),
            >(lifecycle_trampoline)
        };
        // SAFETY: `conn` and `domain` are live wrappers, so their pointers are valid for the call.
        // On success libvirt owns `state` and frees it through `free_state`; on failure it does
        // not keep it (handled below).
        let id = unsafe {
            sys::virConnectDomainEventRegisterAny(
                conn.as_ptr(),
                domain.map_or(std::ptr::null_mut(), |d| d.as_ptr()),
                sys::VIR_DOMAIN_EVENT_ID_LIFECYCLE as c_int,
                Some(generic),
                state as *mut c_void,
                Some(free_state),
            )
        };
        if id < 0 {
            // Read the thread-local error on this thread, before anything else calls libvirt.
            let err = virt::error::Error::last_error();
            // SAFETY: registration failed, so libvirt did not keep `state`; it is still ours.
            drop(unsafe { Box::from_raw(state) });
            return Err(err.into());
        }
        Ok(Registration { conn: conn.clone(), id })
    }

    /// libvirt's callback id (`virConnectDomainEventRegisterAny`'s return value).
    ///
    /// ```
    /// # kvmhost_libvirt::event_loop::ensure_running().unwrap();
    /// # let conn = virt::connect::Connect::open(Some("test:///default")).unwrap();
    /// let (sender, _events) = kvmhost_libvirt::events::channel();
    /// let reg = kvmhost_libvirt::events::Registration::register(&conn, None, &sender).unwrap();
    /// println!("callback {}", reg.callback_id());
    /// ```
    pub fn callback_id(&self) -> i32 {
        self.id
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: `self.conn` keeps the connection alive; `self.id` came from a successful
        // registration on it and is deregistered only here. On a dead connection this fails;
        // libvirt then frees the callback state when the connection itself goes away.
        let rc = unsafe { sys::virConnectDomainEventDeregisterAny(self.conn.as_ptr(), self.id) };
        if rc < 0 {
            // Consume the thread-local error so it does not leak into an unrelated later call.
            let _ = virt::error::Error::last_error();
        }
    }
}

/// An async stream of lifecycle events (`impl Stream<Item = DomainEvent>`), fed by the
/// registration it holds; deregistered when dropped.
///
/// ```
/// kvmhost_libvirt::event_loop::ensure_running().unwrap();
/// let conn = virt::connect::Connect::open(Some("test:///default")).unwrap();
/// let mut events = kvmhost_libvirt::events::subscribe(&conn).unwrap();
/// conn.lookup_domain_by_name("test").unwrap().suspend().unwrap();
/// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// let ev = rt.block_on(events.recv_timeout(std::time::Duration::from_secs(5))).unwrap();
/// assert_eq!(ev.kind.name(), "Suspended");
/// ```
#[derive(Debug)]
pub struct DomainEvents {
    rx: UnboundedReceiver<DomainEvent>,
    sender: EventSender,
    filter: Option<String>,
    registration: Option<Registration>,
}

/// Subscribes to the lifecycle events of every domain on `conn`.
///
/// ```
/// kvmhost_libvirt::event_loop::ensure_running().unwrap();
/// let conn = virt::connect::Connect::open(Some("test:///default")).unwrap();
/// assert!(kvmhost_libvirt::events::subscribe(&conn).unwrap().is_registered());
/// ```
pub fn subscribe(conn: &Connect) -> Result<DomainEvents, LibvirtError> {
    let (_, mut events) = channel();
    events.reregister(conn)?;
    Ok(events)
}

/// Subscribes to the lifecycle events of one domain (by name) on `conn`.
///
/// ```
/// kvmhost_libvirt::event_loop::ensure_running().unwrap();
/// let conn = virt::connect::Connect::open(Some("test:///default")).unwrap();
/// let events = kvmhost_libvirt::events::subscribe_domain(&conn, "test").unwrap();
/// assert_eq!(events.domain_filter(), Some("test"));
/// assert!(kvmhost_libvirt::events::subscribe_domain(&conn, "nope").is_err());
/// ```
pub fn subscribe_domain(conn: &Connect, name: &str) -> Result<DomainEvents, LibvirtError> {
    let (_, mut events) = channel();
    events.filter = Some(name.to_string());
    events.reregister(conn)?;
    Ok(events)
}

impl DomainEvents {
    /// Registers this stream on `conn` (a new connection after a reconnect), replacing the
    /// previous registration, which is deregistered (best effort: on a dead connection libvirt
    /// cleans it up when the connection is freed). Events keep arriving on the same stream.
    /// A domain-filtered stream looks its domain up by name again on the new connection.
    ///
    /// ```
    /// kvmhost_libvirt::event_loop::ensure_running().unwrap();
    /// let first = virt::connect::Connect::open(Some("test:///default")).unwrap();
    /// let mut events = kvmhost_libvirt::events::subscribe(&first).unwrap();
    /// let second = virt::connect::Connect::open(Some("test:///default")).unwrap();
    /// events.reregister(&second).unwrap();
    /// assert!(events.is_registered());
    /// ```
    pub fn reregister(&mut self, conn: &Connect) -> Result<(), LibvirtError> {
        self.registration = None;
        let dom = match &self.filter {
            Some(name) => Some(conn.lookup_domain_by_name(name)?),
            None => None,
        };
        self.registration = Some(Registration::register(conn, dom.as_ref(), &self.sender)?);
        Ok(())
    }

    /// Stops delivery from libvirt (deregisters); events already queued can still be read.
    ///
    /// ```
    /// # kvmhost_libvirt::event_loop::ensure_running().unwrap();
    /// # let conn = virt::connect::Connect::open(Some("test:///default")).unwrap();
    /// let mut events = kvmhost_libvirt::events::subscribe(&conn).unwrap();
    /// events.unregister();
    /// assert!(!events.is_registered());
    /// ```
    pub fn unregister(&mut self) {
        self.registration = None;
    }

    /// Whether a libvirt registration currently feeds this stream.
    ///
    /// ```
    /// let (_s, events) = kvmhost_libvirt::events::channel();
    /// assert!(!events.is_registered());
    /// ```
    pub fn is_registered(&self) -> bool {
        self.registration.is_some()
    }

    /// The domain name this stream is limited to, if any.
    ///
    /// ```
    /// let (_s, events) = kvmhost_libvirt::events::channel();
    /// assert_eq!(events.domain_filter(), None);
    /// ```
    pub fn domain_filter(&self) -> Option<&str> {
        self.filter.as_deref()
    }

    /// A sender feeding this stream (for a registration made elsewhere).
    ///
    /// ```
    /// let (_s, events) = kvmhost_libvirt::events::channel();
    /// assert!(!events.sender().is_closed());
    /// ```
    pub fn sender(&self) -> EventSender {
        self.sender.clone()
    }

    /// The next event; waits for it.
    ///
    /// ```
    /// # kvmhost_libvirt::event_loop::ensure_running().unwrap();
    /// # let conn = virt::connect::Connect::open(Some("test:///default")).unwrap();
    /// let mut events = kvmhost_libvirt::events::subscribe(&conn).unwrap();
    /// conn.lookup_domain_by_name("test").unwrap().suspend().unwrap();
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// assert_eq!(rt.block_on(events.recv()).unwrap().domain, "test");
    /// ```
    pub async fn recv(&mut self) -> Option<DomainEvent> {
        // `self` holds a sender, so the channel never closes while the stream exists.
        self.rx.recv().await
    }

    /// The next event, or `None` after `timeout` (needs a tokio runtime with time enabled).
    ///
    /// ```
    /// let (_s, mut events) = kvmhost_libvirt::events::channel();
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    /// assert!(rt.block_on(events.recv_timeout(std::time::Duration::from_millis(10))).is_none());
    /// ```
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<DomainEvent> {
        tokio::time::timeout(timeout, self.rx.recv()).await.ok().flatten()
    }

    /// An already delivered event, without waiting.
    ///
    /// ```
    /// let (_s, mut events) = kvmhost_libvirt::events::channel();
    /// assert!(events.try_recv().is_none());
    /// ```
    pub fn try_recv(&mut self) -> Option<DomainEvent> {
        self.rx.try_recv().ok()
    }
}

impl futures_core::Stream for DomainEvents {
    type Item = DomainEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<DomainEvent>> {
        self.rx.poll_recv(cx)
    }
}
