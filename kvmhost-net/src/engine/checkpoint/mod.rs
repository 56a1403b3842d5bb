//! Checkpoints: apply with a confirm deadline, as NetworkManager and nmstate do for remote
//! hosts. [`Engine::apply_with_checkpoint`] applies, then arms a guard; unless
//! [`Checkpoint::confirm`] is called before the deadline, the guard puts the host back as it
//! was — also when the calling process has died meanwhile (the admin lost the host, the
//! orchestrator crashed).
//!
//! What is on disk, in the checkpoint's directory (mode 0700):
//! - `prior.json`: the state before the apply (the namespace's links, OVSDB's rows), written
//!   before anything is changed;
//! - `rollback.sh`: the restoring steps as `ip` / `bridge` commands and one `ovsdb-client
//!   transact` (the exact restore plan — what the engine's own rollback would run — from the
//!   state the last executed step left: it is written anew, atomically, after every step, so a
//!   process killed in the middle of the apply leaves a script that undoes what was done; every
//!   name single-quoted);
//! - `guard.sh` and the guard: a `/bin/sh` process started inside the target namespace before
//!   the first write, in its own process group (a Ctrl-C or the death of the caller does not
//!   stop it), that sleeps until the deadline (the apply's own time counts), then claims the
//!   checkpoint (`pending` → `expired`, an atomic rename) and runs `rollback.sh`, writing
//!   `rollback.log`. An apply still running at the deadline stops at its next step and is
//!   rolled back.
//!
//! Confirming claims the checkpoint first (`pending` → `confirmed`), so a confirm and an expiry
//! racing at the deadline cannot both win. Needs `sh`, `ip` (iproute2) and, with an `ovs`
//! section, `ovsdb-client` on the host.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use std::cell::RefCell;
use std::collections::BTreeSet;

use super::{apply_on, ApplyOptions, ApplyReport, Backend, Engine, Kernel, NetlinkBackend, WithExecute};
use crate::diff::{diff, touched, Desired};
use crate::model::HostNetwork;
use crate::ovs::{restore_operations, OvsdbBackend, OvsdbSession, Snapshot, DB};
use crate::plan::{Plan, PlannedStep, Step};
use crate::state::NetState;
use crate::Error;

mod predict;

/// How a checkpointed apply is made.
///
/// ```
/// use std::time::Duration;
/// let o = kvmhost_net::engine::CheckpointOptions::new(Duration::from_secs(30));
/// assert_eq!(o.timeout, Duration::from_secs(30));
/// assert!(o.dir.starts_with("/run"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckpointOptions {
    /// How long the change may stay unconfirmed.
    pub timeout: Duration,
    /// Where checkpoints are kept (a directory per checkpoint is made in it).
    pub dir: PathBuf,
    /// The apply itself.
    pub apply: ApplyOptions,
}

impl CheckpointOptions {
    /// Roll back after `timeout` unless confirmed; checkpoints under `/run/kvmhost-net/checkpoints`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout, dir: PathBuf::from("/run/kvmhost-net/checkpoints"), apply: ApplyOptions::default() }
    }

    /// Keep the checkpoint directories in `dir`.
    ///
    /// ```
    /// let o = kvmhost_net::engine::CheckpointOptions::new(std::time::Duration::from_secs(5)).in_dir("/tmp/cp");
    /// assert_eq!(o.dir.to_str(), Some("/tmp/cp"));
    /// ```
    pub fn in_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = dir.into();
        self
    }
}

/// The state a checkpoint restores, as written to `prior.json` before the apply.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Prior {
    netns: String,
    links: NetState,
    ovsdb: Option<Snapshot>,
    ovsdb_socket: Option<PathBuf>,
}

/// An applied change waiting for [`confirm`](Checkpoint::confirm); rolled back by its guard at
/// the deadline otherwise. Dropping it leaves the guard armed (the change still needs a
/// confirmation).
#[derive(Debug)]
pub struct Checkpoint {
    dir: PathBuf,
    guard: Child,
    deadline: SystemTime,
    report: ApplyReport,
    engine: Engine,
    restore_to: Desired,
    ovsdb_prior: Option<Snapshot>,
}

/// What became of a checkpoint.
///
/// ```
/// assert_ne!(kvmhost_net::engine::CheckpointState::Pending, kvmhost_net::engine::CheckpointState::Expired);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointState {
    /// Applied, waiting for a confirmation.
    Pending,
    /// Confirmed: kept.
    Confirmed,
    /// The deadline passed: the guard rolled back (or is rolling back).
    Expired,
    /// Rolled back on request.
    RolledBack,
}

impl CheckpointState {
    fn marker(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Expired => "expired",
            Self::RolledBack => "rolled-back",
        }
    }
}

/// The state of the checkpoint kept in `dir` (read from its marker file).
///
/// ```no_run
/// let s = kvmhost_net::engine::checkpoint_state("/run/kvmhost-net/checkpoints/1-2".as_ref());
/// ```
pub fn checkpoint_state(dir: &Path) -> Option<CheckpointState> {
    [CheckpointState::Pending, CheckpointState::Confirmed, CheckpointState::Expired, CheckpointState::RolledBack]
        .into_iter()
        .find(|s| dir.join(s.marker()).exists())
}

fn io(dir: &Path, what: &str) -> impl FnOnce(std::io::Error) -> Error {
    let (dir, what) = (dir.display().to_string(), what.to_string());
    move |source| Error::Checkpoint { dir, what, source }
}

/// Write `contents` to `dir/name` atomically (temporary file, fsync, rename).
fn write_file(dir: &Path, name: &str, contents: &[u8], mode: u32) -> Result<(), Error> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f =
        fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp).map_err(io(dir, name))?;
    f.write_all(contents).and_then(|_| f.sync_all()).map_err(io(dir, name))?;
    fs::rename(&tmp, dir.join(name)).map_err(io(dir, name))
}

/// One shell word: single-quoted unless it is plainly safe.
fn quote(word: &str) -> String {
    let safe = !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.,:/@+=%".contains(&b));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The restoring script: the netlink steps (iproute2 commands never contain spaces inside a
/// word: link names cannot), then one OVSDB transaction. Every command runs; failures are
/// logged and counted, except for the steps not in `sure` (those undoing a step that may not
/// have run: `sure` is the restore from the state before it), which may fail.
fn rollback_script(netlink: &Plan, sure: Option<&Plan>, ovsdb: Option<(&Path, serde_json::Value)>) -> String {
    let mut s = String::from("#!/bin/sh\n# kvmhost-net checkpoint rollback\nfailed=0\n");
    for p in &netlink.steps {
        let words: Vec<String> = p.step.command().split(' ').map(quote).collect();
        let cmd = words.join(" ");
        if sure.is_some_and(|sure| !sure.steps.iter().any(|q| q.step == p.step)) {
            s += &format!("{cmd} 2>/dev/null || echo 'not needed: '{}\n", quote(&cmd));
            continue;
        }
        s += &format!("{cmd} || {{ echo 'failed: '{} >&2; failed=$((failed+1)); }}\n", quote(&cmd));
    }
    if let Some((socket, transaction)) = ovsdb {
        let path = socket.display().to_string();
        let target = if path.starts_with("unix:") { path } else { format!("unix:{path}") };
        s += &format!(
            "ovsdb-client transact {} {} >/dev/null || {{ echo 'failed: ovsdb-client transact' >&2; failed=$((failed+1)); }}\n",
            quote(&target),
            quote(&transaction.to_string())
        );
    }
    s += "exit $failed\n";
    s
}

/// The guard: wait for the deadline, claim the checkpoint, roll back.
fn guard_script(dir: &Path, seconds: u64) -> String {
    let d = quote(&dir.display().to_string());
    format!(
        "#!/bin/sh\n# kvmhost-net checkpoint guard: rolls back unless confirmed within {seconds} s\n\
         cd {d} || exit 1\nsleep {seconds}\n\
         mv pending expired 2>/dev/null || exit 0\n\
         sh rollback.sh >rollback.log 2>&1\necho \"exit $?\" >>rollback.log\n"
    )
}

impl Engine {
    /// Apply `net` with a confirm deadline: the prior state goes to disk first, then the apply
    /// (verified, rolled back at once on failure, as [`Engine::apply_with`]), then a guard is
    /// armed that restores the prior state at the deadline unless
    /// [`Checkpoint::confirm`] is called — also when this process has died by then.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use kvmhost_net::{engine::CheckpointOptions, Engine, HostNetwork, Netns};
    /// let engine = Engine::new(Netns::named("blue"));
    /// let net = HostNetwork::load("host.yaml".as_ref()).unwrap();
    /// let cp = engine.apply_with_checkpoint(&net, &CheckpointOptions::new(Duration::from_secs(60))).unwrap();
    /// // ... check that the host is still reachable ...
    /// cp.confirm().unwrap();
    /// ```
    pub fn apply_with_checkpoint(&self, net: &HostNetwork, options: &CheckpointOptions) -> Result<Checkpoint, Error> {
        net.validate()?;
        let _span = tracing::info_span!("checkpoint", timeout = ?options.timeout).entered();
        let mut kernel = self.connect()?;
        let links = kernel.read_state()?;
        let mut db = match (&net.ovs, self.connect_ovsdb()?) {
            (Some(_), None) => return Err(Error::OvsdbRequired),
            (Some(_), Some(db)) => Some(db),
            (None, _) => None,
        };
        let ovsdb = db.as_mut().map(|d| d.capture()).transpose()?;
        let stamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let dir = options.dir.join(format!("{}-{}-{}", stamp.as_secs(), stamp.subsec_nanos(), std::process::id()));
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(io(&dir, "the directory"))?;
        let prior = Prior {
            netns: self.netns().to_string(),
            links,
            ovsdb,
            ovsdb_socket: db.as_ref().map(|d| d.path().to_path_buf()),
        };
        let json = serde_json::to_vec_pretty(&prior).map_err(|e| io(&dir, "prior.json")(e.into()))?;
        write_file(&dir, "prior.json", &json, 0o600)?;
        tracing::info!(dir = %dir.display(), "checkpoint: prior state written");

        // The guard is armed before the first write, with a script that restores nothing yet;
        // every executed step rewrites the script (the restore from the state it left), so a
        // process killed at any point of the apply leaves a script that undoes what was done.
        let ovs_made: BTreeSet<String> = net.ovs_devices().into_iter().map(|(n, _, _)| n).collect();
        let journal = RefCell::new(Journal {
            dir: dir.clone(),
            prior: prior.links.clone(),
            ovs_made,
            executed: Plan::default(),
            ovsdb: None,
        });
        journal.borrow().write(&prior.links)?;
        let seconds = options.timeout.as_secs().max(1);
        write_file(&dir, "guard.sh", guard_script(&dir, seconds).as_bytes(), 0o700)?;
        write_file(&dir, CheckpointState::Pending.marker(), b"", 0o600)?;
        let deadline = SystemTime::now() + Duration::from_secs(seconds);
        let mut guard = self.spawn_guard(&dir)?;
        tracing::info!(dir = %dir.display(), guard = guard.id(), seconds, "checkpoint armed");

        let mut journaled = JournalKernel { inner: &mut kernel, journal: &journal };
        let mut netlink = NetlinkBackend::new(&mut journaled);
        let applied = match (db.as_mut(), self.connect_ovsdb()?) {
            (Some(session), Some(mut reader)) => {
                let before = prior.ovsdb.as_ref();
                let mut ovs = WithExecute::new(
                    session.backend(),
                    |inner: &mut OvsdbBackend<'_>, steps: &[PlannedStep], options: &ApplyOptions| {
                        let done = inner.execute(steps, options);
                        journal_ovsdb(&mut reader, before, &journal, steps)?;
                        done
                    },
                );
                apply_on(&mut [&mut ovs, &mut netlink], net, &options.apply)
            }
            _ => apply_on(&mut [&mut netlink], net, &options.apply),
        };
        let report = match applied {
            Ok(r) => r,
            Err(e) => {
                // The engine rolled back (unless told not to): the guard has nothing left to do.
                if fs::rename(
                    dir.join(CheckpointState::Pending.marker()),
                    dir.join(CheckpointState::RolledBack.marker()),
                )
                .is_ok()
                {
                    let _ = guard.kill();
                    let _ = guard.wait();
                }
                return Err(e);
            }
        };
        let restore_to = journal.borrow().write(&report.after)?;
        Ok(Checkpoint { dir, guard, deadline, report, engine: self.clone(), restore_to, ovsdb_prior: prior.ovsdb })
    }

    /// The guard: `/bin/sh guard.sh`, inside the namespace (a child inherits the spawning
    /// thread's namespace) and in a process group of its own.
    fn spawn_guard(&self, dir: &Path) -> Result<Child, Error> {
        let guard_path = dir.join("guard.sh");
        self.netns()
            .run(move || {
                Command::new("/bin/sh")
                    .arg(guard_path)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .process_group(0)
                    .spawn()
            })?
            .map_err(io(dir, "the guard"))
    }
}

/// The rollback script kept current while a checkpointed apply runs.
struct Journal {
    dir: PathBuf,
    prior: NetState,
    ovs_made: BTreeSet<String>,
    /// The netlink steps executed so far (the refused one included).
    executed: Plan,
    /// The OVSDB socket and the transaction restoring the captured rows, once OVS changed.
    ovsdb: Option<(PathBuf, serde_json::Value)>,
}

impl Journal {
    /// Write `rollback.sh` for the namespace as `now` shows it; the state it restores.
    fn write(&self, now: &NetState) -> Result<Desired, Error> {
        self.write_before(now, None)
    }

    /// Write `rollback.sh` before `next` runs: the restore from the state `next` would leave
    /// (the lines only that state needs may fail: `next` may not have run), so a caller killed
    /// during or right after `next` leaves a script that undoes it.
    fn write_before(&self, now: &NetState, next: Option<&Step>) -> Result<Desired, Error> {
        let names = touched(&self.executed, &self.prior);
        let restore_to = Desired::restore(&self.prior, &names, &self.ovs_made);
        let sure = diff(&restore_to, now)?;
        let (netlink, sure) = match next {
            Some(step) => (diff(&restore_to, &predict::after(now, step))?, Some(&sure)),
            None => (sure.clone(), None),
        };
        let script = rollback_script(&netlink, sure, self.ovsdb.as_ref().map(|(p, t)| (p.as_path(), t.clone())));
        write_file(&self.dir, "rollback.sh", script.as_bytes(), 0o700)?;
        Ok(restore_to)
    }
}

/// The kernel of a checkpointed apply: after each step, the rollback script is written anew.
struct JournalKernel<'a> {
    inner: &'a mut dyn Kernel,
    journal: &'a RefCell<Journal>,
}

impl Kernel for JournalKernel<'_> {
    fn read_state(&mut self) -> Result<NetState, Error> {
        self.inner.read_state()
    }

    fn execute(&mut self, step: &Step) -> Result<(), Error> {
        let dir = self.journal.borrow().dir.clone();
        if checkpoint_state(&dir) != Some(CheckpointState::Pending) {
            // The deadline passed during the apply: the guard is rolling back.
            return Err(Error::CheckpointExpired { dir: dir.display().to_string() });
        }
        self.journal.borrow_mut().executed.steps.push(PlannedStep::new(step.clone(), "executed"));
        let now = self.inner.read_state()?;
        self.journal.borrow().write_before(&now, Some(step))?;
        self.inner.execute(step)
    }

    fn writes(&self) -> u64 {
        self.inner.writes()
    }
}

/// After the OVSDB steps of a checkpointed apply ran (`steps`, not empty): the rollback script
/// gets the transaction that restores the rows captured before (`prior`), written to the
/// journal. An error names the last step.
fn journal_ovsdb(
    reader: &mut OvsdbSession,
    prior: Option<&Snapshot>,
    journal: &RefCell<Journal>,
    steps: &[PlannedStep],
) -> Result<(), (usize, Error)> {
    let (Some(before), Some(last)) = (prior, steps.len().checked_sub(1)) else { return Ok(()) };
    let now = reader.capture().map_err(|e| (last, e))?;
    let mut tx = vec![serde_json::Value::from(DB)];
    tx.extend(restore_operations(before, &now).iter().map(|o| o.to_json()));
    let mut journal = journal.borrow_mut();
    journal.ovsdb = Some((reader.path().to_path_buf(), serde_json::Value::Array(tx)));
    let prior = journal.prior.clone();
    journal.write(&prior).map(drop).map_err(|e| (last, e))
}

impl Checkpoint {
    /// The checkpoint's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// When the guard rolls back.
    pub fn deadline(&self) -> SystemTime {
        self.deadline
    }

    /// The apply's report.
    pub fn report(&self) -> &ApplyReport {
        &self.report
    }

    /// The PID of the guard process.
    pub fn guard_pid(&self) -> u32 {
        self.guard.id()
    }

    /// Claim the checkpoint for `to` (`pending` → `to`, atomic); false when the guard was first.
    fn claim(&self, to: CheckpointState) -> Result<bool, Error> {
        let from = self.dir.join(CheckpointState::Pending.marker());
        match fs::rename(&from, self.dir.join(to.marker())) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io(&self.dir, "the state marker")(e)),
        }
    }

    fn stop_guard(&mut self) {
        let _ = self.guard.kill();
        let _ = self.guard.wait();
    }

    /// Keep the change: disarm the guard. Fails with [`Error::CheckpointExpired`] when the
    /// deadline passed first (the change is being, or has been, rolled back).
    ///
    /// ```no_run
    /// # fn f(cp: kvmhost_net::engine::Checkpoint) { cp.confirm().unwrap(); }
    /// ```
    pub fn confirm(mut self) -> Result<(), Error> {
        if !self.claim(CheckpointState::Confirmed)? {
            return Err(Error::CheckpointExpired { dir: self.dir.display().to_string() });
        }
        self.stop_guard();
        tracing::info!(dir = %self.dir.display(), "checkpoint confirmed");
        Ok(())
    }

    /// Roll back now (the guard's script, run here) and check that the touched links, and
    /// OVSDB, are as before. Fails with [`Error::CheckpointExpired`] when the guard was first.
    ///
    /// ```no_run
    /// # fn f(cp: kvmhost_net::engine::Checkpoint) { cp.rollback().unwrap(); }
    /// ```
    pub fn rollback(mut self) -> Result<(), Error> {
        if !self.claim(CheckpointState::RolledBack)? {
            return Err(Error::CheckpointExpired { dir: self.dir.display().to_string() });
        }
        self.stop_guard();
        let _span = tracing::info_span!("rollback", checkpoint = %self.dir.display()).entered();
        let script = self.dir.join("rollback.sh");
        let out = self
            .engine
            .netns()
            .run(move || Command::new("/bin/sh").arg(script).stdin(Stdio::null()).output())?
            .map_err(io(&self.dir, "rollback.sh"))?;
        let log = [out.stdout, out.stderr].concat();
        write_file(&self.dir, "rollback.log", &log, 0o600)?;
        let now = self.engine.read_state()?;
        let rest = diff(&self.restore_to, &now)?;
        let ovs_back = match (&self.ovsdb_prior, self.engine.connect_ovsdb()?) {
            (Some(prior), Some(mut db)) => db.capture()? == *prior,
            _ => true,
        };
        if rest.is_empty() && ovs_back && out.status.success() {
            Ok(())
        } else {
            Err(Error::Verify {
                remaining: format!("{rest}{}", if ovs_back { "" } else { "OVSDB differs from the checkpoint\n" }),
            })
        }
    }
}
