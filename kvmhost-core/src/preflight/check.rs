//! Checks, their verdicts and reports.

use super::HostFacts;
use crate::config::Value;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// How much a check matters: a problem found by a `Required` check fails, by a `Recommended`
/// one warns.
///
/// ```
/// use kvmhost_core::preflight::Severity;
/// assert_eq!("required".parse::<Severity>().unwrap(), Severity::Required);
/// assert_eq!(Severity::Recommended.to_string(), "recommended");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The host does not work (for this profile) without it.
    Required,
    /// The host works, worse.
    Recommended,
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Severity, String> {
        match s {
            "required" => Ok(Severity::Required),
            "recommended" => Ok(Severity::Recommended),
            _ => Err(format!("unknown severity {s:?} (required, recommended)")),
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if *self == Severity::Required { "required" } else { "recommended" })
    }
}

/// A check's outcome.
///
/// ```
/// use kvmhost_core::preflight::Status;
/// assert_eq!("warn".parse::<Status>().unwrap(), Status::Warn);
/// assert_eq!(serde_json::to_string(&Status::Unknown).unwrap(), "\"unknown\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Fine.
    Pass,
    /// Works, but should be changed.
    Warn,
    /// Must be changed.
    Fail,
    /// The facts needed could not be read (the message says why).
    Unknown,
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Status, String> {
        match s {
            "pass" => Ok(Status::Pass),
            "warn" => Ok(Status::Warn),
            "fail" => Ok(Status::Fail),
            "unknown" => Ok(Status::Unknown),
            _ => Err(format!("unknown status {s:?} (pass, warn, fail, unknown)")),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Unknown => "unknown",
        })
    }
}

/// An automatic fix: a configuration edit [`plan_fixes`](super::plan_fixes) can make. Paths
/// are as on the host (`/etc/libvirt/libvirtd.conf`); the root is added when planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum Fix {
    /// Set a setting of a libvirt configuration file.
    Virconf {
        /// The file.
        file: String,
        /// The setting.
        key: String,
        /// Its new value.
        value: Value,
    },
    /// Set a variable of a shell-variable file.
    ShellVar {
        /// The file.
        file: String,
        /// The variable.
        name: String,
        /// Its new value.
        value: String,
    },
    /// Add a word to a space-separated variable unless one of `present` is there already.
    ShellArg {
        /// The file.
        file: String,
        /// The variable.
        name: String,
        /// The word to add (`--listen`).
        arg: String,
        /// Words meaning the same (`-l`).
        present: Vec<String>,
    },
    /// Create a symbolic link (AppArmor's `disable/` links).
    Symlink {
        /// The link.
        path: String,
        /// Its target.
        target: String,
    },
}

/// What a check function concludes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// All good, and why.
    Pass(String),
    /// A problem: [`Status::Fail`] for a required check, [`Status::Warn`] for a recommended one.
    Problem {
        /// What is wrong, in words.
        message: String,
        /// The exact edit or command that fixes it.
        remedy: String,
        /// The edits [`plan_fixes`](super::plan_fixes) can make for it.
        fixes: Vec<Fix>,
    },
    /// Works but could be better: always [`Status::Warn`].
    Advice {
        /// What could be better.
        message: String,
        /// How.
        remedy: String,
        /// The edits that do it.
        fixes: Vec<Fix>,
    },
    /// Cannot tell, and why.
    Unknown(String),
}

impl Verdict {
    /// A problem without automatic fix.
    pub fn problem(message: impl Into<String>, remedy: impl Into<String>) -> Verdict {
        Verdict::Problem { message: message.into(), remedy: remedy.into(), fixes: Vec::new() }
    }

    /// Advice without automatic fix.
    pub fn advice(message: impl Into<String>, remedy: impl Into<String>) -> Verdict {
        Verdict::Advice { message: message.into(), remedy: remedy.into(), fixes: Vec::new() }
    }
}

type Eval = Arc<dyn Fn(&HostFacts) -> Verdict + Send + Sync>;

/// A check: a stable id, a title, a severity and a pure function of [`HostFacts`].
///
/// ```
/// use kvmhost_core::preflight::{Check, HostFacts, Severity, Status, Verdict};
/// let c = Check::new("always", "Always passes", Severity::Required, |_| Verdict::Pass("yes".into()));
/// let r = c.evaluate(&HostFacts::default());
/// assert_eq!((r.id.as_str(), r.status), ("always", Status::Pass));
/// ```
#[derive(Clone)]
pub struct Check {
    /// Stable identifier (`libvirtd-tcp`).
    pub id: String,
    /// What is checked, in words.
    pub title: String,
    /// How much it matters.
    pub severity: Severity,
    eval: Eval,
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check").field("id", &self.id).field("severity", &self.severity).finish_non_exhaustive()
    }
}

impl Check {
    /// A check from a function.
    pub fn new(
        id: impl Into<String>,
        title: impl Into<String>,
        severity: Severity,
        eval: impl Fn(&HostFacts) -> Verdict + Send + Sync + 'static,
    ) -> Check {
        Check { id: id.into(), title: title.into(), severity, eval: Arc::new(eval) }
    }

    /// The same check with another severity.
    pub fn with_severity(mut self, severity: Severity) -> Check {
        self.severity = severity;
        self
    }

    /// The check function's verdict alone.
    pub fn verdict(&self, facts: &HostFacts) -> Verdict {
        (self.eval)(facts)
    }

    /// Runs the check.
    pub fn evaluate(&self, facts: &HostFacts) -> CheckResult {
        let (status, message, remedy, fixes) = match (self.eval)(facts) {
            Verdict::Pass(m) => (Status::Pass, m, None, Vec::new()),
            Verdict::Problem { message, remedy, fixes } => {
                let s = if self.severity == Severity::Required { Status::Fail } else { Status::Warn };
                (s, message, Some(remedy), fixes)
            }
            Verdict::Advice { message, remedy, fixes } => (Status::Warn, message, Some(remedy), fixes),
            Verdict::Unknown(m) => (Status::Unknown, m, None, Vec::new()),
        };
        CheckResult {
            id: self.id.clone(),
            title: self.title.clone(),
            severity: self.severity,
            status,
            message,
            remedy,
            fixes,
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckResult {
    /// The check's id.
    pub id: String,
    /// The check's title.
    pub title: String,
    /// The check's severity.
    pub severity: Severity,
    /// The outcome.
    pub status: Status,
    /// Why, in words a human understands.
    pub message: String,
    /// The exact edit or command that fixes a problem.
    pub remedy: Option<String>,
    /// The edits that can be made automatically.
    pub fixes: Vec<Fix>,
}

/// The results of a profile's checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// One result per check, in the profile's order.
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// Whether a check failed (the CLI's exit status).
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// A result by id.
    pub fn get(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// How many results have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The CLI's JSON contract, serialisable: `{"checks":[{"id","status","message","remedy"}…]}`
    /// (remedy `null` when there is nothing to do).
    ///
    /// ```
    /// use kvmhost_core::preflight::{Check, HostFacts, Profile, Severity, Verdict};
    /// let p = Profile::new("t").with(Check::new("x", "X", Severity::Required, |_| Verdict::problem("bad", "fix it")));
    /// let json = serde_json::to_string(&p.run(&HostFacts::default()).contract()).unwrap();
    /// assert_eq!(json, r#"{"checks":[{"id":"x","status":"fail","message":"bad","remedy":"fix it"}]}"#);
    /// ```
    pub fn contract(&self) -> Contract<'_> {
        Contract {
            checks: self
                .checks
                .iter()
                .map(|c| ContractCheck {
                    id: &c.id,
                    status: c.status,
                    message: &c.message,
                    remedy: c.remedy.as_deref(),
                })
                .collect(),
        }
    }
}

/// The CLI's JSON output ([`Report::contract`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contract<'a> {
    /// One entry per check.
    pub checks: Vec<ContractCheck<'a>>,
}

/// One check in the CLI's JSON output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContractCheck<'a> {
    /// The check's id.
    pub id: &'a str,
    /// `pass`, `warn`, `fail` or `unknown`.
    pub status: Status,
    /// Why.
    pub message: &'a str,
    /// The edit or command fixing it, if anything is to be done.
    pub remedy: Option<&'a str>,
}

/// A named list of checks. Profiles compose: start from a built-in one
/// ([`Profile::libvirt`], [`Profile::cloudstack`], [`Profile::archipel`]) or [`Profile::new`],
/// add ([`Profile::with`]) and remove ([`Profile::without`]) checks.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Its name.
    pub name: String,
    /// Its checks, in order.
    pub checks: Vec<Check>,
}

impl Profile {
    /// An empty profile.
    pub fn new(name: impl Into<String>) -> Profile {
        Profile { name: name.into(), checks: Vec::new() }
    }

    /// Adds a check (replacing one with the same id).
    pub fn with(mut self, check: Check) -> Profile {
        match self.checks.iter_mut().find(|c| c.id == check.id) {
            Some(c) => *c = check,
            None => self.checks.push(check),
        }
        self
    }

    /// Removes the check `id`.
    pub fn without(mut self, id: &str) -> Profile {
        self.checks.retain(|c| c.id != id);
        self
    }

    /// Runs every check on `facts`.
    pub fn run(&self, facts: &HostFacts) -> Report {
        let report = Report { checks: self.checks.iter().map(|c| c.evaluate(facts)).collect() };
        for c in &report.checks {
            tracing::debug!(check = %c.id, status = %c.status, message = %c.message, "preflight check");
        }
        report
    }
}
