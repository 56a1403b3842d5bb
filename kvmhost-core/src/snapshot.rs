//! libvirt domain snapshot XML (`<domainsnapshot>`), typed: [`SnapshotSpec`] to write for
//! `virDomainSnapshotCreateXML`, [`SnapshotInfo`] read from `virDomainSnapshotGetXMLDesc`, both
//! with the same XML layer as the domain model ([`crate::xml`]) and typed [`SnapshotError`]s.
//! kvmhost-libvirt takes, reverts and deletes snapshots and re-exports these types.
//!
//! ```
//! use kvmhost_core::snapshot::{SnapshotDisk, SnapshotInfo, SnapshotSpec};
//! let spec = SnapshotSpec::named("before-upgrade").description("pre 2.0").disk(SnapshotDisk::internal("vda"));
//! let xml = spec.to_xml().unwrap();
//! assert!(xml.starts_with("<domainsnapshot><name>before-upgrade</name>"));
//! assert!(xml.contains("<disk name=\"vda\" snapshot=\"internal\"/>"));
//! assert_eq!(SnapshotInfo::parse(&xml).unwrap().name, "before-upgrade");
//! ```

use serde::{Deserialize, Serialize};

use crate::xml::{Document, Element, XmlError};

/// Errors from reading or writing snapshot XML, naming the element at fault (or the line and
/// column when the text is not XML).
///
/// ```
/// use kvmhost_core::snapshot::{SnapshotError, SnapshotInfo};
/// assert!(matches!(SnapshotInfo::parse("<domainsnapshot/>"),
///     Err(SnapshotError::Missing { path }) if path == "/domainsnapshot/name"));
/// assert!(matches!(SnapshotInfo::parse("<domain/>"), Err(SnapshotError::WrongRoot { .. })));
/// let e = SnapshotInfo::parse("<domainsnapshot>\n<name>x</nam>").unwrap_err();
/// assert_eq!(e.position().map(|(line, _)| line), Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The text is not well-formed XML, or a value holds characters XML cannot carry.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The root element is not `<domainsnapshot>`.
    #[error("expected a <domainsnapshot> root element, found <{found}>")]
    WrongRoot {
        /// The root element found.
        found: String,
    },
    /// A required element is absent.
    #[error("missing {path}")]
    Missing {
        /// Its path (`/domainsnapshot/name`).
        path: String,
    },
    /// A value that does not fit its type.
    #[error("invalid value {value:?} at {path}: expected {expected}")]
    InvalidValue {
        /// Element path (`/domainsnapshot/creationTime`).
        path: String,
        /// The value found.
        value: String,
        /// What was expected.
        expected: String,
    },
}

impl SnapshotError {
    /// The 1-based line and column of a parse error, when the error has a position.
    ///
    /// ```
    /// use kvmhost_core::snapshot::SnapshotInfo;
    /// assert_eq!(SnapshotInfo::parse("<domainsnapshot/>").unwrap_err().position(), None);
    /// ```
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            SnapshotError::Xml(e) => Some((e.line()?, e.column()?)),
            _ => None,
        }
    }
}

/// What a snapshot captures of one disk.
///
/// ```
/// use kvmhost_core::snapshot::SnapshotDisk;
/// let d = SnapshotDisk::external("vda", "/var/lib/images/vm1.overlay");
/// assert_eq!((d.snapshot.as_str(), d.file.as_deref()), ("external", Some("/var/lib/images/vm1.overlay")));
/// assert_eq!(SnapshotDisk::excluded("vdb").snapshot, "no");
/// ```
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
    ///
    /// ```
    /// assert_eq!(kvmhost_core::snapshot::SnapshotDisk::internal("vda").snapshot, "internal");
    /// ```
    pub fn internal(name: &str) -> SnapshotDisk {
        SnapshotDisk { name: name.into(), snapshot: "internal".into(), file: None }
    }

    /// An external snapshot of `name` into the overlay `file`.
    ///
    /// ```
    /// assert_eq!(kvmhost_core::snapshot::SnapshotDisk::external("vda", "/o").file.as_deref(), Some("/o"));
    /// ```
    pub fn external(name: &str, file: &str) -> SnapshotDisk {
        SnapshotDisk { name: name.into(), snapshot: "external".into(), file: Some(file.into()) }
    }

    /// Leave `name` out of the snapshot.
    ///
    /// ```
    /// assert_eq!(kvmhost_core::snapshot::SnapshotDisk::excluded("vdb").snapshot, "no");
    /// ```
    pub fn excluded(name: &str) -> SnapshotDisk {
        SnapshotDisk { name: name.into(), snapshot: "no".into(), file: None }
    }
}

/// A snapshot to create (`<domainsnapshot>`). Unset fields are chosen by libvirt.
///
/// ```
/// use kvmhost_core::snapshot::SnapshotSpec;
/// let mut s = SnapshotSpec::named("s1");
/// s.memory = Some("external".into());
/// s.memory_file = Some("/var/lib/snap/s1.mem".into());
/// assert!(s.to_xml().unwrap().contains("<memory snapshot=\"external\" file=\"/var/lib/snap/s1.mem\"/>"));
/// ```
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
    ///
    /// ```
    /// assert_eq!(kvmhost_core::snapshot::SnapshotSpec::named("s1").name.as_deref(), Some("s1"));
    /// ```
    pub fn named(name: &str) -> SnapshotSpec {
        SnapshotSpec { name: Some(name.into()), ..Default::default() }
    }

    /// With a description.
    ///
    /// ```
    /// let s = kvmhost_core::snapshot::SnapshotSpec::named("s1").description("before");
    /// assert_eq!(s.description.as_deref(), Some("before"));
    /// ```
    pub fn description(mut self, text: &str) -> SnapshotSpec {
        self.description = Some(text.into());
        self
    }

    /// With a disk choice.
    ///
    /// ```
    /// use kvmhost_core::snapshot::{SnapshotDisk, SnapshotSpec};
    /// assert_eq!(SnapshotSpec::named("s1").disk(SnapshotDisk::internal("vda")).disks.len(), 1);
    /// ```
    pub fn disk(mut self, disk: SnapshotDisk) -> SnapshotSpec {
        self.disks.push(disk);
        self
    }

    /// The `<domainsnapshot>` document; a value XML cannot carry is [`SnapshotError::Xml`].
    ///
    /// ```
    /// use kvmhost_core::snapshot::{SnapshotError, SnapshotSpec};
    /// assert!(matches!(SnapshotSpec::named("bad\u{0}").to_xml(), Err(SnapshotError::Xml(_))));
    /// ```
    pub fn to_xml(&self) -> Result<String, SnapshotError> {
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
        Ok(Document::new(root).to_xml()?)
    }
}

/// A snapshot as libvirt describes it.
///
/// ```
/// use kvmhost_core::snapshot::SnapshotInfo;
/// let s = SnapshotInfo::parse("<domainsnapshot><name>s1</name><state>running</state>\
///     <parent><name>s0</name></parent><creationTime>1700000000</creationTime></domainsnapshot>").unwrap();
/// assert_eq!((s.name.as_str(), s.parent.as_deref(), s.creation_time), ("s1", Some("s0"), Some(1_700_000_000)));
/// ```
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
    /// Whether it is the domain's current snapshot (not in the XML: kvmhost-libvirt fills it in).
    pub current: bool,
    /// Number of direct children (not in the XML: kvmhost-libvirt fills it in).
    pub children: u32,
}

impl SnapshotInfo {
    /// Reads `<domainsnapshot>` XML (`current` and `children` are left false and 0).
    ///
    /// ```
    /// use kvmhost_core::snapshot::{SnapshotError, SnapshotInfo};
    /// let e = SnapshotInfo::parse("<domainsnapshot><name>s</name><creationTime>soon</creationTime></domainsnapshot>");
    /// assert!(matches!(e, Err(SnapshotError::InvalidValue { path, .. }) if path == "/domainsnapshot/creationTime"));
    /// ```
    pub fn parse(xml: &str) -> Result<SnapshotInfo, SnapshotError> {
        let doc = Document::parse(xml)?;
        let r = &doc.root;
        if r.name != "domainsnapshot" {
            return Err(SnapshotError::WrongRoot { found: r.name.to_string() });
        }
        let t = |name: &str| r.child(name).map(|c| c.text().trim().to_string());
        let creation_time = match t("creationTime") {
            None => None,
            Some(c) => Some(c.parse().map_err(|_| SnapshotError::InvalidValue {
                path: "/domainsnapshot/creationTime".into(),
                value: c,
                expected: "seconds since the epoch".into(),
            })?),
        };
        Ok(SnapshotInfo {
            name: t("name").ok_or_else(|| SnapshotError::Missing { path: "/domainsnapshot/name".into() })?,
            description: t("description"),
            state: t("state"),
            parent: r.child("parent").and_then(|p| p.child("name")).map(|n| n.text().trim().to_string()),
            creation_time,
            current: false,
            children: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trips_through_info() {
        let spec = SnapshotSpec::named("a & b")
            .description("x < y")
            .disk(SnapshotDisk::external("vda", "/o.qcow2"))
            .disk(SnapshotDisk::excluded("vdb"));
        let xml = spec.to_xml().unwrap();
        assert!(xml.contains("<disk name=\"vda\" snapshot=\"external\"><source file=\"/o.qcow2\"/></disk>"), "{xml}");
        let info = SnapshotInfo::parse(&xml).unwrap();
        assert_eq!((info.name.as_str(), info.description.as_deref()), ("a & b", Some("x < y")));
    }

    #[test]
    fn hostile_input_is_an_error() {
        assert!(matches!(SnapshotInfo::parse(""), Err(SnapshotError::Xml(_))));
        assert!(matches!(SnapshotInfo::parse("<domainsnapshot><name>"), Err(SnapshotError::Xml(_))));
        let e = SnapshotInfo::parse(
            "<domainsnapshot><name>s</name><creationTime>99999999999999999999</creationTime></domainsnapshot>",
        );
        assert!(matches!(e, Err(SnapshotError::InvalidValue { .. })), "{e:?}");
    }

    #[test]
    fn serde_round_trip() {
        let spec = SnapshotSpec::named("s").disk(SnapshotDisk::internal("vda"));
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<SnapshotSpec>(&json).unwrap(), spec);
    }
}
