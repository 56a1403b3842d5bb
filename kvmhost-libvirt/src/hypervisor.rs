//! The [`Hypervisor`] trait: one object per host that async code calls for host facts, domains,
//! snapshots, storage and networks. [`crate::LibvirtHypervisor`] implements it over any libvirt
//! URI; orchestrators can put their own implementation (a fake, a remote agent) behind it.
//!
//! ```
//! use kvmhost_core::domain::DomainBuilder;
//! use kvmhost_libvirt::{DomainId, DomainState, Hypervisor, LibvirtHypervisor, UndefineOptions};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let host: Box<dyn Hypervisor> = Box::new(LibvirtHypervisor::connect("test:///default").await.unwrap());
//! let vm = host.define(&DomainBuilder::new("trait-doc").memory_mib(128).build().unwrap()).await.unwrap();
//! let id = vm.domain_id();
//! host.start(&id).await.unwrap();
//! assert_eq!(host.state(&id).await.unwrap().state, DomainState::Running);
//! host.destroy(&id).await.unwrap();
//! host.undefine(&id, UndefineOptions::default()).await.unwrap();
//! # });
//! ```

use std::time::Duration;

use async_trait::async_trait;
use kvmhost_core::domain::Domain;

use crate::events::HostEvents;
use crate::host::{Capabilities, DomainCapabilities, DomainCapsQuery, NodeInfo, Versions};
use crate::network::{NetworkInfo, NetworkSpec};
use crate::snapshot::{RevertTo, SnapshotDelete, SnapshotInfo, SnapshotOptions, SnapshotSpec};
use crate::state::{DomainRuntime, StateWithReason};
use crate::storage::{PoolInfo, PoolSpec, TransferProgress, UploadSource, VolumeInfo, VolumeSpec};
use crate::{DomainFilter, DomainId, DomainSummary, Result, Scope, ShutdownOutcome, UndefineOptions, XmlView};

/// A virtualization host, called from async code. Every method is one logical operation;
/// errors are typed ([`crate::LibvirtError`]).
#[async_trait]
pub trait Hypervisor: Send + Sync {
    /// The connection URI.
    fn uri(&self) -> &str;

    // ---- host ----

    /// Node info (`virNodeGetInfo`).
    async fn node_info(&self) -> Result<NodeInfo>;
    /// Library, hypervisor and driver versions.
    async fn versions(&self) -> Result<Versions>;
    /// The host's name.
    async fn hostname(&self) -> Result<String>;
    /// Capabilities, typed (host CPU as [`kvmhost_core::cpu::CpuDef`]).
    async fn capabilities(&self) -> Result<Capabilities>;
    /// Domain capabilities for an emulator / arch / machine / type, typed.
    async fn domain_capabilities(&self, query: &DomainCapsQuery) -> Result<DomainCapabilities>;

    // ---- domains ----

    /// Domains matching `filter`.
    async fn list_domains(&self, filter: DomainFilter) -> Result<Vec<DomainSummary>>;
    /// One domain by name or UUID.
    async fn lookup(&self, id: &DomainId) -> Result<DomainSummary>;
    /// Defines (or redefines, same name and UUID) a persistent domain from the typed document.
    async fn define(&self, domain: &Domain) -> Result<DomainSummary>;
    /// Removes the persistent definition (a running domain becomes transient).
    async fn undefine(&self, id: &DomainId, options: UndefineOptions) -> Result<()>;
    /// Starts a defined domain.
    async fn start(&self, id: &DomainId) -> Result<()>;
    /// Asks the guest to shut down (ACPI) and waits up to `timeout` for it to be off; then
    /// destroys it.
    async fn shutdown(&self, id: &DomainId, timeout: Duration) -> Result<ShutdownOutcome>;
    /// Asks the guest to shut down (ACPI) and returns at once; the lifecycle events (or
    /// [`Hypervisor::state`]) say when it is off. A guest that ignores ACPI keeps running.
    async fn request_shutdown(&self, id: &DomainId) -> Result<()>;
    /// Powers off at once.
    async fn destroy(&self, id: &DomainId) -> Result<()>;
    /// Asks the guest to reboot.
    async fn reboot(&self, id: &DomainId) -> Result<()>;
    /// Pauses the vCPUs.
    async fn suspend(&self, id: &DomainId) -> Result<()>;
    /// Resumes paused vCPUs.
    async fn resume(&self, id: &DomainId) -> Result<()>;
    /// Sets the current memory (balloon) in KiB.
    async fn set_memory(&self, id: &DomainId, kib: u64, scope: Scope) -> Result<()>;
    /// Sets the number of vCPUs.
    async fn set_vcpus(&self, id: &DomainId, count: u32, scope: Scope) -> Result<()>;
    /// Marks the domain to start with the host (or not).
    async fn set_autostart(&self, id: &DomainId, autostart: bool) -> Result<()>;
    /// State with reason.
    async fn state(&self, id: &DomainId) -> Result<StateWithReason>;
    /// State, memory, vCPUs, CPU time and autostart in one call.
    async fn runtime_info(&self, id: &DomainId) -> Result<DomainRuntime>;
    /// The domain's XML as the lossless model.
    async fn domain_xml(&self, id: &DomainId, view: XmlView) -> Result<Domain>;

    /// **Import**: the persistent definition of any existing domain (made by virsh,
    /// virt-install, virt-manager, …) as the lossless model, to edit and [`Hypervisor::define`]
    /// again; everything the model does not type is kept.
    async fn import(&self, id: &DomainId) -> Result<Domain> {
        self.domain_xml(id, XmlView::Inactive).await
    }

    // ---- events ----

    /// Lifecycle events of every domain, or of the one `filter` names, as a stream that
    /// survives reconnects: after the daemon restarts, the registration moves to the new
    /// connection and the same stream keeps delivering (events of the gap are lost).
    async fn events(&self, filter: Option<DomainId>) -> Result<HostEvents>;

    // ---- snapshots ----

    /// Creates a snapshot.
    async fn create_snapshot(
        &self,
        id: &DomainId,
        spec: &SnapshotSpec,
        options: SnapshotOptions,
    ) -> Result<SnapshotInfo>;
    /// One snapshot by name.
    async fn snapshot(&self, id: &DomainId, name: &str) -> Result<SnapshotInfo>;
    /// The domain's snapshots.
    async fn list_snapshots(&self, id: &DomainId) -> Result<Vec<SnapshotInfo>>;
    /// Reverts to a snapshot.
    async fn revert_snapshot(&self, id: &DomainId, name: &str, to: RevertTo) -> Result<()>;
    /// Deletes a snapshot (optionally with its children).
    async fn delete_snapshot(&self, id: &DomainId, name: &str, what: SnapshotDelete) -> Result<()>;

    // ---- storage ----

    /// Defines, builds and starts a pool.
    async fn define_pool(&self, spec: &PoolSpec) -> Result<PoolInfo>;
    /// All pools.
    async fn list_pools(&self) -> Result<Vec<PoolInfo>>;
    /// Stops and undefines a pool; with `delete_target`, removes its (empty) directory.
    async fn remove_pool(&self, name: &str, delete_target: bool) -> Result<()>;
    /// Creates a volume in `pool`.
    async fn create_volume(&self, pool: &str, spec: &VolumeSpec) -> Result<VolumeInfo>;
    /// Creates a volume in `pool` as a full copy of the volume `source` there.
    async fn clone_volume(&self, pool: &str, source: &str, spec: &VolumeSpec) -> Result<VolumeInfo>;
    /// The volumes of `pool` (after a refresh).
    async fn list_volumes(&self, pool: &str) -> Result<Vec<VolumeInfo>>;
    /// Deletes a volume.
    async fn delete_volume(&self, pool: &str, name: &str) -> Result<()>;
    /// Streams everything `data` yields into the volume at `offset` through a libvirt stream
    /// (never more than one chunk in memory), calling `progress` with the bytes sent so far
    /// after each chunk; returns the bytes written.
    async fn upload_volume(
        &self,
        pool: &str,
        name: &str,
        offset: u64,
        data: UploadSource,
        progress: TransferProgress,
    ) -> Result<u64>;
    /// Reads `length` bytes (0: all) of the volume from `offset` through a libvirt stream.
    async fn download_volume(&self, pool: &str, name: &str, offset: u64, length: u64) -> Result<Vec<u8>>;

    // ---- networks ----

    /// Defines a network (not started).
    async fn define_network(&self, spec: &NetworkSpec) -> Result<NetworkInfo>;
    /// One network.
    async fn network(&self, name: &str) -> Result<NetworkInfo>;
    /// All networks.
    async fn list_networks(&self) -> Result<Vec<NetworkInfo>>;
    /// Starts a network.
    async fn start_network(&self, name: &str) -> Result<()>;
    /// Stops a network.
    async fn destroy_network(&self, name: &str) -> Result<()>;
    /// Removes a network's definition.
    async fn undefine_network(&self, name: &str) -> Result<()>;
}
