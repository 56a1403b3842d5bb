//! Fixture roots for the preflight tests: `tests/data/preflight/base` (a host ready for
//! CloudStack) with a case's overlay from `tests/data/preflight/cases/NAME` copied over it
//! (files replaced or added; the paths listed in the case's `_remove` deleted), in a fresh
//! temporary directory removed when dropped.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/preflight")
}

/// A temporary directory, removed on drop.
pub struct TempRoot(pub PathBuf);

impl TempRoot {
    pub fn new(tag: &str) -> TempRoot {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kvmhost-preflight-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempRoot(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p.trim_start_matches('/'))
    }

    pub fn write(&self, p: &str, text: &str) {
        let path = self.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn read(&self, p: &str) -> String {
        std::fs::read_to_string(self.join(p)).unwrap()
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == "_remove" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        let ft = std::fs::symlink_metadata(&src).unwrap().file_type();
        if ft.is_symlink() {
            let _ = std::fs::remove_file(&dst);
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if ft.is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// The fixture root of `case` (`"ready"`: the base alone).
pub fn fixture(case: &str) -> TempRoot {
    let root = TempRoot::new(case);
    copy_tree(&data().join("base"), root.path());
    if case != "ready" {
        let overlay = data().join("cases").join(case);
        assert!(overlay.is_dir(), "no fixture case {case}");
        if let Ok(list) = std::fs::read_to_string(overlay.join("_remove")) {
            for p in list.lines().filter(|l| !l.trim().is_empty()) {
                let p = root.join(p.trim());
                let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
            }
        }
        copy_tree(&overlay, root.path());
    }
    root
}
