//! libvirt storage pool and volume XML, typed: [`PoolSpec`] (`<pool>`) and [`VolumeSpec`]
//! (`<volume>`: qcow2 volumes with a backing file, raw volumes). Written with the same XML
//! layer as the domain model ([`crate::xml`]); kvmhost-libvirt defines pools, creates, clones,
//! uploads and downloads volumes and re-exports these types.
//!
//! ```
//! use kvmhost_core::storage::{PoolSpec, VolumeSpec};
//! assert_eq!(PoolSpec::dir("images", "/var/lib/images").to_xml().unwrap(),
//!     "<pool type=\"dir\"><name>images</name><target><path>/var/lib/images</path></target></pool>");
//! let vol = VolumeSpec::qcow2("vm1.qcow2", 1 << 30).backed_by("/var/lib/images/golden.qcow2", "qcow2");
//! assert!(vol.to_xml().unwrap().contains("<backingStore><path>/var/lib/images/golden.qcow2</path>"));
//! ```

use serde::{Deserialize, Serialize};

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
