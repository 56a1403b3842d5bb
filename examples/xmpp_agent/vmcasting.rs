//! VMCasts (Archipel's `archipel-agent-vmcasting`: `hypervisorrepomanager.py` and
//! `vmappliancemanager.py`) on top of kvmhost-templates.
//!
//! - The hypervisor answers `archipel:hypervisor:vmcasting` (permission `vmcasting_<action>`):
//!   `get` (`<source name description url uuid>` with its `<appliance name description url size
//!   date uuid status>`; status 1 installed, 2 downloading, 3 not installed, 4 error),
//!   `register url`, `unregister uuid` (the source's), `downloadappliance uuid` (in the
//!   background; `download_start`, then `download_complete` / `download_error` pushes),
//!   `downloadqueue` (`<download uuid name percentage total>`), `getappliances uuid` and
//!   `getinstalledappliances` (`<appliance path name description uuid>`).
//! - A VM answers `archipel:virtualmachine:vmcasting` (`appliance.rs`; permission
//!   `appliance_<action>`): `get` (the installed appliances, `status` `installed` for the one
//!   attached), `attach uuid` (the appliance becomes this VM's definition and disks, keeping its
//!   name and UUID, with fresh MACs), `detach` (forgets the attachment; the disks stay),
//!   `package name` (a VM that is shut off becomes the appliance `name` in the hypervisor's own
//!   repository, listed by `getinstalledappliances`).
//!
//! The repository (`--vmcast-dir`, default `STATE/vmcasts`) holds `catalog/` (kvmhost-templates'
//! catalog: the registered feeds and their appliances in `catalog.json`, written atomically, so
//! registrations survive restarts; downloaded packages), `own/` (packaged VMs, `NAME.vmcast`,
//! UUID as Archipel's own feed names them: uuid3 of the file name) and `vms/<uuid>/` (the
//! disks of attached appliances and the `current.package` marker).
//!
//! Where this differs from Archipel, kvmhost-templates' behaviour is kept:
//! - feeds and packages are hostile input: read with kvmhost-templates' limits, every download
//!   checked against the enclosure length and the feed's SHA-256 and verified as a package
//!   before it counts as installed (Archipel trusted `urlretrieve`); archives never write
//!   outside their target (Archipel's `tarfile.extractall`); typed errors become Archipel errors;
//! - `register` takes only `http://` / `https://` URLs (Archipel's `urlopen` also read local
//!   files); a feed that stops parsing is kept, marked with its error (Archipel deleted it);
//! - a download is fetched without holding the catalog (`begin_download`, `PendingDownload::fetch`,
//!   `finish_download`: `get` is not held up), resumed with `Range` when the connection is cut;
//! - `attach` and `package` answer when done (Archipel answered at once and reported through
//!   presence); both refuse a running VM; packages are kvmhost's native format (`.vmcast`),
//!   Archipel's `.xvm2` is read too; `deleteappliance` is not implemented.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use kvmhost::templates::archive;
use kvmhost::templates::catalog::{
    Appliance, ApplianceStatus, Catalog, CatalogError, DownloadOptions, DownloadOutcome, Subscription,
};
use kvmhost::templates::manifest::check_file_name;
use kvmhost::templates::transport::DefaultTransport;
use kvmhost::templates::{feed, Limits};

use crate::acp::{Failure, Request};
use crate::agent::{Agent, Entity};
pub(crate) use crate::error_chain::chain;
use crate::log;
use crate::xml::Element;

/// `archipel:hypervisor:vmcasting`.
pub const NS_HYPERVISOR_VMCASTING: &str = "archipel:hypervisor:vmcasting";
/// `archipel:virtualmachine:vmcasting`.
pub const NS_VM_VMCASTING: &str = "archipel:virtualmachine:vmcasting";

const CODE_GET: i64 = -6001;
const CODE_REGISTER: i64 = -6002;
const CODE_UNREGISTER: i64 = -6003;
const CODE_DOWNLOAD: i64 = -6004;
const CODE_QUEUE: i64 = -6005;
const CODE_GETAPPLIANCES: i64 = -6006;
const CODE_GETINSTALLED: i64 = -6008;
pub(crate) const CODE_ATTACH: i64 = -4001;
pub(crate) const CODE_VM_GET: i64 = -4002;
pub(crate) const CODE_DETACH: i64 = -4003;
pub(crate) const CODE_PACKAGE: i64 = -4004;

/// The permission a command of these namespaces needs (Archipel's `check_perm` prefixes);
/// other namespaces' commands need the action itself.
pub fn permission(ns: &str, action: &str) -> String {
    match ns {
        NS_HYPERVISOR_VMCASTING => format!("vmcasting_{action}"),
        NS_VM_VMCASTING => format!("appliance_{action}"),
        _ => action.to_string(),
    }
}

/// A download under way.
#[derive(Debug, Clone)]
struct Download {
    name: String,
    done: u64,
    total: u64,
}

/// The hypervisor's appliance repository.
pub struct Repository {
    dir: PathBuf,
    catalog: Arc<Mutex<Catalog>>,
    queue: Arc<Mutex<HashMap<String, Download>>>,
    /// Appliances whose last download failed before the catalog saw it (status 4).
    failed: Mutex<HashSet<String>>,
    /// VMs attaching or packaging.
    pub(crate) busy: Mutex<HashSet<String>>,
    /// Held while packing (one package name at a time).
    pub(crate) packing: Arc<Mutex<()>>,
}

pub(crate) fn fail(code: i64) -> impl Fn(&dyn std::error::Error) -> Failure {
    move |e| Failure::generic(code, chain(e))
}

/// Runs blocking repository work off the runtime; a panic there is an error, not a crash.
pub(crate) async fn blocking<T: Send + 'static>(
    code: i64,
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Failure::generic(code, format!("internal error: {e}")))?
}

fn source_uuid(s: &Subscription) -> String {
    s.uuid.clone().unwrap_or_else(|| feed::item_uuid(&s.url))
}

impl Repository {
    /// Opens (creating) the repository in `dir`.
    pub fn open(dir: &Path) -> Result<Repository, String> {
        for sub in ["own", "vms"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("creating {}: {e}", dir.join(sub).display()))?;
        }
        let catalog = Catalog::open(&dir.join("catalog")).map_err(|e| chain(&e))?;
        Ok(Repository {
            dir: dir.to_path_buf(),
            catalog: Arc::new(Mutex::new(catalog)),
            queue: Arc::default(),
            failed: Mutex::default(),
            busy: Mutex::default(),
            packing: Arc::default(),
        })
    }

    pub(crate) fn own(&self) -> PathBuf {
        self.dir.join("own")
    }

    pub(crate) fn vm_dir(&self, uuid: &str) -> PathBuf {
        self.dir.join("vms").join(uuid)
    }

    /// A freed VM's attached disks go (as Archipel removes a freed VM's folder).
    pub fn forget_vm(&self, uuid: &str) {
        if check_file_name(uuid).is_ok() {
            match std::fs::remove_dir_all(self.vm_dir(uuid)) {
                Ok(()) => log!("{uuid}: its appliance disks are removed"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => log!("{uuid}: cannot remove its appliance disks: {e}"),
            }
        }
    }

    /// Installed appliances: (uuid, path, name, description), downloaded ones then packaged ones.
    pub(crate) fn installed(&self) -> Vec<(String, PathBuf, String, String)> {
        let mut out: Vec<_> = self
            .catalog
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .appliances()
            .iter()
            .filter_map(|a| match &a.status {
                ApplianceStatus::Installed { path } => {
                    Some((a.uuid.clone(), path.clone(), a.item.title.clone(), a.item.description.clone()))
                }
                _ => None,
            })
            .collect();
        let mut names: Vec<String> = std::fs::read_dir(self.own())
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".vmcast") && !n.starts_with('.'))
            .collect();
        names.sort();
        for n in names {
            let path = self.own().join(&n);
            let (name, description) = match archive::read_manifest(&path, &Limits::default()) {
                Ok((m, _)) => (m.metadata.name, m.metadata.description),
                Err(_) => continue,
            };
            out.push((feed::item_uuid(&n), path, name, description));
        }
        out
    }

    pub(crate) fn installed_one(&self, uuid: &str) -> Option<(PathBuf, String, String)> {
        self.installed().into_iter().find(|a| a.0 == uuid).map(|(_, p, n, d)| (p, n, d))
    }
}

pub(crate) fn appliance_element(path: &Path, name: &str, description: &str, uuid: &str) -> Element {
    Element::new("appliance", "")
        .attr("path", path.display().to_string())
        .attr("name", name)
        .attr("description", description)
        .attr("uuid", uuid)
}

/// Runs one `archipel:hypervisor:vmcasting` command (the permission was checked).
pub async fn hypervisor(agent: &Arc<Agent>, req: &Request) -> Result<Vec<Element>, Failure> {
    let repo = &agent.vmcasting;
    match req.action.as_str() {
        "get" => get(agent).await,
        "register" => {
            let url = req.required("url").map_err(|f| Failure { code: CODE_REGISTER, ..f })?.trim().to_string();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Failure::generic(CODE_REGISTER, format!("{url:?} is not an http:// or https:// URL")));
            }
            let catalog = repo.catalog.clone();
            let u = url.clone();
            blocking(CODE_REGISTER, move || {
                let mut c = catalog.lock().unwrap_or_else(PoisonError::into_inner);
                c.subscribe(&u, &DefaultTransport::default()).map(|_| ()).map_err(|e| fail(CODE_REGISTER)(&e))
            })
            .await?;
            log!("registered the VMCast feed {url} for {}", req.sender());
            agent.push(&Entity::Hypervisor, "vmcasting", "register");
            Ok(vec![])
        }
        "unregister" => {
            let uuid = req.required("uuid").map_err(|f| Failure { code: CODE_UNREGISTER, ..f })?.to_string();
            let catalog = repo.catalog.clone();
            let url = blocking(CODE_UNREGISTER, move || {
                let mut c = catalog.lock().unwrap_or_else(PoisonError::into_inner);
                let url = c
                    .feeds()
                    .iter()
                    .find(|s| source_uuid(s) == uuid || s.url == uuid)
                    .map(|s| s.url.clone())
                    .ok_or_else(|| Failure::generic(CODE_UNREGISTER, format!("no registered feed {uuid}")))?;
                c.unsubscribe(&url).map_err(|e| fail(CODE_UNREGISTER)(&e))?;
                Ok(url)
            })
            .await?;
            log!("unregistered the VMCast feed {url} for {}", req.sender());
            agent.push(&Entity::Hypervisor, "vmcasting", "unregister");
            Ok(vec![])
        }
        "downloadappliance" => download(agent, req).await,
        "downloadqueue" => {
            let queue = repo.queue.lock().map_err(|_| Failure::generic(CODE_QUEUE, "the queue is unusable"))?;
            let mut items: Vec<_> = queue.iter().collect();
            items.sort_by(|a, b| a.0.cmp(b.0));
            Ok(items
                .into_iter()
                .map(|(uuid, d)| {
                    let pct = if d.total == 0 { 0.0 } else { d.done as f64 * 100.0 / d.total as f64 };
                    Element::new("download", "")
                        .attr("uuid", uuid.as_str())
                        .attr("name", d.name.as_str())
                        .attr("percentage", format!("{pct:.2}"))
                        .attr("total", d.total.to_string())
                })
                .collect())
        }
        "getappliances" => {
            let uuid = req.required("uuid").map_err(|f| Failure { code: CODE_GETAPPLIANCES, ..f })?.to_string();
            let r = agent.clone();
            let u = uuid.clone();
            let (path, name, description) = blocking(CODE_GETAPPLIANCES, move || {
                r.vmcasting
                    .installed_one(&u)
                    .ok_or_else(|| Failure::generic(CODE_GETAPPLIANCES, format!("no installed appliance {u}")))
            })
            .await?;
            Ok(vec![appliance_element(&path, &name, &description, &uuid)])
        }
        "getinstalledappliances" => {
            let r = agent.clone();
            let all = blocking(CODE_GETINSTALLED, move || Ok(r.vmcasting.installed())).await?;
            Ok(all.iter().map(|(u, p, n, d)| appliance_element(p, n, d, u)).collect())
        }
        other => Err(Failure::generic(-1, format!("unknown action '{other}'"))),
    }
}

/// `get`: every feed refreshed (a feed that fails keeps its appliances, with its error as the
/// source's description), its appliances with their status.
async fn get(agent: &Arc<Agent>) -> Result<Vec<Element>, Failure> {
    let catalog = agent.vmcasting.catalog.clone();
    let (feeds, appliances) = blocking(CODE_GET, move || {
        // The feeds are fetched without the catalog held (a slow feed server does not hold up
        // downloads and the other commands), then merged.
        let lock = || catalog.lock().unwrap_or_else(PoisonError::into_inner);
        let urls: Vec<String> = lock().feeds().iter().map(|f| f.url.clone()).collect();
        let fetched = Catalog::fetch_feeds(&urls, &DefaultTransport::default());
        let mut c = lock();
        c.merge_fetched(fetched).map_err(|e| fail(CODE_GET)(&e))?;
        Ok((c.feeds().to_vec(), c.appliances().to_vec()))
    })
    .await?;
    let queue: HashSet<String> =
        agent.vmcasting.queue.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect();
    let failed = agent.vmcasting.failed.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Ok(feeds
        .iter()
        .map(|s| {
            let description = match &s.status {
                kvmhost::templates::catalog::FeedStatus::Error { message, .. } => message.clone(),
                _ => String::new(),
            };
            let mut source = Element::new("source", "")
                .attr("name", s.title.as_str())
                .attr("description", description)
                .attr("url", s.url.as_str())
                .attr("uuid", source_uuid(s));
            for a in appliances.iter().filter(|a| a.feed_url == s.url) {
                source = source.child(appliance_source_element(a, queue.contains(&a.uuid), failed.contains(&a.uuid)));
            }
            source
        })
        .collect())
}

fn appliance_source_element(a: &Appliance, in_queue: bool, failed: bool) -> Element {
    let status = match &a.status {
        _ if in_queue => 2,
        ApplianceStatus::Installed { .. } => 1,
        ApplianceStatus::NotInstalled if !failed => 3,
        _ => 4,
    };
    Element::new("appliance", "")
        .attr("name", a.item.title.as_str())
        .attr("description", a.item.description.as_str())
        .attr("url", a.item.enclosure.url.as_str())
        .attr("size", a.item.enclosure.length.to_string())
        .attr("date", a.item.pub_date.clone().unwrap_or_default())
        .attr("uuid", a.uuid.as_str())
        .attr("status", status.to_string())
}

/// `downloadappliance`: queued, downloaded in the background, verified.
async fn download(agent: &Arc<Agent>, req: &Request) -> Result<Vec<Element>, Failure> {
    let uuid = req.required("uuid").map_err(|f| Failure { code: CODE_DOWNLOAD, ..f })?.to_string();
    let repo = &agent.vmcasting;
    let (catalog, u) = (repo.catalog.clone(), uuid.clone());
    let (name, total) = blocking(CODE_DOWNLOAD, move || {
        let c = catalog.lock().unwrap_or_else(PoisonError::into_inner);
        let a = c
            .appliance(&u)
            .ok_or_else(|| Failure::generic(CODE_DOWNLOAD, format!("no appliance {u} in the registered feeds")))?;
        let total = a.item.enclosure.length;
        // The feed's length is hostile too: within the limits and the free space.
        let free = nix::sys::statvfs::statvfs(c.dir())
            // The field types are the platform's (`u64` here, not everywhere).
            .map(|v| {
                #[allow(clippy::unnecessary_cast)]
                let (blocks, size) = (v.blocks_available() as u64, v.fragment_size() as u64);
                blocks.saturating_mul(size)
            })
            .map_err(|e| Failure::generic(CODE_DOWNLOAD, format!("{}: {e}", c.dir().display())))?;
        if total > Limits::default().max_total_bytes || total > free {
            return Err(Failure::generic(
                CODE_DOWNLOAD,
                format!("appliance {u} is {total} bytes: more than the limit or the {free} bytes free"),
            ));
        }
        Ok((a.item.title.clone(), total))
    })
    .await?;
    {
        let mut q = repo.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if q.contains_key(&uuid) {
            return Err(Failure::generic(CODE_DOWNLOAD, format!("appliance {uuid} is already downloading")));
        }
        q.insert(uuid.clone(), Download { name: name.clone(), done: 0, total });
    }
    repo.failed.lock().unwrap_or_else(PoisonError::into_inner).remove(&uuid);
    log!("downloading appliance {uuid} ({name}) for {}", req.sender());
    agent.push(&Entity::Hypervisor, "vmcasting", "download_start");
    let (catalog, queue, agent2) = (repo.catalog.clone(), repo.queue.clone(), agent.clone());
    let u = uuid.clone();
    let task = tokio::task::spawn_blocking(move || run_download(&catalog, &queue, &u));
    tokio::spawn(async move {
        let outcome = match task.await {
            Ok(r) => r,
            Err(e) => Err(format!("internal error: {e}")),
        };
        if outcome.is_err() {
            agent2.vmcasting.failed.lock().unwrap_or_else(PoisonError::into_inner).insert(uuid.clone());
        }
        agent2.vmcasting.queue.lock().unwrap_or_else(PoisonError::into_inner).remove(&uuid);
        match outcome {
            Ok(path) => {
                log!("appliance {uuid} downloaded and verified: {}", path.display());
                agent2.push(&Entity::Hypervisor, "vmcasting", "download_complete");
            }
            Err(e) => {
                log!("appliance {uuid} cannot be downloaded: {e}");
                agent2.push(&Entity::Hypervisor, "vmcasting", "download_error");
            }
        }
    });
    Ok(vec![])
}

fn run_download(
    catalog: &Mutex<Catalog>,
    queue: &Mutex<HashMap<String, Download>>,
    uuid: &str,
) -> Result<PathBuf, String> {
    let pending = catalog.lock().unwrap_or_else(PoisonError::into_inner).begin_download(uuid).map_err(|e| chain(&e))?;
    // The bytes come without the catalog held (`get` and the other commands go on meanwhile);
    // a connection cut short is resumed with `Range`, twice at most.
    let (transport, opts) = (DefaultTransport::default(), DownloadOptions::default());
    let mut attempts = 0;
    loop {
        let fetched = pending.fetch(&transport, &opts, &mut |p| {
            if let Some(d) = queue.lock().unwrap_or_else(PoisonError::into_inner).get_mut(uuid) {
                d.done = p.done;
            }
        });
        match fetched {
            Ok(_) => break,
            Err(CatalogError::Interrupted { got, .. }) if attempts < 2 => {
                attempts += 1;
                log!("appliance {uuid}: connection cut after {got} bytes; resuming");
            }
            Err(e) => return Err(chain(&e)),
        }
    }
    let out = catalog.lock().unwrap_or_else(PoisonError::into_inner).finish_download(pending, &opts.read);
    match out {
        Ok(DownloadOutcome::Complete { path, .. }) => Ok(path),
        Ok(_) => Err("the download stopped early".into()),
        Err(e) => Err(chain(&e)),
    }
}
