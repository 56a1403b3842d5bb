//! libvirt's default event loop, run once per process on its own thread.
//!
//! libvirt delivers domain events and sends keepalive probes only when an event loop
//! implementation is registered **before** a connection is opened, and something keeps calling
//! `virEventRunDefaultImpl`. [`ensure_running`] registers libvirt's default implementation and
//! starts one thread (`kvmhost-libvirt-events`) that runs it for the rest of the process; every
//! connection opened by this crate calls it first, so users never have to.
//!
//! ```
//! kvmhost_libvirt::event_loop::ensure_running().unwrap();
//! kvmhost_libvirt::event_loop::ensure_running().unwrap(); // idempotent
//! assert!(kvmhost_libvirt::event_loop::is_running());
//! ```

use std::sync::OnceLock;

use crate::LibvirtError;

static STARTED: OnceLock<Result<(), String>> = OnceLock::new();

/// Registers libvirt's default event loop and starts the thread that runs it, once per process.
///
/// Later calls return the first call's outcome. An error means libvirt refused to register its
/// implementation (then events and keepalive are unavailable; plain calls still work).
///
/// ```
/// kvmhost_libvirt::event_loop::ensure_running().expect("libvirt event loop");
/// ```
pub fn ensure_running() -> Result<(), LibvirtError> {
    STARTED
        .get_or_init(|| {
            virt::event::event_register_default_impl().map_err(|e| e.message().to_string())?;
            std::thread::Builder::new()
                .name("kvmhost-libvirt-events".into())
                .spawn(|| loop {
                    // Blocks until an event or timer fires; an error here means libvirt's loop
                    // is unusable, and retrying immediately would spin, so back off briefly.
                    if virt::event::event_run_default_impl().is_err() {
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                })
                .map_err(|e| format!("cannot start the libvirt event thread: {e}"))?;
            Ok(())
        })
        .clone()
        .map_err(|message| LibvirtError::Other { code: 0, message })
}

/// Whether [`ensure_running`] has started the event loop successfully in this process.
///
/// ```
/// kvmhost_libvirt::event_loop::ensure_running().unwrap();
/// assert!(kvmhost_libvirt::event_loop::is_running());
/// ```
pub fn is_running() -> bool {
    matches!(STARTED.get(), Some(Ok(())))
}
