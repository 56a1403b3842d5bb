//! The record of a run, kept under the state directory so that `--rollback` can undo it.
//!
//! `STATE/last-run.json` holds what the last applied run changed and what was there before:
//! the edited files (their original bytes are also copied to `STATE/files/N.orig`), the
//! namespace's network state and the layout applied, the firewall rules. It is written after
//! every step, so a run that stops half way can still be rolled back. A rollback renames it to
//! `rolled-back-SECONDS.json`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::files::FileRecord;
use crate::firewall::FirewallRecord;
use crate::network::NetworkRecord;

/// What one applied run changed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunRecord {
    /// Seconds since the epoch when the run started.
    pub started: u64,
    /// The root directory the files are under.
    pub root: PathBuf,
    /// The namespace (`None`: the caller's).
    pub netns: Option<PathBuf>,
    /// The ovsdb-server used.
    pub ovsdb: Option<String>,
    /// Files changed, in the order they were changed.
    pub files: Vec<FileRecord>,
    /// The network step, once applied.
    pub network: Option<NetworkRecord>,
    /// The firewall step, once applied.
    pub firewall: Option<FirewallRecord>,
    /// Whether every step completed.
    pub complete: bool,
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl StateDir {
    /// The state directory at `dir`.
    pub fn new(dir: PathBuf) -> StateDir {
        StateDir { dir }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn record_path(&self) -> PathBuf {
        self.dir.join("last-run.json")
    }

    /// The last run's record, when one is kept.
    pub fn load(&self) -> Result<Option<RunRecord>, String> {
        let p = self.record_path();
        match fs::read(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| format!("{}: {e}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", p.display())),
        }
    }

    /// Writes the record atomically (temporary file, fsync, rename).
    pub fn save(&self, record: &RunRecord) -> Result<(), String> {
        fs::create_dir_all(&self.dir).map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let p = self.record_path();
        let tmp = self.dir.join(".last-run.json.tmp");
        let text = serde_json::to_vec_pretty(record).map_err(|e| e.to_string())?;
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            fs::rename(&tmp, &p)
        };
        write().map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        tracing::debug!(record = %p.display(), "run record saved");
        Ok(())
    }

    /// Keeps a copy of a file's original bytes; returns where.
    pub fn keep_original(&self, n: usize, bytes: &[u8]) -> Result<PathBuf, String> {
        let dir = self.dir.join("files");
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let p = dir.join(format!("{n}.orig"));
        fs::write(&p, bytes).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        Ok(p)
    }

    /// Marks the last run as rolled back (its record renamed, its file copies removed).
    pub fn archive(&self) -> Result<PathBuf, String> {
        let to = self.dir.join(format!("rolled-back-{}.json", now()));
        fs::rename(self.record_path(), &to).map_err(|e| format!("cannot archive the run record: {e}"))?;
        let _ = fs::remove_dir_all(self.dir.join("files"));
        Ok(to)
    }
}
