//! Filesystem edges shared by the modules: atomic file writes, staging directories that leave
//! their parent as it was on failure, and fresh temporary names.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// A name for a temporary sibling of `path` (`.NAME.tmp-<random>`), in the same directory so
/// that a rename moves it into place atomically.
pub(crate) fn temp_sibling(path: &Path, tag: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let r = uuid::Uuid::new_v4().simple().to_string();
    path.with_file_name(format!(".{name}.{tag}-{}", &r[..12]))
}

/// Writes `bytes` to `path` through a temporary file, fsync and rename: readers see the old
/// content or the new one, never a part.
pub(crate) fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_sibling(path, "tmp");
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_parent(path);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsyncs the directory holding `path` (best effort: a rename is durable only after it).
pub(crate) fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent() {
        let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
        if let Ok(d) = File::open(parent) {
            let _ = d.sync_all();
        }
    }
}

/// A private directory inside a target directory where files are built before they are moved
/// into place. Dropped without [`Staging::commit`], it removes itself and everything in it: the
/// target is left as it was.
#[derive(Debug)]
pub(crate) struct Staging {
    target: PathBuf,
    dir: PathBuf,
    files: Vec<String>,
    done: bool,
}

impl Staging {
    /// Creates `target` if needed (its parent must exist) and a fresh staging directory in it.
    pub(crate) fn new(target: &Path) -> io::Result<Staging> {
        let created_target = match fs::create_dir(target) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && target.is_dir() => false,
            Err(e) => return Err(e),
        };
        let dir = temp_sibling(&target.join("unpack"), "staging");
        if let Err(e) = fs::create_dir(&dir) {
            if created_target {
                let _ = fs::remove_dir(target);
            }
            return Err(e);
        }
        // An empty name marks a target this staging created: removed again on failure.
        let files = if created_target { vec![String::new()] } else { Vec::new() };
        Ok(Staging { target: target.to_path_buf(), dir, files, done: false })
    }

    /// Where a staged file named `name` (a single checked path component) is built.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Creates a new staged file `name` (refusing one that exists) and remembers it.
    pub(crate) fn create(&mut self, name: &str) -> io::Result<File> {
        let f = OpenOptions::new().write(true).read(true).create_new(true).open(self.path(name))?;
        self.files.push(name.to_string());
        Ok(f)
    }

    /// Checks that none of the staged names exists in the target yet.
    pub(crate) fn check_free(&self) -> Result<(), PathBuf> {
        for name in self.files.iter().filter(|n| !n.is_empty()) {
            let p = self.target.join(name);
            if p.symlink_metadata().is_ok() {
                return Err(p);
            }
        }
        Ok(())
    }

    /// Moves every staged file into the target. If one rename fails, the ones already moved
    /// are moved back and the error is returned: the target is left as it was.
    pub(crate) fn commit(mut self) -> io::Result<Vec<PathBuf>> {
        if let Err(p) = self.check_free() {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} already exists", p.display())));
        }
        let names: Vec<String> = self.files.iter().filter(|n| !n.is_empty()).cloned().collect();
        let mut moved = Vec::new();
        for name in &names {
            let to = self.target.join(name);
            if let Err(e) = fs::rename(self.dir.join(name), &to) {
                for back in moved.iter().rev() {
                    let n: &String = back;
                    let _ = fs::rename(self.target.join(n), self.dir.join(n));
                }
                return Err(e);
            }
            moved.push(name.clone());
        }
        sync_parent(&self.target.join("x"));
        self.done = true;
        let _ = fs::remove_dir(&self.dir);
        Ok(names.iter().map(|n| self.target.join(n)).collect())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let _ = fs::remove_dir_all(&self.dir);
        if self.files.iter().any(|n| n.is_empty()) {
            let _ = fs::remove_dir(&self.target);
        }
    }
}

/// Lower-case hex of bytes (a digest).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file's content, lower-case hex (read in 1 MiB pieces).
pub(crate) fn sha256_file(path: &Path) -> io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_staging_leaves_the_target_as_it_was() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("new");
        {
            let mut s = Staging::new(&target).unwrap();
            s.create("a").unwrap().write_all(b"x").unwrap();
            assert!(target.is_dir());
        }
        assert!(!target.exists(), "a target created by the staging is removed again");
        fs::write(t.path().join("keep"), b"1").unwrap();
        {
            let mut s = Staging::new(t.path()).unwrap();
            s.create("b").unwrap();
        }
        let names: Vec<_> = fs::read_dir(t.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("keep")]);
    }

    #[test]
    fn commit_refuses_existing_names_and_moves_all_or_nothing() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("b"), b"old").unwrap();
        let mut s = Staging::new(t.path()).unwrap();
        s.create("a").unwrap();
        s.create("b").unwrap();
        assert!(s.commit().is_err());
        assert!(!t.path().join("a").exists());
        assert_eq!(fs::read(t.path().join("b")).unwrap(), b"old");
        let mut s = Staging::new(t.path()).unwrap();
        s.create("c").unwrap().write_all(b"new").unwrap();
        assert_eq!(s.commit().unwrap(), vec![t.path().join("c")]);
        assert_eq!(fs::read(t.path().join("c")).unwrap(), b"new");
    }

    #[test]
    fn atomic_write_replaces_whole_files() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
    }
}
