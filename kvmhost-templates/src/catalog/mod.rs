//! Subscriptions and the local catalog of appliances, kept in a directory:
//!
//! - `catalog.json`: the feeds subscribed to and every appliance they list, each with its
//!   status (not installed / downloading / installed / error), written atomically after each
//!   change, so a crash at any point leaves the last consistent state;
//! - `NAME.part`: a download under way (`NAME` is the item's UUID), resumed from its length
//!   with an HTTP `Range` request (206 and a matching `Content-Range` required);
//! - `UUID.vmcast` / `UUID.xvm2`: downloaded and verified packages;
//! - `catalog.lock`: an exclusive lock held while a [`Catalog`] is open.
//!
//! A feed that fails to fetch or parse is marked with its error and kept (Archipel deleted the
//! subscription); its appliances stay listed.
//!
//! ```
//! use kvmhost_templates::catalog::{Catalog, ApplianceStatus, DownloadOutcome, DownloadOptions};
//! use kvmhost_templates::transport::FileTransport;
//! # let dir = tempfile::tempdir().unwrap();
//! # let pub_dir = dir.path().join("pub");
//! # std::fs::create_dir(&pub_dir).unwrap();
//! # let d = kvmhost_core::domain::Domain::parse("<domain><name>a</name></domain>").unwrap();
//! # kvmhost_templates::archive::pack(&kvmhost_templates::PackRequest::new(&d, vec![]), &pub_dir.join("a.vmcast"), &mut |_| {}).unwrap();
//! # let (feed_path, _) = kvmhost_templates::feed::generate(&pub_dir, pub_dir.to_str().unwrap(), &Default::default()).unwrap();
//! let mut cat = Catalog::open(&dir.path().join("cache")).unwrap();
//! cat.subscribe(feed_path.to_str().unwrap(), &FileTransport).unwrap();
//! let uuid = cat.appliances()[0].uuid.clone();
//! let out = cat.download(&uuid, &FileTransport, &DownloadOptions::default(), &mut |_| {}).unwrap();
//! assert!(matches!(out, DownloadOutcome::Complete { .. }));
//! assert!(matches!(cat.appliance(&uuid).unwrap().status, ApplianceStatus::Installed { .. }));
//! ```

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod download;

pub use download::PendingDownload;

use crate::archive::{ArchiveError, Package, ReadOptions};
use crate::feed::{self, FeedError};
use crate::fsutil::atomic_write;
use crate::transport::{read_limited, Transport, TransportError};

/// Errors of the catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// A file operation.
    #[error("{context}")]
    Io {
        /// What.
        context: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `catalog.json` exists but does not parse (it is left as it is).
    #[error("catalog {path} is corrupt: {message}")]
    Corrupt {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// Fetching failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The feed does not parse.
    #[error("feed {url}: {source}")]
    Feed {
        /// The feed.
        url: String,
        /// Why.
        #[source]
        source: Box<FeedError>,
    },
    /// No appliance with that UUID in any subscribed feed.
    #[error("no appliance {0} in the catalog")]
    UnknownAppliance(String),
    /// A feed item whose UUID cannot name a file, or whose enclosure URL a remote feed may
    /// not point to (a `file://` or local path from an HTTP feed).
    #[error("appliance {uuid}: refused: {reason}")]
    Refused {
        /// The item's UUID.
        uuid: String,
        /// Why.
        reason: String,
    },
    /// No such subscription.
    #[error("not subscribed to {0}")]
    UnknownFeed(String),
    /// The server did not resume as asked.
    #[error("{url}: range request not honoured ({detail})")]
    RangeNotHonoured {
        /// The URL.
        url: String,
        /// What came back.
        detail: String,
    },
    /// Sizes disagree (the enclosure length, the server, the data).
    #[error("{url}: {detail}")]
    SizeMismatch {
        /// The URL.
        url: String,
        /// What disagreed.
        detail: String,
    },
    /// The download ended early; the partial file is kept and the next download resumes it.
    #[error("{url}: connection ended after {got} of {expected} bytes (will resume)")]
    Interrupted {
        /// The URL.
        url: String,
        /// Bytes in the partial file.
        got: u64,
        /// Bytes expected.
        expected: u64,
    },
    /// The downloaded file's SHA-256 is not the feed's.
    #[error("{url}: SHA-256 {found} is not the feed's {expected}")]
    ChecksumMismatch {
        /// The URL.
        url: String,
        /// The feed's.
        expected: String,
        /// The file's.
        found: String,
    },
    /// The downloaded package failed verification.
    #[error("{file}: {source}")]
    Package {
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: Box<ArchiveError>,
    },
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> CatalogError {
    move |source| CatalogError::Io { context, source }
}

/// One feed's refresh: its URL and its item count, or why it failed.
pub type Refreshed = (String, Result<usize, CatalogError>);

/// Status of a subscribed feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum FeedStatus {
    /// Fetched and parsed at this time (RFC 3339).
    Ok {
        /// When.
        fetched_at: String,
    },
    /// The last refresh failed: kept, with the reason.
    Error {
        /// Why.
        message: String,
        /// When.
        at: String,
    },
}

/// A subscribed feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Subscription {
    /// Where it is fetched from.
    pub url: String,
    /// Its channel UUID.
    pub uuid: Option<String>,
    /// Its title.
    pub title: String,
    /// Its last refresh.
    pub status: FeedStatus,
}

/// Where an appliance stands locally (Archipel's four states).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ApplianceStatus {
    /// Listed, not downloaded.
    NotInstalled,
    /// A download started (and maybe was cut): its partial file.
    Downloading {
        /// The partial file.
        partial: PathBuf,
    },
    /// Downloaded and verified.
    Installed {
        /// The package.
        path: PathBuf,
    },
    /// The last download failed verification (the file was removed).
    Error {
        /// Why.
        message: String,
    },
}

/// An appliance listed by a subscribed feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Appliance {
    /// The item's UUID.
    pub uuid: String,
    /// The feed listing it.
    pub feed_url: String,
    /// The item as the feed has it.
    pub item: feed::Item,
    /// Local status.
    pub status: ApplianceStatus,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    version: u32,
    feeds: Vec<Subscription>,
    appliances: Vec<Appliance>,
}

/// Options of [`Catalog::download`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DownloadOptions {
    /// What the package verification trusts and limits.
    pub read: ReadOptions,
    /// Stop after this many bytes in this call, leaving the partial file for a later resume.
    pub max_bytes: Option<u64>,
}

impl DownloadOptions {
    /// Verify against these options (trusted keys, limits).
    pub fn verifying(read: ReadOptions) -> DownloadOptions {
        DownloadOptions { read, max_bytes: None }
    }

    /// Stop after `bytes` in this call.
    pub fn budget(mut self, bytes: u64) -> DownloadOptions {
        self.max_bytes = Some(bytes);
        self
    }
}

/// What [`Catalog::download`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DownloadOutcome {
    /// Downloaded and verified.
    Complete {
        /// The package.
        path: PathBuf,
        /// What verification found.
        package: Box<Package>,
    },
    /// Stopped at [`DownloadOptions::max_bytes`]: the partial file holds `bytes` of `total`.
    Paused {
        /// Bytes so far.
        bytes: u64,
        /// Bytes in all.
        total: u64,
    },
}

/// The catalog in a directory (see the module's docs).
#[derive(Debug)]
pub struct Catalog {
    dir: PathBuf,
    state: State,
    _lock: nix::fcntl::Flock<File>,
}

impl Catalog {
    /// Opens (creating) the catalog in `dir`, waiting for the lock.
    pub fn open(dir: &Path) -> Result<Catalog, CatalogError> {
        fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let lock_path = dir.join("catalog.lock");
        let lf = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(format!("opening {}", lock_path.display())))?;
        let lock = nix::fcntl::Flock::lock(lf, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| {
            CatalogError::Io { context: format!("locking {}", lock_path.display()), source: e.into() }
        })?;
        let path = dir.join("catalog.json");
        let state = match fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| CatalogError::Corrupt { path: path.display().to_string(), message: e.to_string() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State { version: 1, ..State::default() },
            Err(e) => return Err(io(format!("reading {}", path.display()))(e)),
        };
        Ok(Catalog { dir: dir.to_path_buf(), state, _lock: lock })
    }

    /// The catalog's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn save(&self) -> Result<(), CatalogError> {
        let path = self.dir.join("catalog.json");
        let json = serde_json::to_vec_pretty(&self.state).expect("the catalog serialises");
        atomic_write(&path, &json).map_err(io(format!("writing {}", path.display())))
    }

    /// The subscribed feeds.
    pub fn feeds(&self) -> &[Subscription] {
        &self.state.feeds
    }

    /// Every appliance of every subscribed feed.
    pub fn appliances(&self) -> &[Appliance] {
        &self.state.appliances
    }

    /// One appliance by UUID.
    pub fn appliance(&self, uuid: &str) -> Option<&Appliance> {
        self.state.appliances.iter().find(|a| a.uuid == uuid)
    }

    /// Fetches and parses a feed without subscribing.
    pub fn fetch_feed(
        url: &str,
        transport: &dyn Transport,
        limits: &crate::Limits,
    ) -> Result<feed::Feed, CatalogError> {
        let resp = transport.get(url, None)?;
        let bytes = read_limited(resp.body, limits.max_feed_bytes, url)?;
        let feed =
            feed::parse(&bytes, limits).map_err(|e| CatalogError::Feed { url: url.into(), source: Box::new(e) })?;
        tracing::debug!(url, bytes = bytes.len(), items = feed.items.len(), "feed fetched");
        Ok(feed)
    }

    /// Subscribes to the feed at `url` (it must fetch and parse) and lists its appliances.
    pub fn subscribe(&mut self, url: &str, transport: &dyn Transport) -> Result<&Subscription, CatalogError> {
        let f = Catalog::fetch_feed(url, transport, &crate::Limits::default())?;
        self.merge(url, &f);
        self.save()?;
        Ok(self.state.feeds.iter().find(|s| s.url == url).expect("just merged"))
    }

    /// Removes a subscription and its appliances from the catalog (downloaded files stay).
    pub fn unsubscribe(&mut self, url: &str) -> Result<(), CatalogError> {
        let before = self.state.feeds.len();
        self.state.feeds.retain(|s| s.url != url);
        if self.state.feeds.len() == before {
            return Err(CatalogError::UnknownFeed(url.into()));
        }
        self.state.appliances.retain(|a| a.feed_url != url);
        self.save()
    }

    /// Refreshes every feed; a feed that fails is marked with its error and kept. Returns each
    /// feed's URL with its result. [`Catalog::fetch_feeds`] and [`Catalog::merge_fetched`] in
    /// one call; a program that shares the catalog calls the two itself, so that the network is
    /// not waited for with the catalog held.
    ///
    /// ```
    /// # use kvmhost_templates::catalog::Catalog;
    /// # use kvmhost_templates::transport::FileTransport;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let pub_dir = dir.path().join("pub");
    /// # std::fs::create_dir(&pub_dir).unwrap();
    /// # let d = kvmhost_core::domain::Domain::parse("<domain><name>a</name></domain>").unwrap();
    /// # kvmhost_templates::archive::pack(&kvmhost_templates::PackRequest::new(&d, vec![]), &pub_dir.join("a.vmcast"), &mut |_| {}).unwrap();
    /// # let (feed_path, _) = kvmhost_templates::feed::generate(&pub_dir, pub_dir.to_str().unwrap(), &Default::default()).unwrap();
    /// let catalog = std::sync::Mutex::new(Catalog::open(&dir.path().join("cache")).unwrap());
    /// catalog.lock().unwrap().subscribe(feed_path.to_str().unwrap(), &FileTransport).unwrap();
    /// let urls: Vec<String> = catalog.lock().unwrap().feeds().iter().map(|f| f.url.clone()).collect();
    /// let fetched = Catalog::fetch_feeds(&urls, &FileTransport);    // the catalog is not held
    /// let results = catalog.lock().unwrap().merge_fetched(fetched).unwrap();
    /// assert_eq!(results[0].1.as_ref().unwrap(), &1);
    /// ```
    pub fn refresh(&mut self, transport: &dyn Transport) -> Result<Vec<Refreshed>, CatalogError> {
        let urls: Vec<String> = self.state.feeds.iter().map(|s| s.url.clone()).collect();
        let fetched = Catalog::fetch_feeds(&urls, transport);
        self.merge_fetched(fetched)
    }

    /// Fetches and parses each of `urls` (with the default limits), keeping each outcome.
    pub fn fetch_feeds(urls: &[String], transport: &dyn Transport) -> Vec<(String, Result<feed::Feed, CatalogError>)> {
        let limits = crate::Limits::default();
        urls.iter().map(|url| (url.clone(), Catalog::fetch_feed(url, transport, &limits))).collect()
    }

    /// Merges what [`Catalog::fetch_feeds`] got: a feed that parsed updates its appliances, one
    /// that failed is marked with its error and kept; a URL no longer subscribed is ignored
    /// (unsubscribed meanwhile). Returns each feed's URL with its item count or its error.
    pub fn merge_fetched(
        &mut self,
        fetched: Vec<(String, Result<feed::Feed, CatalogError>)>,
    ) -> Result<Vec<Refreshed>, CatalogError> {
        let mut out = Vec::new();
        for (url, result) in fetched {
            if !self.state.feeds.iter().any(|s| s.url == url) {
                continue;
            }
            match result {
                Ok(f) => {
                    self.merge(&url, &f);
                    out.push((url, Ok(f.items.len())));
                }
                Err(e) => {
                    tracing::warn!(url = %url, error = %e, "feed refresh failed; the feed is kept with its error");
                    if let Some(s) = self.state.feeds.iter_mut().find(|s| s.url == url) {
                        s.status =
                            FeedStatus::Error { message: e.to_string(), at: crate::date::rfc3339(crate::date::now()) };
                    }
                    out.push((url, Err(e)));
                }
            }
        }
        self.save()?;
        Ok(out)
    }

    fn merge(&mut self, url: &str, f: &feed::Feed) {
        let status = FeedStatus::Ok { fetched_at: crate::date::rfc3339(crate::date::now()) };
        let sub = Subscription { url: url.into(), uuid: f.uuid.clone(), title: f.title.clone(), status };
        match self.state.feeds.iter_mut().find(|s| s.url == url) {
            Some(s) => *s = sub,
            None => self.state.feeds.push(sub),
        }
        for item in &f.items {
            match self.state.appliances.iter_mut().find(|a| a.uuid == item.uuid) {
                Some(a) => {
                    if a.item.sha256 != item.sha256 || a.item.enclosure != item.enclosure {
                        // A new package under the same UUID: what was downloaded is stale.
                        if !matches!(a.status, ApplianceStatus::Downloading { .. }) {
                            a.status = ApplianceStatus::NotInstalled;
                        }
                    }
                    a.item = item.clone();
                    a.feed_url = url.into();
                }
                None => self.state.appliances.push(Appliance {
                    uuid: item.uuid.clone(),
                    feed_url: url.into(),
                    item: item.clone(),
                    status: ApplianceStatus::NotInstalled,
                }),
            }
        }
    }

    fn set_status(&mut self, uuid: &str, status: ApplianceStatus) -> Result<(), CatalogError> {
        if let Some(a) = self.state.appliances.iter_mut().find(|a| a.uuid == uuid) {
            a.status = status;
        }
        self.save()
    }
}
