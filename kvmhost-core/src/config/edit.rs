//! Planned file changes: previewed as diffs, applied atomically with a backup.

use super::{read_text, unified_diff, ConfigError, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Appended to a file's name for its backup (`libvirtd.conf.kvmhost-bak`; when that exists,
/// `.kvmhost-bak.1`, `.2`, ...: the first backup keeps the original).
pub const BACKUP_SUFFIX: &str = ".kvmhost-bak";

/// What a file should hold after an edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Content {
    /// This text.
    Text(String),
    /// A symbolic link to this target.
    Symlink(PathBuf),
}

/// One planned change of one file.
///
/// `path` is where the file is (under any root); `display` is how it is named in diffs and
/// messages (`/etc/libvirt/libvirtd.conf` when the root is a mounted image).
///
/// ```
/// use kvmhost_core::config::{Content, FileEdit, WriteOptions};
/// let dir = std::env::temp_dir().join(format!("kvmhost-doc-edit-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("qemu.conf");
/// std::fs::write(&path, "#vnc_listen = \"0.0.0.0\"\n").unwrap();
/// let edit = FileEdit::text(&path, "/etc/libvirt/qemu.conf", Some("#vnc_listen = \"0.0.0.0\"\n".into()),
///     "vnc_listen = \"0.0.0.0\"\n".into());
/// assert!(edit.diff().contains("+vnc_listen = \"0.0.0.0\"\n"));
/// let done = edit.apply(&WriteOptions::default()).unwrap();
/// assert!(done.changed);
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "vnc_listen = \"0.0.0.0\"\n");
/// assert_eq!(std::fs::read_to_string(done.backup.unwrap()).unwrap(), "#vnc_listen = \"0.0.0.0\"\n");
/// assert!(!edit.apply(&WriteOptions::default()).unwrap().changed, "applying twice changes nothing");
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileEdit {
    /// The file to change.
    pub path: PathBuf,
    /// Its name in diffs and messages.
    pub display: String,
    /// Its text when the edit was planned (`None`: it did not exist, or was a symlink).
    pub before: Option<String>,
    /// What it should hold.
    pub after: Content,
}

/// Simulated failures, to test that a failed write leaves the old file and no temporary file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailPoint {
    /// After the temporary file was written, before it is synced.
    AfterTempWrite,
    /// After the backup was made, before the rename.
    BeforeRename,
}

/// How edits are applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Keep the old file as `NAME.kvmhost-bak` (default `true`).
    pub backup: bool,
    /// Fail on purpose at this step (for tests of crash safety).
    pub fail_at: Option<FailPoint>,
}

impl Default for WriteOptions {
    fn default() -> WriteOptions {
        WriteOptions { backup: true, fail_at: None }
    }
}

impl WriteOptions {
    /// These options, failing on purpose at `point`.
    pub fn failing_at(mut self, point: FailPoint) -> WriteOptions {
        self.fail_at = Some(point);
        self
    }
}

/// What applying an edit did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Applied {
    /// The file.
    pub path: PathBuf,
    /// Whether anything was written (false: it already held the result).
    pub changed: bool,
    /// Where the old file was kept.
    pub backup: Option<PathBuf>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ConfigError {
    let path = path.to_path_buf();
    move |source| ConfigError::Io { action, path, source }
}

impl FileEdit {
    /// An edit giving `path` the text `after`.
    pub fn text(
        path: impl Into<PathBuf>,
        display: impl Into<String>,
        before: Option<String>,
        after: String,
    ) -> FileEdit {
        FileEdit { path: path.into(), display: display.into(), before, after: Content::Text(after) }
    }

    /// An edit making `path` a symbolic link to `target`.
    pub fn symlink(path: impl Into<PathBuf>, display: impl Into<String>, target: impl Into<PathBuf>) -> FileEdit {
        FileEdit { path: path.into(), display: display.into(), before: None, after: Content::Symlink(target.into()) }
    }

    /// Whether the planned result is what the file held when planned.
    pub fn is_noop(&self) -> bool {
        match &self.after {
            Content::Text(t) => self.before.as_deref() == Some(t.as_str()),
            Content::Symlink(target) => fs::read_link(&self.path).is_ok_and(|t| &t == target),
        }
    }

    /// The change as a unified diff (a symlink as a one-line note); empty for a no-op.
    pub fn diff(&self) -> String {
        if self.is_noop() {
            return String::new();
        }
        match &self.after {
            Content::Text(t) => unified_diff(&self.display, self.before.as_deref(), t),
            Content::Symlink(target) => format!("symlink {} -> {}\n", self.display, target.display()),
        }
    }

    /// Applies the edit: nothing when the file already holds the result; else the new content
    /// goes to a temporary file in the same directory (same mode and owner as the old file),
    /// is synced, the old file is kept as a backup, and the temporary file is renamed over it
    /// (then the directory is synced). Any failure removes the temporary file and leaves the
    /// old file as it was. A file changed since the edit was planned is refused.
    pub fn apply(&self, opts: &WriteOptions) -> Result<Applied> {
        let path = &self.path;
        let current = match fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                if matches!(self.after, Content::Text(_)) {
                    let e = std::io::Error::other("it is a symbolic link: edit its target instead");
                    return Err(io("edit", path)(e));
                }
                None
            }
            Ok(_) => read_text(path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io("inspect", path)(e)),
        };
        let unchanged = Applied { path: path.clone(), changed: false, backup: None };
        match &self.after {
            Content::Text(t) => {
                if current.as_deref() == Some(t.as_str()) {
                    return Ok(unchanged);
                }
                if current != self.before {
                    return Err(ConfigError::Conflict { path: path.clone() });
                }
            }
            Content::Symlink(target) => {
                if fs::read_link(path).is_ok_and(|t| &t == target) {
                    return Ok(unchanged);
                }
            }
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp =
            dir.join(format!(".{name}.kvmhost-tmp.{}.{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        let mut backup = None;
        let result = self.write_and_swap(&tmp, opts, &mut backup);
        match result {
            Ok(()) => {
                if let Ok(d) = fs::File::open(&dir) {
                    let _ = d.sync_all();
                }
                tracing::info!(file = %path.display(), backup = ?backup, "configuration file written");
                Ok(Applied { path: path.clone(), changed: true, backup })
            }
            Err(e) => {
                tracing::debug!(file = %path.display(), error = %e, "configuration edit failed; the file is as it was");
                let _ = fs::remove_file(&tmp);
                if let Some(b) = &backup {
                    let _ = fs::remove_file(b);
                }
                Err(e)
            }
        }
    }

    fn write_and_swap(&self, tmp: &Path, opts: &WriteOptions, backup: &mut Option<PathBuf>) -> Result<()> {
        let path = &self.path;
        let old_meta = fs::metadata(path).ok();
        match &self.after {
            Content::Text(text) => {
                let mode = old_meta.as_ref().map_or(0o644, |m| m.permissions().mode() & 0o7777);
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode)
                    .open(tmp)
                    .map_err(io("create", tmp))?;
                f.write_all(text.as_bytes()).map_err(io("write", tmp))?;
                if opts.fail_at == Some(FailPoint::AfterTempWrite) {
                    return Err(simulated(tmp));
                }
                if let Some(m) = &old_meta {
                    f.set_permissions(fs::Permissions::from_mode(mode)).map_err(io("set the mode of", tmp))?;
                    // Keep the owner; failing (not root) leaves the writer's, as `cp` would.
                    let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
                }
                f.sync_all().map_err(io("sync", tmp))?;
            }
            Content::Symlink(target) => {
                if let Some(dir) = tmp.parent() {
                    fs::create_dir_all(dir).map_err(io("create", dir))?;
                }
                std::os::unix::fs::symlink(target, tmp).map_err(io("create the symlink", tmp))?;
            }
        }
        if opts.backup && fs::symlink_metadata(path).is_ok() {
            let b = free_backup_name(path)?;
            if fs::hard_link(path, &b).is_err() {
                fs::copy(path, &b).map_err(io("back up to", &b))?;
                fs::File::open(&b).and_then(|f| f.sync_all()).map_err(io("sync", &b))?;
            }
            *backup = Some(b);
        }
        if opts.fail_at == Some(FailPoint::BeforeRename) {
            return Err(simulated(tmp));
        }
        fs::rename(tmp, path).map_err(io("rename over", path))
    }
}

fn simulated(path: &Path) -> ConfigError {
    ConfigError::Io { action: "write", path: path.to_path_buf(), source: std::io::Error::other("simulated failure") }
}

fn free_backup_name(path: &Path) -> Result<PathBuf> {
    let base = format!("{}{BACKUP_SUFFIX}", path.display());
    for n in 0..1000 {
        let p = if n == 0 { PathBuf::from(&base) } else { PathBuf::from(format!("{base}.{n}")) };
        if fs::symlink_metadata(&p).is_err() {
            return Ok(p);
        }
    }
    Err(ConfigError::Io {
        action: "find a free backup name for",
        path: path.to_path_buf(),
        source: std::io::Error::other("1000 backups exist"),
    })
}

/// The edits that disable AppArmor profiles as the CloudStack guide does
/// (`ln -s /etc/apparmor.d/PROFILE /etc/apparmor.d/disable/`), under `root`. The loaded
/// profiles must also be unloaded (`apparmor_parser -R /etc/apparmor.d/PROFILE`), which is a
/// command, not a file: the caller prints it.
///
/// ```
/// let e = kvmhost_core::config::apparmor_disable("/".as_ref(), &["usr.sbin.libvirtd"]);
/// assert_eq!(e[0].path, std::path::Path::new("/etc/apparmor.d/disable/usr.sbin.libvirtd"));
/// assert!(e[0].diff().contains("-> /etc/apparmor.d/usr.sbin.libvirtd") || e[0].is_noop());
/// ```
pub fn apparmor_disable(root: &Path, profiles: &[&str]) -> Vec<FileEdit> {
    profiles
        .iter()
        .map(|p| {
            let display = format!("/etc/apparmor.d/disable/{p}");
            FileEdit::symlink(root.join(display.trim_start_matches('/')), display, format!("/etc/apparmor.d/{p}"))
        })
        .collect()
}
