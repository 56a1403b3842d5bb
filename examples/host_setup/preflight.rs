//! The preflight step: kvmhost-core's `cloudstack` profile over the host under the root
//! directory. It informs (the report lists what fails and the remedy); `--strict` makes a failed
//! required check stop the run before anything is changed.

use std::path::Path;

use kvmhost::core::preflight::{Gatherer, Profile, Report, Status};
use serde::Serialize;

/// The outcome of the checks, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The profile.
    pub profile: &'static str,
    /// Checks that passed.
    pub pass: usize,
    /// Warnings.
    pub warn: usize,
    /// Failures.
    pub fail: usize,
    /// Checks whose facts could not be read.
    pub unknown: usize,
    /// Every check that did not pass: `[status, id, message]`.
    pub problems: Vec<[String; 3]>,
}

impl Summary {
    /// Whether a check failed.
    pub fn failed(&self) -> bool {
        self.fail > 0
    }
}

/// Runs the `cloudstack` profile on the host under `root`.
pub fn run(root: &Path) -> Report {
    let facts = Gatherer::new(root).gather();
    Profile::cloudstack().run(&facts)
}

/// The report in short.
pub fn summary(report: &Report) -> Summary {
    Summary {
        profile: "cloudstack",
        pass: report.count(Status::Pass),
        warn: report.count(Status::Warn),
        fail: report.count(Status::Fail),
        unknown: report.count(Status::Unknown),
        problems: report
            .checks
            .iter()
            .filter(|c| c.status != Status::Pass)
            .map(|c| [c.status.to_string(), c.id.clone(), c.message.clone()])
            .collect(),
    }
}
