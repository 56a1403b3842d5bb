//! [`MigrationOptions`]: what a migration should do, validated and turned into libvirt's
//! `virDomainMigrate3` / `virDomainMigrateToURI3` flags and typed parameters. Pure: no I/O.

use serde::{Deserialize, Serialize};
use virt::domain::MigrateParameters;
use virt::sys;

use super::MigrationError;

/// Who drives the migration.
///
/// ```
/// use kvmhost_libvirt::migration::MigrationMode;
/// let p2p = MigrationMode::PeerToPeer { destination_uri: "qemu+tcp://10.99.0.2/system".into() };
/// assert_ne!(p2p, MigrationMode::Managed);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MigrationMode {
    /// The client drives both daemons (`virDomainMigrate3` with the destination connection).
    Managed,
    /// The source libvirtd connects to the destination libvirtd itself (`VIR_MIGRATE_PEER2PEER`,
    /// `virDomainMigrateToURI3`); `destination_uri` must be reachable **from the source daemon**.
    PeerToPeer {
        /// The destination daemon's URI as the source daemon sees it (`qemu+tcp://HOST/system`).
        destination_uri: String,
    },
}

/// What happens to the guest's disks.
///
/// ```
/// assert_eq!(kvmhost_libvirt::migration::StorageMode::default(), kvmhost_libvirt::migration::StorageMode::Shared);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum StorageMode {
    /// Both hosts see the same storage; only memory and device state move.
    #[default]
    Shared,
    /// Copy every disk to the destination (`VIR_MIGRATE_NON_SHARED_DISK`); the destination
    /// needs same-sized images in place.
    CopyAll,
    /// Copy only the top image of each disk; backing files are shared
    /// (`VIR_MIGRATE_NON_SHARED_INC`).
    CopyIncremental,
}

/// Memory-page compression (`VIR_MIGRATE_COMPRESSED` with the `compression` parameter).
///
/// ```
/// use kvmhost_libvirt::migration::Compression;
/// assert_eq!(Compression::Xbzrle { cache_bytes: None }.method(), "xbzrle");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Compression {
    /// XBZRLE delta compression of re-sent pages, with its cache size.
    Xbzrle {
        /// `compression.xbzrle.cache` in bytes.
        cache_bytes: Option<u64>,
    },
    /// Multithreaded zlib-style compression.
    Mt {
        /// `compression.mt.level` (0-9).
        level: Option<i32>,
        /// `compression.mt.threads`.
        threads: Option<i32>,
        /// `compression.mt.dthreads` (decompression threads).
        dthreads: Option<i32>,
    },
    /// zlib over multifd (needs parallel connections).
    Zlib {
        /// `compression.zlib.level` (0-9).
        level: Option<i32>,
    },
    /// zstd over multifd (needs parallel connections).
    Zstd {
        /// `compression.zstd.level` (0-20).
        level: Option<i32>,
    },
}

impl Compression {
    /// libvirt's method name.
    ///
    /// ```
    /// assert_eq!(kvmhost_libvirt::migration::Compression::Zstd { level: Some(3) }.method(), "zstd");
    /// ```
    pub fn method(&self) -> &'static str {
        match self {
            Compression::Xbzrle { .. } => "xbzrle",
            Compression::Mt { .. } => "mt",
            Compression::Zlib { .. } => "zlib",
            Compression::Zstd { .. } => "zstd",
        }
    }
}

/// Throttling of a guest that dirties memory faster than it can be sent
/// (`VIR_MIGRATE_AUTO_CONVERGE`).
///
/// ```
/// let ac = kvmhost_libvirt::migration::AutoConverge { initial: Some(20), increment: Some(10) };
/// assert_eq!(ac.initial, Some(20));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoConverge {
    /// `auto_converge.initial`: first throttle, percent.
    pub initial: Option<i32>,
    /// `auto_converge.increment`: added on each further iteration, percent.
    pub increment: Option<i32>,
}

/// The TCP ports migrations may use (the destination's `migration_port_min`/`max` in qemu.conf,
/// and the range a firewall opens between hosts). Default 49152-49216.
///
/// ```
/// let r = kvmhost_libvirt::migration::PortRange::default();
/// assert!(r.contains(49152) && r.contains(49216) && !r.contains(49217));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    /// First port.
    pub min: u16,
    /// Last port (inclusive).
    pub max: u16,
}

impl Default for PortRange {
    fn default() -> Self {
        PortRange { min: 49152, max: 49216 }
    }
}

impl PortRange {
    /// Whether `port` is in the range.
    ///
    /// ```
    /// assert!(!kvmhost_libvirt::migration::PortRange { min: 10, max: 20 }.contains(9));
    /// ```
    pub fn contains(&self, port: u16) -> bool {
        (self.min..=self.max).contains(&port)
    }
}

/// How the destination's guest CPU is checked before a migration starts.
///
/// ```
/// assert_eq!(kvmhost_libvirt::migration::CpuCheckPolicy::default(), kvmhost_libvirt::migration::CpuCheckPolicy::Libvirt);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CpuCheckPolicy {
    /// The destination's `virConnectCompareHypervisorCPU`.
    #[default]
    Libvirt,
    /// libvirt's check, then the CPU engine offline against the destination's host-model CPU
    /// with the CPU map in this directory (`/usr/share/libvirt/cpu_map`).
    LibvirtAndOffline {
        /// The CPU map directory.
        cpu_map_dir: std::path::PathBuf,
    },
    /// No check (libvirt still refuses an impossible CPU, but only after the migration began).
    Skip,
}

/// Everything a migration should do. `MigrationOptions::managed()` and
/// `MigrationOptions::peer_to_peer(uri)` start from: live, persistent on the destination,
/// source kept, shared storage, no compression, no bandwidth limit.
///
/// ```
/// use kvmhost_libvirt::migration::{MigrationOptions, StorageMode};
/// use virt::sys;
/// let opts = MigrationOptions::managed()
///     .migration_uri("tcp://10.99.0.2:49200")
///     .storage(StorageMode::CopyAll)
///     .auto_converge()
///     .bandwidth_mib_s(100)
///     .allow_unsafe(true);
/// let flags = opts.flags();
/// assert_ne!(flags & sys::VIR_MIGRATE_LIVE, 0);
/// assert_ne!(flags & sys::VIR_MIGRATE_NON_SHARED_DISK, 0);
/// assert_eq!(flags & sys::VIR_MIGRATE_PEER2PEER, 0);
/// let params = opts.parameters().unwrap();
/// assert_eq!(params.uri.as_deref(), Some("tcp://10.99.0.2:49200"));
/// assert_eq!(params.bandwidth, Some(100));
/// assert!(MigrationOptions::managed().migration_uri("tcp://h:22").parameters().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MigrationOptions {
    /// Managed or peer-to-peer.
    pub mode: MigrationMode,
    /// Keep the guest running while memory is copied (`VIR_MIGRATE_LIVE`); otherwise it is
    /// paused for the whole migration.
    pub live: bool,
    /// Define the guest persistently on the destination (`VIR_MIGRATE_PERSIST_DEST`).
    pub persist_destination: bool,
    /// Remove the source's persistent definition afterwards (`VIR_MIGRATE_UNDEFINE_SOURCE`).
    pub undefine_source: bool,
    /// Throttle a guest that does not converge.
    pub auto_converge: Option<AutoConverge>,
    /// Memory compression.
    pub compression: Option<Compression>,
    /// Parallel migration connections (`VIR_MIGRATE_PARALLEL`, `parallel.connections`).
    pub parallel_connections: Option<i32>,
    /// Bandwidth limit in MiB/s (`bandwidth`).
    pub bandwidth_mib_s: Option<u64>,
    /// Where QEMU's migration stream goes (`migrate_uri`, `tcp://HOST[:PORT]`); without it the
    /// destination picks its own hostname.
    pub migration_uri: Option<String>,
    /// Ports a migration may use; an explicit port in `migration_uri` must lie in it.
    pub port_range: PortRange,
    /// Disks shared or copied.
    pub storage: StorageMode,
    /// Migrate even when libvirt considers it unsafe, e.g. disks with a cache mode that is not
    /// safe on storage libvirt cannot recognise as shared (`VIR_MIGRATE_UNSAFE`).
    pub allow_unsafe: bool,
    /// Cancel the migration on an I/O error (`VIR_MIGRATE_ABORT_ON_ERROR`).
    pub abort_on_error: bool,
    /// The guest's name on the destination (`destination_name`).
    pub destination_name: Option<String>,
    /// The CPU pre-check.
    pub cpu_check: CpuCheckPolicy,
    /// How often job statistics are read while the migration runs, in milliseconds.
    pub progress_interval_ms: u64,
}

impl MigrationOptions {
    /// Managed migration with the defaults.
    ///
    /// ```
    /// assert!(kvmhost_libvirt::migration::MigrationOptions::managed().live);
    /// ```
    pub fn managed() -> MigrationOptions {
        MigrationOptions {
            mode: MigrationMode::Managed,
            live: true,
            persist_destination: true,
            undefine_source: false,
            auto_converge: None,
            compression: None,
            parallel_connections: None,
            bandwidth_mib_s: None,
            migration_uri: None,
            port_range: PortRange::default(),
            storage: StorageMode::Shared,
            allow_unsafe: false,
            abort_on_error: false,
            destination_name: None,
            cpu_check: CpuCheckPolicy::Libvirt,
            progress_interval_ms: 50,
        }
    }

    /// Peer-to-peer migration to `destination_uri` (as the source daemon reaches it).
    ///
    /// ```
    /// use kvmhost_libvirt::migration::MigrationOptions;
    /// let o = MigrationOptions::peer_to_peer("qemu+tcp://10.99.0.2/system");
    /// assert_ne!(o.flags() & virt::sys::VIR_MIGRATE_PEER2PEER, 0);
    /// ```
    pub fn peer_to_peer(destination_uri: &str) -> MigrationOptions {
        MigrationOptions {
            mode: MigrationMode::PeerToPeer { destination_uri: destination_uri.to_string() },
            ..MigrationOptions::managed()
        }
    }

    /// Sets [`MigrationOptions::live`].
    ///
    /// ```
    /// let o = kvmhost_libvirt::migration::MigrationOptions::managed().live(false);
    /// assert_eq!(o.flags() & virt::sys::VIR_MIGRATE_LIVE, 0);
    /// ```
    pub fn live(mut self, live: bool) -> Self {
        self.live = live;
        self
    }

    /// Sets [`MigrationOptions::persist_destination`].
    ///
    /// ```
    /// let o = kvmhost_libvirt::migration::MigrationOptions::managed().persist_destination(false);
    /// assert_eq!(o.flags() & virt::sys::VIR_MIGRATE_PERSIST_DEST, 0);
    /// ```
    pub fn persist_destination(mut self, persist: bool) -> Self {
        self.persist_destination = persist;
        self
    }

    /// Sets [`MigrationOptions::undefine_source`].
    ///
    /// ```
    /// let o = kvmhost_libvirt::migration::MigrationOptions::managed().undefine_source(true);
    /// assert_ne!(o.flags() & virt::sys::VIR_MIGRATE_UNDEFINE_SOURCE, 0);
    /// ```
    pub fn undefine_source(mut self, undefine: bool) -> Self {
        self.undefine_source = undefine;
        self
    }

    /// Turns auto-converge on with libvirt's default throttling.
    ///
    /// ```
    /// let o = kvmhost_libvirt::migration::MigrationOptions::managed().auto_converge();
    /// assert_ne!(o.flags() & virt::sys::VIR_MIGRATE_AUTO_CONVERGE, 0);
    /// ```
    pub fn auto_converge(mut self) -> Self {
        self.auto_converge = Some(AutoConverge::default());
        self
    }

    /// Sets [`MigrationOptions::compression`].
    ///
    /// ```
    /// use kvmhost_libvirt::migration::{Compression, MigrationOptions};
    /// let o = MigrationOptions::managed().compression(Compression::Xbzrle { cache_bytes: Some(1 << 26) });
    /// assert_eq!(o.parameters().unwrap().compression.as_deref(), Some("xbzrle"));
    /// ```
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = Some(compression);
        self
    }

    /// Sets [`MigrationOptions::bandwidth_mib_s`].
    ///
    /// ```
    /// let o = kvmhost_libvirt::migration::MigrationOptions::managed().bandwidth_mib_s(8);
    /// assert_eq!(o.parameters().unwrap().bandwidth, Some(8));
    /// ```
    pub fn bandwidth_mib_s(mut self, mib_s: u64) -> Self {
        self.bandwidth_mib_s = Some(mib_s);
        self
    }

    /// Sets [`MigrationOptions::migration_uri`].
    ///
    /// ```
    /// let o = kvmhost_libvirt::migration::MigrationOptions::managed().migration_uri("tcp://10.99.0.2");
    /// assert_eq!(o.parameters().unwrap().uri.as_deref(), Some("tcp://10.99.0.2"));
    /// ```
    pub fn migration_uri(mut self, uri: &str) -> Self {
        self.migration_uri = Some(uri.to_string());
        self
    }

    /// Sets [`MigrationOptions::port_range`].
    ///
    /// ```
    /// let o = kvmhost_libvirt::migration::MigrationOptions::managed().port_range(50000, 50010);
    /// assert!(o.migration_uri("tcp://h:50005").parameters().is_ok());
    /// ```
    pub fn port_range(mut self, min: u16, max: u16) -> Self {
        self.port_range = PortRange { min, max };
        self
    }

    /// Sets [`MigrationOptions::storage`].
    ///
    /// ```
    /// use kvmhost_libvirt::migration::{MigrationOptions, StorageMode};
    /// let o = MigrationOptions::managed().storage(StorageMode::CopyIncremental);
    /// assert_ne!(o.flags() & virt::sys::VIR_MIGRATE_NON_SHARED_INC, 0);
    /// ```
    pub fn storage(mut self, storage: StorageMode) -> Self {
        self.storage = storage;
        self
    }

    /// Sets [`MigrationOptions::allow_unsafe`].
    ///
    /// ```
    /// let o = kvmhost_libvirt::migration::MigrationOptions::managed().allow_unsafe(true);
    /// assert_ne!(o.flags() & virt::sys::VIR_MIGRATE_UNSAFE, 0);
    /// ```
    pub fn allow_unsafe(mut self, allow: bool) -> Self {
        self.allow_unsafe = allow;
        self
    }

    /// Sets [`MigrationOptions::cpu_check`].
    ///
    /// ```
    /// use kvmhost_libvirt::migration::{CpuCheckPolicy, MigrationOptions};
    /// let o = MigrationOptions::managed().cpu_check(CpuCheckPolicy::Skip);
    /// assert_eq!(o.cpu_check, CpuCheckPolicy::Skip);
    /// ```
    pub fn cpu_check(mut self, policy: CpuCheckPolicy) -> Self {
        self.cpu_check = policy;
        self
    }

    /// libvirt's `virDomainMigrateFlags` for these options.
    ///
    /// ```
    /// let f = kvmhost_libvirt::migration::MigrationOptions::managed().flags();
    /// assert_eq!(f, virt::sys::VIR_MIGRATE_LIVE | virt::sys::VIR_MIGRATE_PERSIST_DEST);
    /// ```
    pub fn flags(&self) -> u32 {
        let mut f = 0;
        let mut set = |on: bool, flag: u32| {
            if on {
                f |= flag;
            }
        };
        set(matches!(self.mode, MigrationMode::PeerToPeer { .. }), sys::VIR_MIGRATE_PEER2PEER);
        set(self.live, sys::VIR_MIGRATE_LIVE);
        set(self.persist_destination, sys::VIR_MIGRATE_PERSIST_DEST);
        set(self.undefine_source, sys::VIR_MIGRATE_UNDEFINE_SOURCE);
        set(self.auto_converge.is_some(), sys::VIR_MIGRATE_AUTO_CONVERGE);
        set(self.compression.is_some(), sys::VIR_MIGRATE_COMPRESSED);
        set(self.parallel_connections.is_some(), sys::VIR_MIGRATE_PARALLEL);
        set(self.storage == StorageMode::CopyAll, sys::VIR_MIGRATE_NON_SHARED_DISK);
        set(self.storage == StorageMode::CopyIncremental, sys::VIR_MIGRATE_NON_SHARED_INC);
        set(self.allow_unsafe, sys::VIR_MIGRATE_UNSAFE);
        set(self.abort_on_error, sys::VIR_MIGRATE_ABORT_ON_ERROR);
        f
    }

    /// Checks the options for contradictions libvirt would only report mid-migration (or not
    /// at all).
    ///
    /// ```
    /// use kvmhost_libvirt::migration::{Compression, MigrationError, MigrationOptions};
    /// let bad = MigrationOptions::managed().compression(Compression::Zstd { level: None });
    /// assert!(matches!(bad.validate(), Err(MigrationError::InvalidOptions(_))));
    /// ```
    pub fn validate(&self) -> Result<(), MigrationError> {
        let invalid = |m: String| Err(MigrationError::InvalidOptions(m));
        if self.port_range.min == 0 || self.port_range.min > self.port_range.max {
            return invalid(format!("port range {}-{} is empty", self.port_range.min, self.port_range.max));
        }
        if let Some(uri) = &self.migration_uri {
            if let Some(port) = migration_uri_port(uri)? {
                if !self.port_range.contains(port) {
                    let PortRange { min, max } = self.port_range;
                    return invalid(format!("migration URI {uri}: port {port} is outside the range {min}-{max}"));
                }
            }
        }
        if self.bandwidth_mib_s == Some(0) {
            return invalid("bandwidth 0 MiB/s would never finish (leave it unset for no limit)".into());
        }
        if self.undefine_source && !self.persist_destination {
            return invalid("undefining the source without persisting the destination loses the definition".into());
        }
        if let Some(n) = self.parallel_connections {
            if n < 1 {
                return invalid(format!("{n} parallel connections"));
            }
        }
        if matches!(self.compression, Some(Compression::Zlib { .. } | Compression::Zstd { .. }))
            && self.parallel_connections.is_none()
        {
            return invalid("zlib and zstd compression need parallel connections".into());
        }
        if let MigrationMode::PeerToPeer { destination_uri } = &self.mode {
            if !destination_uri.contains("://") {
                return invalid(format!("destination URI {destination_uri:?} is not a libvirt URI"));
            }
        }
        if self.progress_interval_ms == 0 {
            return invalid("progress interval 0 ms".into());
        }
        Ok(())
    }

    /// libvirt's typed migration parameters for these options (validated first).
    ///
    /// ```
    /// use kvmhost_libvirt::migration::{AutoConverge, MigrationOptions};
    /// let mut o = MigrationOptions::managed();
    /// o.auto_converge = Some(AutoConverge { initial: Some(30), increment: None });
    /// assert_eq!(o.parameters().unwrap().auto_converge_initial, Some(30));
    /// ```
    pub fn parameters(&self) -> Result<MigrateParameters, MigrationError> {
        self.validate()?;
        let mut p = MigrateParameters { uri: self.migration_uri.clone(), ..MigrateParameters::default() };
        p.bandwidth = self.bandwidth_mib_s;
        p.dest_name = self.destination_name.clone();
        p.parallel_connections = self.parallel_connections;
        if let Some(ac) = self.auto_converge {
            p.auto_converge_initial = ac.initial;
            p.auto_converge_increment = ac.increment;
        }
        if let Some(c) = self.compression {
            p.compression = Some(c.method().to_string());
            match c {
                Compression::Xbzrle { cache_bytes } => p.compression_xbzrle_cache = cache_bytes,
                Compression::Mt { level, threads, dthreads } => {
                    p.compression_mt_level = level;
                    p.compression_mt_threads = threads;
                    p.compression_mt_dthreads = dthreads;
                }
                Compression::Zlib { level } => p.compression_zlib_level = level,
                Compression::Zstd { level } => p.compression_zstd_level = level,
            }
        }
        Ok(p)
    }
}

/// The explicit port of a `tcp://HOST[:PORT]` / `rdma://…` migration URI, if any.
///
/// ```
/// use kvmhost_libvirt::migration::migration_uri_port;
/// assert_eq!(migration_uri_port("tcp://10.99.0.2:49160").unwrap(), Some(49160));
/// assert_eq!(migration_uri_port("tcp://[fd00::2]:49161").unwrap(), Some(49161));
/// assert_eq!(migration_uri_port("tcp://host").unwrap(), None);
/// assert!(migration_uri_port("10.99.0.2").is_err());
/// assert!(migration_uri_port("tcp://h:99999").is_err());
/// ```
pub fn migration_uri_port(uri: &str) -> Result<Option<u16>, MigrationError> {
    let bad = |why: &str| MigrationError::InvalidOptions(format!("migration URI {uri:?}: {why}"));
    let (scheme, rest) = uri.split_once("://").ok_or_else(|| bad("expected SCHEME://HOST[:PORT]"))?;
    if !matches!(scheme, "tcp" | "rdma" | "unix") {
        return Err(bad("scheme must be tcp, rdma or unix"));
    }
    if scheme == "unix" {
        return Ok(None);
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let port = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').ok_or_else(|| bad("unclosed ["))?.1.strip_prefix(':'),
        None => authority.rsplit_once(':').map(|(_, p)| p),
    };
    if authority.is_empty() || authority.starts_with(':') {
        return Err(bad("no host"));
    }
    match port {
        None => Ok(None),
        Some(p) => p.parse::<u16>().map(Some).map_err(|_| bad("port is not a number 0-65535")),
    }
}
