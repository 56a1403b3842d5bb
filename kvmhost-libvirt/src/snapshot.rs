//! Domain snapshots: typed snapshot XML ([`SnapshotSpec`]) for `virDomainSnapshotCreateXML`,
//! typed listing ([`SnapshotInfo`]), revert and delete (with or without children).
//!
//! ```
//! use kvmhost_libvirt::{SnapshotDisk, SnapshotSpec};
//! let spec = SnapshotSpec::named("before-upgrade").description("pre 2.0").disk(SnapshotDisk::internal("vda"));
//! let xml = spec.to_xml().unwrap();
//! assert!(xml.starts_with("<domainsnapshot><name>before-upgrade</name>"));
//! assert!(xml.contains("<disk name=\"vda\" snapshot=\"internal\"/>"));
//! ```

use kvmhost_core::xml::{Document, Element};
use serde::{Deserialize, Serialize};
use virt::connect::Connect;
use virt::sys;

use crate::domains::DomainId;
use crate::{LibvirtError, Result};

/// What a snapshot captures of one disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SnapshotDisk {
    /// Target (`vda`) or source path.
    pub name: String,
    /// `internal`, `external` or `no`.
    pub snapshot: String,
    /// For external snapshots: the overlay file.
    pub file: Option<String>,
}

impl SnapshotDisk {
    /// An internal (qcow2) snapshot of `name`.
    pub fn internal(name: &str) -> SnapshotDisk {
        SnapshotDisk { name: name.into(), snapshot: "internal".into(), file: None }
    }

    /// An external snapshot of `name` into the overlay `file`.
    pub fn external(name: &str, file: &str) -> SnapshotDisk {
        SnapshotDisk { name: name.into(), snapshot: "external".into(), file: Some(file.into()) }
    }

    /// Leave `name` out of the snapshot.
    pub fn excluded(name: &str) -> SnapshotDisk {
        SnapshotDisk { name: name.into(), snapshot: "no".into(), file: None }
    }
}

/// A snapshot to create (`<domainsnapshot>`). Unset fields are chosen by libvirt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SnapshotSpec {
    /// Name (libvirt uses the creation time when unset).
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Memory: `no`, `internal` or `external` (with `memory_file`).
    pub memory: Option<String>,
    /// File of an external memory snapshot.
    pub memory_file: Option<String>,
    /// Per-disk choices.
    pub disks: Vec<SnapshotDisk>,
}

impl SnapshotSpec {
    /// A snapshot called `name`.
    pub fn named(name: &str) -> SnapshotSpec {
        SnapshotSpec { name: Some(name.into()), ..Default::default() }
    }

    /// With a description.
    pub fn description(mut self, text: &str) -> SnapshotSpec {
        self.description = Some(text.into());
        self
    }

    /// With a disk choice.
    pub fn disk(mut self, disk: SnapshotDisk) -> SnapshotSpec {
        self.disks.push(disk);
        self
    }

    /// The `<domainsnapshot>` document.
    pub fn to_xml(&self) -> Result<String> {
        let mut root = Element::new("domainsnapshot");
        for (tag, value) in [("name", &self.name), ("description", &self.description)] {
            if let Some(v) = value {
                root.push_element(Element::new(tag)).set_text(v.as_str());
            }
        }
        if self.memory.is_some() || self.memory_file.is_some() {
            let m = root.push_element(Element::new("memory"));
            m.set_attr_opt("snapshot", self.memory.as_deref());
            m.set_attr_opt("file", self.memory_file.as_deref());
        }
        if !self.disks.is_empty() {
            let disks = root.push_element(Element::new("disks"));
            for d in &self.disks {
                let el = disks.push_element(Element::new("disk"));
                el.set_attr("name", d.name.as_str());
                el.set_attr("snapshot", d.snapshot.as_str());
                if let Some(f) = &d.file {
                    el.push_element(Element::new("source")).set_attr("file", f.as_str());
                }
            }
        }
        Document::new(root).to_xml().map_err(|e| LibvirtError::InvalidArgument { message: e.to_string() })
    }
}

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

/// A snapshot as libvirt describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SnapshotInfo {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// The domain state captured (`running`, `shutoff`, `disk-snapshot`, …).
    pub state: Option<String>,
    /// Parent snapshot.
    pub parent: Option<String>,
    /// Creation time (seconds since the epoch).
    pub creation_time: Option<i64>,
    /// Whether it is the domain's current snapshot.
    pub current: bool,
    /// Number of direct children.
    pub children: u32,
}

impl SnapshotInfo {
    /// Reads `<domainsnapshot>` XML (the `current`/`children` facts come from separate calls).
    ///
    /// ```
    /// use kvmhost_libvirt::SnapshotInfo;
    /// let s = SnapshotInfo::parse("<domainsnapshot><name>s1</name><state>running</state>\
    ///     <parent><name>s0</name></parent><creationTime>1700000000</creationTime></domainsnapshot>").unwrap();
    /// assert_eq!((s.name.as_str(), s.parent.as_deref()), ("s1", Some("s0")));
    /// ```
    pub fn parse(xml: &str) -> Result<SnapshotInfo> {
        let doc = Document::parse(xml).map_err(|e| LibvirtError::parse("snapshot", e))?;
        let r = &doc.root;
        let t = |name: &str| r.child(name).map(|c| c.text().trim().to_string());
        Ok(SnapshotInfo {
            name: t("name").ok_or_else(|| LibvirtError::parse("snapshot", "no <name>"))?,
            description: t("description"),
            state: t("state"),
            parent: r.child("parent").and_then(|p| p.child("name")).map(|n| n.text().trim().to_string()),
            creation_time: t("creationTime").and_then(|c| c.parse().ok()),
            current: false,
            children: 0,
        })
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
