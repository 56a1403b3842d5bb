//! [`LibvirtHypervisor`]: the [`Hypervisor`] over a [`SharedConnection`]. Each method is one
//! closure run by [`SharedConnection::call`] on a worker thread: lookup, operation and error
//! read happen there together.
//!
//! ```
//! use kvmhost_libvirt::{Hypervisor, LibvirtHypervisor};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let host = LibvirtHypervisor::connect("test:///default").await.unwrap();
//! assert_eq!(host.versions().await.unwrap().driver, "TEST");
//! assert!(host.node_info().await.unwrap().cpus > 0);
//! # });
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kvmhost_core::domain::Domain;

use crate::connection::{CallThread, ConnectOptions, SharedConnection};
use crate::events::HostEvents;
use crate::host::{self, Capabilities, DomainCapabilities, DomainCapsQuery, NodeInfo, Versions};
use crate::migration::{self, MigrationError, MigrationJob, MigrationOptions};
use crate::network::{self, NetworkInfo, NetworkSpec};
use crate::snapshot::{self, RevertTo, SnapshotDelete, SnapshotInfo, SnapshotOptions, SnapshotSpec};
use crate::state::{read_runtime, read_state, DomainRuntime, StateWithReason};
use crate::storage::{self, PoolInfo, PoolSpec, TransferProgress, UploadSource, VolumeInfo, VolumeSpec};
use crate::{domain_cache, domains, DomainState, LibvirtError};
use crate::{
    DomainFilter, DomainId, DomainSummary, Hypervisor, Result, Scope, ShutdownOutcome, UndefineOptions, XmlView,
};

/// A libvirt host (`test:///default`, `qemu:///system`, `qemu+unix:///system?socket=…`,
/// `qemu+tcp://host/system`, …). Cheap to clone; all clones and every other
/// `LibvirtHypervisor` of the same URI share one connection.
#[derive(Debug, Clone)]
pub struct LibvirtHypervisor {
    conn: SharedConnection,
    calls: Option<CallThread>,
}

/// How often `shutdown` polls the state while waiting.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);

impl LibvirtHypervisor {
    /// Connects with default [`ConnectOptions`].
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let host = kvmhost_libvirt::LibvirtHypervisor::connect("test:///default").await.unwrap();
    /// assert_eq!(kvmhost_libvirt::Hypervisor::uri(&host), "test:///default");
    /// # });
    /// ```
    pub async fn connect(uri: &str) -> Result<LibvirtHypervisor> {
        Self::connect_with(uri, ConnectOptions::default()).await
    }

    /// Connects with `options` (used only if this is the first connection to `uri`).
    pub async fn connect_with(uri: &str, options: ConnectOptions) -> Result<LibvirtHypervisor> {
        Ok(LibvirtHypervisor { conn: SharedConnection::open(uri, options).await?, calls: None })
    }

    /// This handle with its own choice of the thread that runs its calls (the shared
    /// connection's [`ConnectOptions::calls`] otherwise): [`CallThread::InPlace`] saves the
    /// hand-off to the blocking pool per operation, for callers making many short calls.
    ///
    /// ```
    /// use kvmhost_libvirt::{connection::CallThread, Hypervisor, LibvirtHypervisor};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let host = LibvirtHypervisor::connect("test:///default").await.unwrap().with_call_thread(CallThread::InPlace);
    /// assert!(host.node_info().await.unwrap().cpus > 0);
    /// # });
    /// ```
    pub fn with_call_thread(mut self, calls: CallThread) -> LibvirtHypervisor {
        self.calls = Some(calls);
        self
    }

    /// The shared connection: run calls this crate does not wrap with
    /// [`SharedConnection::call`], or watch reconnects.
    pub fn connection(&self) -> &SharedConnection {
        &self.conn
    }

    async fn on<T: Send + 'static>(
        &self,
        id: &DomainId,
        f: impl FnOnce(&virt::connect::Connect, &DomainId) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let id = id.clone();
        self.call(move |c| f(c, &id)).await
    }

    /// [`SharedConnection::call`] on this handle's choice of thread.
    async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&virt::connect::Connect) -> Result<T> + Send + 'static,
    {
        self.conn.call_cached(self.calls, move |c, _| f(c)).await
    }

    /// Runs `op` on the domain `id` on a worker thread, through the connection's domain-handle
    /// cache (no lookup round trip for a UUID seen before; see `domain_cache`).
    async fn on_domain<T: Send + 'static>(
        &self,
        id: &DomainId,
        op: impl Fn(&virt::domain::Domain) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let id = id.clone();
        self.conn.call_cached(self.calls, move |c, cache| domain_cache::with_domain(c, cache, &id, op)).await
    }

    async fn simple(
        &self,
        id: &DomainId,
        op: fn(&virt::domain::Domain) -> std::result::Result<(), virt::error::Error>,
    ) -> Result<()> {
        self.on_domain(id, move |d| Ok(op(d)?)).await
    }

    /// Uploads the file at `path` into a volume (streamed, never held in memory at once),
    /// calling `progress` with the bytes sent so far after each chunk.
    pub async fn upload_file(
        &self,
        pool: &str,
        volume: &str,
        path: &Path,
        mut progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<u64> {
        let file = std::fs::File::open(path)
            .map_err(|source| LibvirtError::Io { context: format!("opening {}", path.display()), source })?;
        let (pool, volume) = (pool.to_string(), volume.to_string());
        self.call(move |c| storage::upload(c, &pool, &volume, 0, file, &mut progress)).await
    }

    /// Downloads a whole volume into the file at `path` (created or truncated).
    pub async fn download_file(&self, pool: &str, volume: &str, path: &Path) -> Result<u64> {
        let file = std::fs::File::create(path)
            .map_err(|source| LibvirtError::Io { context: format!("creating {}", path.display()), source })?;
        let (pool, volume) = (pool.to_string(), volume.to_string());
        self.call(move |c| storage::download(c, &pool, &volume, 0, 0, std::io::BufWriter::new(file))).await
    }

    /// Live-migrates the domain `id` to `destination` over both hosts' shared connections:
    /// the options are checked and the CPU pre-check ([`migration::precheck`]) runs on the
    /// destination before anything moves (a refusal is
    /// [`MigrationError::CpuIncompatible`]); then the migration runs on its own thread and the
    /// returned [`MigrationJob`] streams its progress and reports the outcome
    /// ([`MigrationJob::wait`]).
    ///
    /// ```
    /// use kvmhost_libvirt::migration::{MigrationError, MigrationOptions};
    /// use kvmhost_libvirt::{DomainId, LibvirtHypervisor};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let src = LibvirtHypervisor::connect("test:///default").await.unwrap();
    /// let dst = LibvirtHypervisor::connect("test:///default").await.unwrap();
    /// // Malformed options are refused before libvirt is asked to migrate.
    /// let bad = MigrationOptions::managed().migration_uri("tcp://h:80");
    /// let err = src.migrate(&DomainId::name("test"), &dst, &bad).await.unwrap_err();
    /// assert!(matches!(err, MigrationError::InvalidOptions(_)));
    /// # });
    /// ```
    pub async fn migrate(
        &self,
        id: &DomainId,
        destination: &LibvirtHypervisor,
        options: &MigrationOptions,
    ) -> std::result::Result<MigrationJob, MigrationError> {
        let dst = destination.conn.raw().await?;
        let (id, options) = (id.clone(), options.clone());
        self.conn
            .call_cached(self.calls, move |c, cache| {
                let dom = domain_cache::with_domain(c, cache, &id, |d| Ok(d.clone()))?;
                Ok(migration::start(&dom, &dst, &options))
            })
            .await?
    }

    async fn named<T: Send + 'static>(
        &self,
        name: &str,
        f: impl FnOnce(&virt::connect::Connect, &str) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let name = name.to_string();
        self.call(move |c| f(c, &name)).await
    }
}

#[async_trait]
impl Hypervisor for LibvirtHypervisor {
    fn uri(&self) -> &str {
        self.conn.uri()
    }

    async fn node_info(&self) -> Result<NodeInfo> {
        self.call(|c| Ok(NodeInfo::from_virt(c.node_info()?))).await
    }

    async fn versions(&self) -> Result<Versions> {
        self.call(host::versions).await
    }

    async fn hostname(&self) -> Result<String> {
        self.call(|c| Ok(c.hostname()?)).await
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        Ok(Capabilities::parse(&self.call(|c| Ok(c.capabilities()?)).await?)?)
    }

    async fn domain_capabilities(&self, query: &DomainCapsQuery) -> Result<DomainCapabilities> {
        let q = query.clone();
        Ok(DomainCapabilities::parse(&self.call(move |c| host::domain_capabilities(c, &q)).await?)?)
    }

    async fn list_domains(&self, filter: DomainFilter) -> Result<Vec<DomainSummary>> {
        self.call(move |c| domains::list(c, filter)).await
    }

    async fn lookup(&self, id: &DomainId) -> Result<DomainSummary> {
        self.on(id, domains::summary).await
    }

    async fn define(&self, domain: &Domain) -> Result<DomainSummary> {
        domains::require_name(domain)?;
        let xml = domain.to_xml()?;
        self.conn
            .call_cached(self.calls, move |c, cache| {
                let (summary, dom) = domains::define(c, &xml)?;
                cache.insert(&summary.uuid, &dom);
                Ok(summary)
            })
            .await
    }

    async fn undefine(&self, id: &DomainId, options: UndefineOptions) -> Result<()> {
        let id = id.clone();
        self.conn
            .call_cached(self.calls, move |c, cache| {
                let uuid = domain_cache::with_domain(c, cache, &id, |d| {
                    domains::undefine(d, options)?;
                    Ok(d.uuid_string()?)
                })?;
                cache.evict(&uuid);
                Ok(())
            })
            .await
    }

    async fn start(&self, id: &DomainId) -> Result<()> {
        self.simple(id, |d| d.create()).await
    }

    async fn shutdown(&self, id: &DomainId, timeout: Duration) -> Result<ShutdownOutcome> {
        if !self.state(id).await?.state.is_active() {
            return Ok(ShutdownOutcome::AlreadyOff);
        }
        match self.simple(id, |d| d.shutdown()).await {
            Ok(()) => {}
            // It stopped between the state check and the request.
            Err(LibvirtError::OperationInvalid { .. }) if !self.state(id).await?.state.is_active() => {
                return Ok(ShutdownOutcome::Graceful)
            }
            Err(e) => return Err(e),
        }
        let deadline = Instant::now() + timeout;
        loop {
            if self.state(id).await?.state == DomainState::Shutoff {
                return Ok(ShutdownOutcome::Graceful);
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(SHUTDOWN_POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
        match self.destroy(id).await {
            Ok(()) => Ok(ShutdownOutcome::Destroyed),
            Err(LibvirtError::OperationInvalid { .. }) => Ok(ShutdownOutcome::Graceful),
            Err(e) => Err(e),
        }
    }

    async fn request_shutdown(&self, id: &DomainId) -> Result<()> {
        self.simple(id, |d| d.shutdown()).await
    }

    async fn destroy(&self, id: &DomainId) -> Result<()> {
        self.simple(id, |d| d.destroy()).await
    }

    async fn reboot(&self, id: &DomainId) -> Result<()> {
        self.simple(id, |d| d.reboot(0)).await
    }

    async fn suspend(&self, id: &DomainId) -> Result<()> {
        self.simple(id, |d| d.suspend()).await
    }

    async fn resume(&self, id: &DomainId) -> Result<()> {
        self.simple(id, |d| d.resume()).await
    }

    async fn set_memory(&self, id: &DomainId, kib: u64, scope: Scope) -> Result<()> {
        self.on_domain(id, move |d| Ok(d.set_memory_flags(kib, scope.flags())?)).await
    }

    async fn set_vcpus(&self, id: &DomainId, count: u32, scope: Scope) -> Result<()> {
        self.on_domain(id, move |d| Ok(d.set_vcpus_flags(count, scope.flags())?)).await
    }

    async fn set_autostart(&self, id: &DomainId, autostart: bool) -> Result<()> {
        self.on_domain(id, move |d| Ok(d.set_autostart(autostart)?)).await
    }

    async fn state(&self, id: &DomainId) -> Result<StateWithReason> {
        self.on_domain(id, read_state).await
    }

    async fn runtime_info(&self, id: &DomainId) -> Result<DomainRuntime> {
        self.on_domain(id, read_runtime).await
    }

    async fn domain_xml(&self, id: &DomainId, view: XmlView) -> Result<Domain> {
        domains::parse(&self.on_domain(id, move |d| Ok(d.xml_desc(view.flags())?)).await?)
    }

    async fn events(&self, filter: Option<DomainId>) -> Result<HostEvents> {
        HostEvents::follow(&self.conn, filter).await
    }

    async fn create_snapshot(
        &self,
        id: &DomainId,
        spec: &SnapshotSpec,
        options: SnapshotOptions,
    ) -> Result<SnapshotInfo> {
        // A value XML cannot carry is the caller's invalid argument, as for networks and pools.
        let xml = spec.to_xml().map_err(|e| LibvirtError::InvalidArgument { message: e.to_string() })?;
        self.on(id, move |c, id| snapshot::create(c, id, &xml, options)).await
    }

    async fn snapshot(&self, id: &DomainId, name: &str) -> Result<SnapshotInfo> {
        let name = name.to_string();
        self.on(id, move |c, id| snapshot::get(c, id, &name)).await
    }

    async fn list_snapshots(&self, id: &DomainId) -> Result<Vec<SnapshotInfo>> {
        self.on(id, snapshot::list).await
    }

    async fn revert_snapshot(&self, id: &DomainId, name: &str, to: RevertTo) -> Result<()> {
        let name = name.to_string();
        self.on(id, move |c, id| snapshot::revert(c, id, &name, to)).await
    }

    async fn delete_snapshot(&self, id: &DomainId, name: &str, what: SnapshotDelete) -> Result<()> {
        let name = name.to_string();
        self.on(id, move |c, id| snapshot::delete(c, id, &name, what)).await
    }

    async fn define_pool(&self, spec: &PoolSpec) -> Result<PoolInfo> {
        let spec = spec.clone();
        self.call(move |c| storage::define_pool(c, &spec)).await
    }

    async fn list_pools(&self) -> Result<Vec<PoolInfo>> {
        self.call(storage::list_pools).await
    }

    async fn remove_pool(&self, name: &str, delete_target: bool) -> Result<()> {
        self.named(name, move |c, n| storage::remove_pool(c, n, delete_target)).await
    }

    async fn create_volume(&self, pool: &str, spec: &VolumeSpec) -> Result<VolumeInfo> {
        let spec = spec.clone();
        self.named(pool, move |c, p| storage::create_volume(c, p, &spec)).await
    }

    async fn clone_volume(&self, pool: &str, source: &str, spec: &VolumeSpec) -> Result<VolumeInfo> {
        let (spec, source) = (spec.clone(), source.to_string());
        self.named(pool, move |c, p| storage::clone_volume(c, p, &source, &spec)).await
    }

    async fn list_volumes(&self, pool: &str) -> Result<Vec<VolumeInfo>> {
        self.named(pool, storage::list_volumes).await
    }

    async fn delete_volume(&self, pool: &str, name: &str) -> Result<()> {
        let name = name.to_string();
        self.named(pool, move |c, p| storage::delete_volume(c, p, &name)).await
    }

    async fn upload_volume(
        &self,
        pool: &str,
        name: &str,
        offset: u64,
        data: UploadSource,
        mut progress: TransferProgress,
    ) -> Result<u64> {
        let name = name.to_string();
        self.named(pool, move |c, p| storage::upload(c, p, &name, offset, data, &mut progress)).await
    }

    async fn download_volume(&self, pool: &str, name: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
        let name = name.to_string();
        self.named(pool, move |c, p| {
            let mut out = Vec::new();
            storage::download(c, p, &name, offset, length, &mut out)?;
            Ok(out)
        })
        .await
    }

    async fn define_network(&self, spec: &NetworkSpec) -> Result<NetworkInfo> {
        let spec = spec.clone();
        self.call(move |c| network::define(c, &spec)).await
    }

    async fn network(&self, name: &str) -> Result<NetworkInfo> {
        self.named(name, |c, n| network::info(&network::lookup(c, n)?)).await
    }

    async fn list_networks(&self) -> Result<Vec<NetworkInfo>> {
        self.call(network::list).await
    }

    async fn start_network(&self, name: &str) -> Result<()> {
        self.named(name, |c, n| Ok(network::lookup(c, n)?.create()?)).await
    }

    async fn destroy_network(&self, name: &str) -> Result<()> {
        self.named(name, |c, n| Ok(network::lookup(c, n)?.destroy()?)).await
    }

    async fn undefine_network(&self, name: &str) -> Result<()> {
        self.named(name, |c, n| Ok(network::lookup(c, n)?.undefine()?)).await
    }
}
