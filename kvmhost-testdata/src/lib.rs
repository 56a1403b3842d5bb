//! Test support for the kvmhost workspace (not published): locating libvirt's reference test
//! corpus (`libvirt-9.0.0/`), [`capture::Captured`] (what a test's tracing subscriber writes,
//! read back), and (feature `net`) `net::vlans_as_veths`, a stand-in for kernels without
//! 802.1Q.
//!
//! The corpus is not shipped with kvmhost: it is found through the environment variable
//! [`TESTDATA_ENV`] (`KVMHOST_TESTDATA`, a directory holding `libvirt-9.0.0/`), defaulting to
//! `../shared/testdata` next to the workspace. Tests that need it say `SKIP` and why when it is
//! absent.

use std::path::{Path, PathBuf};

pub mod capture;
#[cfg(feature = "net")]
pub mod net;

/// The environment variable naming the test data directory.
pub const TESTDATA_ENV: &str = "KVMHOST_TESTDATA";

/// The directory expected to hold `libvirt-9.0.0/`: `$KVMHOST_TESTDATA`, or
/// `../shared/testdata` next to the workspace.
///
/// ```
/// assert!(kvmhost_testdata::testdata_dir().as_os_str().len() > 0);
/// ```
pub fn testdata_dir() -> PathBuf {
    match std::env::var_os(TESTDATA_ENV) {
        Some(v) => PathBuf::from(v),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"),
    }
}

/// The `libvirt-9.0.0` corpus directory, if present.
///
/// ```
/// let dir = kvmhost_testdata::libvirt_corpus();
/// if let Some(d) = dir { assert!(d.join("domain").is_dir()); }
/// ```
pub fn libvirt_corpus() -> Option<PathBuf> {
    let dir = testdata_dir().join("libvirt-9.0.0");
    dir.is_dir().then(|| dir.canonicalize().unwrap_or(dir))
}

/// Every `*.xml` file under `dir`, recursively, sorted.
///
/// ```
/// let files = kvmhost_testdata::xml_files(std::path::Path::new("/nonexistent"));
/// assert!(files.is_empty());
/// ```
pub fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "xml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
