//! Storage pools and volumes: typed pool and volume XML ([`PoolSpec`], [`VolumeSpec`]), qcow2
//! volumes with a backing file (golden image) or cloned, volume data upload / download through
//! libvirt streams, delete.
//!
//! The pool and volume XML models ([`PoolSpec`], [`VolumeSpec`], and [`PoolInfo`],
//! [`VolumeInfo`] read from libvirt's XML, errors [`StorageError`]) live in
//! [`kvmhost_core::storage`] and are re-exported here; this module adds what only libvirt's
//! calls give (a pool's state, live sizes).
//!
//! ```
//! use kvmhost_libvirt::{PoolSpec, VolumeSpec};
//! assert_eq!(PoolSpec::dir("images", "/var/lib/images").to_xml().unwrap(),
//!     "<pool type=\"dir\"><name>images</name><target><path>/var/lib/images</path></target></pool>");
//! let vol = VolumeSpec::qcow2("vm1.qcow2", 1 << 30).backed_by("/var/lib/images/golden.qcow2", "qcow2");
//! assert!(vol.to_xml().unwrap().contains("<backingStore><path>/var/lib/images/golden.qcow2</path>"));
//! ```

use std::io::{Read, Write};

pub use kvmhost_core::storage::{PoolInfo, PoolSpec, StorageError, VolumeInfo, VolumeSpec};
use virt::connect::Connect;
use virt::storage_pool::StoragePool;
use virt::storage_vol::StorageVol;
use virt::stream::Stream;

use crate::{LibvirtError, Result};

/// What a streamed upload reads from: any reader that can move to the worker thread running
/// the libvirt stream (a file, a socket, a decompressor, `std::io::Cursor` over bytes in memory).
pub type UploadSource = Box<dyn Read + Send>;

/// Called after each chunk of a streamed transfer with the bytes moved so far (from the worker
/// thread running the libvirt stream: keep it short, or send the number to a channel).
pub type TransferProgress = Box<dyn FnMut(u64) + Send>;

const CHUNK: usize = 256 * 1024;

pub(crate) fn pool_info(p: &StoragePool) -> Result<PoolInfo> {
    let mut info = PoolInfo::parse(&p.xml_desc(0)?)?;
    let sizes = p.info()?;
    info.active = p.is_active()?;
    info.persistent = p.is_persistent()?;
    info.autostart = p.autostart()?;
    (info.capacity, info.allocation, info.available) = (sizes.capacity, sizes.allocation, sizes.available);
    Ok(info)
}

pub(crate) fn volume_info(v: &StorageVol) -> Result<VolumeInfo> {
    let mut info = VolumeInfo::parse(&v.xml_desc(0)?)?;
    let sizes = v.info()?;
    (info.capacity, info.allocation) = (sizes.capacity, sizes.allocation);
    if info.key.is_empty() {
        info.key = v.key()?;
    }
    if info.path.is_empty() {
        info.path = v.path()?;
    }
    Ok(info)
}

pub(crate) fn pool(c: &Connect, name: &str) -> Result<StoragePool> {
    c.lookup_storage_pool_by_name(name).map_err(|e| crate::LibvirtError::from(e).about(name))
}

pub(crate) fn volume(c: &Connect, pool_name: &str, vol: &str) -> Result<StorageVol> {
    pool(c, pool_name)?
        .lookup_storage_vol_by_name(vol)
        .map_err(|e| crate::LibvirtError::from(e).about(format_args!("{pool_name}/{vol}")))
}

/// Defines a pool, builds its target (creates the directory) and starts it.
pub(crate) fn define_pool(c: &Connect, spec: &PoolSpec) -> Result<PoolInfo> {
    let p = c.define_storage_pool_xml(&spec.to_xml()?, 0)?;
    p.build(0)?;
    p.create(0)?;
    pool_info(&p)
}

pub(crate) fn list_pools(c: &Connect) -> Result<Vec<PoolInfo>> {
    c.list_all_storage_pools(0)?.iter().map(pool_info).collect()
}

/// Stops (if active) and undefines a pool; with `delete`, removes its (empty) directory first.
pub(crate) fn remove_pool(c: &Connect, name: &str, delete: bool) -> Result<()> {
    let p = pool(c, name)?;
    if p.is_active()? {
        p.destroy()?;
    }
    if delete {
        p.delete(0)?;
    }
    Ok(p.undefine()?)
}

pub(crate) fn create_volume(c: &Connect, pool_name: &str, spec: &VolumeSpec) -> Result<VolumeInfo> {
    let p = pool(c, pool_name)?;
    volume_info(&StorageVol::create_xml(&p, &spec.to_xml()?, 0)?)
}

pub(crate) fn clone_volume(c: &Connect, pool_name: &str, source: &str, spec: &VolumeSpec) -> Result<VolumeInfo> {
    let p = pool(c, pool_name)?;
    let src = p.lookup_storage_vol_by_name(source)?;
    volume_info(&StorageVol::create_xml_from(&p, &spec.to_xml()?, &src, 0)?)
}

pub(crate) fn list_volumes(c: &Connect, pool_name: &str) -> Result<Vec<VolumeInfo>> {
    let p = pool(c, pool_name)?;
    p.refresh(0)?;
    p.list_all_volumes(0)?.iter().map(volume_info).collect()
}

pub(crate) fn delete_volume(c: &Connect, pool_name: &str, vol: &str) -> Result<()> {
    Ok(volume(c, pool_name, vol)?.delete(0)?)
}

fn io(context: &str) -> impl FnOnce(std::io::Error) -> LibvirtError + '_ {
    move |source| LibvirtError::Io { context: context.to_string(), source }
}

/// Streams everything `data` yields into the volume from `offset` (`virStorageVolUpload`),
/// reporting the bytes sent after each chunk.
pub(crate) fn upload(
    c: &Connect,
    pool_name: &str,
    vol: &str,
    offset: u64,
    mut data: impl Read,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    let v = volume(c, pool_name, vol)?;
    let stream = Stream::new(c, 0)?;
    v.upload(&stream, offset, 0, 0)?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match data.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = stream.abort();
                return Err(io("reading the data to upload")(e));
            }
        };
        let mut sent = 0;
        while sent < n {
            match stream.send(&buf[sent..n]) {
                Ok(k) if k > 0 => sent += k as usize,
                Ok(_) => {}
                Err(e) => {
                    let _ = stream.abort();
                    return Err(e.into());
                }
            }
        }
        total += n as u64;
        progress(total);
    }
    stream.finish()?;
    tracing::debug!(pool = pool_name, volume = vol, offset, bytes = total, "volume upload finished");
    Ok(total)
}

/// Streams `length` bytes (0: to the end) of the volume from `offset` into `out`
/// (`virStorageVolDownload`).
pub(crate) fn download(
    c: &Connect,
    pool_name: &str,
    vol: &str,
    offset: u64,
    length: u64,
    mut out: impl Write,
) -> Result<u64> {
    let v = volume(c, pool_name, vol)?;
    let stream = Stream::new(c, 0)?;
    v.download(&stream, offset, length, 0)?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match stream.recv(&mut buf) {
            Ok(0) => break,
            Ok(n) if n > 0 => n as usize,
            Ok(_) => continue,
            Err(e) => {
                let _ = stream.abort();
                return Err(e.into());
            }
        };
        if let Err(e) = out.write_all(&buf[..n]) {
            let _ = stream.abort();
            return Err(io("writing the downloaded data")(e));
        }
        total += n as u64;
    }
    stream.finish()?;
    out.flush().map_err(io("writing the downloaded data"))?;
    Ok(total)
}
