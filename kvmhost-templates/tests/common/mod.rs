//! Helpers of the integration tests: real sparse images, hand-made tar archives (including
//! the hostile ones a tar library refuses to write), directory snapshots.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Makes a sparse image of `apparent` bytes with data `(offset, bytes)` pieces.
pub fn sparse_image(path: &Path, apparent: u64, pieces: &[(u64, &[u8])]) {
    let f = File::create(path).unwrap();
    f.set_len(apparent).unwrap();
    for (off, data) in pieces {
        f.write_all_at(data, *off).unwrap();
    }
    f.sync_all().unwrap();
}

/// Pseudo-random, mildly compressible bytes (deterministic).
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        // half the bytes from a small alphabet: compressible like real disk content
        v.extend_from_slice(&[b[0], b[1] & 0x0f, b[2], b[3] & 0x0f, b[4], b[5] & 0x0f, b[6], b[7] & 0x0f]);
    }
    v.truncate(len);
    v
}

/// Bytes actually allocated on disk.
pub fn allocated(path: &Path) -> u64 {
    fs::metadata(path).unwrap().blocks() * 512
}

/// One raw tar header (GNU magic), for archives a tar library would refuse to write.
pub fn header(name: &str, typeflag: u8, size: u64, link: &str) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"14000000000\0");
    h[156] = typeflag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..265].copy_from_slice(b"ustar  \0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A tar archive from raw entries `(name, typeflag, data, link)`, ended properly.
pub fn raw_tar(entries: &[(&str, u8, &[u8], &str)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (name, t, data, link) in entries {
        v.extend_from_slice(&header(name, *t, data.len() as u64, link));
        v.extend_from_slice(data);
        v.resize(v.len().div_ceil(512) * 512, 0);
    }
    v.extend_from_slice(&[0u8; 1024]);
    v
}

/// gzip at level 9, as Archipel's appliancecompresser did.
pub fn gzip9(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(9));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Every path under `dir` with its size, modification time and inode (and for small files a
/// content hash): compares before and after.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, u64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                stack.push(e.path());
                out.insert(e.path(), (0, 0));
            } else {
                let content = if m.len() <= 1 << 20 { fs::read(e.path()).unwrap_or_default() } else { Vec::new() };
                let h = content.iter().fold(1469598103934665603u64, |h, &b| (h ^ b as u64).wrapping_mul(1099511628211))
                    ^ (m.mtime_nsec() as u64).rotate_left(32)
                    ^ m.mtime() as u64
                    ^ m.ino().rotate_left(16);
                out.insert(e.path(), (m.len(), h));
            }
        }
    }
    out
}

/// An Archipel-style domain whose disk sources are absolute paths on the packing host.
pub fn archipel_domain(disk_paths: &[&str]) -> String {
    let mut disks = String::new();
    for (i, p) in disk_paths.iter().enumerate() {
        disks.push_str(&format!(
            "<disk type=\"file\" device=\"disk\"><driver name=\"qemu\" type=\"qcow2\" cache=\"none\" />\
             <source file=\"{p}\" /><target dev=\"vd{}\" bus=\"virtio\" /></disk>",
            (b'a' + i as u8) as char
        ));
    }
    format!(
        "<domain type=\"kvm\"><name>archipel-vm</name><uuid>6a1bf5e2-5c7a-11e0-9ae1-0019d1b6c5d3</uuid>\
         <memory>524288</memory><currentMemory>524288</currentMemory><vcpu>1</vcpu>\
         <os><type arch=\"x86_64\" machine=\"pc\">hvm</type><boot dev=\"hd\" /></os>\
         <description /><devices><emulator>/usr/bin/kvm</emulator>{disks}\
         <interface type=\"bridge\"><mac address=\"DE:AD:0B:12:34:56\" /><source bridge=\"br0\" /></interface>\
         <interface type=\"network\"><source network=\"default\" /></interface>\
         <graphics type=\"vnc\" port=\"-1\" /></devices></domain>"
    )
}
