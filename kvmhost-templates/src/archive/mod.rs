//! Appliance packages: the native format (zstd-compressed tar with a signed manifest and
//! sparse disk members) and Archipel's `.xvm2` (plain tar, gzipped disks).
//!
//! - [`pack`] writes either format from a domain and its disk images.
//! - [`verify`] reads a package through, checking everything, and writes nothing.
//! - [`unpack`] does the same checks while writing the domain, snapshots and disks into a
//!   directory: files are built in a staging directory and moved into place only when the
//!   whole package has been checked, so a failed unpack leaves the target as it was.
//!
//! The format is detected from the content ([`detect`]), never from the file name.
//!
//! ```
//! use kvmhost_templates::archive::{self, Format, PackRequest, ReadOptions};
//! use kvmhost_core::domain::Domain;
//! let dir = tempfile::tempdir().unwrap();
//! let img = dir.path().join("vda.img");
//! let f = std::fs::File::create(&img).unwrap();
//! f.set_len(64 << 20).unwrap();                      // 64 MiB, all hole
//! std::os::unix::fs::FileExt::write_all_at(&f, b"boot", 1 << 20).unwrap();
//! let domain = Domain::parse("<domain type='kvm'><name>web</name></domain>").unwrap();
//! let pkg = dir.path().join("web.vmcast");
//! archive::pack(&PackRequest::new(&domain, vec![img]), &pkg, &mut |_| {}).unwrap();
//! assert_eq!(archive::detect(&pkg).unwrap(), Format::Native);
//! let out = archive::unpack(&pkg, &dir.path().join("out"), &ReadOptions::default(), &mut |_| {}).unwrap();
//! assert_eq!(out.disks[0].apparent_size, 64 << 20);
//! ```

mod native;
mod pipeline;
pub(crate) mod tario;
mod xvm2;
mod zstd_stream;

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kvmhost_core::domain::Domain;
use serde::{Deserialize, Serialize};

use crate::fsutil::Staging;
use crate::manifest::{Manifest, ManifestError, Metadata};
use crate::signing::{KeyId, PublicKey, SecretKey, SigningError};
use crate::sparse::SparseError;
use crate::Limits;

pub(crate) use crate::fsutil::hex;
pub(crate) use pipeline::{Counting, Pipelined, ThreadedWriter};

/// Errors of packing, verifying and unpacking packages. Each names the member or file at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// An I/O failure, with what was being done.
    #[error("{context}")]
    Io {
        /// What failed (`reading disk /x/vda.img`).
        context: String,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// Not a package of either format.
    #[error("not a package: {reason}")]
    NotAPackage {
        /// Why.
        reason: String,
    },
    /// A member name that could escape the target or collide with the package's own files.
    #[error("unsafe member name {name:?}: {reason}")]
    UnsafeName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A member of a kind packages never hold (link, device, FIFO, directory, sparse entry).
    #[error("member {name:?} is a {kind}, which packages may not hold")]
    ForbiddenEntry {
        /// The name.
        name: String,
        /// Its kind.
        kind: &'static str,
    },
    /// The same member twice.
    #[error("member {name:?} appears twice")]
    Duplicate {
        /// The name.
        name: String,
    },
    /// A member the manifest does not list, or out of its place.
    #[error("unexpected member {name:?}: {reason}")]
    Unexpected {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A member the package must hold is absent.
    #[error("missing member {name:?}")]
    Missing {
        /// The name.
        name: String,
    },
    /// A size that disagrees with the manifest, the sparse header or a feed.
    #[error("{name}: size {found} disagrees with the expected {expected}")]
    SizeMismatch {
        /// The member or file.
        name: String,
        /// What was expected.
        expected: u64,
        /// What was found.
        found: u64,
    },
    /// A SHA-256 that disagrees with the manifest.
    #[error("{name}: SHA-256 {found} disagrees with the manifest's {expected}")]
    ChecksumMismatch {
        /// The member.
        name: String,
        /// The manifest's.
        expected: String,
        /// The data's.
        found: String,
    },
    /// The stream ended early.
    #[error("truncated package (ended inside {context})")]
    Truncated {
        /// Where.
        context: String,
    },
    /// A limit of [`Limits`] was crossed (decompression bombs included).
    #[error("limit exceeded: {what} (limit {limit})")]
    LimitExceeded {
        /// What.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// A member whose content is corrupt (bad gzip, bad sparse header, bad XML).
    #[error("member {name:?} is corrupt: {reason}")]
    Corrupt {
        /// The member.
        name: String,
        /// Why.
        reason: String,
    },
    /// The manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A signature is missing, untrusted or invalid.
    #[error("signature: {0}")]
    Signature(#[from] SigningError),
    /// Trusted keys were given (or a signature required) and the package has no signature.
    #[error("the package is not signed, and a signature is required")]
    Unsigned,
    /// A target file already exists.
    #[error("{} already exists (unpack never overwrites)", path.display())]
    TargetExists {
        /// The file.
        path: PathBuf,
    },
    /// Invalid input to [`pack`].
    #[error("cannot pack: {0}")]
    BadInput(String),
}

impl ArchiveError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> ArchiveError {
        // Errors of ours carried through `io::Read` come back unchanged.
        if source.get_ref().is_some_and(|e| e.is::<ArchiveError>()) {
            let inner = source.into_inner().expect("checked above");
            return *inner.downcast::<ArchiveError>().expect("checked above");
        }
        ArchiveError::Io { context: context.into(), source }
    }
}

impl From<SparseError> for ArchiveError {
    fn from(e: SparseError) -> Self {
        match e {
            SparseError::Map { path, source } => {
                ArchiveError::Io { context: format!("mapping the data of {path}"), source }
            }
            other => ArchiveError::Corrupt { name: "disk".into(), reason: other.to_string() },
        }
    }
}

/// Result of this module.
pub type Result<T> = std::result::Result<T, ArchiveError>;

/// The two package formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// This crate's: zstd-compressed tar, manifest first, sparse disks, optional signature.
    Native,
    /// Archipel's `.xvm2`: plain tar, `description.xml`, gzipped disks.
    Xvm2,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Format, String> {
        match s {
            "native" => Ok(Format::Native),
            "xvm2" => Ok(Format::Xvm2),
            _ => Err(format!("unknown format {s:?} (native or xvm2)")),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Native => "native",
            Format::Xvm2 => "xvm2",
        })
    }
}

/// Progress of a long operation: bytes done of a total (when known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// What is being done (`packing`, `reading`, `downloading`).
    pub phase: &'static str,
    /// The member or file at hand.
    pub item: String,
    /// Bytes done.
    pub done: u64,
    /// Bytes in all, when known.
    pub total: Option<u64>,
}

/// What a reader of packages checks and trusts.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Limits on what the package may make us read and write.
    pub limits: Limits,
    /// Keys whose signatures are trusted. When not empty, a signature by one of them is required.
    pub trusted: Vec<PublicKey>,
    /// Require a signature even with no trusted keys (then every package fails: use with keys).
    pub require_signature: bool,
}

impl ReadOptions {
    /// Options trusting `keys` (and so requiring a signature when `keys` is not empty).
    pub fn trusting(keys: Vec<PublicKey>) -> ReadOptions {
        ReadOptions { trusted: keys, ..ReadOptions::default() }
    }

    /// The same options with other limits.
    pub fn with_limits(mut self, limits: Limits) -> ReadOptions {
        self.limits = limits;
        self
    }
}

/// The signature status of a package that was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "key_id")]
pub enum SignatureStatus {
    /// No signature.
    Unsigned,
    /// Signed, not checked (no trusted keys given).
    Unchecked(KeyId),
    /// Signed by this trusted key, and the signature verifies.
    Verified(KeyId),
}

impl std::fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureStatus::Unsigned => f.write_str("unsigned"),
            SignatureStatus::Unchecked(k) => write!(f, "signed by {k} (not checked: no trusted keys)"),
            SignatureStatus::Verified(k) => write!(f, "signature by trusted key {k} verified"),
        }
    }
}

/// A disk read from a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskInfo {
    /// File name (without `.gz` for `.xvm2`).
    pub file_name: String,
    /// Where it was written (`None` for [`verify`]).
    pub path: Option<PathBuf>,
    /// Apparent size.
    pub apparent_size: u64,
    /// Bytes of data written (zero blocks excluded).
    pub data_bytes: u64,
}

/// What reading a package found (and, for [`unpack`], wrote).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Package {
    /// Its format.
    pub format: Format,
    /// The domain as packed (`.xvm2`: with Archipel's original absolute disk paths).
    pub domain: Domain,
    /// Snapshot XML documents.
    pub snapshots: Vec<String>,
    /// The disks.
    pub disks: Vec<DiskInfo>,
    /// Metadata (native) or what `.xvm2` allows to know (the domain's name).
    pub metadata: Metadata,
    /// The manifest (native only).
    pub manifest: Option<Manifest>,
    /// Signature status.
    pub signature: SignatureStatus,
    /// Files written by [`unpack`] (empty for [`verify`]).
    pub files: Vec<PathBuf>,
}

/// What [`pack`] makes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PackRequest<'a> {
    /// The domain to pack.
    pub domain: &'a Domain,
    /// Disk images, matched to the domain's disks by file name.
    pub disks: Vec<PathBuf>,
    /// Snapshot XML documents.
    pub snapshots: Vec<String>,
    /// Metadata (native); defaults from the domain.
    pub metadata: Option<Metadata>,
    /// Which format.
    pub format: Format,
    /// Sign the manifest (native only).
    pub sign: Option<&'a SecretKey>,
    /// zstd level (native; default 3).
    pub level: i32,
    /// zstd worker threads (native; default: one per core plus one, so that the cores stay
    /// busy while the reading and hashing thread waits on the disk; measured in BENCHMARKS.md).
    pub threads: u32,
    /// gzip each disk (`.xvm2`; Archipel's default, level 9).
    pub gzip: bool,
    /// fsync the package before renaming it into place (default; off only to compare with
    /// tools that do not).
    pub sync: bool,
}

impl<'a> PackRequest<'a> {
    /// A native package of `domain` with `disks`, level 3 with one zstd worker per core plus one, unsigned.
    pub fn new(domain: &'a Domain, disks: Vec<PathBuf>) -> PackRequest<'a> {
        let threads = std::thread::available_parallelism().map(|n| n.get() as u32 + 1).unwrap_or(1);
        PackRequest {
            domain,
            disks,
            snapshots: Vec::new(),
            metadata: None,
            format: Format::Native,
            sign: None,
            level: 3,
            threads,
            gzip: true,
            sync: true,
        }
    }
}

/// What [`pack`] wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PackReport {
    /// The package.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// The manifest (native).
    pub manifest: Option<Manifest>,
}

/// Writes a package to `out` (through a temporary file renamed at the end).
pub fn pack(req: &PackRequest<'_>, out: &Path, progress: &mut dyn FnMut(&Progress)) -> Result<PackReport> {
    let mut names = std::collections::HashSet::new();
    for d in &req.disks {
        let name = disk_file_name(d)?;
        crate::manifest::check_file_name(&name)?;
        if !names.insert(name.clone()) {
            return Err(ArchiveError::BadInput(format!("two disks named {name}")));
        }
    }
    let _span = tracing::info_span!("vmcast_pack", out = %out.display(), format = ?req.format, disks = req.disks.len())
        .entered();
    let report = match req.format {
        Format::Native => native::pack(req, out, progress),
        Format::Xvm2 => xvm2::pack(req, out, progress),
    }
    .inspect_err(|e| tracing::debug!(error = %e, "packing failed"))?;
    tracing::info!("package written");
    Ok(report)
}

pub(crate) fn disk_file_name(p: &Path) -> Result<String> {
    p.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| ArchiveError::BadInput(format!("{} has no usable file name", p.display())))
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Detects a package's format from its first bytes.
pub fn detect(path: &Path) -> Result<Format> {
    let mut f = File::open(path).map_err(|e| ArchiveError::io(format!("opening {}", path.display()), e))?;
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(ArchiveError::io(format!("reading {}", path.display()), e)),
        }
    }
    detect_bytes(&head[..n])
}

/// Detects a format from a package's first bytes (at least 4 for native, 263 for `.xvm2`).
pub fn detect_bytes(head: &[u8]) -> Result<Format> {
    if head.starts_with(&ZSTD_MAGIC) {
        Ok(Format::Native)
    } else if head.len() >= 263 && &head[257..262] == b"ustar" {
        Ok(Format::Xvm2)
    } else {
        Err(ArchiveError::NotAPackage { reason: "neither a zstd stream nor a tar archive".into() })
    }
}

/// Reads a package through and checks everything; writes nothing.
pub fn verify(path: &Path, opts: &ReadOptions, progress: &mut dyn FnMut(&Progress)) -> Result<Package> {
    read(path, None, opts, progress)
}

/// Checks a package while unpacking it into `dir` (created if absent; existing files are never
/// overwritten): `domain.xml`, `snapshot-N.xml`, `manifest.json` (native) and the disk images,
/// sparse. On any error nothing is left in `dir`.
pub fn unpack(path: &Path, dir: &Path, opts: &ReadOptions, progress: &mut dyn FnMut(&Progress)) -> Result<Package> {
    let _span = tracing::info_span!("vmcast_unpack", package = %path.display(), dir = %dir.display()).entered();
    let mut staging = Staging::new(dir).map_err(|e| ArchiveError::io(format!("creating {}", dir.display()), e))?;
    let mut pkg = read(path, Some(&mut staging), opts, progress)
        .inspect_err(|e| tracing::debug!(error = %e, "package refused; nothing written"))?;
    if let Err(p) = staging.check_free() {
        return Err(ArchiveError::TargetExists { path: p });
    }
    let files = staging.commit().map_err(|e| ArchiveError::io(format!("moving files into {}", dir.display()), e))?;
    for d in &mut pkg.disks {
        d.path = Some(dir.join(&d.file_name));
    }
    pkg.files = files;
    tracing::info!(files = pkg.files.len(), "package unpacked");
    Ok(pkg)
}

/// Reads only the head of a native package: its manifest, checked, and the id of the key that
/// signed it (not verified: [`verify`] does that).
pub fn read_manifest(path: &Path, limits: &Limits) -> Result<(Manifest, Option<KeyId>)> {
    let f = File::open(path).map_err(|e| ArchiveError::io(format!("opening {}", path.display()), e))?;
    native::read_head(BufReader::new(f), limits)
}

fn read(
    path: &Path,
    staging: Option<&mut Staging>,
    opts: &ReadOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Package> {
    let format = detect(path)?;
    let f = File::open(path).map_err(|e| ArchiveError::io(format!("opening {}", path.display()), e))?;
    let total = f.metadata().ok().map(|m| m.len());
    let input = Arc::new(AtomicU64::new(0));
    let counting = Counting { inner: BufReader::with_capacity(128 << 10, f), count: input.clone() };
    let mut ctx = ReadCtx { opts, staging, progress, total, item: String::new(), written: 0, input };
    match format {
        Format::Native => native::read(counting, &mut ctx),
        Format::Xvm2 => xvm2::read(counting, &mut ctx),
    }
}

/// State shared by the readers of both formats.
pub(crate) struct ReadCtx<'a, 'b> {
    pub opts: &'a ReadOptions,
    pub staging: Option<&'b mut Staging>,
    pub progress: &'a mut dyn FnMut(&Progress),
    pub total: Option<u64>,
    pub item: String,
    /// Decompressed bytes produced so far (all members).
    pub written: u64,
    /// Package bytes consumed so far (shared with the reading thread).
    pub input: Arc<AtomicU64>,
}

impl ReadCtx<'_, '_> {
    /// Accounts `n` more decompressed bytes against the absolute and ratio limits; `input` is
    /// the compressed bytes consumed so far.
    pub(crate) fn account(&mut self, n: u64) -> Result<()> {
        let input = self.input.load(Ordering::Relaxed);
        let l = &self.opts.limits;
        self.written += n;
        if self.written > l.max_total_bytes {
            return Err(ArchiveError::LimitExceeded { what: "decompressed bytes".into(), limit: l.max_total_bytes });
        }
        if self.written > l.ratio_floor && self.written / input.max(1) > l.max_ratio {
            return Err(ArchiveError::LimitExceeded {
                what: "compression ratio (decompression bomb)".into(),
                limit: l.max_ratio,
            });
        }
        Ok(())
    }

    pub(crate) fn report(&mut self) {
        let done = self.input.load(Ordering::Relaxed);
        (self.progress)(&Progress { phase: "reading", item: self.item.clone(), done, total: self.total });
    }

    /// Writes a small staged file (XML, manifest).
    pub(crate) fn stage_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        if let Some(s) = self.staging.as_deref_mut() {
            use std::io::Write;
            let mut f = s.create(name).map_err(|e| ArchiveError::io(format!("creating staged {name}"), e))?;
            f.write_all(bytes).map_err(|e| ArchiveError::io(format!("writing staged {name}"), e))?;
        }
        Ok(())
    }

    /// Creates a staged disk image file, or `None` when only verifying.
    pub(crate) fn stage_disk(&mut self, name: &str) -> Result<Option<File>> {
        match self.staging.as_deref_mut() {
            Some(s) => {
                let f = s.create(name).map_err(|e| ArchiveError::io(format!("creating staged {name}"), e))?;
                Ok(Some(f))
            }
            None => Ok(None),
        }
    }
}

/// Checks a member name that must be one safe component.
pub(crate) fn safe_member(name: &str) -> Result<()> {
    crate::manifest::check_file_name(name).map_err(|e| match e {
        ManifestError::UnsafeName { name, reason } => ArchiveError::UnsafeName { name, reason: reason.to_string() },
        other => ArchiveError::Manifest(other),
    })
}
