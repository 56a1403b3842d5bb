//! Live migration between two libvirt hosts, with a progress stream and a CPU pre-check.
//!
//! - [`MigrationOptions`]: managed or peer-to-peer, live, persist destination, undefine
//!   source, auto-converge, compression, bandwidth, explicit migration URI and port range
//!   (49152-49216), shared or copied storage, unsafe — turned into `virDomainMigrate3` /
//!   `virDomainMigrateToURI3` flags and typed parameters.
//! - [`precheck`]: refuses, before anything moves, a guest whose CPU the destination cannot run
//!   ([`MigrationError::CpuIncompatible`] names the features): libvirt's
//!   `virConnectCompareHypervisorCPU` on the destination and, optionally, the CPU engine offline
//!   ([`check_cpu_offline`]) against the destination's host-model CPU.
//! - [`start`]: runs the migration on its own thread and returns a [`MigrationJob`]: a
//!   [`Stream`](futures_core::Stream) of [`MigrationProgress`] samples (job statistics polled
//!   while the migration runs) and, through [`MigrationJob::wait`], the [`MigrationReport`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), kvmhost_libvirt::migration::MigrationError> {
//! use kvmhost_libvirt::migration::{self, MigrationOptions};
//! kvmhost_libvirt::event_loop::ensure_running()?;
//! let src = virt::connect::Connect::open(Some("qemu+ssh://host-a/system")).unwrap();
//! let dst = virt::connect::Connect::open(Some("qemu+ssh://host-b/system")).unwrap();
//! let vm = src.lookup_domain_by_name("vm1").unwrap();
//! let opts = MigrationOptions::managed().migration_uri("tcp://host-b").auto_converge();
//! let mut job = migration::start(&vm, &dst, &opts)?;
//! while let Some(p) = job.next_progress().await {
//!     println!("{:.0} %", 100.0 * p.fraction().unwrap_or(0.0));
//! }
//! let report = job.wait().await?;
//! println!("now running on the destination as {}", report.destination_domain);
//! # Ok(()) }
//! ```

mod cpu_check;
mod options;
mod progress;

pub use cpu_check::{
    check_cpu_offline, check_cpu_with_libvirt, host_model_cpu, split_incompatible_message, CpuVerdict, GuestCpu,
};
pub use options::{
    migration_uri_port, AutoConverge, Compression, CpuCheckPolicy, MigrationMode, MigrationOptions, PortRange,
    StorageMode,
};
pub use progress::{JobKind, MigrationProgress};

use std::pin::Pin;
use std::sync::mpsc as std_mpsc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use kvmhost_core::cpu::{CpuError, CpuMap};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use virt::connect::Connect;
use virt::domain::Domain;
use virt::sys;

use crate::LibvirtError;

/// Everything that can stop a migration.
///
/// ```
/// use kvmhost_libvirt::migration::MigrationError;
/// let e = MigrationError::CpuIncompatible {
///     destination: "host-b".into(),
///     reason: "Host CPU does not provide required features".into(),
///     features: vec!["avx512f".into()],
/// };
/// assert_eq!(e.to_string(), "host-b cannot run the guest CPU: Host CPU does not provide required features: avx512f");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// The options contradict each other or are malformed.
    #[error("invalid migration options: {0}")]
    InvalidOptions(String),
    /// The guest's XML could not be read.
    #[error("cannot read the guest's domain XML: {0}")]
    InvalidDomainXml(String),
    /// The destination's domain capabilities could not be read, or offer no host-model CPU
    /// with a model ([`CapabilitiesError::Missing`](kvmhost_core::capabilities::CapabilitiesError::Missing)).
    #[error("cannot read the destination's domain capabilities: {0}")]
    InvalidCapabilities(kvmhost_core::capabilities::CapabilitiesError),
    /// The destination cannot run the guest CPU; nothing was migrated.
    #[error("{destination} cannot run the guest CPU: {reason}{}", features_suffix(.features))]
    CpuIncompatible {
        /// The destination (its URI).
        destination: String,
        /// Why (libvirt's or the CPU engine's wording).
        reason: String,
        /// The features at fault (missing, or forbidden but present).
        features: Vec<String>,
    },
    /// The CPU engine failed (unknown model or feature, unreadable CPU map).
    #[error(transparent)]
    Cpu(#[from] CpuError),
    /// A libvirt call failed (the migration itself, or a query).
    #[error(transparent)]
    Libvirt(#[from] LibvirtError),
    /// The migration thread ended without reporting (it panicked).
    #[error("the migration thread ended without a result")]
    Interrupted,
}

fn features_suffix(features: &[String]) -> String {
    if features.is_empty() {
        String::new()
    } else {
        format!(": {}", features.join(", "))
    }
}

impl From<virt::error::Error> for MigrationError {
    fn from(e: virt::error::Error) -> Self {
        MigrationError::Libvirt(e.into())
    }
}

/// What a finished migration reports.
///
/// ```
/// use kvmhost_libvirt::migration::{CpuVerdict, MigrationReport};
/// let r = MigrationReport { destination_domain: "vm1".into(), duration_ms: 2100, progress_samples: 40,
///     completed: None, cpu: CpuVerdict::Skipped };
/// assert!(serde_json::to_string(&r).unwrap().contains("\"duration_ms\":2100"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationReport {
    /// The guest's name on the destination.
    pub destination_domain: String,
    /// Wall-clock time of the migration call.
    pub duration_ms: u64,
    /// How many progress samples were delivered.
    pub progress_samples: usize,
    /// The completed job's statistics (`VIR_DOMAIN_JOB_STATS_COMPLETED`), when libvirt kept them.
    pub completed: Option<MigrationProgress>,
    /// The CPU pre-check's verdict.
    pub cpu: CpuVerdict,
}

fn uri_of(conn: &Connect) -> String {
    conn.uri().unwrap_or_else(|_| "the destination".into())
}

/// The CPU pre-check alone, as [`start`] runs it: the guest's live XML CPU against the
/// destination, following `options.cpu_check`. Blocks for a libvirt round trip or two.
///
/// ```
/// use kvmhost_libvirt::migration::{precheck, CpuCheckPolicy, CpuVerdict, MigrationOptions};
/// let conn = virt::connect::Connect::open(Some("test:///default")).unwrap();
/// let vm = conn.lookup_domain_by_name("test").unwrap();
/// let skip = MigrationOptions::managed().cpu_check(CpuCheckPolicy::Skip);
/// assert_eq!(precheck(&vm, &conn, &skip).unwrap(), CpuVerdict::Skipped);
/// // test:///default's "test" domain has no <cpu>: nothing to compare.
/// assert!(matches!(precheck(&vm, &conn, &MigrationOptions::managed()).unwrap(), CpuVerdict::NotComparable { .. }));
/// ```
pub fn precheck(src: &Domain, dst: &Connect, options: &MigrationOptions) -> Result<CpuVerdict, MigrationError> {
    if options.cpu_check == CpuCheckPolicy::Skip {
        return Ok(CpuVerdict::Skipped);
    }
    // The live XML: for a running guest it holds the CPU the guest actually has (libvirt
    // updates it at start); the migratable XML may restore the CPU as first defined, which can
    // name features the hypervisor silently dropped.
    let xml = src.xml_desc(0)?;
    let guest = GuestCpu::from_domain_xml(&xml)?;
    let dst_name = uri_of(dst);
    let verdict = check_cpu_with_libvirt(dst, &dst_name, &guest)?;
    if let CpuCheckPolicy::LibvirtAndOffline { cpu_map_dir } = &options.cpu_check {
        if guest.not_comparable().is_none() {
            let map = CpuMap::load(cpu_map_dir)?;
            let caps = dst.domain_capabilities(
                guest.emulator.as_deref(),
                guest.arch.as_deref(),
                guest.machine.as_deref(),
                guest.virt_type.as_deref(),
                0,
            )?;
            check_cpu_offline(&map, &host_model_cpu(&caps)?, &dst_name, &guest)?;
        }
    }
    Ok(verdict)
}

/// A running migration: a stream of progress samples, then its report.
///
/// Implements `Stream<Item = MigrationProgress>`; the stream ends when the migration does.
pub struct MigrationJob {
    progress: mpsc::UnboundedReceiver<MigrationProgress>,
    outcome: oneshot::Receiver<Result<MigrationReport, MigrationError>>,
    domain: Domain,
    cpu: CpuVerdict,
}

impl std::fmt::Debug for MigrationJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationJob").field("cpu", &self.cpu).finish_non_exhaustive()
    }
}

/// Checks the options and the CPU ([`precheck`]) and, if both pass, starts migrating `src` to
/// `dst` on a new thread (`kvmhost-migrate`), polling the job statistics every
/// `options.progress_interval_ms` on a second one. Refusals happen here, before anything moves.
///
/// ```
/// use kvmhost_libvirt::migration::{start, MigrationError, MigrationOptions};
/// let conn = virt::connect::Connect::open(Some("test:///default")).unwrap();
/// let vm = conn.lookup_domain_by_name("test").unwrap();
/// let bad = MigrationOptions::managed().migration_uri("tcp://h:80");
/// assert!(matches!(start(&vm, &conn, &bad), Err(MigrationError::InvalidOptions(_))));
/// ```
pub fn start(src: &Domain, dst: &Connect, options: &MigrationOptions) -> Result<MigrationJob, MigrationError> {
    let params = options.parameters()?;
    let flags = options.flags();
    let cpu = precheck(src, dst, options).inspect_err(|e| tracing::debug!(error = %e, "migration refused"))?;
    tracing::info!(destination = %uri_of(dst), cpu = ?cpu, "migration pre-check passed");
    let name = match &options.destination_name {
        Some(n) => n.clone(),
        None => src.name()?,
    };
    let (progress_tx, progress_rx) = mpsc::unbounded_channel();
    let (outcome_tx, outcome_rx) = oneshot::channel();
    let (src_t, dst_t, mode, verdict) = (src.clone(), dst.clone(), options.mode.clone(), cpu.clone());
    let interval = Duration::from_millis(options.progress_interval_ms);
    std::thread::Builder::new()
        .name("kvmhost-migrate".into())
        .spawn(move || {
            let outcome = run(&src_t, &dst_t, mode, params, flags, interval, progress_tx, name, verdict);
            let _ = outcome_tx.send(outcome);
        })
        .map_err(|e| MigrationError::InvalidOptions(format!("cannot start the migration thread: {e}")))?;
    Ok(MigrationJob { progress: progress_rx, outcome: outcome_rx, domain: src.clone(), cpu })
}

/// The migration thread's body: migrate, with a poller thread sending progress samples until
/// the migration returns.
#[allow(clippy::too_many_arguments)]
fn run(
    src: &Domain,
    dst: &Connect,
    mode: MigrationMode,
    params: virt::domain::MigrateParameters,
    flags: u32,
    interval: Duration,
    progress: mpsc::UnboundedSender<MigrationProgress>,
    name: String,
    cpu: CpuVerdict,
) -> Result<MigrationReport, MigrationError> {
    let span = tracing::info_span!("migration", domain = %name, destination = %uri_of(dst));
    let _entered = span.enter();
    tracing::info!(mode = ?mode, flags, "migration started");
    let (stop_tx, stop_rx) = std_mpsc::channel::<()>();
    let began = Instant::now();
    let (result, samples) = std::thread::scope(|scope| {
        let poller = scope.spawn(move || {
            let mut samples = 0usize;
            // Sleeps `interval` between samples; returns as soon as `stop_tx` is dropped.
            while let Err(std_mpsc::RecvTimeoutError::Timeout) = stop_rx.recv_timeout(interval) {
                // Each call and its error are read on this thread; a failed query (the job is
                // between phases, the domain just left) is simply not a sample.
                if let Ok(stats) = job_stats(src, 0) {
                    let p = MigrationProgress::from(&stats);
                    tracing::trace!(progress = ?p, "migration progress");
                    if p.job.is_running() && progress.send(p).is_ok() {
                        samples += 1;
                    }
                }
            }
            samples
        });
        let result = match &mode {
            MigrationMode::Managed => src.migrate3(dst, params, flags).and_then(|d| d.name()),
            MigrationMode::PeerToPeer { destination_uri } => {
                src.migrate_to_uri3(Some(destination_uri), params, flags).map(|()| name.clone())
            }
        };
        drop(stop_tx);
        (result, poller.join().unwrap_or(0))
    });
    let duration_ms = began.elapsed().as_millis() as u64;
    let destination_domain =
        result.inspect_err(|e| tracing::debug!(duration_ms, error = %e.message(), "migration failed"))?;
    tracing::info!(duration_ms, samples, destination_domain = %destination_domain, "migration completed");
    Ok(MigrationReport {
        completed: completed_stats(src, dst, &destination_domain),
        destination_domain,
        duration_ms,
        progress_samples: samples,
        cpu,
    })
}

/// The completed job's statistics: the destination keeps those of the incoming migration; the
/// source those of the outgoing one while its (persistent) definition remains.
fn completed_stats(src: &Domain, dst: &Connect, name: &str) -> Option<MigrationProgress> {
    let flags = sys::VIR_DOMAIN_JOB_STATS_COMPLETED;
    let from_dst = dst.lookup_domain_by_name(name).and_then(|d| job_stats(&d, flags));
    let stats = from_dst.or_else(|_| job_stats(src, flags)).ok()?;
    Some(MigrationProgress::from(&stats))
}

/// `virDomainGetJobStats`. Not `virt`'s `Domain::job_stats`: virt 0.5 builds a `Vec` from the
/// parameter array even when libvirt returns none (a NULL pointer: undefined behaviour, caught
/// as a panic in debug builds), which happens whenever no job runs.
fn job_stats(dom: &Domain, flags: u32) -> Result<virt::domain::JobStats, virt::error::Error> {
    let mut kind: std::ffi::c_int = 0;
    let mut params: sys::virTypedParameterPtr = std::ptr::null_mut();
    let mut nparams: std::ffi::c_int = 0;
    // SAFETY: `dom` is a live domain; the out-pointers point to locals libvirt fills in.
    let rc = unsafe { sys::virDomainGetJobStats(dom.as_ptr(), &mut kind, &mut params, &mut nparams, flags) };
    if rc < 0 {
        // The thread-local error, read on the thread that made the call.
        return Err(virt::error::Error::last_error());
    }
    let copied = match usize::try_from(nparams) {
        // SAFETY: libvirt returned an array of `nparams` initialised parameters at `params`.
        Ok(n) if n > 0 && !params.is_null() => unsafe { std::slice::from_raw_parts(params, n) }.to_vec(),
        _ => Vec::new(),
    };
    // `JobStats::from` copies the string values, so the array can be freed right after.
    let stats = virt::domain::JobStats::from((kind, copied));
    // SAFETY: `params`/`nparams` are libvirt's allocation (or NULL/0), freed exactly once here.
    unsafe { sys::virTypedParamsFree(params, nparams) };
    Ok(stats)
}

impl MigrationJob {
    /// The CPU pre-check's verdict.
    ///
    /// ```no_run
    /// # fn demo(vm: virt::domain::Domain, dst: virt::connect::Connect) -> Result<(), kvmhost_libvirt::migration::MigrationError> {
    /// let opts = kvmhost_libvirt::migration::MigrationOptions::managed().migration_uri("tcp://10.99.0.2");
    /// let job = kvmhost_libvirt::migration::start(&vm, &dst, &opts)?;
    /// println!("CPU check: {:?}", job.cpu_verdict());
    /// # Ok(()) }
    /// ```
    pub fn cpu_verdict(&self) -> &CpuVerdict {
        &self.cpu
    }

    /// The next progress sample; `None` once the migration has ended and every sample was read.
    ///
    /// ```no_run
    /// # async fn demo(vm: virt::domain::Domain, dst: virt::connect::Connect) -> Result<(), kvmhost_libvirt::migration::MigrationError> {
    /// let opts = kvmhost_libvirt::migration::MigrationOptions::managed().migration_uri("tcp://10.99.0.2");
    /// let mut job = kvmhost_libvirt::migration::start(&vm, &dst, &opts)?;
    /// while let Some(p) = job.next_progress().await {
    ///     println!("{:?} of {:?} bytes", p.data_processed, p.data_total);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn next_progress(&mut self) -> Option<MigrationProgress> {
        self.progress.recv().await
    }

    /// Waits for the end of the migration (progress samples not yet read are dropped).
    ///
    /// ```no_run
    /// # async fn demo(vm: virt::domain::Domain, dst: virt::connect::Connect) -> Result<(), kvmhost_libvirt::migration::MigrationError> {
    /// let opts = kvmhost_libvirt::migration::MigrationOptions::managed().migration_uri("tcp://10.99.0.2");
    /// let mut job = kvmhost_libvirt::migration::start(&vm, &dst, &opts)?;
    /// let report = job.wait().await?;
    /// assert_eq!(report.destination_domain, vm.name().unwrap());
    /// # Ok(()) }
    /// ```
    pub async fn wait(self) -> Result<MigrationReport, MigrationError> {
        self.outcome.await.map_err(|_| MigrationError::Interrupted)?
    }

    /// [`MigrationJob::wait`] for synchronous callers; must not be called from async code.
    ///
    /// ```no_run
    /// # fn demo(vm: virt::domain::Domain, dst: virt::connect::Connect) -> Result<(), kvmhost_libvirt::migration::MigrationError> {
    /// let opts = kvmhost_libvirt::migration::MigrationOptions::managed().migration_uri("tcp://10.99.0.2");
    /// let report = kvmhost_libvirt::migration::start(&vm, &dst, &opts)?.wait_blocking()?;
    /// println!("{} ms", report.duration_ms);
    /// # Ok(()) }
    /// ```
    pub fn wait_blocking(self) -> Result<MigrationReport, MigrationError> {
        self.outcome.blocking_recv().map_err(|_| MigrationError::Interrupted)?
    }

    /// Cancels the running migration (`virDomainAbortJob`); [`MigrationJob::wait`] then returns
    /// libvirt's "operation aborted" error and the guest keeps running on the source.
    ///
    /// ```no_run
    /// # async fn demo(vm: virt::domain::Domain, dst: virt::connect::Connect) -> Result<(), kvmhost_libvirt::migration::MigrationError> {
    /// let opts = kvmhost_libvirt::migration::MigrationOptions::managed().migration_uri("tcp://10.99.0.2");
    /// let mut job = kvmhost_libvirt::migration::start(&vm, &dst, &opts)?;
    /// job.abort()?;
    /// assert!(job.wait().await.is_err());
    /// # Ok(()) }
    /// ```
    pub fn abort(&self) -> Result<(), MigrationError> {
        // SAFETY: `self.domain` is a live reference-counted domain; the call only reads it.
        let rc = unsafe { sys::virDomainAbortJob(self.domain.as_ptr()) };
        if rc < 0 {
            return Err(virt::error::Error::last_error().into());
        }
        Ok(())
    }
}

impl futures_core::Stream for MigrationJob {
    type Item = MigrationProgress;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<MigrationProgress>> {
        self.progress.poll_recv(cx)
    }
}
