//! Typed domain lifecycle events: libvirt's `virDomainEventType` and its per-type detail enums,
//! decoded from the two raw integers libvirt hands to a lifecycle callback. Pure: no I/O.

use serde::{Deserialize, Serialize};

/// Declares a detail enum with its libvirt constants; values this version does not know are
/// kept as `Other(raw)` so nothing libvirt sends is lost.
macro_rules! detail_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $raw:expr,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A detail this version does not know (libvirt's raw value).
            Other(i32),
        }

        impl $name {
            /// Decodes libvirt's raw detail value.
            pub fn from_raw(raw: i32) -> $name {
                match raw {
                    $(r if r == $raw as i32 => $name::$variant,)+
                    r => $name::Other(r),
                }
            }

            /// libvirt's raw detail value.
            pub fn to_raw(self) -> i32 {
                match self {
                    $($name::$variant => $raw as i32,)+
                    $name::Other(r) => r,
                }
            }
        }
    };
}

use virt::sys;

detail_enum! {
    /// Why a domain was defined (`virDomainEventDefinedDetailType`).
    ///
    /// ```
    /// use kvmhost_libvirt::events::DefinedDetail;
    /// assert_eq!(DefinedDetail::from_raw(1), DefinedDetail::Updated);
    /// assert_eq!(DefinedDetail::from_raw(99), DefinedDetail::Other(99));
    /// ```
    DefinedDetail {
        /// A new persistent definition.
        Added = sys::VIR_DOMAIN_EVENT_DEFINED_ADDED,
        /// An existing definition changed.
        Updated = sys::VIR_DOMAIN_EVENT_DEFINED_UPDATED,
        /// The domain was renamed (new name).
        Renamed = sys::VIR_DOMAIN_EVENT_DEFINED_RENAMED,
        /// Restored from a snapshot.
        FromSnapshot = sys::VIR_DOMAIN_EVENT_DEFINED_FROM_SNAPSHOT,
    }
}

detail_enum! {
    /// Why a domain was undefined (`virDomainEventUndefinedDetailType`).
    ///
    /// ```
    /// assert_eq!(kvmhost_libvirt::events::UndefinedDetail::from_raw(0).to_raw(), 0);
    /// ```
    UndefinedDetail {
        /// The persistent definition was removed.
        Removed = sys::VIR_DOMAIN_EVENT_UNDEFINED_REMOVED,
        /// The domain was renamed (old name).
        Renamed = sys::VIR_DOMAIN_EVENT_UNDEFINED_RENAMED,
    }
}

detail_enum! {
    /// Why a domain started (`virDomainEventStartedDetailType`).
    ///
    /// ```
    /// use kvmhost_libvirt::events::StartedDetail;
    /// assert_eq!(StartedDetail::from_raw(1), StartedDetail::Migrated);
    /// ```
    StartedDetail {
        /// Normal boot.
        Booted = sys::VIR_DOMAIN_EVENT_STARTED_BOOTED,
        /// Incoming migration.
        Migrated = sys::VIR_DOMAIN_EVENT_STARTED_MIGRATED,
        /// Restored from a saved state file.
        Restored = sys::VIR_DOMAIN_EVENT_STARTED_RESTORED,
        /// Restored from a snapshot.
        FromSnapshot = sys::VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT,
        /// Woken up by guest power management.
        Wakeup = sys::VIR_DOMAIN_EVENT_STARTED_WAKEUP,
        /// Re-created after a fatal error of the hypervisor.
        Recreated = sys::VIR_DOMAIN_EVENT_STARTED_RECREATED,
    }
}

detail_enum! {
    /// Why a domain was paused (`virDomainEventSuspendedDetailType`).
    ///
    /// ```
    /// use kvmhost_libvirt::events::SuspendedDetail;
    /// assert_eq!(SuspendedDetail::from_raw(0), SuspendedDetail::Paused);
    /// ```
    SuspendedDetail {
        /// Paused by an administrator.
        Paused = sys::VIR_DOMAIN_EVENT_SUSPENDED_PAUSED,
        /// Paused for offline migration.
        Migrated = sys::VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED,
        /// Paused on a disk I/O error.
        IoError = sys::VIR_DOMAIN_EVENT_SUSPENDED_IOERROR,
        /// Paused by the watchdog.
        Watchdog = sys::VIR_DOMAIN_EVENT_SUSPENDED_WATCHDOG,
        /// Paused after restoring from a saved state.
        Restored = sys::VIR_DOMAIN_EVENT_SUSPENDED_RESTORED,
        /// Paused after restoring from a snapshot.
        FromSnapshot = sys::VIR_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT,
        /// Paused after a failed libvirt API call.
        ApiError = sys::VIR_DOMAIN_EVENT_SUSPENDED_API_ERROR,
        /// Paused for post-copy migration.
        Postcopy = sys::VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY,
        /// Paused after a failed post-copy migration.
        PostcopyFailed = sys::VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY_FAILED,
    }
}

detail_enum! {
    /// Why a domain resumed (`virDomainEventResumedDetailType`).
    ///
    /// ```
    /// use kvmhost_libvirt::events::ResumedDetail;
    /// assert_eq!(ResumedDetail::from_raw(1), ResumedDetail::Migrated);
    /// ```
    ResumedDetail {
        /// Unpaused by an administrator.
        Unpaused = sys::VIR_DOMAIN_EVENT_RESUMED_UNPAUSED,
        /// Resumed on the destination after a migration.
        Migrated = sys::VIR_DOMAIN_EVENT_RESUMED_MIGRATED,
        /// Resumed from a snapshot.
        FromSnapshot = sys::VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT,
        /// Resumed in post-copy mode.
        Postcopy = sys::VIR_DOMAIN_EVENT_RESUMED_POSTCOPY,
        /// Resumed after a failed post-copy migration.
        PostcopyFailed = sys::VIR_DOMAIN_EVENT_RESUMED_POSTCOPY_FAILED,
    }
}

detail_enum! {
    /// Why a domain stopped (`virDomainEventStoppedDetailType`).
    ///
    /// ```
    /// use kvmhost_libvirt::events::StoppedDetail;
    /// assert_eq!(StoppedDetail::from_raw(1), StoppedDetail::Destroyed);
    /// assert_eq!(StoppedDetail::Migrated.to_raw(), 3);
    /// ```
    StoppedDetail {
        /// Normal shutdown.
        Shutdown = sys::VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN,
        /// Forced off (`virDomainDestroy`).
        Destroyed = sys::VIR_DOMAIN_EVENT_STOPPED_DESTROYED,
        /// The guest crashed.
        Crashed = sys::VIR_DOMAIN_EVENT_STOPPED_CRASHED,
        /// Migrated away to another host.
        Migrated = sys::VIR_DOMAIN_EVENT_STOPPED_MIGRATED,
        /// Saved to a state file.
        Saved = sys::VIR_DOMAIN_EVENT_STOPPED_SAVED,
        /// The hypervisor failed.
        Failed = sys::VIR_DOMAIN_EVENT_STOPPED_FAILED,
        /// Stopped when a snapshot was loaded.
        FromSnapshot = sys::VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT,
        /// Stopped to be re-created.
        Recreated = sys::VIR_DOMAIN_EVENT_STOPPED_RECREATED,
    }
}

detail_enum! {
    /// How a shutdown happened (`virDomainEventShutdownDetailType`).
    ///
    /// ```
    /// use kvmhost_libvirt::events::ShutdownDetail;
    /// assert_eq!(ShutdownDetail::from_raw(1), ShutdownDetail::Guest);
    /// ```
    ShutdownDetail {
        /// The guest finished shutting down.
        Finished = sys::VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED,
        /// The guest initiated the shutdown.
        Guest = sys::VIR_DOMAIN_EVENT_SHUTDOWN_GUEST,
        /// The host initiated the shutdown.
        Host = sys::VIR_DOMAIN_EVENT_SHUTDOWN_HOST,
    }
}

detail_enum! {
    /// Where a guest suspended itself to (`virDomainEventPMSuspendedDetailType`).
    ///
    /// ```
    /// use kvmhost_libvirt::events::PmSuspendedDetail;
    /// assert_eq!(PmSuspendedDetail::from_raw(1), PmSuspendedDetail::Disk);
    /// ```
    PmSuspendedDetail {
        /// Suspend to RAM.
        Memory = sys::VIR_DOMAIN_EVENT_PMSUSPENDED_MEMORY,
        /// Suspend to disk.
        Disk = sys::VIR_DOMAIN_EVENT_PMSUSPENDED_DISK,
    }
}

detail_enum! {
    /// Why a guest crashed (`virDomainEventCrashedDetailType`).
    ///
    /// ```
    /// use kvmhost_libvirt::events::CrashedDetail;
    /// assert_eq!(CrashedDetail::from_raw(0), CrashedDetail::Panicked);
    /// ```
    CrashedDetail {
        /// The guest panicked.
        Panicked = sys::VIR_DOMAIN_EVENT_CRASHED_PANICKED,
        /// The guest crashed and loaded a crash kernel.
        CrashLoaded = sys::VIR_DOMAIN_EVENT_CRASHED_CRASHLOADED,
    }
}

/// What happened to a domain (`virDomainEventType` with its detail).
///
/// ```
/// use kvmhost_libvirt::events::{EventKind, StartedDetail, StoppedDetail};
/// assert_eq!(EventKind::from_raw(2, 0), EventKind::Started(StartedDetail::Booted));
/// assert_eq!(EventKind::from_raw(5, 1), EventKind::Stopped(StoppedDetail::Destroyed));
/// assert_eq!(EventKind::from_raw(42, 7), EventKind::Other { event: 42, detail: 7 });
/// assert_eq!(EventKind::from_raw(5, 1).to_raw(), (5, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EventKind {
    /// A persistent definition was added or changed.
    Defined(DefinedDetail),
    /// A persistent definition was removed.
    Undefined(UndefinedDetail),
    /// The domain started.
    Started(StartedDetail),
    /// The domain was paused.
    Suspended(SuspendedDetail),
    /// The domain was unpaused.
    Resumed(ResumedDetail),
    /// The domain stopped.
    Stopped(StoppedDetail),
    /// The domain is shutting down or has shut down.
    Shutdown(ShutdownDetail),
    /// The guest suspended itself through power management.
    PmSuspended(PmSuspendedDetail),
    /// The guest crashed.
    Crashed(CrashedDetail),
    /// An event type this version does not know (libvirt's raw values).
    Other {
        /// `virDomainEventType`.
        event: i32,
        /// Its detail.
        detail: i32,
    },
}

impl EventKind {
    /// Decodes the `event` and `detail` integers of a lifecycle callback.
    pub fn from_raw(event: i32, detail: i32) -> EventKind {
        let Ok(e) = u32::try_from(event) else {
            return EventKind::Other { event, detail };
        };
        match e {
            sys::VIR_DOMAIN_EVENT_DEFINED => EventKind::Defined(DefinedDetail::from_raw(detail)),
            sys::VIR_DOMAIN_EVENT_UNDEFINED => EventKind::Undefined(UndefinedDetail::from_raw(detail)),
            sys::VIR_DOMAIN_EVENT_STARTED => EventKind::Started(StartedDetail::from_raw(detail)),
            sys::VIR_DOMAIN_EVENT_SUSPENDED => EventKind::Suspended(SuspendedDetail::from_raw(detail)),
            sys::VIR_DOMAIN_EVENT_RESUMED => EventKind::Resumed(ResumedDetail::from_raw(detail)),
            sys::VIR_DOMAIN_EVENT_STOPPED => EventKind::Stopped(StoppedDetail::from_raw(detail)),
            sys::VIR_DOMAIN_EVENT_SHUTDOWN => EventKind::Shutdown(ShutdownDetail::from_raw(detail)),
            sys::VIR_DOMAIN_EVENT_PMSUSPENDED => EventKind::PmSuspended(PmSuspendedDetail::from_raw(detail)),
            sys::VIR_DOMAIN_EVENT_CRASHED => EventKind::Crashed(CrashedDetail::from_raw(detail)),
            _ => EventKind::Other { event, detail },
        }
    }

    /// libvirt's raw `(event, detail)` pair.
    pub fn to_raw(self) -> (i32, i32) {
        let ev = |e: u32| e as i32;
        match self {
            EventKind::Defined(d) => (ev(sys::VIR_DOMAIN_EVENT_DEFINED), d.to_raw()),
            EventKind::Undefined(d) => (ev(sys::VIR_DOMAIN_EVENT_UNDEFINED), d.to_raw()),
            EventKind::Started(d) => (ev(sys::VIR_DOMAIN_EVENT_STARTED), d.to_raw()),
            EventKind::Suspended(d) => (ev(sys::VIR_DOMAIN_EVENT_SUSPENDED), d.to_raw()),
            EventKind::Resumed(d) => (ev(sys::VIR_DOMAIN_EVENT_RESUMED), d.to_raw()),
            EventKind::Stopped(d) => (ev(sys::VIR_DOMAIN_EVENT_STOPPED), d.to_raw()),
            EventKind::Shutdown(d) => (ev(sys::VIR_DOMAIN_EVENT_SHUTDOWN), d.to_raw()),
            EventKind::PmSuspended(d) => (ev(sys::VIR_DOMAIN_EVENT_PMSUSPENDED), d.to_raw()),
            EventKind::Crashed(d) => (ev(sys::VIR_DOMAIN_EVENT_CRASHED), d.to_raw()),
            EventKind::Other { event, detail } => (event, detail),
        }
    }

    /// The event type's name without its detail, as `virsh event` prints it (`Started`).
    ///
    /// ```
    /// assert_eq!(kvmhost_libvirt::events::EventKind::from_raw(4, 0).name(), "Resumed");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Defined(_) => "Defined",
            EventKind::Undefined(_) => "Undefined",
            EventKind::Started(_) => "Started",
            EventKind::Suspended(_) => "Suspended",
            EventKind::Resumed(_) => "Resumed",
            EventKind::Stopped(_) => "Stopped",
            EventKind::Shutdown(_) => "Shutdown",
            EventKind::PmSuspended(_) => "PMSuspended",
            EventKind::Crashed(_) => "Crashed",
            EventKind::Other { .. } => "Other",
        }
    }
}

/// One lifecycle event of one domain.
///
/// ```
/// use kvmhost_libvirt::events::{DomainEvent, EventKind, ResumedDetail};
/// let e = DomainEvent {
///     domain: "vm1".into(),
///     uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f".into(),
///     kind: EventKind::Resumed(ResumedDetail::Unpaused),
/// };
/// let json = serde_json::to_string(&e).unwrap();
/// assert_eq!(serde_json::from_str::<DomainEvent>(&json).unwrap(), e);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DomainEvent {
    /// The domain's name.
    pub domain: String,
    /// The domain's UUID (`xxxxxxxx-xxxx-…`).
    pub uuid: String,
    /// What happened.
    pub kind: EventKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_raw_pair_round_trips() {
        for event in 0..12 {
            for detail in -1..12 {
                let kind = EventKind::from_raw(event, detail);
                assert_eq!(kind.to_raw(), (event, detail), "{kind:?}");
            }
        }
        assert_eq!(EventKind::from_raw(-3, 1), EventKind::Other { event: -3, detail: 1 });
    }

    #[test]
    fn unknown_details_are_kept() {
        assert_eq!(EventKind::from_raw(2, 77), EventKind::Started(StartedDetail::Other(77)));
        assert_eq!(EventKind::from_raw(8, 1), EventKind::Crashed(CrashedDetail::CrashLoaded));
    }
}
