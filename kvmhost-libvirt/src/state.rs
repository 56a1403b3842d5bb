//! A domain's run state and the reason libvirt gives for it (`virDomainGetState`).
//!
//! ```
//! use kvmhost_libvirt::DomainState;
//! assert_eq!(DomainState::from_raw(1), DomainState::Running);
//! assert_eq!(DomainState::from_raw(99), DomainState::Unknown(99));
//! ```

use serde::{Deserialize, Serialize};

/// A domain's run state (`virDomainState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DomainState {
    /// No state.
    NoState,
    /// Running.
    Running,
    /// Blocked on a resource.
    Blocked,
    /// Paused by the user.
    Paused,
    /// Being shut down.
    Shutdown,
    /// Shut off.
    Shutoff,
    /// Crashed.
    Crashed,
    /// Suspended by guest power management.
    PmSuspended,
    /// A state this version does not know (raw value).
    Unknown(u32),
}

impl From<virt::domain::DomainStateEnum> for DomainState {
    fn from(s: virt::domain::DomainStateEnum) -> Self {
        use virt::domain::DomainState as S;
        match s {
            virt::enumutil::Enum::Known(k) => match k {
                S::NoState => DomainState::NoState,
                S::Running => DomainState::Running,
                S::Blocked => DomainState::Blocked,
                S::Paused => DomainState::Paused,
                S::Shutdown => DomainState::Shutdown,
                S::Shutoff => DomainState::Shutoff,
                S::Crashed => DomainState::Crashed,
                S::PMSuspended => DomainState::PmSuspended,
            },
            virt::enumutil::Enum::Unknown(raw) => DomainState::Unknown(raw),
        }
    }
}

impl DomainState {
    /// The state for a raw `virDomainState` value.
    ///
    /// ```
    /// use kvmhost_libvirt::DomainState;
    /// assert_eq!(DomainState::from_raw(5), DomainState::Shutoff);
    /// ```
    pub fn from_raw(raw: u32) -> DomainState {
        virt::domain::DomainStateEnum::from_raw(raw).into()
    }

    /// Whether the domain has a running QEMU process (running, blocked, paused, shutting down,
    /// crashed-but-not-reaped or PM-suspended).
    ///
    /// ```
    /// use kvmhost_libvirt::DomainState;
    /// assert!(DomainState::Paused.is_active());
    /// assert!(!DomainState::Shutoff.is_active());
    /// ```
    pub fn is_active(self) -> bool {
        !matches!(self, DomainState::Shutoff | DomainState::NoState | DomainState::Unknown(_))
    }
}

/// A state together with libvirt's reason for it (`virDomainGetState`'s `reason`).
///
/// ```
/// use kvmhost_libvirt::{DomainState, StateWithReason};
/// let s = StateWithReason { state: DomainState::Running, reason: "booted".into(), reason_code: 1 };
/// assert_eq!(s.to_string(), "running (booted)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateWithReason {
    /// The state.
    pub state: DomainState,
    /// libvirt's reason in words (`booted`, `destroyed`, `user`, `from snapshot`, …).
    pub reason: String,
    /// The raw reason code (its meaning depends on the state).
    pub reason_code: i32,
}

impl std::fmt::Display for StateWithReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            DomainState::NoState => "no state".to_string(),
            DomainState::Running => "running".into(),
            DomainState::Blocked => "blocked".into(),
            DomainState::Paused => "paused".into(),
            DomainState::Shutdown => "shutting down".into(),
            DomainState::Shutoff => "shut off".into(),
            DomainState::Crashed => "crashed".into(),
            DomainState::PmSuspended => "pmsuspended".into(),
            DomainState::Unknown(raw) => format!("state {raw}"),
        };
        write!(f, "{state} ({})", self.reason)
    }
}

/// Reads state and reason of `dom` (`virDomainGetState`). The `virt` wrapper drops the call's
/// error, so a failure is detected from the impossible state value and read from libvirt's
/// thread-local last error on this same thread.
pub(crate) fn read_state(dom: &virt::domain::Domain) -> crate::Result<StateWithReason> {
    use virt::enumutil::Enum;
    let (state, reason) = dom.state()?;
    if let Enum::Unknown(raw) = state {
        if raw as i32 == -1 {
            return Err(virt::error::Error::last_error().into());
        }
    }
    let (reason, reason_code) = match reason {
        Enum::Known(r) => (r.to_string(), reason_raw(&r)),
        Enum::Unknown(raw) => (format!("reason {raw}"), raw),
    };
    Ok(StateWithReason { state: state.into(), reason, reason_code })
}

fn reason_raw(r: &virt::domain::DomainStateReason) -> i32 {
    use virt::domain::DomainStateReason as R;
    (match r {
        R::NoState(x) => x.to_raw(),
        R::Running(x) => x.to_raw(),
        R::Blocked(x) => x.to_raw(),
        R::Paused(x) => x.to_raw(),
        R::Shutdown(x) => x.to_raw(),
        R::Shutoff(x) => x.to_raw(),
        R::Crashed(x) => x.to_raw(),
        R::PMSuspended(x) => x.to_raw(),
    }) as i32
}
