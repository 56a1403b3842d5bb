//! Fault injection for the engine tests: backends that wrap the real ones and fail where a test
//! says, so the engine's rollback can be checked before every step. Test code only: the public
//! `ApplyOptions` carries no test hook.

use kvmhost_net::engine::{Backend, WithExecute};
use kvmhost_net::{ApplyOptions, Error, Kernel, NetState, PlannedStep, Step};

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

/// `inner`, refusing its step `fail_at` (0-based within this backend's steps) before anything
/// of that batch is written (the OVS steps are one transaction: nothing is written), and
/// otherwise passing everything through.
pub fn failing_backend<B: Backend>(inner: B, fail_at: Option<usize>) -> impl Backend {
    WithExecute::new(inner, move |inner: &mut B, steps: &[PlannedStep], options: &ApplyOptions| {
        match fail_at.filter(|i| *i < steps.len()) {
            Some(index) => Err((index, injected(steps[index].step.to_string()))),
            None => inner.execute(steps, options),
        }
    })
}
