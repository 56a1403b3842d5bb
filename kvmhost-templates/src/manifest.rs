//! The manifest of a native package: what the package holds and how to check it.
//!
//! It is the first member of the tar stream (`manifest.json`), optionally followed by a
//! minisign signature over its exact bytes (`manifest.json.minisig`). It carries the domain
//! XML and snapshot XML themselves, the appliance's metadata, and the size and SHA-256 of every
//! disk member, so one signature covers the whole package.
//!
//! ```
//! use kvmhost_templates::manifest::{Manifest, Metadata};
//! let m = Manifest::new(Metadata::named("web"), "<domain type='kvm'><name>web</name></domain>".into());
//! let json = m.to_json();
//! let back = Manifest::from_json(&json, &kvmhost_templates::Limits::default()).unwrap();
//! assert_eq!(back, m);
//! ```

use serde::{Deserialize, Serialize};

use crate::Limits;

/// Name of the manifest member.
pub const MANIFEST_NAME: &str = "manifest.json";
/// Name of the signature member.
pub const SIGNATURE_NAME: &str = "manifest.json.minisig";
/// Directory of disk members inside the package.
pub const DISK_DIR: &str = "disks/";
/// The `format` value of a manifest.
pub const FORMAT: &str = "kvmhost-vmcast";
/// The manifest version this crate writes and reads.
pub const VERSION: u32 = 1;
/// File names an unpacked package uses for itself; disks may not take them.
pub const RESERVED_NAMES: &[&str] = &["domain.xml", "description.xml", MANIFEST_NAME, SIGNATURE_NAME];

/// Errors of manifests and of names inside packages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not JSON of the manifest's shape.
    #[error("manifest is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// A manifest of another format or version.
    #[error("manifest has format {format:?} version {version}, expected {FORMAT:?} version {VERSION}")]
    Version {
        /// The format found.
        format: String,
        /// The version found.
        version: u32,
    },
    /// A name that could escape the target or collide.
    #[error("unsafe name {name:?}: {reason}")]
    UnsafeName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// Two disks with one name.
    #[error("disk {0:?} is listed twice")]
    Duplicate(String),
    /// Beyond the limits.
    #[error("manifest exceeds a limit: {0}")]
    Limit(String),
    /// The domain XML does not parse (or exceeds [`xml_limits`]).
    #[error("manifest's domain XML is invalid")]
    Domain(#[source] kvmhost_core::domain::DomainError),
    /// A snapshot's XML does not parse (or exceeds [`xml_limits`]).
    #[error("manifest's snapshot {index} is invalid XML")]
    Snapshot {
        /// Its index in [`Manifest::snapshots`].
        index: usize,
        /// Why.
        #[source]
        source: kvmhost_core::xml::XmlError,
    },
}

/// Descriptive metadata of an appliance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Metadata {
    /// Appliance name (a feed item's title).
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Appliance version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Guest operating system (`debian12`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Least memory the appliance runs with, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_memory_mib: Option<u64>,
    /// Fewest vCPUs the appliance runs with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_vcpus: Option<u32>,
    /// When the package was made (RFC 3339, UTC).
    #[serde(default)]
    pub created_at: String,
}

impl Metadata {
    /// Metadata with a name, created now.
    pub fn named(name: &str) -> Metadata {
        Metadata { name: name.to_string(), created_at: crate::date::rfc3339(crate::date::now()), ..Metadata::default() }
    }
}

/// One disk member of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskEntry {
    /// The image's file name (one path component), matched to the domain's disks by basename.
    pub file_name: String,
    /// Size of the member (sparse header + data).
    pub size: u64,
    /// SHA-256 of the member, lower-case hex.
    pub sha256: String,
    /// Apparent size of the image, holes included.
    pub apparent_size: u64,
    /// Bytes of data in the image (holes excluded).
    pub data_bytes: u64,
}

impl DiskEntry {
    /// The member's name in the tar stream (`disks/FILE`).
    pub fn member_name(&self) -> String {
        format!("{DISK_DIR}{}", self.file_name)
    }
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// Appliance metadata.
    pub metadata: Metadata,
    /// The libvirt domain XML.
    pub domain_xml: String,
    /// Snapshot XML documents, in order (`snapshot-0.xml`, …).
    #[serde(default)]
    pub snapshots: Vec<String>,
    /// Disk members, in the order they follow in the stream.
    #[serde(default)]
    pub disks: Vec<DiskEntry>,
}

impl Manifest {
    /// A manifest without disks.
    pub fn new(metadata: Metadata, domain_xml: String) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            metadata,
            domain_xml,
            snapshots: Vec::new(),
            disks: Vec::new(),
        }
    }

    /// The JSON bytes written into packages (and signed).
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("a manifest serialises");
        v.push(b'\n');
        v
    }

    /// Parses and checks a manifest: format and version, names, limits, domain XML.
    pub fn from_json(bytes: &[u8], limits: &Limits) -> Result<Manifest, ManifestError> {
        let m: Manifest = serde_json::from_slice(bytes)?;
        m.validate(limits)?;
        Ok(m)
    }

    /// Checks everything [`Manifest::from_json`] checks.
    pub fn validate(&self, limits: &Limits) -> Result<(), ManifestError> {
        if self.format != FORMAT || self.version != VERSION {
            return Err(ManifestError::Version { format: self.format.clone(), version: self.version });
        }
        if self.disks.len() as u64 + self.snapshots.len() as u64 + 2 > limits.max_members {
            return Err(ManifestError::Limit(format!("more than {} members", limits.max_members)));
        }
        if self.domain_xml.len() as u64 > limits.max_xml_bytes
            || self.snapshots.iter().any(|s| s.len() as u64 > limits.max_xml_bytes)
        {
            return Err(ManifestError::Limit(format!("an XML document over {} bytes", limits.max_xml_bytes)));
        }
        parse_domain(&self.domain_xml).map_err(ManifestError::Domain)?;
        for (index, s) in self.snapshots.iter().enumerate() {
            parse_xml(s).map_err(|source| ManifestError::Snapshot { index, source })?;
        }
        let mut seen = std::collections::HashSet::new();
        let mut total: u64 = 0;
        for d in &self.disks {
            check_file_name(&d.file_name)?;
            if !seen.insert(d.file_name.as_str()) {
                return Err(ManifestError::Duplicate(d.file_name.clone()));
            }
            if d.apparent_size > limits.max_disk_size {
                return Err(ManifestError::Limit(format!(
                    "disk {} larger than {} bytes",
                    d.file_name, limits.max_disk_size
                )));
            }
            if d.data_bytes > d.apparent_size || d.size < crate::sparse::FIXED_HEADER + d.data_bytes {
                return Err(ManifestError::Limit(format!("disk {} has inconsistent sizes", d.file_name)));
            }
            if d.sha256.len() != 64 || !d.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ManifestError::Limit(format!("disk {} has a malformed SHA-256", d.file_name)));
            }
            total = total.saturating_add(d.data_bytes);
        }
        if total > limits.max_total_bytes {
            return Err(ManifestError::Limit(format!("more than {} bytes of data", limits.max_total_bytes)));
        }
        Ok(())
    }
}

/// Deepest element nesting accepted in a package's XML (libvirt's documents nest less than 20).
pub const MAX_XML_DEPTH: usize = 256;

/// The parser limits for a package's XML: `kvmhost_core`'s defaults (nesting, attributes per
/// element, name and text lengths) with the depth at [`MAX_XML_DEPTH`]. A document over one is
/// refused with [`XmlError::LimitExceeded`](kvmhost_core::xml::XmlError::LimitExceeded), naming
/// the limit and its position, in time and memory linear in its size.
///
/// ```
/// use kvmhost_core::xml::{Limit, XmlError};
/// use kvmhost_core::domain::DomainError;
/// use kvmhost_templates::manifest::{parse_domain, xml_limits, MAX_XML_DEPTH};
/// assert_eq!(xml_limits().max_depth, MAX_XML_DEPTH);
/// assert!(parse_domain("<domain><name>a</name></domain>").is_ok());
/// let deep = "<a>".repeat(1_000_000);
/// let err = parse_domain(&deep).unwrap_err();
/// assert!(matches!(err, DomainError::Xml(XmlError::LimitExceeded { limit: Limit::Depth, line: 1, column: 769, .. })), "{err}");
/// ```
pub fn xml_limits() -> kvmhost_core::xml::Limits {
    kvmhost_core::xml::Limits::default().with_max_depth(MAX_XML_DEPTH)
}

/// Parses untrusted domain XML within [`xml_limits`].
pub fn parse_domain(xml: &str) -> Result<kvmhost_core::domain::Domain, kvmhost_core::domain::DomainError> {
    kvmhost_core::domain::Domain::parse_with(xml, &xml_limits())
}

/// Parses other untrusted XML (a snapshot) within [`xml_limits`].
pub fn parse_xml(xml: &str) -> Result<kvmhost_core::xml::Document, kvmhost_core::xml::XmlError> {
    kvmhost_core::xml::Document::parse_with(xml, &xml_limits())
}

/// Checks that `name` is one safe path component for a file inside a target directory: not
/// empty, no `/`, `\` or NUL, not `.`/`..`, no leading dot (staging files start with one), no
/// control characters, at most 255 bytes, and not one of [`RESERVED_NAMES`] or `snapshot-N.xml`.
pub fn check_file_name(name: &str) -> Result<(), ManifestError> {
    let bad = |reason| Err(ManifestError::UnsafeName { name: name.to_string(), reason });
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > 255 {
        return bad("longer than 255 bytes");
    }
    if name.starts_with('/') {
        return bad("absolute path");
    }
    if name == ".." || name.starts_with("../") || name.contains("/../") || name.ends_with("/..") {
        return bad("path traversal");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("more than one path component");
    }
    if name.starts_with('.') {
        return bad("starts with a dot");
    }
    if name.chars().any(|c| c.is_control()) {
        return bad("control character");
    }
    if RESERVED_NAMES.contains(&name) || is_snapshot_name(name) {
        return bad("reserved for the package's own files");
    }
    Ok(())
}

/// `snapshot-N.xml` with N a decimal number.
pub fn is_snapshot_name(name: &str) -> bool {
    name.strip_prefix("snapshot-")
        .and_then(|r| r.strip_suffix(".xml"))
        .is_some_and(|n| !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_refused() {
        for bad in ["", "..", "../x", "/etc/passwd", "a/b", ".hidden", "a\nb", "domain.xml", "snapshot-0.xml", "a\\b"] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
        for good in ["vda.qcow2", "disk 1.img", "débian.raw", "snapshot-x.xml"] {
            assert!(check_file_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn manifests_are_checked() {
        let limits = Limits::default();
        let mut m = Manifest::new(Metadata::named("a"), "<domain/>".into());
        m.disks.push(DiskEntry {
            file_name: "a.img".into(),
            size: 32,
            sha256: "0".repeat(64),
            apparent_size: 10,
            data_bytes: 0,
        });
        assert!(Manifest::from_json(&m.to_json(), &limits).is_ok());
        let mut dup = m.clone();
        dup.disks.push(dup.disks[0].clone());
        assert!(matches!(Manifest::from_json(&dup.to_json(), &limits), Err(ManifestError::Duplicate(_))));
        let mut v = m.clone();
        v.version = 9;
        assert!(matches!(Manifest::from_json(&v.to_json(), &limits), Err(ManifestError::Version { .. })));
        let mut x = m.clone();
        x.domain_xml = "<network/>".into();
        assert!(matches!(Manifest::from_json(&x.to_json(), &limits), Err(ManifestError::Domain(_))));
        let mut big = m;
        big.disks[0].apparent_size = u64::MAX;
        assert!(matches!(Manifest::from_json(&big.to_json(), &limits), Err(ManifestError::Limit(_))));
        assert!(Manifest::from_json(b"{\"format\": 1", &limits).is_err());
    }
}
