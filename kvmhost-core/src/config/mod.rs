//! Editing a KVM host's configuration files the way an admin would, without losing anything.
//!
//! - [`Virconf`]: libvirt's own configuration syntax (`libvirtd.conf`, `qemu.conf`,
//!   `virtqemud.conf`: `key = value` with strings, integers and lists, `#` comments), parsed
//!   with libvirt's rules (`src/util/virconf.c`). Every byte an edit does not touch is kept:
//!   an unedited document writes back identically, and [`Virconf::set`] uncomments the
//!   shipped example line (`#listen_tcp = 1`) when it holds the very value asked for.
//! - [`ShellVars`]: shell-variable files (`/etc/default/libvirtd`, `/etc/sysconfig/libvirtd`,
//!   `/etc/selinux/config`), the same way; [`SelinuxMode`] for the latter.
//! - [`FileEdit`]: one planned change of one file (new text, or a symlink such as AppArmor's
//!   `disable/` links — [`apparmor_disable`]), previewed as a unified diff ([`FileEdit::diff`])
//!   and applied atomically (temporary file, fsync, rename, directory fsync) with a backup of
//!   the old file; applying an edit whose result is already there changes nothing.
//! - [`firewall`]: the ports a KVM host needs open, rendered for nftables, iptables, ufw and
//!   firewalld.
//!
//! Files are hostile input: a file that does not parse is an error naming the file, line and
//! column ([`ConfigError::Syntax`]), and a file that could not be parsed is never rewritten.
//!
//! ```
//! use kvmhost_core::config::{Value, Virconf};
//! let text = "# Flag listening for TCP connections\n#listen_tcp = 1\nlisten_tls = 1 # TLS\n";
//! let mut conf = Virconf::parse(text).unwrap();
//! assert_eq!(conf.get_bool("listen_tls").unwrap(), Some(true));
//! conf.set("listen_tcp", Value::Int(1)).unwrap();
//! conf.set("listen_tls", Value::Int(0)).unwrap();
//! assert_eq!(conf.text(), "# Flag listening for TCP connections\nlisten_tcp = 1\nlisten_tls = 0 # TLS\n");
//! assert!(Virconf::parse("listen_tcp = \"1").unwrap_err().to_string().contains("1:14"));
//! ```

mod diff;
mod edit;
pub mod firewall;
mod shell;
mod virconf;

pub use diff::unified_diff;
pub use edit::{apparmor_disable, Applied, Content, FailPoint, FileEdit, WriteOptions, BACKUP_SUFFIX};
pub use shell::{SelinuxMode, ShellVars};
pub use virconf::{Value, Virconf};

use std::path::{Path, PathBuf};

/// The largest configuration file read or parsed (libvirt's own limit, 10 MiB).
pub const MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;

/// Everything that can go wrong reading, editing or writing a configuration file.
///
/// ```
/// use kvmhost_core::config::{ConfigError, ShellVars};
/// let e = ShellVars::parse_named("/etc/default/libvirtd", "A=1\nif true; then\n").unwrap_err();
/// assert!(matches!(e, ConfigError::Syntax { line: 2, column: 1, .. }));
/// assert!(e.to_string().starts_with("/etc/default/libvirtd:2:1: "));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file does not follow its syntax.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// The file (or `<memory>`).
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column (characters).
        column: usize,
        /// What was expected.
        message: String,
    },
    /// A setting has a value of the wrong type (libvirt would refuse to start).
    #[error("{file}:{line}:{column}: {key}: expected {expected}, found {found}")]
    Type {
        /// The file.
        file: String,
        /// The setting.
        key: String,
        /// 1-based line of the value.
        line: usize,
        /// 1-based column of the value.
        column: usize,
        /// The type wanted.
        expected: &'static str,
        /// What the file holds.
        found: String,
    },
    /// A value cannot be written in this syntax (a key that is not a name, a string no quoting
    /// can carry).
    #[error("{key}: cannot write {value:?}: {reason}")]
    InvalidValue {
        /// The setting.
        key: String,
        /// The value asked for.
        value: String,
        /// Why not.
        reason: String,
    },
    /// The file is larger than [`MAX_FILE_SIZE`].
    #[error("{path}: {size} bytes, more than the {limit} bytes a configuration file may have")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file is not UTF-8 text.
    #[error("{path}: not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// The file changed between planning an edit and applying it.
    #[error("{path} changed since it was read; plan the edit again")]
    Conflict {
        /// The file.
        path: PathBuf,
    },
    /// A file system operation failed.
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done (`read`, `write`, `rename to`, ...).
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// This module's result type.
pub type Result<T> = std::result::Result<T, ConfigError>;

/// Reads a text file of at most [`MAX_FILE_SIZE`] bytes; `Ok(None)` when it does not exist.
///
/// ```
/// assert!(kvmhost_core::config::read_text("/nonexistent/file").unwrap().is_none());
/// ```
pub fn read_text(path: impl AsRef<Path>) -> Result<Option<String>> {
    use std::io::Read;
    let path = path.as_ref();
    let io = |action, source| ConfigError::Io { action, path: path.to_path_buf(), source };
    let file = match open_regular(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("open", e)),
    };
    // One read for a regular file (its size is known); pseudo files report 0 and are read on.
    let hint = file.metadata().map(|m| m.len()).unwrap_or(0).min(MAX_FILE_SIZE) as usize;
    let mut bytes = vec![0u8; if hint == 0 { 16 * 1024 } else { hint + 1 }];
    let mut len = 0;
    let mut file = file;
    loop {
        if len == bytes.len() {
            if len as u64 > MAX_FILE_SIZE {
                break;
            }
            bytes.resize((len * 2).min(MAX_FILE_SIZE as usize + 1).max(len + 1), 0);
        }
        match file.read(&mut bytes[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io("read", e)),
        }
    }
    bytes.truncate(len);
    if bytes.len() as u64 > MAX_FILE_SIZE {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(bytes.len() as u64);
        return Err(ConfigError::TooLarge { path: path.to_path_buf(), size, limit: MAX_FILE_SIZE });
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| ConfigError::NotUtf8 { path: path.to_path_buf(), offset: e.utf8_error().valid_up_to() })
}

/// Opens a regular file for reading without blocking on a FIFO or a device a hostile root may
/// put where a file is expected (`InvalidInput` for anything but a regular file).
pub(crate) fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    Ok(file)
}

/// An error with its sources, `cannot open /x: No such file or directory`.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

pub(crate) fn syntax(file: &str, text: &str, offset: usize, message: impl Into<String>) -> ConfigError {
    let (line, column) = line_col(text, offset);
    ConfigError::Syntax { file: file.to_string(), line, column, message: message.into() }
}

/// The byte range of the line holding `offset` (without its newline).
pub(crate) fn line_bounds(text: &str, offset: usize) -> (usize, usize) {
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    (start, end)
}

/// Removes the whole line(s) spanning `start..end` (plus the newline ending them).
pub(crate) fn remove_lines(text: &mut String, start: usize, end: usize) {
    let (ls, _) = line_bounds(text, start);
    let (_, le) = line_bounds(text, end.max(start));
    let le = if le < text.len() { le + 1 } else { le };
    text.replace_range(ls..le, "");
}

/// Inserts `line` (without newline) after the line holding `offset`, or at the end of `text`.
pub(crate) fn insert_line(text: &mut String, after: Option<usize>, line: &str) {
    match after {
        Some(off) => {
            let (_, end) = line_bounds(text, off);
            if end < text.len() {
                text.insert_str(end + 1, &format!("{line}\n"));
            } else {
                text.push('\n');
                text.push_str(line);
                text.push('\n');
            }
        }
        None => {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(line);
            text.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("", 5), (1, 1));
    }

    #[test]
    fn line_edits() {
        let mut t = String::from("a\nb\nc");
        remove_lines(&mut t, 2, 2);
        assert_eq!(t, "a\nc");
        insert_line(&mut t, Some(0), "x");
        assert_eq!(t, "a\nx\nc");
        insert_line(&mut t, Some(4), "y");
        assert_eq!(t, "a\nx\nc\ny\n");
        let mut e = String::from("z");
        insert_line(&mut e, None, "w");
        assert_eq!(e, "z\nw\n");
    }
}
