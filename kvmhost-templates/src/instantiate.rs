//! A new VM from an unpacked appliance: new name and UUID, fresh MAC addresses (52:54:00, the
//! QEMU/KVM prefix), disk sources pointed at the VM's directory — the images themselves, or
//! qcow2 overlays on the unpacked images used as golden bases — and the domain XML written next
//! to them, ready to define (with the `libvirt` feature: [`define`]). With the `libvirt`
//! feature the disks can also go into a libvirt storage pool instead of a directory
//! (`instantiate_in_pool`: new volumes, the data streamed into them).
//!
//! Disks are matched as Archipel's installer matched them: a `<disk type='file'>` whose
//! `<source file>` has the basename (with `.gz` removed) of an image in the package. Disks that
//! match nothing (an installation ISO on the packing host, say) are left as they are and listed
//! in [`Instance::unmatched`].

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use kvmhost_core::domain::Domain;
use kvmhost_core::xml::Element;
use serde::{Deserialize, Serialize};

use crate::archive::Package;
use crate::fsutil::atomic_write;

/// Errors of instantiation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstantiateError {
    /// A name that cannot be a domain and file name.
    #[error("invalid VM name {0:?}")]
    BadName(String),
    /// An image of the package has no file (the package was only verified, not unpacked).
    #[error("disk {0} was not unpacked")]
    NotUnpacked(String),
    /// A file operation failed.
    #[error("{context}")]
    Io {
        /// What.
        context: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `qemu-img` failed.
    #[error("qemu-img failed for {overlay}: {message}")]
    QemuImg {
        /// The overlay being made.
        overlay: String,
        /// Its stderr.
        message: String,
    },
    /// What was asked cannot be done that way.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The domain cannot be written.
    #[error("domain XML: {0}")]
    Domain(#[from] kvmhost_core::domain::DomainError),
    /// libvirt refused the domain.
    #[cfg(feature = "libvirt")]
    #[error("libvirt: {0}")]
    Libvirt(#[from] kvmhost_libvirt::LibvirtError),
}

/// How the VM gets its disks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DiskMode {
    /// Use the unpacked images themselves (moved or sparse-copied into the VM's directory when
    /// they are elsewhere).
    Images,
    /// Leave the unpacked images as read-only golden bases and give the VM qcow2 overlays on
    /// them (`qemu-img create -f qcow2 -b BASE -F FORMAT`).
    Overlay,
}

/// Options of [`instantiate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InstantiateOptions {
    /// The new domain's name (also the XML file's name: `NAME.xml`).
    pub name: String,
    /// The new UUID (a random one when `None`).
    pub uuid: Option<uuid::Uuid>,
    /// Images or overlays.
    pub disk_mode: DiskMode,
    /// The `qemu-img` program.
    pub qemu_img: PathBuf,
}

impl InstantiateOptions {
    /// A VM named `name` using the images, with a random UUID.
    pub fn new(name: &str) -> InstantiateOptions {
        InstantiateOptions { name: name.into(), uuid: None, disk_mode: DiskMode::Images, qemu_img: "qemu-img".into() }
    }

    /// The same with qcow2 overlays on the unpacked images.
    pub fn overlay(mut self) -> InstantiateOptions {
        self.disk_mode = DiskMode::Overlay;
        self
    }
}

/// The VM made by [`instantiate`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Instance {
    /// The domain, ready to define.
    pub domain: Domain,
    /// Where its XML was written (`DIR/NAME.xml`).
    pub xml_path: PathBuf,
    /// The disk files the domain now uses.
    pub disks: Vec<PathBuf>,
    /// Source files of disks that matched no image of the package (left unchanged).
    pub unmatched: Vec<String>,
    /// The new MAC addresses, in interface order.
    pub macs: Vec<String>,
}

/// A random locally-administered KVM MAC address (`52:54:00:xx:xx:xx`).
pub fn random_mac() -> String {
    let b = uuid::Uuid::new_v4().into_bytes();
    format!("52:54:00:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
}

/// Gives every `<interface>` of the domain a fresh, distinct `52:54:00` MAC (adding `<mac>`
/// where there is none); returns them in interface order. Works on the XML tree only, so it is
/// independent of the typed `Interface` model.
///
/// ```
/// use kvmhost_core::domain::Domain;
/// let mut d = Domain::parse("<domain><devices><interface type='network'><mac address='de:ad:00:00:00:01'/>\
///     </interface><interface type='user'/></devices></domain>").unwrap();
/// let macs = kvmhost_templates::instantiate::rewrite_macs(&mut d);
/// assert_eq!(macs.len(), 2);
/// assert!(macs.iter().all(|m| m.starts_with("52:54:00:")) && macs[0] != macs[1]);
/// assert!(!d.to_xml().unwrap().contains("de:ad"));
/// ```
pub fn rewrite_macs(domain: &mut Domain) -> Vec<String> {
    let mut used = HashSet::new();
    let mut out = Vec::new();
    let Some(devices) = domain.root_mut().child_mut("devices") else { return out };
    for nic in devices.elements_mut().filter(|e| e.name == "interface") {
        let mac = loop {
            let m = random_mac();
            if used.insert(m.clone()) {
                break m;
            }
        };
        match nic.child_mut("mac") {
            Some(el) => el.set_attr("address", mac.as_str()),
            None => {
                let mut el = Element::new("mac");
                el.set_attr("address", mac.as_str());
                nic.children.insert(0, kvmhost_core::xml::Node::Element(el));
            }
        }
        out.push(mac);
    }
    out
}

/// The basename Archipel matched on: the last path component, `.gz` removed.
pub fn match_name(source: &str) -> &str {
    let base = source.rsplit('/').next().unwrap_or(source);
    base.strip_suffix(".gz").unwrap_or(base)
}

fn io_err(context: String) -> impl FnOnce(std::io::Error) -> InstantiateError {
    move |source| InstantiateError::Io { context, source }
}

/// Files made so far, removed again if instantiation fails.
struct Made(Vec<PathBuf>);

impl Drop for Made {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = fs::remove_file(p);
        }
    }
}

/// Makes a VM from `package` (unpacked, with disk paths) in `dir`: see the module's docs.
pub fn instantiate(package: &Package, dir: &Path, opts: &InstantiateOptions) -> Result<Instance, InstantiateError> {
    let mut made = Made(Vec::new());
    let instance = build(package, dir, opts, &mut |image, image_path, disk, dir| match opts.disk_mode {
        DiskMode::Images => place_image(image_path, dir, &mut made),
        DiskMode::Overlay => {
            let fmt = disk.child("driver").and_then(|d| d.attr("type")).unwrap_or("raw").to_string();
            let stem = image.file_name.rsplit_once('.').map(|(s, _)| s).unwrap_or(&image.file_name);
            let overlay = dir.join(format!("{}-{stem}.qcow2", opts.name));
            make_overlay(&opts.qemu_img, image_path, &fmt, &overlay, &mut made)?;
            match disk.child_mut("driver") {
                Some(d) => d.set_attr("type", "qcow2"),
                None => {
                    let mut d = Element::new("driver");
                    d.set_attr("name", "qemu");
                    d.set_attr("type", "qcow2");
                    disk.children.insert(0, kvmhost_core::xml::Node::Element(d));
                }
            }
            Ok(overlay)
        }
    })?;
    made.0.clear();
    Ok(instance)
}

/// Where a matched disk goes: given the package's image, its unpacked file and the `<disk>`
/// element (to adjust), returns the path the domain's disk is to point at.
type PlaceDisk<'a> =
    dyn FnMut(&crate::archive::DiskInfo, &Path, &mut Element, &Path) -> Result<PathBuf, InstantiateError> + 'a;

/// The common part: new name, UUID and MACs, each matched disk placed by `place`, the XML
/// written to `dir/NAME.xml`.
fn build(
    package: &Package,
    dir: &Path,
    opts: &InstantiateOptions,
    place: &mut PlaceDisk<'_>,
) -> Result<Instance, InstantiateError> {
    let xml_name = format!("{}.xml", opts.name);
    if opts.name.trim().is_empty() || crate::manifest::check_file_name(&xml_name).is_err() {
        return Err(InstantiateError::BadName(opts.name.clone()));
    }
    fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
    // Absolute paths: libvirt resolves no relative disk path.
    let dir = &fs::canonicalize(dir).map_err(io_err(format!("resolving {}", dir.display())))?;
    let xml_path = dir.join(&xml_name);
    if xml_path.exists() {
        return Err(InstantiateError::Io {
            context: format!("{} already exists", xml_path.display()),
            source: std::io::ErrorKind::AlreadyExists.into(),
        });
    }
    let mut domain = package.domain.clone();
    domain.set_name(Some(&opts.name))?;
    let uuid = opts.uuid.unwrap_or_else(uuid::Uuid::new_v4);
    domain.set_uuid(Some(&uuid.to_string()))?;
    let macs = rewrite_macs(&mut domain);

    let mut disks = Vec::new();
    let mut unmatched = Vec::new();
    if let Some(devices) = domain.root_mut().child_mut("devices") {
        for disk in devices.elements_mut().filter(|e| e.name == "disk") {
            let Some(src) = disk.child("source").and_then(|s| s.attr("file")).map(str::to_string) else { continue };
            let Some(image) = package.disks.iter().find(|d| d.file_name == match_name(&src)) else {
                unmatched.push(src);
                continue;
            };
            let image_path =
                image.path.clone().ok_or_else(|| InstantiateError::NotUnpacked(image.file_name.clone()))?;
            let new_path = place(image, &image_path, disk, dir)?;
            disk.remove_children("backingStore");
            let s = disk.child_mut("source").expect("source seen above");
            s.set_attr("file", new_path.to_string_lossy().as_ref());
            disks.push(new_path);
        }
    }
    let xml = domain.to_xml_pretty()?;
    atomic_write(&xml_path, xml.as_bytes()).map_err(io_err(format!("writing {}", xml_path.display())))?;
    Ok(Instance { domain, xml_path, disks, unmatched, macs })
}

/// Makes a VM from `package` (unpacked, with disk paths) whose disks live in the libvirt storage
/// pool `pool`: each matched image becomes a new volume `NAME-FILE` there (raw, as large as the
/// image's apparent size, sparse where the pool allows), its data extents streamed into it
/// through `virStorageVolUpload` in chunks (holes are not sent; nothing is held in memory), and
/// the domain's disk points at the volume's path. The XML is written to `dir/NAME.xml` as
/// [`instantiate`] does. `progress` sees the bytes uploaded.
///
/// The package should be unpacked (and so verified) first, into a scratch directory that can
/// be removed afterwards: only checked data reaches the pool. On any error the volumes made so
/// far are deleted again.
#[cfg(feature = "libvirt")]
pub fn instantiate_in_pool(
    package: &Package,
    conn: &kvmhost_libvirt::Connection,
    pool: &str,
    dir: &Path,
    opts: &InstantiateOptions,
    progress: &mut dyn FnMut(&crate::archive::Progress),
) -> Result<Instance, InstantiateError> {
    struct Volumes<'c> {
        conn: &'c kvmhost_libvirt::Connection,
        pool: &'c str,
        names: Vec<String>,
    }
    impl Drop for Volumes<'_> {
        fn drop(&mut self) {
            for n in &self.names {
                let _ = self.conn.delete_volume(self.pool, n);
            }
        }
    }
    if opts.disk_mode != DiskMode::Images {
        return Err(InstantiateError::Unsupported("qcow2 overlays in a storage pool".into()));
    }
    conn.pool(pool)?;
    let mut vols = Volumes { conn, pool, names: Vec::new() };
    let instance = build(package, dir, opts, &mut |image, image_path, _disk, _dir| {
        let vol_name = format!("{}-{}", opts.name, image.file_name);
        let info = conn.create_volume(pool, &kvmhost_libvirt::VolumeSpec::raw(&vol_name, image.apparent_size))?;
        vols.names.push(vol_name.clone());
        upload_extents(conn, pool, &vol_name, image_path, progress)?;
        Ok(PathBuf::from(info.path))
    })?;
    vols.names.clear();
    Ok(instance)
}

/// Uploads the data extents of `path` into the volume at the same offsets (gaps under 1 MiB
/// between extents are sent as zeros rather than opening one more stream).
#[cfg(feature = "libvirt")]
fn upload_extents(
    conn: &kvmhost_libvirt::Connection,
    pool: &str,
    vol: &str,
    path: &Path,
    progress: &mut dyn FnMut(&crate::archive::Progress),
) -> Result<(), InstantiateError> {
    use std::io::{Read, Seek, SeekFrom};
    const GAP: u64 = 1 << 20;
    let ctx = || format!("reading {}", path.display());
    let mut file = fs::File::open(path).map_err(io_err(ctx()))?;
    let map = crate::sparse::data_extents(&file, &path.display().to_string())
        .map_err(|e| InstantiateError::Io { context: ctx(), source: std::io::Error::other(e) })?;
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for e in &map.extents {
        match runs.last_mut() {
            Some((off, len)) if e.offset.saturating_sub(*off + *len) < GAP => *len = e.offset + e.length - *off,
            _ => runs.push((e.offset, e.length)),
        }
    }
    let total = map.data_bytes();
    let mut done = 0u64;
    for (off, len) in runs {
        file.seek(SeekFrom::Start(off)).map_err(io_err(ctx()))?;
        let mut reader = Reporting {
            inner: (&mut file).take(len),
            done: &mut done,
            report: &mut |d| {
                progress(&crate::archive::Progress {
                    phase: "uploading",
                    item: vol.to_string(),
                    done: d,
                    total: Some(total),
                })
            },
        };
        let sent = conn.upload_volume(pool, vol, off, &mut reader)?;
        if sent != len {
            return Err(InstantiateError::Io {
                context: format!("{}: {sent} of {len} bytes at offset {off}", ctx()),
                source: std::io::ErrorKind::UnexpectedEof.into(),
            });
        }
    }
    Ok(())
}

/// A reader that reports the running total of bytes read.
#[cfg(feature = "libvirt")]
struct Reporting<'a, R> {
    inner: R,
    done: &'a mut u64,
    report: &'a mut dyn FnMut(u64),
}

#[cfg(feature = "libvirt")]
impl<R: std::io::Read> std::io::Read for Reporting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        *self.done += n as u64;
        (self.report)(*self.done);
        Ok(n)
    }
}

/// The image inside `dir`: where it is if it is there already, else moved in (or sparse-copied
/// when it lives on another filesystem).
fn place_image(image: &Path, dir: &Path, made: &mut Made) -> Result<PathBuf, InstantiateError> {
    let name = image.file_name().expect("unpacked images have names");
    let to = dir.join(name);
    let same = |a: &Path, b: &Path| match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if image.parent().is_some_and(|p| same(p, dir)) {
        return Ok(to);
    }
    if to.exists() {
        return Err(InstantiateError::Io {
            context: format!("{} already exists", to.display()),
            source: std::io::ErrorKind::AlreadyExists.into(),
        });
    }
    sparse_copy(image, &to).map_err(io_err(format!("copying {} to {}", image.display(), to.display())))?;
    made.0.push(to.clone());
    Ok(to)
}

/// Copies a file keeping its holes (through a temporary name).
pub(crate) fn sparse_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    let src = fs::File::open(from)?;
    let map = crate::sparse::data_extents(&src, &from.display().to_string()).map_err(std::io::Error::other)?;
    let tmp = crate::fsutil::temp_sibling(to, "tmp");
    let result = (|| {
        let mut w = crate::sparse::HoleWriter::new(fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?);
        let mut buf = vec![0u8; 1 << 20];
        for e in &map.extents {
            w.seek_to(e.offset)?;
            let mut off = e.offset;
            while off < e.offset + e.length {
                let n = ((e.offset + e.length - off) as usize).min(buf.len());
                src.read_exact_at(&mut buf[..n], off)?;
                w.write_all(&buf[..n])?;
                off += n as u64;
            }
        }
        w.finish(Some(map.apparent_size))?.sync_all()?;
        fs::rename(&tmp, to)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn make_overlay(
    qemu_img: &Path,
    base: &Path,
    fmt: &str,
    overlay: &Path,
    made: &mut Made,
) -> Result<(), InstantiateError> {
    if overlay.exists() {
        return Err(InstantiateError::Io {
            context: format!("{} already exists", overlay.display()),
            source: std::io::ErrorKind::AlreadyExists.into(),
        });
    }
    let base = fs::canonicalize(base).map_err(io_err(format!("resolving {}", base.display())))?;
    let out = Command::new(qemu_img)
        .args(["create", "-q", "-f", "qcow2", "-b"])
        .arg(&base)
        .args(["-F", fmt])
        .arg(overlay)
        .output()
        .map_err(io_err(format!("running {}", qemu_img.display())))?;
    if !out.status.success() {
        let _ = fs::remove_file(overlay);
        return Err(InstantiateError::QemuImg {
            overlay: overlay.display().to_string(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    made.0.push(overlay.to_path_buf());
    Ok(())
}

/// Defines `domain` on the libvirt host at `uri` (persistently); returns the definition as
/// libvirt reports it back.
#[cfg(feature = "libvirt")]
pub fn define(uri: &str, domain: &Domain) -> Result<Domain, InstantiateError> {
    let conn = kvmhost_libvirt::Connection::open(uri)?;
    define_on(&conn, domain)
}

/// Defines `domain` on an open connection; returns the definition libvirt reports back.
#[cfg(feature = "libvirt")]
pub fn define_on(conn: &kvmhost_libvirt::Connection, domain: &Domain) -> Result<Domain, InstantiateError> {
    let handle = conn.define(domain)?;
    Ok(handle.domain()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_names_strip_directories_and_gz() {
        assert_eq!(match_name("/vm/abc/disk0.qcow2"), "disk0.qcow2");
        assert_eq!(match_name("disk0.qcow2.gz"), "disk0.qcow2");
        assert_eq!(match_name("d"), "d");
    }

    #[test]
    fn macs_are_kvm_prefixed_and_distinct() {
        let mut xml = String::from("<domain><devices>");
        for _ in 0..50 {
            xml.push_str("<interface type='user'/>");
        }
        xml.push_str("</devices></domain>");
        let mut d = Domain::parse(&xml).unwrap();
        let macs = rewrite_macs(&mut d);
        assert_eq!(macs.iter().collect::<HashSet<_>>().len(), 50);
        for m in &macs {
            assert!(m.starts_with("52:54:00:") && m.len() == 17, "{m}");
        }
    }
}
