//! libvirt storage pool and volume XML, typed: [`PoolSpec`] (`<pool>`) and [`VolumeSpec`]
//! (`<volume>`: qcow2 volumes with a backing file, raw volumes) to write, [`PoolInfo`] and
//! [`VolumeInfo`] read from the XML libvirt returns (`virStoragePoolGetXMLDesc`,
//! `virStorageVolGetXMLDesc`), with typed [`StorageError`]s. Read and written with the same XML
//! layer as the domain model ([`crate::xml`]); kvmhost-libvirt defines pools, creates, clones,
//! uploads and downloads volumes, fills in what only libvirt's calls know (a pool's state) and
//! re-exports these types.
//!
//! ```
//! use kvmhost_core::storage::{PoolSpec, VolumeSpec};
//! assert_eq!(PoolSpec::dir("images", "/var/lib/images").to_xml().unwrap(),
//!     "<pool type=\"dir\"><name>images</name><target><path>/var/lib/images</path></target></pool>");
//! let vol = VolumeSpec::qcow2("vm1.qcow2", 1 << 30).backed_by("/var/lib/images/golden.qcow2", "qcow2");
//! assert!(vol.to_xml().unwrap().contains("<backingStore><path>/var/lib/images/golden.qcow2</path>"));
//! ```

use serde::{Deserialize, Serialize};

use crate::domain::MemoryUnit;
use crate::xml::{Document, Element, XmlError};

fn text_child(parent: &mut Element, name: &str, text: &str) {
    parent.push_element(Element::new(name)).set_text(text);
}

/// A storage pool to define. Only directory pools are typed; any other kind can be defined from
/// raw XML through [`PoolSpec::Xml`].
///
/// ```
/// use kvmhost_core::storage::PoolSpec;
/// let raw = "<pool type='logical'><name>vg0</name></pool>";
/// assert_eq!(PoolSpec::Xml(raw.into()).to_xml().unwrap(), raw);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PoolSpec {
    /// A directory pool (`<pool type='dir'>`).
    Dir {
        /// Pool name.
        name: String,
        /// Directory.
        path: String,
    },
    /// Any pool XML, passed through.
    Xml(String),
}

impl PoolSpec {
    /// A directory pool.
    ///
    /// ```
    /// use kvmhost_core::storage::PoolSpec;
    /// assert!(matches!(PoolSpec::dir("images", "/srv/images"), PoolSpec::Dir { .. }));
    /// ```
    pub fn dir(name: &str, path: &str) -> PoolSpec {
        PoolSpec::Dir { name: name.into(), path: path.into() }
    }

    /// The `<pool>` document (raw XML as given); a value XML cannot carry is an [`XmlError`].
    ///
    /// ```
    /// use kvmhost_core::storage::PoolSpec;
    /// assert!(PoolSpec::dir("a\u{0}", "/p").to_xml().is_err());
    /// ```
    pub fn to_xml(&self) -> Result<String, XmlError> {
        match self {
            PoolSpec::Xml(xml) => Ok(xml.clone()),
            PoolSpec::Dir { name, path } => {
                let mut root = Element::new("pool");
                root.set_attr("type", "dir");
                text_child(&mut root, "name", name);
                text_child(root.push_element(Element::new("target")), "path", path);
                Document::new(root).to_xml()
            }
        }
    }
}

/// A volume to create (`<volume>`).
///
/// ```
/// use kvmhost_core::storage::VolumeSpec;
/// let v = VolumeSpec::raw("swap.img", 1 << 20);
/// assert!(v.to_xml().unwrap().contains("<capacity unit=\"bytes\">1048576</capacity>"));
/// assert!(v.to_xml().unwrap().contains("<format type=\"raw\"/>"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VolumeSpec {
    /// Volume name (the file name in a directory pool).
    pub name: String,
    /// Virtual size in bytes.
    pub capacity: u64,
    /// Bytes to allocate up front (0: sparse).
    pub allocation: u64,
    /// Format: `qcow2`, `raw`, …
    pub format: String,
    /// Backing file (path, format): the volume is a copy-on-write overlay of it.
    pub backing: Option<(String, String)>,
}

impl VolumeSpec {
    /// A sparse qcow2 volume.
    ///
    /// ```
    /// let v = kvmhost_core::storage::VolumeSpec::qcow2("a.qcow2", 1 << 30);
    /// assert_eq!((v.format.as_str(), v.allocation), ("qcow2", 0));
    /// ```
    pub fn qcow2(name: &str, capacity: u64) -> VolumeSpec {
        VolumeSpec { name: name.into(), capacity, allocation: 0, format: "qcow2".into(), backing: None }
    }

    /// A sparse raw volume.
    ///
    /// ```
    /// assert_eq!(kvmhost_core::storage::VolumeSpec::raw("a.img", 1).format, "raw");
    /// ```
    pub fn raw(name: &str, capacity: u64) -> VolumeSpec {
        VolumeSpec { format: "raw".into(), ..VolumeSpec::qcow2(name, capacity) }
    }

    /// Over a backing file (a golden image) of the given format.
    ///
    /// ```
    /// let v = kvmhost_core::storage::VolumeSpec::qcow2("a", 1).backed_by("/g.qcow2", "qcow2");
    /// assert_eq!(v.backing, Some(("/g.qcow2".into(), "qcow2".into())));
    /// ```
    pub fn backed_by(mut self, path: &str, format: &str) -> VolumeSpec {
        self.backing = Some((path.into(), format.into()));
        self
    }

    /// The `<volume>` document; a value XML cannot carry is an [`XmlError`].
    ///
    /// ```
    /// let v = kvmhost_core::storage::VolumeSpec::qcow2("a", 1);
    /// assert!(v.to_xml().unwrap().starts_with("<volume><name>a</name>"));
    /// ```
    pub fn to_xml(&self) -> Result<String, XmlError> {
        let mut root = Element::new("volume");
        text_child(&mut root, "name", &self.name);
        let cap = root.push_element(Element::new("capacity"));
        cap.set_attr("unit", "bytes");
        cap.set_text(self.capacity.to_string());
        let alloc = root.push_element(Element::new("allocation"));
        alloc.set_attr("unit", "bytes");
        alloc.set_text(self.allocation.to_string());
        root.push_element(Element::new("target"))
            .push_element(Element::new("format"))
            .set_attr("type", self.format.as_str());
        if let Some((path, format)) = &self.backing {
            let b = root.push_element(Element::new("backingStore"));
            text_child(b, "path", path);
            b.push_element(Element::new("format")).set_attr("type", format.as_str());
        }
        Document::new(root).to_xml()
    }
}

/// Errors from reading pool or volume XML, naming the element or attribute at fault (or the
/// line and column when the text is not XML).
///
/// ```
/// use kvmhost_core::storage::{PoolInfo, StorageError, VolumeInfo};
/// assert!(matches!(PoolInfo::parse("<pool type='dir'/>"),
///     Err(StorageError::Missing { path }) if path == "/pool/name"));
/// assert!(matches!(VolumeInfo::parse("<pool/>"), Err(StorageError::WrongRoot { .. })));
/// let e = VolumeInfo::parse("<volume>\n<name>a</nam></volume>").unwrap_err();
/// assert_eq!(e.position().map(|(line, _)| line), Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum StorageError {
    /// The text is not well-formed XML (or is over the parser's limits), with its position.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The root element is not the one the document type has.
    #[error("expected a <{expected}> root element, found <{found}>")]
    WrongRoot {
        /// The root element expected (`pool`, `volume`).
        expected: String,
        /// The root element found.
        found: String,
    },
    /// A required element or attribute is absent or empty.
    #[error("missing {path}")]
    Missing {
        /// Its path (`/pool/name`, `/pool/@type`).
        path: String,
    },
    /// A value that does not fit its type.
    #[error("invalid value {value:?} at {path}: expected {expected}")]
    InvalidValue {
        /// Element or attribute path (`/volume/capacity`, `/volume/capacity/@unit`).
        path: String,
        /// The value found.
        value: String,
        /// What was expected.
        expected: String,
    },
}

impl StorageError {
    /// The 1-based line and column of a parse error, when the error has a position.
    ///
    /// ```
    /// use kvmhost_core::storage::PoolInfo;
    /// assert_eq!(PoolInfo::parse("<pool/>").unwrap_err().position(), None);
    /// assert_eq!(PoolInfo::parse("<pool").unwrap_err().position().map(|p| p.0), Some(1));
    /// ```
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            StorageError::Xml(e) => Some((e.line()?, e.column()?)),
            _ => None,
        }
    }
}

/// A pool as libvirt reports it: what its XML says, and its state (which only libvirt's calls
/// give: kvmhost-libvirt fills in `active`, `persistent` and `autostart`).
///
/// ```
/// use kvmhost_core::storage::PoolInfo;
/// let p = PoolInfo::parse("<pool type='dir'><name>default</name>\
///     <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>\
///     <capacity unit='bytes'>107374182400</capacity><allocation unit='bytes'>0</allocation>\
///     <available unit='GiB'>100</available><target><path>/var/lib/images</path></target></pool>").unwrap();
/// assert_eq!((p.name.as_str(), p.kind.as_str(), p.path.as_deref()), ("default", "dir", Some("/var/lib/images")));
/// assert_eq!((p.capacity, p.available), (100 << 30, 100 << 30));
/// assert!(!p.active);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PoolInfo {
    /// Name.
    pub name: String,
    /// UUID (empty when the XML has none; libvirt's always has one).
    pub uuid: String,
    /// Pool type (`dir`, `logical`, `rbd`, …).
    pub kind: String,
    /// Target path, when it has one.
    pub path: Option<String>,
    /// Running (not in the XML: kvmhost-libvirt fills it in).
    pub active: bool,
    /// Persistent (not in the XML: kvmhost-libvirt fills it in).
    pub persistent: bool,
    /// Starts with the host (not in the XML: kvmhost-libvirt fills it in).
    pub autostart: bool,
    /// Size in bytes (0 when the XML has none).
    pub capacity: u64,
    /// Allocated bytes.
    pub allocation: u64,
    /// Free bytes.
    pub available: u64,
}

impl PoolInfo {
    /// Reads `<pool>` XML: name (the source's name when the pool has none, as libvirt reads a
    /// volume group's pool), UUID, type, target path and sizes (in any unit libvirt accepts, as
    /// bytes). `active`, `persistent` and `autostart` are left false.
    ///
    /// ```
    /// use kvmhost_core::storage::{PoolInfo, StorageError};
    /// let e = PoolInfo::parse("<pool type='dir'><name>p</name><capacity unit='parsecs'>1</capacity></pool>");
    /// assert!(matches!(e, Err(StorageError::InvalidValue { path, .. }) if path == "/pool/capacity/@unit"));
    /// ```
    pub fn parse(xml: &str) -> Result<PoolInfo, StorageError> {
        let doc = root(xml, "pool")?;
        let r = &doc.root;
        Ok(PoolInfo {
            // Like libvirt, a pool named by its source (a volume group) takes that name.
            name: match r.child("source").and_then(|src| text(src, "name")) {
                Some(source) if r.child("name").is_none() => source,
                _ => required_text(r, "pool", "name")?,
            },
            uuid: text(r, "uuid").unwrap_or_default(),
            kind: r
                .attr("type")
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| StorageError::Missing { path: "/pool/@type".into() })?
                .to_string(),
            path: r.child("target").and_then(|t| text(t, "path")),
            active: false,
            persistent: false,
            autostart: false,
            capacity: bytes(r, "pool", "capacity")?,
            allocation: bytes(r, "pool", "allocation")?,
            available: bytes(r, "pool", "available")?,
        })
    }
}

/// A volume as libvirt reports it (everything here is in its XML).
///
/// ```
/// use kvmhost_core::storage::VolumeInfo;
/// let v = VolumeInfo::parse("<volume type='file'><name>vm1.qcow2</name>\
///     <key>/var/lib/images/vm1.qcow2</key><capacity unit='bytes'>1073741824</capacity>\
///     <allocation unit='KiB'>196</allocation><target><path>/var/lib/images/vm1.qcow2</path>\
///     <format type='qcow2'/></target><backingStore><path>/var/lib/images/golden.qcow2</path>\
///     <format type='qcow2'/></backingStore></volume>").unwrap();
/// assert_eq!((v.capacity, v.allocation), (1 << 30, 196 * 1024));
/// assert_eq!(v.format.as_deref(), Some("qcow2"));
/// assert_eq!(v.backing.as_deref(), Some("/var/lib/images/golden.qcow2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VolumeInfo {
    /// Name.
    pub name: String,
    /// Key (unique on the host; the path for file volumes). Empty when the XML has none.
    pub key: String,
    /// Path (`<target><path>`). Empty when the XML has none.
    pub path: String,
    /// Format (`qcow2`, `raw`).
    pub format: Option<String>,
    /// Backing file.
    pub backing: Option<String>,
    /// Virtual size in bytes.
    pub capacity: u64,
    /// Allocated bytes.
    pub allocation: u64,
}

impl VolumeInfo {
    /// Reads `<volume>` XML: name, key, target path and format, backing file and sizes (in any
    /// unit libvirt accepts, as bytes).
    ///
    /// ```
    /// use kvmhost_core::storage::{StorageError, VolumeInfo};
    /// let e = VolumeInfo::parse("<volume><name>v</name><capacity>lots</capacity></volume>");
    /// assert!(matches!(e, Err(StorageError::InvalidValue { path, value, .. })
    ///     if path == "/volume/capacity" && value == "lots"));
    /// ```
    pub fn parse(xml: &str) -> Result<VolumeInfo, StorageError> {
        let doc = root(xml, "volume")?;
        let r = &doc.root;
        let format = |parent: Option<&Element>| {
            parent.and_then(|t| t.child("format")).and_then(|f| f.attr("type")).map(String::from)
        };
        let target = r.child("target");
        Ok(VolumeInfo {
            name: required_text(r, "volume", "name")?,
            key: text(r, "key").unwrap_or_default(),
            path: target.and_then(|t| text(t, "path")).unwrap_or_default(),
            format: format(target),
            backing: r.child("backingStore").and_then(|b| text(b, "path")),
            capacity: bytes(r, "volume", "capacity")?,
            allocation: bytes(r, "volume", "allocation")?,
        })
    }
}

/// Parses `xml` and checks its root element is `<name>`.
fn root(xml: &str, name: &str) -> Result<Document, StorageError> {
    let doc = Document::parse(xml)?;
    if doc.root.name != name {
        return Err(StorageError::WrongRoot { expected: name.into(), found: doc.root.name.to_string() });
    }
    Ok(doc)
}

/// The trimmed text of child `<child>`, when present and not empty.
fn text(el: &Element, child: &str) -> Option<String> {
    el.child(child).map(|c| c.text().trim().to_string()).filter(|t| !t.is_empty())
}

fn required_text(el: &Element, root: &str, child: &str) -> Result<String, StorageError> {
    text(el, child).ok_or_else(|| StorageError::Missing { path: format!("/{root}/{child}") })
}

/// A size element (`<capacity unit='GiB'>10</capacity>`) in bytes; libvirt's storage default
/// unit is bytes. 0 when absent.
fn bytes(el: &Element, root: &str, child: &str) -> Result<u64, StorageError> {
    let Some(c) = el.child(child) else { return Ok(0) };
    let path = format!("/{root}/{child}");
    let unit = match c.attr("unit").map(str::trim).filter(|u| !u.is_empty()) {
        None => 1,
        Some(u) => u.parse::<MemoryUnit>().map(|u| u.bytes_per_unit()).map_err(|_| StorageError::InvalidValue {
            path: format!("{path}/@unit"),
            value: u.to_string(),
            expected: "a unit libvirt accepts (bytes, KiB, MB, G, …)".into(),
        })?,
    };
    let value = c.text();
    let invalid = || StorageError::InvalidValue {
        path: path.clone(),
        value: value.clone(),
        expected: "a non-negative integer of at most 2^64 - 1 bytes".into(),
    };
    let n: u128 = value.trim().parse().map_err(|_| invalid())?;
    n.checked_mul(unit).and_then(|b| u64::try_from(b).ok()).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libvirt_output_reads_back() {
        // virsh -c test:///default pool-dumpxml default-pool (libvirt 9.0).
        let p = PoolInfo::parse(
            "<pool type='dir'>\n  <name>default-pool</name>\n  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>\n  \
             <capacity unit='bytes'>107374182400</capacity>\n  <allocation unit='bytes'>0</allocation>\n  \
             <available unit='bytes'>107374182400</available>\n  <source>\n  </source>\n  <target>\n    \
             <path>/default-pool</path>\n  </target>\n</pool>\n",
        )
        .unwrap();
        assert_eq!(p.uuid, "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566");
        assert_eq!((p.capacity, p.allocation, p.available), (107374182400, 0, 107374182400));
        assert_eq!(p.path.as_deref(), Some("/default-pool"));
        let v = VolumeInfo::parse(
            "<volume type='file'>\n  <name>raw.img</name>\n  <key>/p/raw.img</key>\n  <source>\n  </source>\n  \
             <capacity unit='bytes'>1048576</capacity>\n  <allocation unit='bytes'>1048576</allocation>\n  \
             <target>\n    <path>/p/raw.img</path>\n    <format type='raw'/>\n  </target>\n</volume>\n",
        )
        .unwrap();
        assert_eq!((v.key.as_str(), v.path.as_str(), v.format.as_deref()), ("/p/raw.img", "/p/raw.img", Some("raw")));
        assert_eq!(v.backing, None);
    }

    #[test]
    fn written_specs_read_back() {
        let spec = VolumeSpec::qcow2("a.qcow2", 5 << 30).backed_by("/g.qcow2", "qcow2");
        let v = VolumeInfo::parse(&spec.to_xml().unwrap()).unwrap();
        assert_eq!((v.name.as_str(), v.capacity, v.allocation), ("a.qcow2", 5 << 30, 0));
        assert_eq!((v.format.as_deref(), v.backing.as_deref()), (Some("qcow2"), Some("/g.qcow2")));
        assert_eq!(v.key, "");
        let p = PoolInfo::parse(&PoolSpec::dir("images", "/srv/images").to_xml().unwrap()).unwrap();
        assert_eq!((p.name.as_str(), p.kind.as_str(), p.path.as_deref()), ("images", "dir", Some("/srv/images")));
        assert_eq!((p.uuid.as_str(), p.capacity), ("", 0));
    }

    #[test]
    fn units_are_libvirts() {
        let cap = |unit: &str, n: &str| {
            VolumeInfo::parse(&format!("<volume><name>v</name><capacity unit='{unit}'>{n}</capacity></volume>"))
                .map(|v| v.capacity)
        };
        assert_eq!(cap("G", "2"), Ok(2 << 30));
        assert_eq!(cap("GB", "2"), Ok(2_000_000_000));
        assert_eq!(cap("KiB", " 4 "), Ok(4096));
        assert_eq!(cap("b", "7"), Ok(7));
        assert_eq!(cap("E", "15"), Ok(15 << 60));
        for (unit, n) in [("E", "16"), ("bytes", "18446744073709551616"), ("k", "-1"), ("k", "1.5"), ("k", "")] {
            assert!(matches!(cap(unit, n), Err(StorageError::InvalidValue { .. })), "{unit} {n}");
        }
    }

    #[test]
    fn hostile_input_is_a_typed_error() {
        for xml in ["", "<", "<pool", "<pool type='dir'><name>p</pool>", "<?xml version='1.0'?>", "\u{0}"] {
            assert!(matches!(PoolInfo::parse(xml), Err(StorageError::Xml(_))), "{xml:?}");
            assert!(matches!(VolumeInfo::parse(xml), Err(StorageError::Xml(_))), "{xml:?}");
        }
        assert_eq!(
            PoolInfo::parse("<pool><name>p</name></pool>"),
            Err(StorageError::Missing { path: "/pool/@type".into() })
        );
        let vg = PoolInfo::parse("<pool type='logical'><source><name>vg0</name></source></pool>").unwrap();
        assert_eq!(vg.name, "vg0");
        assert_eq!(
            PoolInfo::parse("<pool type='logical'><name/><source><name>vg0</name></source></pool>"),
            Err(StorageError::Missing { path: "/pool/name".into() })
        );
        assert_eq!(
            VolumeInfo::parse("<volume><name> </name></volume>"),
            Err(StorageError::Missing { path: "/volume/name".into() })
        );
        let deep = format!("<volume>{}{}</volume>", "<a>".repeat(100_000), "</a>".repeat(100_000));
        assert!(VolumeInfo::parse(&deep).is_err());
    }

    #[test]
    fn serde_round_trip() {
        let p = PoolInfo::parse("<pool type='dir'><name>p</name><target><path>/p</path></target></pool>").unwrap();
        assert_eq!(serde_json::from_str::<PoolInfo>(&serde_json::to_string(&p).unwrap()).unwrap(), p);
        let v = VolumeInfo::parse("<volume><name>v</name></volume>").unwrap();
        assert_eq!(serde_json::from_str::<VolumeInfo>(&serde_json::to_string(&v).unwrap()).unwrap(), v);
        let e = PoolInfo::parse("<x/>").unwrap_err();
        assert_eq!(serde_json::from_str::<StorageError>(&serde_json::to_string(&e).unwrap()).unwrap(), e);
    }
}
