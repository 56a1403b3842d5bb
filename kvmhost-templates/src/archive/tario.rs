//! A strict, streaming tar reader (only what packages may hold) and the header writer of the
//! native format.
//!
//! Reading accepts regular files, GNU long names (`L`, size-limited) and pax headers (`x`/`g`,
//! size-limited; only `path` and `size` are used); every other entry type is refused by kind
//! (symlinks, hard links, devices, FIFOs, directories, GNU sparse entries). Headers' checksums
//! are verified; a stream that ends before its end-of-archive block is truncated.

use std::io::{self, Read, Write};

use super::ArchiveError;

/// Longest GNU long name or pax header accepted.
const MAX_META: u64 = 64 * 1024;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Regular,
    Directory,
    Forbidden(&'static str),
}

/// An entry's header, after long-name and pax resolution.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub name: String,
    pub size: u64,
    pub kind: Kind,
}

/// Reads entries one after the other from a stream.
pub(crate) struct TarReader<R> {
    inner: R,
    /// Bytes left in the current entry's data.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
    entries: u64,
    max_entries: u64,
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8], what: &str) -> Result<(), ArchiveError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => ArchiveError::Truncated { context: what.to_string() },
        _ => ArchiveError::io(what, e),
    })
}

fn field_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn parse_number(b: &[u8], what: &str) -> Result<u64, ArchiveError> {
    if b.first().is_some_and(|&c| c & 0x80 != 0) {
        // base-256: big-endian, first byte's high bit is the marker (negative values refused).
        if b[0] & 0x40 != 0 {
            return Err(ArchiveError::NotAPackage { reason: format!("negative {what} in a tar header") });
        }
        let mut v: u64 = (b[0] & 0x3f) as u64;
        for &c in &b[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(c as u64))
                .ok_or_else(|| ArchiveError::NotAPackage { reason: format!("{what} overflows in a tar header") })?;
        }
        return Ok(v);
    }
    let s: Vec<u8> = b.iter().copied().take_while(|&c| c != 0).filter(|&c| c != b' ').collect();
    if s.is_empty() {
        return Ok(0);
    }
    let mut v: u64 = 0;
    for c in s {
        if !(b'0'..=b'7').contains(&c) {
            return Err(ArchiveError::NotAPackage { reason: format!("bad octal {what} in a tar header") });
        }
        v = v
            .checked_mul(8)
            .and_then(|v| v.checked_add((c - b'0') as u64))
            .ok_or_else(|| ArchiveError::NotAPackage { reason: format!("{what} overflows in a tar header") })?;
    }
    Ok(v)
}

fn checksum_ok(h: &[u8; 512]) -> Result<bool, ArchiveError> {
    let stored = parse_number(&h[148..156], "checksum")?;
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &c) in h.iter().enumerate() {
        let c = if (148..156).contains(&i) { b' ' } else { c };
        unsigned += c as u64;
        signed += c as i8 as i64;
    }
    Ok(stored == unsigned || stored as i64 == signed)
}

impl<R: Read> TarReader<R> {
    pub(crate) fn new(inner: R, max_entries: u64) -> TarReader<R> {
        TarReader { inner, remaining: 0, padding: 0, entries: 0, max_entries }
    }

    /// Skips what is left of the current entry.
    fn skip_rest(&mut self) -> Result<(), ArchiveError> {
        let n = self.remaining + self.padding;
        if n > 0 {
            let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())
                .map_err(|e| ArchiveError::io("skipping tar data", e))?;
            if copied < n {
                return Err(ArchiveError::Truncated { context: "tar entry data".into() });
            }
        }
        self.remaining = 0;
        self.padding = 0;
        Ok(())
    }

    fn read_meta(&mut self, size: u64, what: &str) -> Result<Vec<u8>, ArchiveError> {
        if size > MAX_META {
            return Err(ArchiveError::LimitExceeded { what: what.to_string(), limit: MAX_META });
        }
        let mut v = vec![0u8; size as usize];
        read_full(&mut self.inner, &mut v, what)?;
        let pad = (512 - size % 512) % 512;
        let mut p = vec![0u8; pad as usize];
        read_full(&mut self.inner, &mut p, what)?;
        Ok(v)
    }

    /// The next entry, or `None` at the end-of-archive block.
    pub(crate) fn next_entry(&mut self) -> Result<Option<Entry>, ArchiveError> {
        self.skip_rest()?;
        let mut long_name: Option<String> = None;
        let mut pax_size: Option<u64> = None;
        loop {
            let mut h = [0u8; 512];
            read_full(&mut self.inner, &mut h, "tar header")?;
            if h.iter().all(|&c| c == 0) {
                return Ok(None);
            }
            if !checksum_ok(&h)? {
                return Err(ArchiveError::NotAPackage { reason: "tar header checksum mismatch".into() });
            }
            self.entries += 1;
            if self.entries > self.max_entries.saturating_mul(2).saturating_add(8) {
                return Err(ArchiveError::LimitExceeded { what: "tar entries".into(), limit: self.max_entries });
            }
            let size = parse_number(&h[124..136], "size")?;
            let ustar_posix = &h[257..263] == b"ustar\0";
            let mut name = field_str(&h[0..100]);
            if ustar_posix && h[345] != 0 {
                name = format!("{}/{}", field_str(&h[345..500]), name);
            }
            let kind = match h[156] {
                b'0' | 0 | b'7' => Kind::Regular,
                b'5' => Kind::Directory,
                b'1' => Kind::Forbidden("hard link"),
                b'2' => Kind::Forbidden("symbolic link"),
                b'3' => Kind::Forbidden("character device"),
                b'4' => Kind::Forbidden("block device"),
                b'6' => Kind::Forbidden("FIFO"),
                b'S' => Kind::Forbidden("GNU sparse entry"),
                b'L' => {
                    let v = self.read_meta(size, "GNU long name")?;
                    long_name = Some(field_str(&v));
                    continue;
                }
                b'K' => {
                    self.read_meta(size, "GNU long link name")?;
                    continue;
                }
                b'x' | b'g' => {
                    let v = self.read_meta(size, "pax header")?;
                    if h[156] == b'x' {
                        let (p, s) = parse_pax(&v)?;
                        if p.is_some() {
                            long_name = p;
                        }
                        pax_size = s.or(pax_size);
                    }
                    continue;
                }
                _ => Kind::Forbidden("unknown entry type"),
            };
            let size = pax_size.unwrap_or(size);
            let name = long_name.take().unwrap_or(name);
            self.remaining = if kind == Kind::Regular { size } else { 0 };
            self.padding = if kind == Kind::Regular { (512 - size % 512) % 512 } else { 0 };
            return Ok(Some(Entry { name, size, kind }));
        }
    }

    /// Reads the current entry's data (at most what is left of it).
    pub(crate) fn read_data(&mut self, buf: &mut [u8]) -> Result<usize, ArchiveError> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(self.remaining) as usize;
        let n = loop {
            match self.inner.read(&mut buf[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ArchiveError::io("reading tar data", e)),
            }
        };
        if n == 0 {
            return Err(ArchiveError::Truncated { context: "tar entry data".into() });
        }
        self.remaining -= n as u64;
        Ok(n)
    }

    /// Reads exactly `buf.len()` bytes of the current entry.
    pub(crate) fn read_data_exact(&mut self, mut buf: &mut [u8]) -> Result<(), ArchiveError> {
        while !buf.is_empty() {
            let n = self.read_data(buf)?;
            if n == 0 {
                return Err(ArchiveError::Truncated { context: "tar entry data".into() });
            }
            buf = &mut buf[n..];
        }
        Ok(())
    }

    /// Bytes left in the current entry.
    pub(crate) fn remaining(&self) -> u64 {
        self.remaining
    }
}

fn parse_pax(v: &[u8]) -> Result<(Option<String>, Option<u64>), ArchiveError> {
    let bad = || ArchiveError::NotAPackage { reason: "malformed pax header".into() };
    let mut rest = v;
    let (mut path, mut size) = (None, None);
    while !rest.is_empty() {
        let sp = rest.iter().position(|&c| c == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&rest[..sp]).ok().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        if len <= sp + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad());
        }
        let rec = &rest[sp + 1..len - 1];
        let eq = rec.iter().position(|&c| c == b'=').ok_or_else(bad)?;
        let (k, val) = (&rec[..eq], &rec[eq + 1..]);
        match k {
            b"path" => path = Some(String::from_utf8_lossy(val).into_owned()),
            b"size" => size = Some(std::str::from_utf8(val).ok().and_then(|s| s.parse().ok()).ok_or_else(bad)?),
            _ => {}
        }
        rest = &rest[len..];
    }
    Ok((path, size))
}

/// Writes a ustar header for a regular file `name` (at most 100 bytes) of `size` bytes.
pub(crate) fn write_header<W: Write>(w: &mut W, name: &str, size: u64, mtime: u64) -> io::Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name)?;
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    w.write_all(h.as_bytes())
}

/// Writes the zero padding after `size` bytes of data.
pub(crate) fn write_padding<W: Write>(w: &mut W, size: u64) -> io::Result<()> {
    let pad = ((512 - size % 512) % 512) as usize;
    w.write_all(&[0u8; 512][..pad])
}

/// Writes the end-of-archive marker (two zero blocks).
pub(crate) fn write_end<W: Write>(w: &mut W) -> io::Result<()> {
    w.write_all(&[0u8; 1024])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, t, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*t);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            if *t == tar::EntryType::Symlink {
                h.set_link_name("/etc/passwd").unwrap();
            }
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn reads_regular_entries_and_long_names() {
        let long = "d".repeat(150);
        let a = archive(&[("a.xml", tar::EntryType::Regular, b"hello"), (&long, tar::EntryType::Regular, b"x")]);
        let mut r = TarReader::new(&a[..], 10);
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!((e.name.as_str(), e.size), ("a.xml", 5));
        let mut buf = [0u8; 5];
        r.read_data_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        assert_eq!(r.next_entry().unwrap().unwrap().name, long);
        assert!(r.next_entry().unwrap().is_none());
    }

    #[test]
    fn refuses_links_and_truncation_and_bad_checksums() {
        let a = archive(&[("l", tar::EntryType::Symlink, b"")]);
        let e = TarReader::new(&a[..], 10).next_entry().unwrap().unwrap();
        assert_eq!(e.kind, Kind::Forbidden("symbolic link"));
        let a = archive(&[("a", tar::EntryType::Regular, &[1u8; 2000])]);
        let mut r = TarReader::new(&a[..1024], 10);
        r.next_entry().unwrap();
        assert!(matches!(r.next_entry(), Err(ArchiveError::Truncated { .. })));
        let mut bad = a.clone();
        bad[0] ^= 1;
        assert!(matches!(TarReader::new(&bad[..], 10).next_entry(), Err(ArchiveError::NotAPackage { .. })));
        assert!(matches!(TarReader::new(&a[..300], 10).next_entry(), Err(ArchiveError::Truncated { .. })));
    }
}
