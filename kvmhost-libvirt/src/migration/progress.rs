//! [`MigrationProgress`]: a migration job's statistics (`virDomainGetJobStats`) as a typed,
//! serialisable value. Pure: converted from `virt`'s `JobStats`.

use serde::{Deserialize, Serialize};
use virt::domain::JobStats;
use virt::sys;

/// The state of a domain job (`virDomainJobType`).
///
/// ```
/// use kvmhost_libvirt::migration::JobKind;
/// assert_eq!(JobKind::from_raw(2), JobKind::Unbounded);
/// assert!(JobKind::Unbounded.is_running());
/// assert!(!JobKind::Completed.is_running());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum JobKind {
    /// No job.
    None,
    /// A job with a known end (time remaining is meaningful).
    Bounded,
    /// A job without a known end (migrations).
    Unbounded,
    /// Finished successfully.
    Completed,
    /// Failed.
    Failed,
    /// Cancelled.
    Cancelled,
    /// A value this version does not know.
    Other(i32),
}

impl JobKind {
    /// Decodes libvirt's raw value.
    pub fn from_raw(raw: i32) -> JobKind {
        match u32::try_from(raw) {
            Ok(sys::VIR_DOMAIN_JOB_NONE) => JobKind::None,
            Ok(sys::VIR_DOMAIN_JOB_BOUNDED) => JobKind::Bounded,
            Ok(sys::VIR_DOMAIN_JOB_UNBOUNDED) => JobKind::Unbounded,
            Ok(sys::VIR_DOMAIN_JOB_COMPLETED) => JobKind::Completed,
            Ok(sys::VIR_DOMAIN_JOB_FAILED) => JobKind::Failed,
            Ok(sys::VIR_DOMAIN_JOB_CANCELLED) => JobKind::Cancelled,
            _ => JobKind::Other(raw),
        }
    }

    /// Whether the job is still going.
    pub fn is_running(&self) -> bool {
        matches!(self, JobKind::Bounded | JobKind::Unbounded)
    }
}

/// One sample of a migration's progress. Sizes in bytes, times in milliseconds, rates in bytes
/// per second; `None` where libvirt did not report the value.
///
/// ```
/// use kvmhost_libvirt::migration::{JobKind, MigrationProgress};
/// let stats = virt::domain::JobStats { r#type: 2, data_total: Some(200), data_processed: Some(50),
///     ..Default::default() };
/// let p = MigrationProgress::from(&stats);
/// assert_eq!((p.job, p.fraction()), (JobKind::Unbounded, Some(0.25)));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MigrationProgress {
    /// The job's state.
    pub job: JobKind,
    /// Time since the job started.
    pub elapsed_ms: Option<u64>,
    /// All data (memory + disks) to transfer.
    pub data_total: Option<u64>,
    /// Data transferred so far.
    pub data_processed: Option<u64>,
    /// Data still to transfer.
    pub data_remaining: Option<u64>,
    /// Guest memory size.
    pub memory_total: Option<u64>,
    /// Memory transferred.
    pub memory_processed: Option<u64>,
    /// Memory still to transfer.
    pub memory_remaining: Option<u64>,
    /// Memory transfer rate.
    pub memory_bps: Option<u64>,
    /// Pages the guest dirties per second.
    pub memory_dirty_rate: Option<u64>,
    /// Memory copy iterations so far.
    pub memory_iteration: Option<u64>,
    /// Disk data to copy (copied storage).
    pub disk_total: Option<u64>,
    /// Disk data copied.
    pub disk_processed: Option<u64>,
    /// Disk data still to copy.
    pub disk_remaining: Option<u64>,
    /// The guest's pause at switch-over (expected while running, actual when completed).
    pub downtime_ms: Option<u64>,
    /// Current auto-converge throttle, percent.
    pub auto_converge_throttle: Option<i32>,
    /// libvirt's error message of a failed job.
    pub error_message: Option<String>,
}

impl Default for MigrationProgress {
    fn default() -> Self {
        MigrationProgress {
            job: JobKind::None,
            elapsed_ms: None,
            data_total: None,
            data_processed: None,
            data_remaining: None,
            memory_total: None,
            memory_processed: None,
            memory_remaining: None,
            memory_bps: None,
            memory_dirty_rate: None,
            memory_iteration: None,
            disk_total: None,
            disk_processed: None,
            disk_remaining: None,
            downtime_ms: None,
            auto_converge_throttle: None,
            error_message: None,
        }
    }
}

impl MigrationProgress {
    /// Share of the data transferred, 0.0-1.0, when libvirt reported totals.
    ///
    /// ```
    /// assert_eq!(kvmhost_libvirt::migration::MigrationProgress::default().fraction(), None);
    /// ```
    pub fn fraction(&self) -> Option<f64> {
        match (self.data_total, self.data_processed) {
            (Some(total), Some(done)) if total > 0 => Some((done as f64 / total as f64).min(1.0)),
            _ => None,
        }
    }
}

impl From<&JobStats> for MigrationProgress {
    fn from(s: &JobStats) -> Self {
        MigrationProgress {
            job: JobKind::from_raw(s.r#type),
            elapsed_ms: s.time_elapsed,
            data_total: s.data_total,
            data_processed: s.data_processed,
            data_remaining: s.data_remaining,
            memory_total: s.mem_total,
            memory_processed: s.mem_processed,
            memory_remaining: s.mem_remaining,
            memory_bps: s.mem_bps,
            memory_dirty_rate: s.mem_dirty_rate,
            memory_iteration: s.mem_iteration,
            disk_total: s.disk_total,
            disk_processed: s.disk_processed,
            disk_remaining: s.disk_remaining,
            downtime_ms: s.downtime,
            auto_converge_throttle: s.auto_converge_throttle,
            error_message: s.error_message.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_stats_convert_field_by_field() {
        let stats = JobStats {
            r#type: sys::VIR_DOMAIN_JOB_UNBOUNDED as i32,
            data_total: Some(1000),
            data_processed: Some(400),
            mem_bps: Some(7),
            downtime: Some(12),
            ..JobStats::default()
        };
        let p = MigrationProgress::from(&stats);
        assert_eq!(p.job, JobKind::Unbounded);
        assert_eq!(
            (p.data_total, p.data_processed, p.memory_bps, p.downtime_ms),
            (Some(1000), Some(400), Some(7), Some(12))
        );
        assert_eq!(p.fraction(), Some(0.4));
        assert_eq!(JobKind::from_raw(-1), JobKind::Other(-1));
    }
}
