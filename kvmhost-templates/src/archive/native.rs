//! The native format: one zstd-compressed tar stream.
//!
//! Members, in order: `manifest.json`, optionally `manifest.json.minisig`, then one
//! `disks/FILE` member per disk image in this crate's sparse encoding ([`crate::sparse`]),
//! then the end-of-archive block. The stream is written as two zstd frames (the first holding
//! the manifest and its signature, the second everything else), with a zstd skippable frame
//! between them, which every zstd decoder reads as one stream (`zstd -dc PKG | tar -t` lists
//! it). That lets the manifest come first while its SHA-256s are computed in the same single
//! pass over the disks that compresses them: the manifest's length is known before the data is
//! read (every SHA-256 is 64 hex digits), so room for its frame is reserved at the start of
//! the file, the body is written after it, and the head frame is written last into the room,
//! the rest of which the skippable frame covers.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::tario::{self, Kind, TarReader};
use super::zstd_stream::ZstdWriter;
use super::{
    disk_file_name, hex, ArchiveError, Counting, DiskInfo, PackReport, PackRequest, Package, Progress, ReadCtx, Result,
    SignatureStatus, ThreadedWriter,
};
use crate::fsutil::{sync_parent, temp_sibling};
use crate::manifest::{DiskEntry, Manifest, Metadata, MANIFEST_NAME, SIGNATURE_NAME};
use crate::sparse::{self, SparseHeader, FIXED_HEADER};
use crate::Format;

const CHUNK: usize = 128 << 10;
/// Unpacking hashes and writes in pieces this large, each while it is in the CPU's cache.
const PIECE: usize = 16 << 10;
const MAX_SIGNATURE: u64 = 4096;

/// Removes a temporary file on drop unless disarmed.
struct TempFile(Option<std::path::PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

fn metadata_for(req: &PackRequest<'_>) -> Metadata {
    if let Some(m) = &req.metadata {
        return m.clone();
    }
    let d = req.domain;
    let mut m = Metadata::named(&d.name().unwrap_or_else(|| "appliance".into()));
    m.description = d.description().unwrap_or_default();
    m.min_memory_mib = d.memory().ok().flatten().and_then(|mem| mem.kib()).map(|k| k / 1024);
    m.min_vcpus = d.vcpu().ok().flatten().map(|v| v.count);
    m
}

/// First 4 bytes of a zstd skippable frame (the low nibble is free).
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;

/// The head frame's bytes: the tar members `manifest.json` (and its signature), compressed.
fn head_frame(json: &[u8], sig: Option<&str>, mtime: u64, level: i32) -> io::Result<Vec<u8>> {
    let mut tar = Vec::with_capacity(json.len() + 2048);
    tario::write_header(&mut tar, MANIFEST_NAME, json.len() as u64, mtime)?;
    tar.extend_from_slice(json);
    tario::write_padding(&mut tar, json.len() as u64)?;
    if let Some(s) = sig {
        tario::write_header(&mut tar, SIGNATURE_NAME, s.len() as u64, mtime)?;
        tar.extend_from_slice(s.as_bytes());
        tario::write_padding(&mut tar, s.len() as u64)?;
    }
    zstd::encode_all(&tar[..], level)
}

/// Bytes reserved at the start of the file for the head frame: its worst case (the manifest's
/// length is known before any data is read, SHA-256s being fixed-length hex) plus a skippable
/// frame's header, rounded to a block.
fn head_reserve(json_len: usize, sig_len: Option<usize>) -> u64 {
    let tar_len = 512 + json_len.div_ceil(512) * 512 + sig_len.map(|l| 512 + l.div_ceil(512) * 512).unwrap_or(0);
    let bound = zstd::zstd_safe::compress_bound(tar_len) as u64 + 64;
    bound.div_ceil(4096) * 4096
}

pub(super) fn pack(req: &PackRequest<'_>, out: &Path, progress: &mut dyn FnMut(&Progress)) -> Result<PackReport> {
    let domain_xml = req.domain.to_xml().map_err(|e| ArchiveError::BadInput(e.to_string()))?;
    let mut manifest = Manifest::new(metadata_for(req), domain_xml);
    manifest.snapshots = req.snapshots.clone();
    let mtime = crate::date::now().max(0) as u64;

    // Map every disk first: sizes are known before any data is read, and so is the length of
    // the manifest (every SHA-256 is 64 hex digits).
    let mut disks = Vec::new();
    for path in &req.disks {
        let shown = path.display().to_string();
        let f = File::open(path).map_err(|e| ArchiveError::io(format!("opening disk {shown}"), e))?;
        let header = sparse::data_extents(&f, &shown)?;
        let name = disk_file_name(path)?;
        manifest.disks.push(DiskEntry {
            file_name: name.clone(),
            size: header.member_size(),
            sha256: "0".repeat(64),
            apparent_size: header.apparent_size,
            data_bytes: header.data_bytes(),
        });
        disks.push((f, header, name, shown));
    }
    let total: u64 = disks.iter().map(|d| d.1.data_bytes()).sum();
    let placeholder = manifest.to_json();
    let sig_len = req.sign.map(|k| crate::signing::sign(k, &placeholder).map(|s| s.len())).transpose()?;
    let reserve = head_reserve(placeholder.len(), sig_len);

    // The body frame (disks) is written after the reserved head, SHA-256s computed on the way;
    // then the head frame goes in front, the rest of the reserve being a skippable frame.
    let tmp = temp_sibling(out, "tmp");
    let mut tmp_guard = TempFile(Some(tmp.clone()));
    let werr = |e: io::Error| ArchiveError::io(format!("writing {}", tmp.display()), e);
    let mut file = OpenOptions::new().read(true).write(true).create_new(true).open(&tmp).map_err(werr)?;
    file.seek(SeekFrom::Start(reserve)).map_err(werr)?;
    // The package is written on its own thread (as zstd's CLI does with its asynchronous
    // writer): the workers are never starved while a write(2) waits on the kernel.
    let mut enc = ZstdWriter::new(ThreadedWriter::new(file, req.sync), req.level, req.threads).map_err(werr)?;
    let mut done = 0u64;
    for (i, (f, header, name, shown)) in disks.iter().enumerate() {
        let member = format!("{}{}", crate::manifest::DISK_DIR, name);
        let size = header.member_size();
        tario::write_header(&mut enc, &member, size, mtime).map_err(werr)?;
        let head = header.encode();
        enc.write_all(&head).map_err(werr)?;
        // A reader thread reads the extents and hashes them; this thread only feeds zstd, as
        // `tar | zstd` feeds it from a pipe: the compression workers never wait on the hash.
        let digest = std::thread::scope(|scope| -> Result<String> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<(Vec<u8>, usize)>>(4);
            let (back, spare) = std::sync::mpsc::sync_channel::<Vec<u8>>(6);
            let reader = scope.spawn(move || -> Option<String> {
                let mut sha = Sha256::new();
                sha.update(&head);
                for e in &header.extents {
                    let mut off = e.offset;
                    let end = e.offset + e.length;
                    while off < end {
                        let n = ((end - off) as usize).min(CHUNK);
                        let mut buf = spare.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
                        if let Err(err) = f.read_exact_at(&mut buf[..n], off) {
                            let _ = tx.send(Err(err));
                            return None;
                        }
                        sha.update(&buf[..n]);
                        if tx.send(Ok((buf, n))).is_err() {
                            return None;
                        }
                        off += n as u64;
                    }
                }
                Some(hex(&sha.finalize()))
            });
            for chunk in rx {
                let (buf, n) = chunk.map_err(|err| match err.kind() {
                    io::ErrorKind::UnexpectedEof => ArchiveError::BadInput(format!("{shown} shrank while packing")),
                    _ => ArchiveError::io(format!("reading disk {shown}"), err),
                })?;
                enc.write_all(&buf[..n]).map_err(werr)?;
                done += n as u64;
                progress(&Progress { phase: "packing", item: name.clone(), done, total: Some(total) });
                let _ = back.try_send(buf);
            }
            reader
                .join()
                .map_err(|_| ArchiveError::BadInput(format!("reading {shown} failed")))?
                .ok_or_else(|| ArchiveError::BadInput(format!("reading {shown} stopped")))
        })?;
        tario::write_padding(&mut enc, size).map_err(werr)?;
        manifest.disks[i].sha256 = digest;
    }
    tario::write_end(&mut enc).map_err(werr)?;
    let file = enc.finish().map_err(werr)?.finish().map_err(werr)?;

    let json = manifest.to_json();
    debug_assert_eq!(json.len(), placeholder.len());
    let sig = req.sign.map(|k| crate::signing::sign(k, &json)).transpose()?;
    let head = head_frame(&json, sig.as_deref(), mtime, req.level).map_err(werr)?;
    let gap = reserve.checked_sub(head.len() as u64 + 8).ok_or_else(|| {
        ArchiveError::BadInput(format!("manifest frame of {} bytes over its reserve of {reserve}", head.len()))
    })?;
    file.write_all_at(&head, 0).map_err(werr)?;
    let mut skip = [0u8; 8];
    skip[..4].copy_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
    skip[4..].copy_from_slice(&(gap as u32).to_le_bytes());
    file.write_all_at(&skip, head.len() as u64).map_err(werr)?;
    if req.sync {
        file.sync_all().map_err(werr)?;
    }
    let size = file.metadata().map_err(werr)?.len();
    fs::rename(&tmp, out).map_err(|e| ArchiveError::io(format!("renaming to {}", out.display()), e))?;
    tmp_guard.0 = None;
    if req.sync {
        sync_parent(out);
    }
    Ok(PackReport { path: out.to_path_buf(), size, manifest: Some(manifest) })
}

fn read_small<R: Read>(tar: &mut TarReader<R>, size: u64, limit: u64, name: &str) -> Result<Vec<u8>> {
    if size > limit {
        return Err(ArchiveError::LimitExceeded { what: format!("size of {name}"), limit });
    }
    let mut v = vec![0u8; size as usize];
    tar.read_data_exact(&mut v)?;
    Ok(v)
}

pub(super) fn read_head<R: Read>(src: R, limits: &crate::Limits) -> Result<(Manifest, Option<crate::signing::KeyId>)> {
    let dec = zstd::stream::read::Decoder::new(src).map_err(|e| ArchiveError::io("starting zstd", e))?;
    let mut tar = TarReader::new(dec, limits.max_members);
    let first = tar.next_entry()?.ok_or(ArchiveError::Missing { name: MANIFEST_NAME.into() })?;
    if first.name != MANIFEST_NAME || first.kind != Kind::Regular {
        return Err(ArchiveError::Unexpected { name: first.name, reason: format!("{MANIFEST_NAME} must come first") });
    }
    let json = read_small(&mut tar, first.size, limits.max_xml_bytes, MANIFEST_NAME)?;
    let manifest = Manifest::from_json(&json, limits)?;
    let key = match tar.next_entry()? {
        Some(e) if e.name == SIGNATURE_NAME && e.kind == Kind::Regular => {
            let s = read_small(&mut tar, e.size, MAX_SIGNATURE, SIGNATURE_NAME)?;
            Some(crate::signing::signature_key_id(&String::from_utf8_lossy(&s))?)
        }
        _ => None,
    };
    Ok((manifest, key))
}

pub(super) fn read<R: Read + Send + 'static>(src: Counting<R>, ctx: &mut ReadCtx<'_, '_>) -> Result<Package> {
    let limits = ctx.opts.limits.clone();
    let mut dec = zstd::stream::read::Decoder::new(src).map_err(|e| ArchiveError::io("starting zstd", e))?;
    dec.window_log_max(27).map_err(|e| ArchiveError::io("configuring zstd", e))?;
    // Decompression on its own thread, hashing and writing on this one.
    let mut tar = TarReader::new(super::Pipelined::new(dec), limits.max_members);
    let zerr = |e: ArchiveError| match e {
        ArchiveError::Io { context, source } if source.kind() != io::ErrorKind::UnexpectedEof => {
            ArchiveError::Corrupt { name: "zstd stream".into(), reason: format!("{context}: {source}") }
        }
        other => other,
    };

    let first = tar.next_entry().map_err(zerr)?.ok_or(ArchiveError::Missing { name: MANIFEST_NAME.into() })?;
    if first.name != MANIFEST_NAME || first.kind != Kind::Regular {
        return Err(ArchiveError::Unexpected { name: first.name, reason: format!("{MANIFEST_NAME} must come first") });
    }
    let json = read_small(&mut tar, first.size, limits.max_xml_bytes, MANIFEST_NAME).map_err(zerr)?;
    let mut next = tar.next_entry().map_err(zerr)?;
    let mut signature = None;
    if let Some(e) = next.as_ref().filter(|e| e.name == SIGNATURE_NAME) {
        if e.kind != Kind::Regular {
            return Err(ArchiveError::ForbiddenEntry { name: e.name.clone(), kind: "non-regular file" });
        }
        let s = read_small(&mut tar, e.size, MAX_SIGNATURE, SIGNATURE_NAME).map_err(zerr)?;
        signature = Some(
            String::from_utf8(s)
                .map_err(|_| ArchiveError::Corrupt { name: SIGNATURE_NAME.into(), reason: "not UTF-8".into() })?,
        );
        next = tar.next_entry().map_err(zerr)?;
    }

    // Trust before anything else is read or written.
    let status = match (&signature, ctx.opts.trusted.is_empty() && !ctx.opts.require_signature) {
        (None, true) => SignatureStatus::Unsigned,
        (None, false) => return Err(ArchiveError::Unsigned),
        (Some(s), true) => SignatureStatus::Unchecked(crate::signing::signature_key_id(s)?),
        (Some(s), false) => SignatureStatus::Verified(crate::signing::verify(&ctx.opts.trusted, &json, s)?),
    };
    let manifest = Manifest::from_json(&json, &limits)?;
    // `from_json` checked the snapshots and parsed the domain within `xml_limits`.
    let domain = crate::manifest::parse_domain(&manifest.domain_xml).map_err(crate::manifest::ManifestError::Domain)?;
    ctx.stage_bytes(MANIFEST_NAME, &json)?;
    if let Some(s) = &signature {
        ctx.stage_bytes(SIGNATURE_NAME, s.as_bytes())?;
    }
    ctx.stage_bytes("domain.xml", manifest.domain_xml.as_bytes())?;
    for (i, s) in manifest.snapshots.iter().enumerate() {
        ctx.stage_bytes(&format!("snapshot-{i}.xml"), s.as_bytes())?;
    }

    let mut disks = Vec::new();
    let mut buf = vec![0u8; CHUNK];
    for want in &manifest.disks {
        let member = want.member_name();
        let e = next.take().ok_or_else(|| ArchiveError::Missing { name: member.clone() })?;
        if e.name != member {
            let seen = manifest.disks.iter().any(|d| d.member_name() == e.name) || e.name == MANIFEST_NAME;
            return Err(if seen {
                ArchiveError::Duplicate { name: e.name }
            } else {
                ArchiveError::Unexpected { name: e.name, reason: format!("expected {member}") }
            });
        }
        if let Kind::Forbidden(kind) = e.kind {
            return Err(ArchiveError::ForbiddenEntry { name: e.name, kind });
        }
        if e.kind != Kind::Regular {
            return Err(ArchiveError::ForbiddenEntry { name: e.name, kind: "directory" });
        }
        if e.size != want.size {
            return Err(ArchiveError::SizeMismatch { name: member, expected: want.size, found: e.size });
        }
        ctx.item = want.file_name.clone();
        let info = read_disk(&mut tar, ctx, want, &mut buf).map_err(zerr)?;
        disks.push(info);
        next = tar.next_entry().map_err(zerr)?;
    }
    if let Some(e) = next {
        let dup = e.name == MANIFEST_NAME || manifest.disks.iter().any(|d| d.member_name() == e.name);
        return Err(if dup {
            ArchiveError::Duplicate { name: e.name }
        } else {
            ArchiveError::Unexpected { name: e.name, reason: "not in the manifest".into() }
        });
    }
    Ok(Package {
        format: Format::Native,
        domain,
        snapshots: manifest.snapshots.clone(),
        disks,
        metadata: manifest.metadata.clone(),
        manifest: Some(manifest),
        signature: status,
        files: Vec::new(),
    })
}

fn read_disk<R: Read>(
    tar: &mut TarReader<R>,
    ctx: &mut ReadCtx<'_, '_>,
    want: &DiskEntry,
    buf: &mut [u8],
) -> Result<DiskInfo> {
    let limits = ctx.opts.limits.clone();
    let name = want.member_name();
    let corrupt = |reason: String| ArchiveError::Corrupt { name: name.clone(), reason };
    let mut sha = Sha256::new();
    let mut fixed = [0u8; FIXED_HEADER as usize];
    tar.read_data_exact(&mut fixed)?;
    sha.update(fixed);
    let (apparent, count) = SparseHeader::decode_prefix(&fixed).map_err(|e| corrupt(e.to_string()))?;
    if apparent != want.apparent_size {
        return Err(ArchiveError::SizeMismatch {
            name: format!("{name} (apparent size)"),
            expected: want.apparent_size,
            found: apparent,
        });
    }
    if count > limits.max_extents {
        return Err(ArchiveError::LimitExceeded { what: format!("extents of {name}"), limit: limits.max_extents });
    }
    let table_len = count
        .checked_mul(16)
        .filter(|t| FIXED_HEADER + t <= want.size)
        .ok_or_else(|| corrupt(format!("{count} extents do not fit in a member of {} bytes", want.size)))?;
    let mut table = vec![0u8; table_len as usize];
    tar.read_data_exact(&mut table)?;
    sha.update(&table);
    let header = SparseHeader::decode_table(apparent, &table).map_err(|e| corrupt(e.to_string()))?;
    if header.member_size() != want.size || header.data_bytes() != want.data_bytes {
        return Err(ArchiveError::SizeMismatch {
            name: format!("{name} (extents)"),
            expected: want.size,
            found: header.member_size(),
        });
    }
    // Unpacking: each piece is hashed and written while it is still in the CPU's cache (as
    // tar writes each record it has just read); verifying: hashed only. Decompression runs on
    // its own thread (`Pipelined`).
    let mut sink = ctx.stage_disk(&want.file_name)?.map(crate::sparse::HoleWriter::new);
    let werr = |e: io::Error| ArchiveError::io(format!("writing staged {}", want.file_name), e);
    for ext in &header.extents {
        if let Some(w) = sink.as_mut() {
            w.seek_to(ext.offset).map_err(werr)?;
        }
        let mut left = ext.length;
        while left > 0 {
            let n = (left as usize).min(buf.len());
            tar.read_data_exact(&mut buf[..n])?;
            match sink.as_mut() {
                Some(w) => {
                    for piece in buf[..n].chunks(PIECE) {
                        sha.update(piece);
                        w.write_all(piece).map_err(werr)?;
                    }
                }
                None => sha.update(&buf[..n]),
            }
            left -= n as u64;
            ctx.account(n as u64)?;
            ctx.report();
        }
    }
    let found = hex(&sha.finalize());
    if found != want.sha256 {
        return Err(ArchiveError::ChecksumMismatch { name, expected: want.sha256.clone(), found });
    }
    if let Some(w) = sink {
        w.finish(Some(apparent)).map_err(werr)?;
    }
    Ok(DiskInfo {
        file_name: want.file_name.clone(),
        path: None,
        apparent_size: apparent,
        data_bytes: header.data_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_defaults_come_from_the_domain() {
        let d = kvmhost_core::domain::Domain::parse(
            "<domain type='kvm'><name>web</name><description>a web</description><memory unit='MiB'>512</memory><vcpu>2</vcpu></domain>",
        )
        .unwrap();
        let m = metadata_for(&PackRequest::new(&d, vec![]));
        assert_eq!((m.name.as_str(), m.description.as_str()), ("web", "a web"));
        assert_eq!((m.min_memory_mib, m.min_vcpus), (Some(512), Some(2)));
    }
}
