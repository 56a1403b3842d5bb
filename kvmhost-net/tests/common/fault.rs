//! Fault injection for the engine tests: backends that wrap the real ones and fail where a test
//! says, so the engine's rollback can be checked before every step. Test code only: the public
//! `ApplyOptions` carries no test hook.

use kvmhost_net::engine::OvsBackend;
use kvmhost_net::ovs::{Plan as OvsPlan, Snapshot};
use kvmhost_net::{ApplyOptions, Error, Kernel, NetState, Step};

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

/// An [`OvsBackend`] that refuses the OVS plan's step `fail_at` (the OVS steps are one
/// transaction: nothing is written).
pub struct FaultyOvs<'a> {
    inner: &'a mut dyn OvsBackend,
    fail_at: Option<usize>,
}

impl<'a> FaultyOvs<'a> {
    /// Refuse the OVS step with this index; `None` passes everything through.
    pub fn new(inner: &'a mut dyn OvsBackend, fail_at: Option<usize>) -> Self {
        Self { inner, fail_at }
    }
}

impl OvsBackend for FaultyOvs<'_> {
    fn capture(&mut self) -> Result<Snapshot, Error> {
        self.inner.capture()
    }

    fn apply_plan(&mut self, plan: &OvsPlan, prior: &Snapshot, options: &ApplyOptions) -> Result<(), Error> {
        match self.fail_at.and_then(|i| plan.steps.get(i).map(|s| (i, s))) {
            Some((index, step)) => Err(Error::StepFailed {
                index,
                step: step.to_string(),
                source: kvmhost_net::ovsdb::Error::Operation {
                    index,
                    op: "injected".into(),
                    error: "injected failure (test)".into(),
                    details: None,
                },
            }),
            None => self.inner.apply_plan(plan, prior, options),
        }
    }

    fn restore(&mut self, prior: &Snapshot) -> Result<usize, Error> {
        self.inner.restore(prior)
    }

    fn write_transactions(&self) -> u64 {
        self.inner.write_transactions()
    }
}
