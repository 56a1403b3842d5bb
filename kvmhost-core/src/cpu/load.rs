//! The CPU map's I/O edge: reading libvirt's `cpu_map` directory. Everything else in
//! [`cpu`](super) works on values; [`CpuMap::parse`] and [`CpuMap::parse_index`] parse a map
//! from text.

use super::{CpuError, CpuMap};
use std::path::{Path, PathBuf};

fn read(path: &Path) -> Result<String, CpuError> {
    std::fs::read_to_string(path).map_err(|e| CpuError::Io { path: path.to_path_buf(), message: e.to_string() })
}

impl CpuMap {
    /// Where libvirt installs its CPU map: `/usr/share/libvirt/cpu_map`.
    ///
    /// ```
    /// let p = kvmhost_core::cpu::CpuMap::default_path();
    /// assert!(p.ends_with("libvirt/cpu_map"));
    /// ```
    pub fn default_path() -> PathBuf {
        PathBuf::from("/usr/share/libvirt/cpu_map")
    }

    /// Reads libvirt's CPU map from a directory — `dir/index.xml` and the files its `x86`
    /// section includes — and parses it with [`CpuMap::parse_index`]. The only function of the
    /// CPU engine that touches the file system; errors carry the full path of the file at fault
    /// ([`CpuError::Io`] when one cannot be read).
    ///
    /// ```no_run
    /// use kvmhost_core::cpu::CpuMap;
    /// let map = CpuMap::load(CpuMap::default_path())?;
    /// println!("{} CPU models", map.models().len());
    /// # Ok::<(), kvmhost_core::cpu::CpuError>(())
    /// ```
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuError, CpuMap};
    /// let err = CpuMap::load("/nonexistent").unwrap_err();
    /// assert!(matches!(err, CpuError::Io { path, .. } if path.ends_with("index.xml")));
    /// ```
    pub fn load(dir: impl AsRef<Path>) -> Result<CpuMap, CpuError> {
        let dir = dir.as_ref();
        let index = dir.join("index.xml");
        CpuMap::parse_files(&index, &read(&index)?, |file| {
            let path = dir.join(file);
            read(&path).map(|text| (path, text))
        })
    }
}
