//! Domain snapshots: typed snapshot XML ([`SnapshotSpec`]) for `virDomainSnapshotCreateXML`,
//! typed listing ([`SnapshotInfo`]), revert and delete (with or without children).
//!
//! The snapshot XML models ([`SnapshotSpec`], [`SnapshotDisk`], [`SnapshotInfo`],
//! [`SnapshotError`]) live in [`kvmhost_core::snapshot`] and are re-exported here.
//!
//! ```
//! use kvmhost_libvirt::{SnapshotDisk, SnapshotSpec};
//! let spec = SnapshotSpec::named("before-upgrade").description("pre 2.0").disk(SnapshotDisk::internal("vda"));
//! let xml = spec.to_xml().unwrap();
//! assert!(xml.starts_with("<domainsnapshot><name>before-upgrade</name>"));
//! assert!(xml.contains("<disk name=\"vda\" snapshot=\"internal\"/>"));
//! ```

pub use kvmhost_core::snapshot::{SnapshotDisk, SnapshotError, SnapshotInfo, SnapshotSpec};
use serde::{Deserialize, Serialize};
use virt::connect::Connect;
use virt::sys;

use crate::domains::DomainId;
use crate::Result;

/// How to take the snapshot (`virDomainSnapshotCreateFlags`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotOptions {
    /// Disks only, no memory state.
    pub disk_only: bool,
    /// All or nothing.
    pub atomic: bool,
    /// Stop the domain after the snapshot.
    pub halt: bool,
    /// Keep the guest running while memory is saved.
    pub live: bool,
}

impl SnapshotOptions {
    /// The libvirt flag value.
    ///
    /// ```
    /// use kvmhost_libvirt::SnapshotOptions;
    /// assert_eq!(SnapshotOptions { atomic: true, ..Default::default() }.flags(), 128);
    /// ```
    pub fn flags(self) -> u32 {
        [
            (self.disk_only, sys::VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY),
            (self.atomic, sys::VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC),
            (self.halt, sys::VIR_DOMAIN_SNAPSHOT_CREATE_HALT),
            (self.live, sys::VIR_DOMAIN_SNAPSHOT_CREATE_LIVE),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0, |f, (_, flag)| f | flag)
    }
}

/// State to leave the domain in after a revert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RevertTo {
    /// The state the snapshot recorded.
    #[default]
    AsSnapshotted,
    /// Running.
    Running,
    /// Paused.
    Paused,
}

/// What to delete (`virDomainSnapshotDeleteFlags`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SnapshotDelete {
    /// Only this snapshot (its children are re-parented).
    #[default]
    Only,
    /// This snapshot and all its descendants.
    WithChildren,
    /// Only its descendants.
    ChildrenOnly,
    /// Only libvirt's metadata, not the disk data.
    MetadataOnly,
}

impl SnapshotDelete {
    /// The libvirt flag value.
    ///
    /// ```
    /// assert_eq!(kvmhost_libvirt::SnapshotDelete::WithChildren.flags(), 1);
    /// ```
    pub fn flags(self) -> u32 {
        match self {
            SnapshotDelete::Only => 0,
            SnapshotDelete::WithChildren => sys::VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN,
            SnapshotDelete::ChildrenOnly => sys::VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY,
            SnapshotDelete::MetadataOnly => sys::VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY,
        }
    }
}

fn info(s: &virt::domain_snapshot::DomainSnapshot) -> Result<SnapshotInfo> {
    let mut info = SnapshotInfo::parse(&s.xml_desc(0)?)?;
    info.current = s.is_current(0)?;
    info.children = s.num_children(0)?;
    Ok(info)
}

pub(crate) fn create(c: &Connect, id: &DomainId, xml: &str, options: SnapshotOptions) -> Result<SnapshotInfo> {
    info(&id.lookup(c)?.create_snapshot_xml(xml, options.flags())?)
}

pub(crate) fn list(c: &Connect, id: &DomainId) -> Result<Vec<SnapshotInfo>> {
    id.lookup(c)?.list_all_snapshots(0)?.iter().map(info).collect()
}

pub(crate) fn lookup(c: &Connect, id: &DomainId, name: &str) -> Result<virt::domain_snapshot::DomainSnapshot> {
    virt::domain::Domain::lookup_snapshot_by_name(&id.lookup(c)?, name, 0)
        .map_err(|e| crate::LibvirtError::from(e).about(format_args!("{id}/{name}")))
}

pub(crate) fn get(c: &Connect, id: &DomainId, name: &str) -> Result<SnapshotInfo> {
    info(&lookup(c, id, name)?)
}

pub(crate) fn revert(c: &Connect, id: &DomainId, name: &str, to: RevertTo) -> Result<()> {
    let flags = match to {
        RevertTo::AsSnapshotted => 0,
        RevertTo::Running => sys::VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING,
        RevertTo::Paused => sys::VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED,
    };
    Ok(lookup(c, id, name)?.revert(flags)?)
}

pub(crate) fn delete(c: &Connect, id: &DomainId, name: &str, what: SnapshotDelete) -> Result<()> {
    Ok(lookup(c, id, name)?.delete(what.flags())?)
}
