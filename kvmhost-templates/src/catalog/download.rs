//! Downloading an appliance in three steps, so that the fetch (the long part) does not hold the
//! catalog: [`Catalog::begin_download`] marks it downloading and says where and how much,
//! [`PendingDownload::fetch`] appends to its partial file (resuming with `Range`), and
//! [`Catalog::finish_download`] verifies size, SHA-256 and the package before it counts as
//! installed. [`Catalog::download`] runs the three in one call.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::{io, Appliance, ApplianceStatus, Catalog, CatalogError, DownloadOptions, DownloadOutcome};
use crate::archive::{self, Format, Package, Progress, ReadOptions};
use crate::transport::{parse_content_range, Transport};

/// An appliance download taken out of the catalog ([`Catalog::begin_download`]): fetch it with
/// [`PendingDownload::fetch`] from any thread, then hand it back to
/// [`Catalog::finish_download`].
///
/// ```
/// # use kvmhost_templates::catalog::{Catalog, DownloadOptions, DownloadOutcome};
/// # use kvmhost_templates::transport::FileTransport;
/// # let dir = tempfile::tempdir().unwrap();
/// # let pub_dir = dir.path().join("pub");
/// # std::fs::create_dir(&pub_dir).unwrap();
/// # let d = kvmhost_core::domain::Domain::parse("<domain><name>a</name></domain>").unwrap();
/// # kvmhost_templates::archive::pack(&kvmhost_templates::PackRequest::new(&d, vec![]), &pub_dir.join("a.vmcast"), &mut |_| {}).unwrap();
/// # let (feed_path, _) = kvmhost_templates::feed::generate(&pub_dir, pub_dir.to_str().unwrap(), &Default::default()).unwrap();
/// let catalog = std::sync::Mutex::new(Catalog::open(&dir.path().join("cache")).unwrap());
/// catalog.lock().unwrap().subscribe(feed_path.to_str().unwrap(), &FileTransport).unwrap();
/// let uuid = catalog.lock().unwrap().appliances()[0].uuid.clone();
/// let pending = catalog.lock().unwrap().begin_download(&uuid).unwrap();
/// // The catalog is free while the bytes come (others may list or refresh it).
/// let paused = pending.fetch(&FileTransport, &DownloadOptions::default(), &mut |_| {}).unwrap();
/// assert_eq!(paused, None);
/// let out = catalog.lock().unwrap().finish_download(pending, &Default::default()).unwrap();
/// assert!(matches!(out, DownloadOutcome::Complete { .. }));
/// ```
#[derive(Debug, Clone)]
pub struct PendingDownload {
    appliance: Appliance,
    partial: PathBuf,
}

impl PendingDownload {
    /// The appliance's UUID.
    pub fn uuid(&self) -> &str {
        &self.appliance.uuid
    }

    /// The enclosure's URL.
    pub fn url(&self) -> &str {
        &self.appliance.item.enclosure.url
    }

    /// The bytes the feed announces.
    pub fn total(&self) -> u64 {
        self.appliance.item.enclosure.length
    }

    /// The partial file the bytes go to (`UUID.part` in the catalog's directory).
    pub fn partial(&self) -> &Path {
        &self.partial
    }

    /// Fetches what the partial file lacks (from its length on, with `Range`), at most
    /// `opts.max_bytes` this time: `Ok(Some(bytes))` when that budget stopped it (call again to
    /// go on), `Ok(None)` when every byte is there. A server that sends more than the enclosure
    /// length, or ignores the range, is an error; a connection cut short is
    /// [`CatalogError::Interrupted`] with what came kept for the next call.
    pub fn fetch(
        &self,
        transport: &dyn Transport,
        opts: &DownloadOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Option<u64>, CatalogError> {
        let (url, total, partial) = (self.url(), self.total(), &self.partial);
        let mut have = fs::metadata(partial).map(|m| m.len()).unwrap_or(0);
        if have > total {
            // Not a prefix of this package: start again.
            fs::remove_file(partial).map_err(io(format!("removing {}", partial.display())))?;
            have = 0;
        }
        if have == total {
            return Ok(None);
        }
        if have > 0 {
            tracing::info!(from = have, "resuming the download");
        }
        let paused = fetch_into(transport, url, partial, have, total, opts.max_bytes, progress)?;
        if let Some(bytes) = paused {
            tracing::info!(bytes, "download paused (budget reached)");
        }
        Ok(paused)
    }
}

impl Catalog {
    /// Downloads (or resumes) an appliance, then verifies size, SHA-256 (when the feed gives
    /// it) and the package itself (signature against `opts.read.trusted`):
    /// [`Catalog::begin_download`], [`PendingDownload::fetch`] and
    /// [`Catalog::finish_download`] in one call.
    pub fn download(
        &mut self,
        uuid: &str,
        transport: &dyn Transport,
        opts: &DownloadOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<DownloadOutcome, CatalogError> {
        let pending = self.begin_download(uuid)?;
        let span = tracing::info_span!("vmcast_download", uuid, url = %pending.url(), total = pending.total());
        let _entered = span.enter();
        if let Some(bytes) = pending.fetch(transport, opts, progress)? {
            return Ok(DownloadOutcome::Paused { bytes, total: pending.total() });
        }
        self.finish_download(pending, &opts.read)
    }

    /// Marks the appliance downloading and returns what [`PendingDownload::fetch`] needs. An
    /// HTTP(S) feed may only point at HTTP(S) enclosures (not at files on this host).
    pub fn begin_download(&mut self, uuid: &str) -> Result<PendingDownload, CatalogError> {
        let a = self.appliance(uuid).ok_or_else(|| CatalogError::UnknownAppliance(uuid.into()))?.clone();
        crate::manifest::check_file_name(uuid)
            .map_err(|e| CatalogError::Refused { uuid: uuid.into(), reason: e.to_string() })?;
        let url = &a.item.enclosure.url;
        let remote = |u: &str| u.starts_with("http://") || u.starts_with("https://");
        if remote(&a.feed_url) && !remote(url) {
            return Err(CatalogError::Refused {
                uuid: uuid.into(),
                reason: format!("a feed served over HTTP points at {url:?}, not an HTTP(S) URL"),
            });
        }
        let partial = self.dir.join(format!("{uuid}.part"));
        self.set_status(uuid, ApplianceStatus::Downloading { partial: partial.clone() })?;
        Ok(PendingDownload { appliance: a, partial })
    }

    /// Verifies a fetched download (size, SHA-256 when the feed gives it, the package against
    /// `read`) and installs it as `UUID.vmcast` / `UUID.xvm2`; a refused one is removed and the
    /// appliance marked with the error.
    pub fn finish_download(
        &mut self,
        pending: PendingDownload,
        read: &ReadOptions,
    ) -> Result<DownloadOutcome, CatalogError> {
        let PendingDownload { appliance: a, partial } = pending;
        let uuid = a.uuid.as_str();
        match verify_download(&a, &partial, read) {
            Ok((format, package)) => {
                let ext = match format {
                    Format::Native => "vmcast",
                    Format::Xvm2 => "xvm2",
                };
                let path = self.dir.join(format!("{uuid}.{ext}"));
                fs::rename(&partial, &path).map_err(io(format!("renaming to {}", path.display())))?;
                crate::fsutil::sync_parent(&path);
                tracing::info!(path = %path.display(), "appliance downloaded and verified");
                self.set_status(uuid, ApplianceStatus::Installed { path: path.clone() })?;
                Ok(DownloadOutcome::Complete { path, package: Box::new(package) })
            }
            Err(e) => {
                tracing::debug!(error = %e, "downloaded appliance refused; the partial file is removed");
                let _ = fs::remove_file(&partial);
                self.set_status(uuid, ApplianceStatus::Error { message: e.to_string() })?;
                Err(e)
            }
        }
    }
}

/// Appends `url` from byte `have` to `partial`; `Some(bytes)` when the budget stopped it.
#[allow(clippy::too_many_arguments)]
fn fetch_into(
    transport: &dyn Transport,
    url: &str,
    partial: &Path,
    have: u64,
    total: u64,
    budget: Option<u64>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Option<u64>, CatalogError> {
    let resp = transport.get(url, Some(have))?;
    if have > 0 {
        let cr = resp.content_range.as_deref().and_then(parse_content_range);
        match (resp.status, cr) {
            (206, Some((start, end, Some(t)))) if start == have && t == total && end + 1 == total => {}
            (status, _) => {
                return Err(CatalogError::RangeNotHonoured {
                    url: url.into(),
                    detail: format!("status {status}, Content-Range {:?} for bytes={have}-", resp.content_range),
                })
            }
        }
    } else if resp.status != 200 {
        return Err(CatalogError::SizeMismatch {
            url: url.into(),
            detail: format!("unexpected status {}", resp.status),
        });
    }
    if let Some(len) = resp.content_length {
        if len != total - have {
            return Err(CatalogError::SizeMismatch {
                url: url.into(),
                detail: format!("server sends {len} bytes, the enclosure length leaves {}", total - have),
            });
        }
    }
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(partial)
        .map_err(io(format!("opening {}", partial.display())))?;
    let mut body = resp.body;
    let mut buf = vec![0u8; 1 << 20];
    let mut got = have;
    let mut this_run = 0u64;
    loop {
        let want = match budget {
            Some(b) if this_run >= b => {
                f.sync_all().map_err(io(format!("syncing {}", partial.display())))?;
                return Ok(Some(got));
            }
            Some(b) => ((b - this_run) as usize).min(buf.len()),
            None => buf.len(),
        };
        let n = match body.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => 0, // a broken connection is an early end: keep what came
        };
        if n == 0 {
            break;
        }
        if got + n as u64 > total {
            return Err(CatalogError::SizeMismatch {
                url: url.into(),
                detail: format!("more than the enclosure length of {total} bytes"),
            });
        }
        f.write_all(&buf[..n]).map_err(io(format!("writing {}", partial.display())))?;
        got += n as u64;
        this_run += n as u64;
        progress(&Progress { phase: "downloading", item: url.into(), done: got, total: Some(total) });
    }
    f.sync_all().map_err(io(format!("syncing {}", partial.display())))?;
    if got < total {
        return Err(CatalogError::Interrupted { url: url.into(), got, expected: total });
    }
    Ok(None)
}

fn verify_download(a: &Appliance, file: &Path, read: &ReadOptions) -> Result<(Format, Package), CatalogError> {
    let url = &a.item.enclosure.url;
    let len = fs::metadata(file).map_err(io(format!("stat {}", file.display())))?.len();
    if len != a.item.enclosure.length {
        return Err(CatalogError::SizeMismatch {
            url: url.clone(),
            detail: format!("{len} bytes, the enclosure says {}", a.item.enclosure.length),
        });
    }
    if let Some(expected) = &a.item.sha256 {
        let found = crate::fsutil::sha256_file(file).map_err(io(format!("reading {}", file.display())))?;
        if &found != expected {
            return Err(CatalogError::ChecksumMismatch { url: url.clone(), expected: expected.clone(), found });
        }
    }
    let pkg_err = |e| CatalogError::Package { file: file.display().to_string(), source: Box::new(e) };
    let format = archive::detect(file).map_err(pkg_err)?;
    let package = archive::verify(file, read, &mut |_| {}).map_err(pkg_err)?;
    Ok((format, package))
}
