//! The agent's persistent state: one JSON file in `--state DIR` holding each VM entity (its
//! UUID, name, XMPP password and last definition) and every entity's permission grants.
//! Written atomically (temporary file, fsync, rename) after every change; readable only by
//! the agent's user (it holds passwords).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One VM entity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VmRecord {
    /// The name given at `alloc`.
    pub name: String,
    /// The XMPP account's password (the account is `<uuid>@<domain>`).
    pub password: String,
    /// The last definition the agent defined (restored when the host forgot it, as the
    /// `test:///` driver does on every restart).
    #[serde(default)]
    pub definition: Option<String>,
}

/// Everything the agent keeps across restarts.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StateFile {
    /// VM entities by UUID.
    #[serde(default)]
    pub vms: BTreeMap<String, VmRecord>,
    /// Grants: entity bare JID → user bare JID → permission names.
    #[serde(default)]
    pub permissions: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

/// The state file and its in-memory copy.
pub struct Store {
    path: PathBuf,
    data: Mutex<StateFile>,
}

/// Errors reading or writing the state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Filesystem.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not the agent's JSON.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

impl Store {
    /// Opens (creating the directory) `dir/agent.json`.
    pub fn open(dir: &Path) -> Result<Store, StateError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StateError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        // It holds the VM accounts' passwords: the agent's user only.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
        let path = dir.join("agent.json");
        let data = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| StateError::Json { path: path.clone(), source })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => StateFile::default(),
            Err(e) => return Err(io(&path)(e)),
        };
        Ok(Store { path, data: Mutex::new(data) })
    }

    /// Reads under the lock.
    pub fn read<R>(&self, f: impl FnOnce(&StateFile) -> R) -> R {
        f(&self.data.lock().unwrap())
    }

    /// Changes under the lock, then writes the file.
    pub fn update<R>(&self, f: impl FnOnce(&mut StateFile) -> R) -> Result<R, StateError> {
        let mut data = self.data.lock().unwrap();
        let out = f(&mut data);
        self.write(&data)?;
        Ok(out)
    }

    fn write(&self, data: &StateFile) -> Result<(), StateError> {
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = self.path.with_extension("json.tmp");
        let io = |source| StateError::Io { path: tmp.clone(), source };
        let json = serde_json::to_vec_pretty(data).expect("state serializes");
        let mut f =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(io)?;
        f.write_all(&json).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(|source| StateError::Io { path: self.path.clone(), source })
    }
}
