//! The run's report: human text, or one JSON object (`--json`).

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::files::Changed;
use crate::firewall::FirewallRollback;
use crate::network::NetRollback;
use crate::preflight::Summary;

/// The libvirt configuration step.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfigOutcome {
    /// Files changed (or that would change, in a dry run).
    pub files: Vec<Changed>,
    /// What is left to do by hand.
    pub manual: Vec<String>,
}

/// The network step.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NetworkOutcome {
    /// `linux` or `ovs`.
    pub backend: String,
    /// The plan (kvmhost-net's text).
    pub plan: String,
    /// Writes performed (`None` in a dry run).
    pub writes: Option<u64>,
    /// Persistent configuration files (`--persist`).
    pub files: Vec<Changed>,
    /// A remark (why it was skipped, why it cannot apply here).
    pub note: Option<String>,
}

/// The firewall step.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FirewallOutcome {
    /// `iptables` or `none`.
    pub backend: String,
    /// The commands.
    pub commands: Vec<String>,
    /// A remark.
    pub note: Option<String>,
}

/// What `--rollback` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RollbackOutcome {
    /// The run undone (seconds since the epoch when it started).
    pub run_started: Option<u64>,
    /// One line per file.
    pub files: Vec<String>,
    /// The network.
    pub network: Option<NetRollback>,
    /// The firewall.
    pub firewall: Option<FirewallRollback>,
    /// Where the record went.
    pub archived: Option<PathBuf>,
}

/// Everything a run reports.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// `dry-run`, `apply` or `rollback`.
    pub mode: String,
    /// The root directory.
    pub root: PathBuf,
    /// The namespace.
    pub netns: Option<PathBuf>,
    /// The state directory.
    pub state: PathBuf,
    /// Preflight before the run.
    pub preflight: Option<Summary>,
    /// The libvirt configuration step.
    pub config: Option<ConfigOutcome>,
    /// The network step.
    pub network: Option<NetworkOutcome>,
    /// The firewall step.
    pub firewall: Option<FirewallOutcome>,
    /// Preflight after applying.
    pub preflight_after: Option<Summary>,
    /// The rollback.
    pub rollback: Option<RollbackOutcome>,
    /// A remark on the whole run.
    pub note: Option<String>,
    /// Errors (the run failed when any).
    pub errors: Vec<String>,
}

impl Outcome {
    /// Whether the run succeeded.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// One JSON object.
    pub fn json(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("ok".into(), self.ok().into());
        }
        v.to_string()
    }

    /// Human text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let dry = self.mode == "dry-run";
        let _ = writeln!(
            s,
            "host_setup: {} (root {}, {}, state {})",
            match self.mode.as_str() {
                "dry-run" => "dry run: nothing is changed; --apply applies",
                "apply" => "applying",
                _ => "rolling back the last run",
            },
            self.root.display(),
            self.netns.as_ref().map(|p| format!("netns {}", p.display())).unwrap_or("current netns".into()),
            self.state.display()
        );
        if let Some(p) = &self.preflight {
            preflight(&mut s, "1. preflight", p);
        }
        if let Some(c) = &self.config {
            let verb = if dry { "would change" } else { "changed" };
            let _ = writeln!(s, "\n2. libvirt configuration: {} file(s) {verb}", c.files.len());
            for f in &c.files {
                if let Some(b) = &f.backup {
                    let _ = writeln!(s, "   {} (backup {})", f.file, b.display());
                }
                s.push_str(&indent(&f.diff));
            }
            if !c.manual.is_empty() {
                let _ = writeln!(s, "   by hand on the running host (not done by this program):");
                for m in &c.manual {
                    let _ = writeln!(s, "     {m}");
                }
            }
        }
        if let Some(n) = &self.network {
            let _ = writeln!(s, "\n3. network ({}):", n.backend);
            if let Some(note) = &n.note {
                let _ = writeln!(s, "   note: {note}");
            }
            s.push_str(&indent(&n.plan));
            if let Some(w) = n.writes {
                let _ = writeln!(s, "   applied and verified: {w} writes");
            }
            if !n.files.is_empty() {
                let verb = if dry { "would be written" } else { "written" };
                let _ = writeln!(s, "   persistent configuration: {} file(s) {verb}", n.files.len());
            }
            for f in &n.files {
                if let Some(b) = &f.backup {
                    let _ = writeln!(s, "   {} (backup {})", f.file, b.display());
                }
                s.push_str(&indent(&f.diff));
            }
        }
        if let Some(f) = &self.firewall {
            let _ = writeln!(s, "\n4. firewall ({}): {} command(s)", f.backend, f.commands.len());
            if let Some(note) = &f.note {
                s.push_str(&indent(&format!("note: {note}")));
            }
            for c in &f.commands {
                let _ = writeln!(s, "   {c}");
            }
        }
        if let Some(p) = &self.preflight_after {
            preflight(&mut s, "5. preflight after the run", p);
        }
        if let Some(r) = &self.rollback {
            let _ = writeln!(s, "\nrollback of the run started at {}:", r.run_started.unwrap_or(0));
            if let Some(f) = &r.firewall {
                let _ = writeln!(s, "   firewall: {} command(s); as before: {}", f.commands.len(), f.restored);
                for c in &f.commands {
                    let _ = writeln!(s, "     {c}");
                }
            }
            if let Some(n) = &r.network {
                let _ = writeln!(s, "   network: teardown:");
                s.push_str(&indent(&indent(&n.teardown)));
                for c in &n.commands {
                    let _ = writeln!(s, "     {c}");
                }
                let _ = writeln!(s, "   network as before: {}", n.restored);
            }
            for f in &r.files {
                let _ = writeln!(s, "   {f}");
            }
            if let Some(a) = &r.archived {
                let _ = writeln!(s, "   record archived as {}", a.display());
            }
        }
        if let Some(n) = &self.note {
            let _ = writeln!(s, "\n{n}");
        }
        for e in &self.errors {
            let _ = writeln!(s, "\nerror: {e}");
        }
        let _ = writeln!(s, "\n{}", if self.ok() { "done." } else { "FAILED." });
        s
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   {l}\n")).collect()
}

fn preflight(s: &mut String, title: &str, p: &Summary) {
    let _ = writeln!(
        s,
        "\n{title} ({} profile): {} pass, {} warn, {} fail, {} unknown",
        p.profile, p.pass, p.warn, p.fail, p.unknown
    );
    // Unknowns are listed in the JSON report only (a root that is not a running system has many).
    for [status, id, message] in p.problems.iter().filter(|[s, ..]| s != "unknown") {
        let _ = writeln!(s, "   {:<7} {id}: {message}", status.to_uppercase());
    }
}
