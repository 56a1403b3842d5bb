//! Turning the fixes of failed checks into file edits: previewed as diffs, applied atomically.

use super::{Fix, Report, Status};
use crate::config::{read_text, Applied, ConfigError, FileEdit, ShellVars, Virconf, WriteOptions};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A file that will not be edited, and why (it does not parse, cannot be read...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Refused {
    /// The file (as on the host).
    pub file: String,
    /// The checks whose fixes it would carry.
    pub checks: Vec<String>,
    /// Why not.
    pub reason: String,
}

/// A check whose remedy is a command to run or a choice to make, not a file edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManualStep {
    /// The check.
    pub id: String,
    /// Its status.
    pub status: Status,
    /// What to do.
    pub remedy: String,
}

/// The edits fixing a report's problems.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FixPlan {
    /// One edit per file, in the order the checks ask for them.
    pub edits: Vec<FileEdit>,
    /// Files left alone.
    pub refused: Vec<Refused>,
    /// Problems without automatic fix.
    pub manual: Vec<ManualStep>,
}

impl FixPlan {
    /// Whether nothing would be written.
    pub fn is_empty(&self) -> bool {
        self.edits.iter().all(FileEdit::is_noop)
    }

    /// Every edit as one unified diff (a dry run).
    pub fn diff(&self) -> String {
        self.edits.iter().map(FileEdit::diff).collect()
    }

    /// Applies every edit (each atomically, with a backup); stops at the first failure, the
    /// edits before it staying applied.
    pub fn apply(&self, opts: &WriteOptions) -> Result<Vec<Applied>, ConfigError> {
        self.edits.iter().map(|e| e.apply(opts)).collect()
    }
}

fn file_of(fix: &Fix) -> &str {
    match fix {
        Fix::Virconf { file, .. } | Fix::ShellVar { file, .. } | Fix::ShellArg { file, .. } => file,
        Fix::Symlink { path, .. } => path,
    }
}

/// Plans the fixes of every failed or warning check of `report`, on the host under `root`.
///
/// Files are read again now; one that does not parse is [`Refused`] (never rewritten) and the
/// others are still planned. Planning twice on the result of applying a plan gives no edit.
///
/// ```
/// use kvmhost_core::preflight::{plan_fixes, Check, Fix, HostFacts, Profile, Severity, Verdict};
/// use kvmhost_core::config::Value;
/// let dir = std::env::temp_dir().join(format!("kvmhost-doc-fix-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("etc/libvirt")).unwrap();
/// std::fs::write(dir.join("etc/libvirt/qemu.conf"), "#vnc_listen = \"0.0.0.0\"\n").unwrap();
/// let check = Check::new("vnc", "VNC", Severity::Required, |_| Verdict::Problem {
///     message: "consoles local".into(), remedy: "set vnc_listen".into(),
///     fixes: vec![Fix::Virconf { file: "/etc/libvirt/qemu.conf".into(), key: "vnc_listen".into(), value: Value::from("0.0.0.0") }],
/// });
/// let report = Profile::new("t").with(check).run(&HostFacts::default());
/// let plan = plan_fixes(&dir, &report);
/// assert_eq!(plan.diff(), "--- a/etc/libvirt/qemu.conf\n+++ b/etc/libvirt/qemu.conf\n@@ -1 +1 @@\n-#vnc_listen = \"0.0.0.0\"\n+vnc_listen = \"0.0.0.0\"\n");
/// plan.apply(&Default::default()).unwrap();
/// assert!(plan_fixes(&dir, &report).is_empty());
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn plan_fixes(root: &Path, report: &Report) -> FixPlan {
    let mut plan = FixPlan::default();
    let mut files: Vec<(String, Vec<(&str, &Fix)>)> = Vec::new();
    for r in report.checks.iter().filter(|r| matches!(r.status, Status::Fail | Status::Warn)) {
        if r.fixes.is_empty() {
            if let Some(remedy) = &r.remedy {
                plan.manual.push(ManualStep { id: r.id.clone(), status: r.status, remedy: remedy.clone() });
            }
        }
        for fix in &r.fixes {
            let file = file_of(fix).to_string();
            match files.iter_mut().find(|(f, _)| *f == file) {
                Some((_, v)) => v.push((&r.id, fix)),
                None => files.push((file, vec![(&r.id, fix)])),
            }
        }
    }
    for (file, fixes) in files {
        let path = root.join(file.trim_start_matches('/'));
        match edit_for(&path, &file, &fixes) {
            Ok(Some(edit)) => plan.edits.push(edit),
            Ok(None) => {}
            Err(reason) => {
                let mut checks: Vec<String> = fixes.iter().map(|(id, _)| id.to_string()).collect();
                checks.dedup();
                plan.refused.push(Refused { file, checks, reason });
            }
        }
    }
    plan
}

fn edit_for(path: &Path, file: &str, fixes: &[(&str, &Fix)]) -> Result<Option<FileEdit>, String> {
    if let [(_, Fix::Symlink { target, .. })] = fixes {
        let edit = FileEdit::symlink(path, file, target);
        return Ok((!edit.is_noop()).then_some(edit));
    }
    let before = read_text(path).map_err(|e| crate::config::chain(&e))?;
    let text = before.clone().unwrap_or_default();
    let err = |e: ConfigError| e.to_string();
    let Some((_, first)) = fixes.first() else { return Ok(None) };
    let after = match first {
        Fix::Virconf { .. } => {
            let mut c = Virconf::parse_named(file, &text).map_err(err)?;
            for (_, fix) in fixes {
                match fix {
                    Fix::Virconf { key, value, .. } => {
                        c.set(key, value.clone()).map_err(err)?;
                    }
                    _ => return Err("conflicting kinds of fix for one file".into()),
                }
            }
            c.text().to_string()
        }
        Fix::ShellVar { .. } | Fix::ShellArg { .. } => {
            let mut v = ShellVars::parse_named(file, &text).map_err(err)?;
            for (_, fix) in fixes {
                match fix {
                    Fix::ShellVar { name, value, .. } => {
                        v.set(name, value).map_err(err)?;
                    }
                    Fix::ShellArg { name, arg, present, .. } => {
                        let current = v.get(name).unwrap_or("").to_string();
                        let has = current.split_whitespace().any(|w| w == arg || present.iter().any(|p| p == w));
                        if !has {
                            let new = if current.trim().is_empty() {
                                arg.clone()
                            } else {
                                format!("{} {arg}", current.trim())
                            };
                            v.set(name, &new).map_err(err)?;
                        }
                    }
                    _ => return Err("conflicting kinds of fix for one file".into()),
                }
            }
            v.text().to_string()
        }
        Fix::Symlink { .. } => return Err("a symlink fix and another fix for one path".into()),
    };
    if before.as_deref() == Some(after.as_str()) {
        return Ok(None);
    }
    Ok(Some(FileEdit::text(path, file, before, after)))
}
