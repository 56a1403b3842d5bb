//! Archipel's `.xvm2` packages, as archipel-agent-vmcasting wrote and read them.
//!
//! An uncompressed GNU tar: `description.xml` (the libvirt `<domain>` without an XML
//! declaration, `<description>` emptied, the original absolute disk paths kept), optional
//! `snapshot-N.xml`, then one member per disk image, gzipped on its own (`NAME.gz`, level 9) or
//! raw. No manifest, no checksum beyond gzip's CRC, no signature. The installer matches disks to
//! the domain's `<source file>` by basename with `.gz` removed ([`crate::instantiate`]).
//!
//! Reading accepts what Archipel (Python's `tarfile`, GNU format) and GNU tar write — plain
//! member names or `./`-prefixed ones — and refuses everything else by kind: absolute names,
//! traversal, links, devices, FIFOs, directories, sparse entries, duplicates.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use flate2::bufread::GzDecoder;
use flate2::{Compression, GzBuilder};
use kvmhost_core::domain::Domain;

use super::tario::{Kind, TarReader};
use super::{
    disk_file_name, safe_member, ArchiveError, Counting, DiskInfo, PackReport, PackRequest, Package, Progress, ReadCtx,
    Result, SignatureStatus,
};
use crate::fsutil::{sync_parent, temp_sibling};
use crate::manifest::{is_snapshot_name, Metadata};
use crate::sparse::HoleWriter;
use crate::Format;

/// The member holding the domain.
pub const DESCRIPTION: &str = "description.xml";
const CHUNK: usize = 1 << 20;

struct Cleanup(Vec<std::path::PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = fs::remove_file(p);
        }
    }
}

/// The domain as Archipel wrote it: no XML declaration, `<description>` emptied.
pub(crate) fn archipel_description(domain: &Domain) -> Result<String> {
    let mut d = domain.clone();
    d.document_mut().prolog.retain(|n| !matches!(n, kvmhost_core::xml::Node::Declaration(_)));
    if d.description().is_some() {
        d.set_description(Some("")).map_err(|e| ArchiveError::BadInput(e.to_string()))?;
    }
    d.to_xml().map_err(|e| ArchiveError::BadInput(e.to_string()))
}

fn header(size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

pub(super) fn pack(req: &PackRequest<'_>, out: &Path, progress: &mut dyn FnMut(&Progress)) -> Result<PackReport> {
    let description = archipel_description(req.domain)?;
    let mtime = crate::date::now().max(0) as u64;
    let tmp = temp_sibling(out, "tmp");
    let mut cleanup = Cleanup(vec![tmp.clone()]);
    let oerr = |e: io::Error| ArchiveError::io(format!("writing {}", tmp.display()), e);
    let file = OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(oerr)?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(CHUNK, file));
    tar.mode(tar::HeaderMode::Complete);
    tar.append_data(&mut header(description.len() as u64, mtime), "description.xml", description.as_bytes())
        .map_err(oerr)?;
    for (i, s) in req.snapshots.iter().enumerate() {
        tar.append_data(&mut header(s.len() as u64, mtime), format!("snapshot-{i}.xml"), s.as_bytes()).map_err(oerr)?;
    }
    let total: u64 = req.disks.iter().filter_map(|d| fs::metadata(d).ok()).map(|m| m.len()).sum();
    let mut done = 0u64;
    for disk in &req.disks {
        let shown = disk.display().to_string();
        let name = disk_file_name(disk)?;
        let rerr = |e: io::Error| ArchiveError::io(format!("reading disk {shown}"), e);
        let mut src = File::open(disk).map_err(rerr)?;
        let len = src.metadata().map_err(rerr)?.len();
        if req.gzip {
            // Archipel gzipped each disk to a file first (the tar header needs the size).
            let gz_path = temp_sibling(out, "gz");
            cleanup.0.push(gz_path.clone());
            let gerr = |e: io::Error| ArchiveError::io(format!("writing {}", gz_path.display()), e);
            let gz_file = OpenOptions::new().read(true).write(true).create_new(true).open(&gz_path).map_err(gerr)?;
            let mut enc = GzBuilder::new()
                .filename(name.as_bytes())
                .write(BufWriter::with_capacity(CHUNK, gz_file), Compression::new(9));
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = src.read(&mut buf).map_err(rerr)?;
                if n == 0 {
                    break;
                }
                enc.write_all(&buf[..n]).map_err(gerr)?;
                done += n as u64;
                progress(&Progress { phase: "packing", item: name.clone(), done, total: Some(total) });
            }
            let mut gz_file = enc.finish().map_err(gerr)?.into_inner().map_err(|e| gerr(e.into_error()))?;
            let gz_len = gz_file.metadata().map_err(gerr)?.len();
            io::Seek::seek(&mut gz_file, io::SeekFrom::Start(0)).map_err(gerr)?;
            tar.append_data(&mut header(gz_len, mtime), format!("{name}.gz"), &mut gz_file).map_err(oerr)?;
        } else {
            tar.append_data(&mut header(len, mtime), &name, &mut src).map_err(oerr)?;
            done += len;
            progress(&Progress { phase: "packing", item: name.clone(), done, total: Some(total) });
        }
    }
    let file = tar.into_inner().map_err(oerr)?.into_inner().map_err(|e| oerr(e.into_error()))?;
    file.sync_all().map_err(oerr)?;
    let size = file.metadata().map_err(oerr)?.len();
    fs::rename(&tmp, out).map_err(|e| ArchiveError::io(format!("renaming to {}", out.display()), e))?;
    cleanup.0.retain(|p| p != &tmp);
    sync_parent(out);
    Ok(PackReport { path: out.to_path_buf(), size, manifest: None })
}

/// The current tar entry's data as a reader (our errors travel inside `io::Error`).
struct EntryRead<'a, R>(&'a mut TarReader<R>);

impl<R: Read> Read for EntryRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_data(buf).map_err(io::Error::other)
    }
}

fn read_small<R: Read>(tar: &mut TarReader<R>, size: u64, limit: u64, name: &str) -> Result<String> {
    if size > limit {
        return Err(ArchiveError::LimitExceeded { what: format!("size of {name}"), limit });
    }
    let mut v = vec![0u8; size as usize];
    tar.read_data_exact(&mut v)?;
    String::from_utf8(v).map_err(|_| ArchiveError::Corrupt { name: name.into(), reason: "not UTF-8".into() })
}

pub(super) fn read<R: Read>(src: Counting<R>, ctx: &mut ReadCtx<'_, '_>) -> Result<Package> {
    let limits = ctx.opts.limits.clone();
    if !ctx.opts.trusted.is_empty() || ctx.opts.require_signature {
        // .xvm2 has no signature: a caller that requires one is refused before anything is read.
        return Err(ArchiveError::Unsigned);
    }
    let mut tar = TarReader::new(src, limits.max_members);
    let mut description: Option<String> = None;
    let mut snapshots: std::collections::BTreeMap<u32, String> = Default::default();
    let mut disks: Vec<DiskInfo> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut buf = vec![0u8; CHUNK];
    while let Some(e) = tar.next_entry()? {
        let name = e.name.strip_prefix("./").unwrap_or(&e.name).to_string();
        if e.kind == Kind::Directory && (name.is_empty() || name == "." || name == "./") {
            continue;
        }
        if name.starts_with('/') {
            return Err(ArchiveError::UnsafeName { name: e.name, reason: "absolute path".into() });
        }
        if name.split('/').any(|c| c == "..") {
            return Err(ArchiveError::UnsafeName { name: e.name, reason: "path traversal".into() });
        }
        if name.contains('/') {
            return Err(ArchiveError::UnsafeName { name: e.name, reason: "more than one path component".into() });
        }
        match e.kind {
            Kind::Forbidden(kind) => return Err(ArchiveError::ForbiddenEntry { name: e.name, kind }),
            Kind::Directory => return Err(ArchiveError::ForbiddenEntry { name: e.name, kind: "directory" }),
            Kind::Regular => {}
        }
        let file_name = name.strip_suffix(".gz").unwrap_or(&name).to_string();
        if !seen.insert(file_name.clone()) {
            return Err(ArchiveError::Duplicate { name: e.name });
        }
        if name == DESCRIPTION {
            let xml = read_small(&mut tar, e.size, limits.max_xml_bytes, DESCRIPTION)?;
            crate::manifest::parse_domain(&xml)
                .map_err(|err| ArchiveError::Corrupt { name: DESCRIPTION.into(), reason: err.to_string() })?;
            description = Some(xml);
            continue;
        }
        if is_snapshot_name(&name) {
            let xml = read_small(&mut tar, e.size, limits.max_xml_bytes, &name)?;
            crate::manifest::parse_xml(&xml)
                .map_err(|err| ArchiveError::Corrupt { name: name.clone(), reason: err.to_string() })?;
            let n: u32 = name[9..name.len() - 4].parse().expect("checked by is_snapshot_name");
            snapshots.insert(n, xml);
            continue;
        }
        safe_member(&file_name)?;
        ctx.item = file_name.clone();
        let info = read_disk(&mut tar, ctx, &name, &file_name, &mut buf)?;
        disks.push(info);
    }
    let xml = description.ok_or(ArchiveError::Missing { name: DESCRIPTION.into() })?;
    let domain = crate::manifest::parse_domain(&xml)
        .map_err(|err| ArchiveError::Corrupt { name: DESCRIPTION.into(), reason: err.to_string() })?;
    let expected: Vec<u32> = (0..snapshots.len() as u32).collect();
    if snapshots.keys().copied().collect::<Vec<_>>() != expected {
        return Err(ArchiveError::Missing { name: format!("snapshot-{}.xml", snapshots.len()) });
    }
    ctx.stage_bytes("domain.xml", xml.as_bytes())?;
    for (i, s) in &snapshots {
        ctx.stage_bytes(&format!("snapshot-{i}.xml"), s.as_bytes())?;
    }
    let metadata = Metadata {
        name: domain.name().unwrap_or_default(),
        description: domain.description().unwrap_or_default(),
        ..Metadata::default()
    };
    Ok(Package {
        format: Format::Xvm2,
        domain,
        snapshots: snapshots.into_values().collect(),
        disks,
        metadata,
        manifest: None,
        signature: SignatureStatus::Unsigned,
        files: Vec::new(),
    })
}

fn read_disk<R: Read>(
    tar: &mut TarReader<Counting<R>>,
    ctx: &mut ReadCtx<'_, '_>,
    member: &str,
    file_name: &str,
    buf: &mut [u8],
) -> Result<DiskInfo> {
    let mut writer = ctx.stage_disk(file_name)?.map(HoleWriter::new);
    let (out, buffered) = if member.ends_with(".gz") {
        // bufread's decoder reads no further than the gzip stream: what follows is seen.
        let mut dec = GzDecoder::new(io::BufReader::with_capacity(64 * 1024, EntryRead(tar)));
        let out = pump(&mut dec, writer.as_mut(), ctx, member, file_name, buf)?;
        (out, dec.get_ref().buffer().len())
    } else {
        let mut raw = EntryRead(tar);
        (pump(&mut raw, writer.as_mut(), ctx, member, file_name, buf)?, 0)
    };
    if tar.remaining() > 0 || buffered > 0 {
        return Err(ArchiveError::Corrupt {
            name: member.into(),
            reason: "data after the end of the gzip stream".into(),
        });
    }
    let data_bytes = match writer {
        Some(w) => {
            let n = w.data_written();
            w.finish(Some(out)).map_err(|e| ArchiveError::io(format!("writing staged {file_name}"), e))?;
            n
        }
        None => out,
    };
    Ok(DiskInfo { file_name: file_name.to_string(), path: None, apparent_size: out, data_bytes })
}

/// Copies a member's (decompressed) data into `writer`, accounting every byte against the
/// limits; returns the bytes copied.
fn pump<S: Read>(
    src: &mut S,
    mut writer: Option<&mut HoleWriter>,
    ctx: &mut ReadCtx<'_, '_>,
    member: &str,
    file_name: &str,
    buf: &mut [u8],
) -> Result<u64> {
    let mut out = 0u64;
    loop {
        let n = match src.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(match ArchiveError::io(format!("reading {member}"), e) {
                    ArchiveError::Io { source, .. } => {
                        ArchiveError::Corrupt { name: member.to_string(), reason: source.to_string() }
                    }
                    other => other,
                })
            }
        };
        if let Some(w) = writer.as_deref_mut() {
            w.write_all(&buf[..n]).map_err(|e| ArchiveError::io(format!("writing staged {file_name}"), e))?;
        }
        out += n as u64;
        if out > ctx.opts.limits.max_disk_size {
            let limit = ctx.opts.limits.max_disk_size;
            return Err(ArchiveError::LimitExceeded { what: format!("size of {file_name}"), limit });
        }
        ctx.account(n as u64)?;
        ctx.report();
    }
    Ok(out)
}
