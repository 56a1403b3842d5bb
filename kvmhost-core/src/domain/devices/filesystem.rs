//! `<filesystem>`: host directories / images shared with the guest (virtiofs, 9p, …).

use serde::{Deserialize, Serialize};

use crate::domain::codec::{
    attr_part, attr_string, child_part, child_part_named, set_attr, set_child, set_child_named, set_flag_child,
    ElementPath, XmlPart,
};
use crate::domain::devices::common::{Address, Alias, DeviceBoot};
use crate::domain::error::DomainError;
use crate::domain::memory::Memory;
use crate::xml::Element;

attr_part! {
    /// Filesystem driver (`<driver type='virtiofs' queue='1024'/>`).
    pub struct FilesystemDriver = "driver" {
        /// `type` (path / handle / loop / nbd / ploop / virtiofs / mtp).
        driver_type: String = "type",
        /// `format`.
        format: String = "format",
        /// `wrpolicy` (immediate).
        wrpolicy: String = "wrpolicy",
        /// `queue` size.
        queue: u32 = "queue",
        /// `iommu`.
        iommu: String = "iommu",
        /// `ats`.
        ats: String = "ats",
        /// `packed`.
        packed: String = "packed",
        /// `page_per_vq`.
        page_per_vq: String = "page_per_vq",
    }
}

attr_part! {
    /// `<cache mode='always'/>` of virtiofsd.
    pub struct FilesystemCache = "cache" {
        /// `mode` (none / always).
        mode: String = "mode",
    }
}

attr_part! {
    /// `<sandbox mode='chroot'/>` of virtiofsd.
    pub struct FilesystemSandbox = "sandbox" {
        /// `mode` (namespace / chroot).
        mode: String = "mode",
    }
}

attr_part! {
    /// `<lock posix='on' flock='on'/>` of virtiofsd.
    pub struct FilesystemLock = "lock" {
        /// `posix`.
        posix: String = "posix",
        /// `flock`.
        flock: String = "flock",
    }
}

attr_part! {
    /// `<thread_pool size='16'/>` of virtiofsd.
    pub struct FilesystemThreadPool = "thread_pool" {
        /// `size`.
        size: u32 = "size",
    }
}

/// The virtiofsd daemon options (`<binary path='…' xattr='on'><cache mode='always'/></binary>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FilesystemBinary {
    /// `path`.
    pub path: Option<String>,
    /// `xattr` (on / off).
    pub xattr: Option<String>,
    /// `<cache>`.
    pub cache: Option<FilesystemCache>,
    /// `<sandbox>`.
    pub sandbox: Option<FilesystemSandbox>,
    /// `<lock>`.
    pub lock: Option<FilesystemLock>,
    /// `<thread_pool>`.
    pub thread_pool: Option<FilesystemThreadPool>,
}

impl XmlPart for FilesystemBinary {
    const TAG: &'static str = "binary";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(FilesystemBinary {
            path: attr_string(el, "path"),
            xattr: attr_string(el, "xattr"),
            cache: child_part(el, path)?,
            sandbox: child_part(el, path)?,
            lock: child_part(el, path)?,
            thread_pool: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        const O: &[&str] = &["cache", "sandbox", "lock", "thread_pool"];
        set_attr(el, "path", self.path.as_deref());
        set_attr(el, "xattr", self.xattr.as_deref());
        set_child(el, self.cache.as_ref(), O);
        set_child(el, self.sandbox.as_ref(), O);
        set_child(el, self.lock.as_ref(), O);
        set_child(el, self.thread_pool.as_ref(), O);
    }
}

attr_part! {
    /// What is shared (`<source dir='/srv/share'/>`, `file`, `name`, `socket`, or RAM `usage`).
    pub struct FilesystemSource = "source" {
        /// `dir` (mount).
        dir: String = "dir",
        /// `file` (file / loop images).
        file: String = "file",
        /// `name` (template / volume / block).
        name: String = "name",
        /// `dev` (block).
        dev: String = "dev",
        /// `pool` (volume).
        pool: String = "pool",
        /// `volume` (volume).
        volume: String = "volume",
        /// `socket` (externally launched virtiofsd).
        socket: String = "socket",
        /// `usage` (ram).
        usage: String = "usage",
        /// `units` (ram).
        units: String = "units",
    }
}

attr_part! {
    /// Where the guest sees it (`<target dir='share_tag'/>`).
    pub struct FilesystemTarget = "target" {
        /// `dir`: mount tag or guest path.
        dir: String = "dir",
    }
}

/// A `<filesystem>` device.
///
/// ```
/// use kvmhost_core::domain::{Filesystem, XmlPart};
/// let fs = Filesystem::virtiofs("/srv/share", "share");
/// let el = fs.to_element();
/// assert_eq!(el.attr("type"), Some("mount"));
/// assert_eq!(el.child("driver").unwrap().attr("type"), Some("virtiofs"));
/// assert_eq!(el.child("target").unwrap().attr("dir"), Some("share"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Filesystem {
    /// `type` (mount / file / block / template / ram / bind / volume).
    pub fs_type: Option<String>,
    /// `accessmode` (passthrough / mapped / squash).
    pub accessmode: Option<String>,
    /// `model` (virtio / virtio-transitional / …).
    pub model: Option<String>,
    /// `multidevs` (default / remap / forbid / warn).
    pub multidevs: Option<String>,
    /// `fmode` (octal).
    pub fmode: Option<String>,
    /// `dmode` (octal).
    pub dmode: Option<String>,
    /// `<driver>`.
    pub driver: Option<FilesystemDriver>,
    /// `<binary>`.
    pub binary: Option<FilesystemBinary>,
    /// `<idmap>`.
    pub idmap: Option<crate::domain::platform::Idmap>,
    /// `<source>`.
    pub source: Option<FilesystemSource>,
    /// `<target>`.
    pub target: Option<FilesystemTarget>,
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<space_hard_limit>`.
    pub space_hard_limit: Option<Memory>,
    /// `<space_soft_limit>`.
    pub space_soft_limit: Option<Memory>,
    /// `<boot>`.
    pub boot: Option<DeviceBoot>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<address>`.
    pub address: Option<Address>,
}

impl Filesystem {
    /// Canonical child order (libvirt's formatter).
    pub const ORDER: &'static [&'static str] = &[
        "driver",
        "binary",
        "idmap",
        "source",
        "target",
        "readonly",
        "space_hard_limit",
        "space_soft_limit",
        "boot",
        "alias",
        "address",
    ];

    /// A host directory shared over virtiofs under mount tag `tag` (needs shared memory
    /// backing in the domain).
    pub fn virtiofs(dir: impl Into<String>, tag: impl Into<String>) -> Filesystem {
        Filesystem {
            fs_type: Some("mount".into()),
            accessmode: Some("passthrough".into()),
            driver: Some(FilesystemDriver { driver_type: Some("virtiofs".into()), ..FilesystemDriver::default() }),
            source: Some(FilesystemSource { dir: Some(dir.into()), ..FilesystemSource::default() }),
            target: Some(FilesystemTarget { dir: Some(tag.into()) }),
            ..Filesystem::default()
        }
    }
}

impl XmlPart for Filesystem {
    const TAG: &'static str = "filesystem";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Filesystem {
            fs_type: attr_string(el, "type"),
            accessmode: attr_string(el, "accessmode"),
            model: attr_string(el, "model"),
            multidevs: attr_string(el, "multidevs"),
            fmode: attr_string(el, "fmode"),
            dmode: attr_string(el, "dmode"),
            driver: child_part(el, path)?,
            binary: child_part(el, path)?,
            idmap: child_part(el, path)?,
            source: child_part(el, path)?,
            target: child_part(el, path)?,
            readonly: el.child("readonly").is_some(),
            space_hard_limit: child_part_named(el, "space_hard_limit", path)?,
            space_soft_limit: child_part_named(el, "space_soft_limit", path)?,
            boot: child_part(el, path)?,
            alias: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }

    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.fs_type.as_deref());
        set_attr(el, "accessmode", self.accessmode.as_deref());
        set_attr(el, "model", self.model.as_deref());
        set_attr(el, "multidevs", self.multidevs.as_deref());
        set_attr(el, "fmode", self.fmode.as_deref());
        set_attr(el, "dmode", self.dmode.as_deref());
        let o = Filesystem::ORDER;
        set_child(el, self.driver.as_ref(), o);
        set_child(el, self.binary.as_ref(), o);
        set_child(el, self.idmap.as_ref(), o);
        set_child(el, self.source.as_ref(), o);
        set_child(el, self.target.as_ref(), o);
        set_flag_child(el, "readonly", self.readonly, o);
        for (name, size) in [("space_hard_limit", &self.space_hard_limit), ("space_soft_limit", &self.space_soft_limit)]
        {
            set_child_named(el, name, size.as_ref(), o);
        }
        set_child(el, self.boot.as_ref(), o);
        set_child(el, self.alias.as_ref(), o);
        set_child(el, self.address.as_ref(), o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn virtiofs_with_binary_round_trips() {
        let xml = "<filesystem type='mount' accessmode='passthrough'>\n  <driver type='virtiofs' queue='1024'/>\n  \
                   <binary path='/usr/libexec/virtiofsd' xattr='on'>\n    <cache mode='always'/>\n    \
                   <lock posix='on' flock='on'/>\n  </binary>\n  <source dir='/path'/>\n  <target dir='mount_tag'/>\n  \
                   <space_hard_limit unit='KiB'>1024</space_hard_limit>\n  <readonly/>\n</filesystem>";
        let d = Document::parse(xml).unwrap();
        let fs = Filesystem::decode(&d.root, &ElementPath::root("filesystem")).unwrap();
        assert_eq!(fs.driver.as_ref().unwrap().queue, Some(1024));
        assert_eq!(fs.binary.as_ref().unwrap().lock.as_ref().unwrap().flock.as_deref(), Some("on"));
        assert!(fs.readonly);
        let mut el = d.root.clone();
        fs.encode_into(&mut el);
        assert_eq!(Document::new(el).to_xml().unwrap(), d.to_xml().unwrap());
        let fresh = fs.to_element();
        assert!(fresh.child("space_hard_limit").is_some());
    }
}
