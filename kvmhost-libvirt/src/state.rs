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

    /// The raw `virDomainState` value (what Archipel's `info` reports, for one).
    ///
    /// ```
    /// use kvmhost_libvirt::DomainState;
    /// assert_eq!(DomainState::Shutoff.to_raw(), 5);
    /// for raw in 0..=9 {
    ///     assert_eq!(DomainState::from_raw(raw).to_raw(), raw);
    /// }
    /// ```
    pub fn to_raw(self) -> u32 {
        match self {
            DomainState::NoState => 0,
            DomainState::Running => 1,
            DomainState::Blocked => 2,
            DomainState::Paused => 3,
            DomainState::Shutdown => 4,
            DomainState::Shutoff => 5,
            DomainState::Crashed => 6,
            DomainState::PmSuspended => 7,
            DomainState::Unknown(raw) => raw,
        }
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

/// What a domain uses now (`virDomainGetInfo` and its autostart flag): state, memory, vCPUs
/// and CPU time, as agents report them.
///
/// ```
/// use kvmhost_libvirt::{DomainRuntime, DomainState};
/// let r = DomainRuntime {
///     state: DomainState::Running,
///     max_memory_kib: 1 << 20,
///     memory_kib: 1 << 19,
///     vcpus: 2,
///     cpu_time_ns: 1_500_000_000,
///     autostart: false,
/// };
/// assert_eq!(r.to_string(), "running, 2 vCPUs, 524288/1048576 KiB, CPU time 1.500 s");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRuntime {
    /// The state.
    pub state: DomainState,
    /// The maximum memory the guest may have, in KiB.
    pub max_memory_kib: u64,
    /// The memory the guest has now (the balloon's size), in KiB.
    pub memory_kib: u64,
    /// vCPUs.
    pub vcpus: u32,
    /// CPU time in nanoseconds as the driver counts it (QEMU: used since the guest started;
    /// compare two samples for a rate).
    pub cpu_time_ns: u64,
    /// Whether it starts with the host.
    pub autostart: bool,
}

impl std::fmt::Display for DomainRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = StateWithReason { state: self.state, reason: String::new(), reason_code: 0 }.to_string();
        write!(
            f,
            "{}, {} vCPUs, {}/{} KiB, CPU time {:.3} s",
            state.trim_end_matches(" ()"),
            self.vcpus,
            self.memory_kib,
            self.max_memory_kib,
            self.cpu_time_ns as f64 / 1e9
        )
    }
}

/// Reads [`DomainRuntime`] of `dom`.
pub(crate) fn read_runtime(dom: &virt::domain::Domain) -> crate::Result<DomainRuntime> {
    let info = dom.info()?;
    Ok(DomainRuntime {
        state: DomainState::from_raw(info.state.to_raw()),
        max_memory_kib: info.max_mem,
        memory_kib: info.memory,
        vcpus: info.nr_virt_cpu,
        cpu_time_ns: info.cpu_time,
        autostart: dom.autostart()?,
    })
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
