//! File edits with a record: each file's original bytes are copied to the state directory and
//! the record saved before the file is written (atomically, with kvmhost-core's backup
//! `NAME.kvmhost-bak`); undone by putting the original bytes back, or removing what the run made.

use crate::error_chain::chain;
use std::fs;
use std::path::PathBuf;

use kvmhost::core::config::{Content, FileEdit, WriteOptions};
use serde::{Deserialize, Serialize};

use crate::state::{RunRecord, StateDir};

/// What was done to one file, to undo it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRecord {
    /// The file.
    pub path: PathBuf,
    /// Its name on the host.
    pub display: String,
    /// Whether something was at `path` before.
    pub existed: bool,
    /// A copy of the original bytes (regular files), in the state directory.
    pub original: Option<PathBuf>,
    /// What the run wrote.
    pub written: Content,
    /// The backup the editor made.
    pub backup: Option<PathBuf>,
    /// The topmost directory the edit had to make (`/etc/apparmor.d/disable`), removed with it.
    #[serde(default)]
    pub made_dir: Option<PathBuf>,
}

/// One file changed by a run (for the report).
#[derive(Debug, Clone, Serialize)]
pub struct Changed {
    /// The file, as on the host.
    pub file: String,
    /// The unified diff.
    pub diff: String,
    /// The backup made.
    pub backup: Option<PathBuf>,
}

/// Applies the plan; each file is recorded (and the record saved) before it is written, so a
/// failure half way leaves a record `--rollback` can use.
pub fn apply(
    edits: &[FileEdit],
    state: &StateDir,
    record: &mut RunRecord,
    save: &dyn Fn(&RunRecord) -> Result<(), String>,
) -> Result<Vec<Changed>, String> {
    let mut done = Vec::new();
    for edit in edits {
        let meta = fs::symlink_metadata(&edit.path).ok();
        let original = match &meta {
            Some(m) if m.is_file() => {
                let bytes = fs::read(&edit.path).map_err(|e| format!("cannot read {}: {e}", edit.path.display()))?;
                Some(state.keep_original(record.files.len(), &bytes)?)
            }
            _ => None,
        };
        // The topmost directory missing on the way to the file: made now, removed on rollback.
        let made_dir = edit.path.ancestors().skip(1).take_while(|d| !d.exists()).last().map(PathBuf::from);
        if let Some(parent) = edit.path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        record.files.push(FileRecord {
            made_dir,
            path: edit.path.clone(),
            display: edit.display.clone(),
            existed: meta.is_some(),
            original,
            written: edit.after.clone(),
            backup: None,
        });
        save(record)?;
        let applied = edit.apply(&WriteOptions::default()).map_err(|e| chain(&e))?;
        tracing::info!(file = %edit.display, changed = applied.changed, backup = ?applied.backup, "configuration edit");
        if let Some(r) = record.files.last_mut() {
            r.backup = applied.backup.clone();
        }
        save(record)?;
        done.push(Changed { file: edit.display.clone(), diff: edit.diff(), backup: applied.backup });
    }
    Ok(done)
}

/// Undoes one file's change: the original bytes back (atomically), or the file or link the run
/// made removed, and the run's backup removed. A file changed since the run is left alone.
pub fn rollback(rec: &FileRecord) -> Result<String, String> {
    let shown = &rec.display;
    let meta = fs::symlink_metadata(&rec.path).ok();
    let msg = match &rec.written {
        Content::Text(written) => {
            let current = match &meta {
                Some(m) if m.is_file() => Some(fs::read(&rec.path).map_err(|e| format!("{shown}: {e}"))?),
                _ => None,
            };
            let original = match &rec.original {
                Some(p) => Some(fs::read(p).map_err(|e| format!("{shown}: the copy {}: {e}", p.display()))?),
                None => None,
            };
            if current == original {
                format!("{shown}: already as before")
            } else if current.as_deref() != Some(written.as_bytes()) {
                return Err(format!(
                    "{shown} changed since the run: left alone{}",
                    rec.original.as_ref().map(|p| format!(" (its original is {})", p.display())).unwrap_or_default()
                ));
            } else if let Some(orig) = &original {
                let orig = String::from_utf8(orig.clone()).map_err(|_| format!("{shown}: original not UTF-8"))?;
                let mut opts = WriteOptions::default();
                opts.backup = false;
                FileEdit::text(&rec.path, shown, Some(written.clone()), orig).apply(&opts).map_err(|e| chain(&e))?;
                format!("{shown}: original restored")
            } else {
                fs::remove_file(&rec.path).map_err(|e| format!("{shown}: {e}"))?;
                format!("{shown}: removed (it did not exist)")
            }
        }
        Content::Symlink(target) => {
            let ours = fs::read_link(&rec.path).is_ok_and(|t| &t == target);
            if !ours {
                format!("{shown}: already as before")
            } else if let (true, Some(b)) = (rec.existed, &rec.backup) {
                fs::rename(b, &rec.path).map_err(|e| format!("{shown}: {e}"))?;
                format!("{shown}: the previous one restored")
            } else {
                fs::remove_file(&rec.path).map_err(|e| format!("{shown}: {e}"))?;
                format!("{shown}: link removed")
            }
        }
    };
    // The editor's backup holds the original: not needed any more once restored.
    if let Some(b) = &rec.backup {
        let same = match (&rec.original, fs::read(b)) {
            (Some(o), Ok(bytes)) => fs::read(o).is_ok_and(|orig| orig == bytes),
            (None, _) => fs::symlink_metadata(b).is_ok_and(|m| m.file_type().is_symlink()),
            _ => false,
        };
        if same {
            let _ = fs::remove_file(b);
        }
    }
    if let Some(top) = &rec.made_dir {
        // The directories the run made, innermost first, each only when empty: anything put
        // there since is kept.
        for d in rec.path.ancestors().skip(1) {
            if fs::remove_dir(d).is_err() || d == top {
                break;
            }
        }
    }
    tracing::info!(file = %shown, "{msg}");
    Ok(msg)
}
