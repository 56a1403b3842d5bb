//! Sparse disk images: finding their data with `SEEK_DATA` / `SEEK_HOLE`, this crate's sparse
//! member encoding, and writing images back with their holes.
//!
//! # The sparse member encoding (native packages)
//!
//! A disk image is one tar member holding, all integers little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `KVMHSPR1` |
//! | 8 | apparent size of the image (holes included) |
//! | 8 | number of data extents `n` |
//! | 8 | reserved, zero |
//! | 16 × n | extents: offset, length — sorted, non-empty, non-overlapping, inside the image |
//! | Σ lengths | the extents' bytes, in order |
//!
//! So a 20 GiB image holding 200 MiB of data is a member of about 200 MiB, read and written
//! in time proportional to its data. The member's size follows from its header alone, which
//! lets a reader check it against the tar header before reading any data.
//!
//! ```
//! use kvmhost_templates::sparse::{SparseHeader, Extent};
//! let h = SparseHeader { apparent_size: 1 << 20, extents: vec![Extent { offset: 4096, length: 8192 }] };
//! let bytes = h.encode();
//! assert_eq!(h.member_size(), bytes.len() as u64 + 8192);
//! let back = SparseHeader::decode_prefix(&bytes[..32]).unwrap();
//! assert_eq!(back, (1 << 20, 1));
//! ```

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

use nix::unistd::{lseek, Whence};
use serde::{Deserialize, Serialize};

/// Magic bytes opening a sparse member.
pub const MAGIC: &[u8; 8] = b"KVMHSPR1";
/// Size of the fixed part of the header.
pub const FIXED_HEADER: u64 = 32;
/// Granularity of hole detection when writing (a filesystem block).
pub const BLOCK: usize = 4096;

/// One run of data in an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extent {
    /// Byte offset in the image.
    pub offset: u64,
    /// Length in bytes (never zero).
    pub length: u64,
}

/// Errors of the sparse encoding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SparseError {
    /// The member does not start with [`MAGIC`].
    #[error("not a sparse member (bad magic)")]
    BadMagic,
    /// An extent table that breaks the rules (order, overlap, bounds, count).
    #[error("invalid extent table: {0}")]
    BadTable(String),
    /// Reading the image's layout failed.
    #[error("cannot map the data of {path}")]
    Map {
        /// The image.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// The header of a sparse member: apparent size and data extents.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SparseHeader {
    /// Apparent size of the image.
    pub apparent_size: u64,
    /// Data extents, sorted.
    pub extents: Vec<Extent>,
}

impl SparseHeader {
    /// Bytes of data (the sum of the extents' lengths).
    pub fn data_bytes(&self) -> u64 {
        self.extents.iter().map(|e| e.length).sum()
    }

    /// Size of the header (fixed part and extent table).
    pub fn header_size(&self) -> u64 {
        FIXED_HEADER + 16 * self.extents.len() as u64
    }

    /// Size of the whole member: header plus data.
    pub fn member_size(&self) -> u64 {
        self.header_size() + self.data_bytes()
    }

    /// The header's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.header_size() as usize);
        v.extend_from_slice(MAGIC);
        v.extend_from_slice(&self.apparent_size.to_le_bytes());
        v.extend_from_slice(&(self.extents.len() as u64).to_le_bytes());
        v.extend_from_slice(&0u64.to_le_bytes());
        for e in &self.extents {
            v.extend_from_slice(&e.offset.to_le_bytes());
            v.extend_from_slice(&e.length.to_le_bytes());
        }
        v
    }

    /// Decodes the fixed 32-byte part: `(apparent size, extent count)`.
    pub fn decode_prefix(b: &[u8]) -> Result<(u64, u64), SparseError> {
        if b.len() < FIXED_HEADER as usize || &b[..8] != MAGIC {
            return Err(SparseError::BadMagic);
        }
        let size = u64::from_le_bytes(b[8..16].try_into().expect("8 bytes"));
        let count = u64::from_le_bytes(b[16..24].try_into().expect("8 bytes"));
        if b[24..32] != [0; 8] {
            return Err(SparseError::BadTable("reserved field is not zero".into()));
        }
        Ok((size, count))
    }

    /// Decodes and checks an extent table of `count` entries for an image of `apparent_size`.
    pub fn decode_table(apparent_size: u64, table: &[u8]) -> Result<SparseHeader, SparseError> {
        let mut extents = Vec::with_capacity(table.len() / 16);
        let mut end = 0u64;
        for (i, c) in table.chunks_exact(16).enumerate() {
            let offset = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
            let length = u64::from_le_bytes(c[8..].try_into().expect("8 bytes"));
            let stop = offset.checked_add(length);
            match stop {
                _ if length == 0 => return Err(SparseError::BadTable(format!("extent {i} is empty"))),
                _ if i > 0 && offset < end => {
                    return Err(SparseError::BadTable(format!("extent {i} overlaps or is out of order")))
                }
                Some(s) if s <= apparent_size => end = s,
                _ => return Err(SparseError::BadTable(format!("extent {i} ends past the image size"))),
            }
            extents.push(Extent { offset, length });
        }
        Ok(SparseHeader { apparent_size, extents })
    }
}

/// The data extents of an open file, from `SEEK_DATA` / `SEEK_HOLE` (the whole file where the
/// filesystem does not report holes). Adjacent extents are merged.
pub fn data_extents(file: &File, path: &str) -> Result<SparseHeader, SparseError> {
    let map_err = |e: io::Error| SparseError::Map { path: path.to_string(), source: e };
    let size = file.metadata().map_err(map_err)?.len();
    let mut extents: Vec<Extent> = Vec::new();
    let mut pos: u64 = 0;
    while pos < size {
        let data = match lseek(file, pos as i64, Whence::SeekData) {
            Ok(d) => d as u64,
            Err(nix::errno::Errno::ENXIO) => break,
            Err(nix::errno::Errno::EINVAL) if pos == 0 => {
                // No SEEK_DATA support: all data.
                extents.push(Extent { offset: 0, length: size });
                break;
            }
            Err(e) => return Err(map_err(io::Error::from(e))),
        };
        if data >= size {
            break;
        }
        let hole = match lseek(file, data as i64, Whence::SeekHole) {
            Ok(h) => (h as u64).min(size),
            Err(e) => return Err(map_err(io::Error::from(e))),
        };
        if hole <= data {
            return Err(map_err(io::Error::other("SEEK_HOLE went backwards")));
        }
        match extents.last_mut() {
            Some(last) if last.offset + last.length == data => last.length += hole - data,
            _ => extents.push(Extent { offset: data, length: hole - data }),
        }
        pos = hole;
    }
    Ok(SparseHeader { apparent_size: size, extents })
}

/// Writes an image at chosen offsets, leaving every all-zero, block-aligned block as a hole.
///
/// Used for native members (positioned by their extents) and for `.xvm2` disks (a plain
/// stream: [`Write`] appends). [`HoleWriter::finish`] sets the apparent size.
///
/// ```
/// use std::io::Write;
/// use kvmhost_templates::sparse::HoleWriter;
/// let dir = tempfile::tempdir().unwrap();
/// let f = std::fs::File::create(dir.path().join("img")).unwrap();
/// let mut w = HoleWriter::new(f);
/// w.write_all(&vec![0u8; 1 << 20]).unwrap();
/// w.write_all(b"data").unwrap();
/// let f = w.finish(None).unwrap();
/// assert_eq!(f.metadata().unwrap().len(), (1 << 20) + 4);
/// ```
pub struct HoleWriter {
    file: File,
    /// File offset of `buf[0]`.
    pos: u64,
    buf: Vec<u8>,
    /// Largest offset written or skipped so far.
    end: u64,
    /// Bytes actually written (zero blocks excluded).
    written: u64,
}

const FLUSH_AT: usize = 128 << 10;

impl HoleWriter {
    /// Writes into `file` from offset 0.
    pub fn new(file: File) -> HoleWriter {
        HoleWriter { file, pos: 0, buf: Vec::with_capacity(FLUSH_AT + BLOCK), end: 0, written: 0 }
    }

    /// Continues at `offset` (after flushing what is buffered).
    pub fn seek_to(&mut self, offset: u64) -> io::Result<()> {
        self.flush_buf()?;
        self.pos = offset;
        Ok(())
    }

    /// The offset the next byte goes to.
    pub fn position(&self) -> u64 {
        self.pos + self.buf.len() as u64
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        // Blocks aligned on file offsets: the first may be partial.
        let mut i = 0usize;
        let mut run_start: Option<usize> = None;
        while i < self.buf.len() {
            let off = self.pos + i as u64;
            let to_boundary = BLOCK - (off % BLOCK as u64) as usize;
            let j = (i + to_boundary).min(self.buf.len());
            let zero = is_zero(&self.buf[i..j]);
            match (zero, run_start) {
                (false, None) => run_start = Some(i),
                (true, Some(s)) => {
                    write_run(&self.file, &self.buf[s..i], self.pos + s as u64)?;
                    self.written += (i - s) as u64;
                    run_start = None;
                }
                _ => {}
            }
            i = j;
        }
        if let Some(s) = run_start {
            write_run(&self.file, &self.buf[s..], self.pos + s as u64)?;
            self.written += (self.buf.len() - s) as u64;
        }
        self.pos += self.buf.len() as u64;
        self.end = self.end.max(self.pos);
        self.buf.clear();
        Ok(())
    }

    /// Bytes written so far that were not zero blocks (what is buffered included).
    pub fn data_written(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    /// Flushes, sets the file's size (`apparent`, or the furthest position written) and
    /// returns the file.
    pub fn finish(mut self, apparent: Option<u64>) -> io::Result<File> {
        self.flush_buf()?;
        let size = apparent.unwrap_or(self.end);
        self.file.set_len(size)?;
        Ok(self.file)
    }
}

impl Write for HoleWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = FLUSH_AT.saturating_sub(self.buf.len()).max(1);
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()
    }
}

/// Largest single write(2): as tar does (10 KiB records), data goes to the page cache in
/// pieces that stay in the CPU's cache between the copy into our buffer and the kernel's copy
/// out of it; 1 MiB writes cost more system time on the VM measured (BENCHMARKS.md, issue 12).
const WRITE_PIECE: usize = 16 << 10;

fn write_run(file: &File, data: &[u8], offset: u64) -> io::Result<()> {
    for (k, piece) in data.chunks(WRITE_PIECE).enumerate() {
        file.write_all_at(piece, offset + (k * WRITE_PIECE) as u64)?;
    }
    Ok(())
}

/// True when every byte is zero (word at a time).
pub fn is_zero(b: &[u8]) -> bool {
    let (head, words, tail) = {
        // SAFETY: every bit pattern is a valid u64; align_to only reinterprets the aligned middle.
        unsafe { b.align_to::<u64>() }
    };
    head.iter().all(|&x| x == 0) && words.iter().all(|&w| w == 0) && tail.iter().all(|&x| x == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn extents_of_a_sparse_file_are_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("img");
        let f = File::create(&p).unwrap();
        f.set_len(64 << 20).unwrap();
        f.write_all_at(&[1u8; 8192], 1 << 20).unwrap();
        f.write_all_at(&[2u8; 4096], 32 << 20).unwrap();
        f.sync_all().unwrap();
        let f = File::open(&p).unwrap();
        let h = data_extents(&f, "img").unwrap();
        assert_eq!(h.apparent_size, 64 << 20);
        assert!(h.data_bytes() < 1 << 20, "{h:?}");
        assert!(h.extents.iter().any(|e| e.offset <= 1 << 20 && e.offset + e.length >= (1 << 20) + 8192));
    }

    #[test]
    fn tables_that_break_the_rules_are_refused() {
        let enc = |ext: &[(u64, u64)]| {
            let h = SparseHeader {
                apparent_size: 100,
                extents: ext.iter().map(|&(offset, length)| Extent { offset, length }).collect(),
            };
            let b = h.encode();
            SparseHeader::decode_table(100, &b[32..])
        };
        assert!(enc(&[(0, 10), (20, 10)]).is_ok());
        assert!(enc(&[(0, 10), (5, 10)]).is_err(), "overlap");
        assert!(enc(&[(20, 10), (0, 10)]).is_err(), "order");
        assert!(enc(&[(95, 10)]).is_err(), "bounds");
        assert!(enc(&[(u64::MAX, 2)]).is_err(), "overflow");
        assert!(enc(&[(0, 0)]).is_err(), "empty");
        assert!(matches!(SparseHeader::decode_prefix(b"NOTMAGIC........................"), Err(SparseError::BadMagic)));
    }

    #[test]
    fn hole_writer_leaves_zero_blocks_as_holes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("img");
        let mut w = HoleWriter::new(File::create(&p).unwrap());
        w.write_all(&vec![0u8; 8 << 20]).unwrap();
        w.write_all(&[7u8; 100]).unwrap();
        w.seek_to(20 << 20).unwrap();
        w.write_all(&[9u8; 10]).unwrap();
        w.finish(Some(30 << 20)).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(m.len(), 30 << 20);
        assert!(m.blocks() * 512 <= 64 * 1024, "allocated {}", m.blocks() * 512);
        let data = std::fs::read(&p).unwrap();
        assert_eq!(&data[8 << 20..(8 << 20) + 100], &[7u8; 100][..]);
        assert_eq!(data[(8 << 20) + 100], 0);
        assert_eq!(&data[20 << 20..(20 << 20) + 10], &[9u8; 10][..]);
        assert!(is_zero(&data[..8 << 20]));
    }
}
