//! A backend that is another one in everything but `execute`: for work around each batch of
//! steps (record it, ask before it, refuse it) without writing every method of a backend.

use super::{ApplyOptions, ApplyReport, Backend, Goal, RollbackReport};
use crate::model::HostNetwork;
use crate::plan::{BackendKind, Plan, PlannedStep};
use crate::Error;

/// A [`Backend`] that passes every call to `inner` except [`Backend::execute`], which goes
/// through `execute` (given `inner`, the steps and the options): it may run something before or
/// after `inner.execute`, or refuse a batch with the index of the step it refuses.
///
/// ```
/// use kvmhost_net::engine::{Backend, NetlinkBackend, WithExecute};
/// use kvmhost_net::{ApplyOptions, Error, Kernel, NetState, Step};
/// struct Empty;
/// impl Kernel for Empty {
///     fn read_state(&mut self) -> Result<NetState, Error> { Ok(NetState::default()) }
///     fn execute(&mut self, _: &Step) -> Result<(), Error> { Ok(()) }
///     fn writes(&self) -> u64 { 0 }
/// }
/// let mut kernel = Empty;
/// let mut batches = 0;
/// let mut counted = WithExecute::new(NetlinkBackend::new(&mut kernel), |inner, steps, options| {
///     batches += 1;
///     inner.execute(steps, options)
/// });
/// counted.execute(&[], &ApplyOptions::default()).unwrap();
/// drop(counted);
/// assert_eq!(batches, 1);
/// ```
pub struct WithExecute<B, F> {
    inner: B,
    execute: F,
}

impl<B, F> WithExecute<B, F>
where
    B: Backend,
    F: FnMut(&mut B, &[PlannedStep], &ApplyOptions) -> Result<(), (usize, Error)>,
{
    /// `inner`, with its batches executed through `execute`.
    pub fn new(inner: B, execute: F) -> Self {
        Self { inner, execute }
    }

    /// The backend wrapped.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B, F> Backend for WithExecute<B, F>
where
    B: Backend,
    F: FnMut(&mut B, &[PlannedStep], &ApplyOptions) -> Result<(), (usize, Error)>,
{
    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }
    fn capture(&mut self, net: &HostNetwork) -> Result<(), Error> {
        self.inner.capture(net)
    }
    fn plan(&mut self, net: &HostNetwork, goal: Goal, settle: bool) -> Result<Plan, Error> {
        self.inner.plan(net, goal, settle)
    }
    fn execute(&mut self, steps: &[PlannedStep], options: &ApplyOptions) -> Result<(), (usize, Error)> {
        (self.execute)(&mut self.inner, steps, options)
    }
    fn verify(&mut self, net: &HostNetwork, goal: Goal, settle: bool) -> Result<(), Error> {
        self.inner.verify(net, goal, settle)
    }
    fn restore(&mut self, net: &HostNetwork, report: &mut RollbackReport) {
        self.inner.restore(net, report)
    }
    fn check_restored(&mut self, net: &HostNetwork, report: &mut RollbackReport) -> bool {
        self.inner.check_restored(net, report)
    }
    fn writes(&self) -> u64 {
        self.inner.writes()
    }
    fn report(&mut self, report: &mut ApplyReport) -> Result<(), Error> {
        self.inner.report(report)
    }
}
