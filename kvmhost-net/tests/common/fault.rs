//! Fault injection for the engine tests: backends that wrap the real ones and fail where a test
//! says, so the engine's rollback can be checked before every step. Test code only: the public
//! `ApplyOptions` carries no test hook.

use kvmhost_net::engine::{Backend, Goal};
use kvmhost_net::{
    ApplyOptions, ApplyReport, BackendKind, Error, HostNetwork, Kernel, NetState, Plan, PlannedStep, RollbackReport,
    Step,
};

fn injected(context: String) -> Error {
    Error::Kernel { context, errno: 0, message: "injected failure (test)".into() }
}

/// A [`Kernel`] that refuses its `fail_at`-th step (0-based, counted over this wrapper's
/// executions), or that reports a wrong state once after its steps so the verification fails.
pub struct FaultyKernel<'a> {
    inner: &'a mut dyn Kernel,
    fail_at: Option<usize>,
    fail_verification: bool,
    executed: usize,
}

impl<'a> FaultyKernel<'a> {
    /// Refuse the step with this index.
    pub fn failing_step(inner: &'a mut dyn Kernel, index: usize) -> Self {
        Self { inner, fail_at: Some(index), fail_verification: false, executed: 0 }
    }

    /// Pass everything through.
    pub fn passthrough(inner: &'a mut dyn Kernel) -> Self {
        Self { inner, fail_at: None, fail_verification: false, executed: 0 }
    }

    /// Execute every step, then read back a state with every address gone (once): the
    /// verification after the last step fails with both sides changed.
    pub fn failing_verification(inner: &'a mut dyn Kernel) -> Self {
        Self { inner, fail_at: None, fail_verification: true, executed: 0 }
    }
}

impl Kernel for FaultyKernel<'_> {
    fn read_state(&mut self) -> Result<NetState, Error> {
        let mut state = self.inner.read_state()?;
        if self.fail_verification && self.executed > 0 {
            self.fail_verification = false;
            for l in state.links.values_mut() {
                l.addresses.clear();
            }
        }
        Ok(state)
    }

    fn execute(&mut self, step: &Step) -> Result<(), Error> {
        let i = self.executed;
        self.executed += 1;
        if self.fail_at == Some(i) {
            return Err(injected(step.to_string()));
        }
        self.inner.execute(step)
    }

    fn writes(&self) -> u64 {
        self.inner.writes()
    }
}

/// A [`Backend`] that refuses its step `fail_at` (0-based within this backend's steps) before
/// anything of that batch is written (the OVS steps are one transaction: nothing is written),
/// and otherwise passes everything to the backend it wraps.
pub struct FaultyBackend<'a> {
    inner: &'a mut dyn Backend,
    fail_at: Option<usize>,
}

impl<'a> FaultyBackend<'a> {
    /// Refuse the step with this index; `None` passes everything through.
    pub fn new(inner: &'a mut dyn Backend, fail_at: Option<usize>) -> Self {
        Self { inner, fail_at }
    }
}

impl Backend for FaultyBackend<'_> {
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
        match self.fail_at.filter(|i| *i < steps.len()) {
            Some(index) => Err((index, injected(steps[index].step.to_string()))),
            None => self.inner.execute(steps, options),
        }
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
