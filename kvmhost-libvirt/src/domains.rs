//! Domain operations: the typed arguments ([`DomainId`], [`DomainFilter`], [`UndefineOptions`],
//! [`XmlView`], [`Scope`]) and the blocking calls behind [`crate::Hypervisor`]'s domain methods.
//! Each function does its lookup and its operation on the calling thread, so libvirt's
//! thread-local error belongs to the same call.
//!
//! ```
//! use kvmhost_libvirt::{DomainFilter, DomainId, UndefineOptions};
//! assert_eq!(DomainId::from("vm1"), DomainId::Name("vm1".into()));
//! assert_eq!(UndefineOptions::everything().flags(), 1 | 2 | 4 | 16);
//! assert_eq!(DomainFilter::Running.flags(), 16);
//! ```

use kvmhost_core::domain::Domain;
use serde::{Deserialize, Serialize};
use virt::connect::Connect;
use virt::sys;

use crate::state::read_state;
use crate::{DomainState, LibvirtError, Result};

/// Which domain: by name or by UUID.
///
/// ```
/// use kvmhost_libvirt::DomainId;
/// let id = DomainId::uuid("6695eb01-f6a4-8304-79aa-97f2502e193f");
/// assert_eq!(id.to_string(), "6695eb01-f6a4-8304-79aa-97f2502e193f");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DomainId {
    /// By name (`virDomainLookupByName`).
    Name(String),
    /// By UUID string (`virDomainLookupByUUIDString`).
    Uuid(String),
}

impl DomainId {
    /// By name.
    ///
    /// ```
    /// assert_eq!(kvmhost_libvirt::DomainId::name("a").to_string(), "a");
    /// ```
    pub fn name(name: impl Into<String>) -> DomainId {
        DomainId::Name(name.into())
    }

    /// By UUID.
    ///
    /// ```
    /// let id = kvmhost_libvirt::DomainId::uuid("6695eb01-f6a4-8304-79aa-97f2502e193f");
    /// assert!(matches!(id, kvmhost_libvirt::DomainId::Uuid(_)));
    /// ```
    pub fn uuid(uuid: impl Into<String>) -> DomainId {
        DomainId::Uuid(uuid.into())
    }

    /// Looks the domain up on `conn` (blocking).
    pub(crate) fn lookup(&self, conn: &Connect) -> Result<virt::domain::Domain> {
        match self {
            DomainId::Name(n) => conn.lookup_domain_by_name(n),
            DomainId::Uuid(u) => conn.lookup_domain_by_uuid_string(u),
        }
        .map_err(|e| crate::LibvirtError::from(e).about(self))
    }
}

impl std::fmt::Display for DomainId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DomainId::Name(s) | DomainId::Uuid(s) => f.write_str(s),
        }
    }
}

impl From<&str> for DomainId {
    fn from(name: &str) -> Self {
        DomainId::Name(name.to_string())
    }
}

impl From<String> for DomainId {
    fn from(name: String) -> Self {
        DomainId::Name(name)
    }
}

impl From<&DomainId> for DomainId {
    fn from(id: &DomainId) -> Self {
        id.clone()
    }
}

/// One domain as listed: identity, state and persistence.
///
/// ```
/// use kvmhost_libvirt::{DomainState, DomainSummary};
/// let s = DomainSummary { name: "a".into(), uuid: "u".into(), id: None, state: DomainState::Shutoff,
///     persistent: true, autostart: false };
/// assert_eq!(s.domain_id().to_string(), "u");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainSummary {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: String,
    /// Hypervisor id while running.
    pub id: Option<u32>,
    /// Run state.
    pub state: DomainState,
    /// Whether a persistent definition exists.
    pub persistent: bool,
    /// Whether it starts with the host.
    pub autostart: bool,
}

impl DomainSummary {
    /// The id to address this domain with (its UUID: names can be renamed).
    pub fn domain_id(&self) -> DomainId {
        DomainId::Uuid(self.uuid.clone())
    }

    pub(crate) fn read(dom: &virt::domain::Domain) -> Result<DomainSummary> {
        Ok(DomainSummary {
            name: dom.name()?,
            uuid: dom.uuid_string()?,
            id: dom.id(),
            state: read_state(dom)?.state,
            persistent: dom.is_persistent()?,
            autostart: dom.autostart()?,
        })
    }
}

/// Which domains to list (`virConnectListAllDomains` flags).
///
/// ```
/// use kvmhost_libvirt::DomainFilter;
/// assert_eq!(DomainFilter::All.flags(), 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DomainFilter {
    /// Every domain.
    All,
    /// Running, paused, … (has a process).
    Active,
    /// Defined but not running.
    Inactive,
    /// Running.
    Running,
    /// Paused.
    Paused,
    /// Shut off.
    Shutoff,
    /// Persistent.
    Persistent,
    /// Transient.
    Transient,
    /// Marked autostart.
    Autostart,
}

impl DomainFilter {
    /// The libvirt flag value.
    pub fn flags(self) -> u32 {
        match self {
            DomainFilter::All => 0,
            DomainFilter::Active => sys::VIR_CONNECT_LIST_DOMAINS_ACTIVE,
            DomainFilter::Inactive => sys::VIR_CONNECT_LIST_DOMAINS_INACTIVE,
            DomainFilter::Running => sys::VIR_CONNECT_LIST_DOMAINS_RUNNING,
            DomainFilter::Paused => sys::VIR_CONNECT_LIST_DOMAINS_PAUSED,
            DomainFilter::Shutoff => sys::VIR_CONNECT_LIST_DOMAINS_SHUTOFF,
            DomainFilter::Persistent => sys::VIR_CONNECT_LIST_DOMAINS_PERSISTENT,
            DomainFilter::Transient => sys::VIR_CONNECT_LIST_DOMAINS_TRANSIENT,
            DomainFilter::Autostart => sys::VIR_CONNECT_LIST_DOMAINS_AUTOSTART,
        }
    }
}

/// What `undefine` removes besides the definition (`virDomainUndefineFlags`).
///
/// ```
/// use kvmhost_libvirt::UndefineOptions;
/// assert_eq!(UndefineOptions::default().flags(), 0);
/// assert_eq!(UndefineOptions { keep_nvram: true, ..Default::default() }.flags(), 8);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndefineOptions {
    /// Remove a managed-save image too.
    pub managed_save: bool,
    /// Remove snapshot metadata too (libvirt refuses to undefine a domain with snapshots
    /// otherwise).
    pub snapshots_metadata: bool,
    /// Remove the UEFI NVRAM file.
    pub nvram: bool,
    /// Keep the UEFI NVRAM file (explicitly).
    pub keep_nvram: bool,
    /// Remove checkpoint metadata too.
    pub checkpoints_metadata: bool,
}

impl UndefineOptions {
    /// Removes everything that belongs to the domain (managed save, snapshot and checkpoint
    /// metadata, NVRAM).
    pub fn everything() -> UndefineOptions {
        UndefineOptions {
            managed_save: true,
            snapshots_metadata: true,
            nvram: true,
            keep_nvram: false,
            checkpoints_metadata: true,
        }
    }

    /// The libvirt flag value.
    pub fn flags(self) -> u32 {
        let mut f = 0;
        for (on, flag) in [
            (self.managed_save, sys::VIR_DOMAIN_UNDEFINE_MANAGED_SAVE),
            (self.snapshots_metadata, sys::VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA),
            (self.nvram, sys::VIR_DOMAIN_UNDEFINE_NVRAM),
            (self.keep_nvram, sys::VIR_DOMAIN_UNDEFINE_KEEP_NVRAM),
            (self.checkpoints_metadata, sys::VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA),
        ] {
            if on {
                f |= flag;
            }
        }
        f
    }
}

/// Which XML to read back (`virDomainGetXMLDesc` flags).
///
/// ```
/// use kvmhost_libvirt::XmlView;
/// assert_eq!(XmlView::Inactive.flags(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum XmlView {
    /// The current (live when running) definition.
    Live,
    /// The persistent definition, what the next boot uses: what an import edits.
    Inactive,
    /// The live definition including secrets (passwords of graphics, …).
    Secure,
    /// The definition suitable for migration.
    Migratable,
}

impl XmlView {
    /// The libvirt flag value.
    pub fn flags(self) -> u32 {
        match self {
            XmlView::Live => 0,
            XmlView::Inactive => sys::VIR_DOMAIN_XML_INACTIVE,
            XmlView::Secure => sys::VIR_DOMAIN_XML_SECURE,
            XmlView::Migratable => sys::VIR_DOMAIN_XML_MIGRATABLE,
        }
    }
}

/// Where a change applies (`VIR_DOMAIN_AFFECT_*`).
///
/// ```
/// use kvmhost_libvirt::Scope;
/// assert_eq!(Scope::Both.flags(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Scope {
    /// The running domain if it runs, else the definition.
    Current,
    /// The running domain only.
    Live,
    /// The persistent definition only.
    Config,
    /// Both.
    Both,
}

impl Scope {
    /// The libvirt flag value.
    pub fn flags(self) -> u32 {
        match self {
            Scope::Current => sys::VIR_DOMAIN_AFFECT_CURRENT,
            Scope::Live => sys::VIR_DOMAIN_AFFECT_LIVE,
            Scope::Config => sys::VIR_DOMAIN_AFFECT_CONFIG,
            Scope::Both => sys::VIR_DOMAIN_AFFECT_LIVE | sys::VIR_DOMAIN_AFFECT_CONFIG,
        }
    }
}

/// How a graceful shutdown ended.
///
/// ```
/// use kvmhost_libvirt::ShutdownOutcome;
/// assert_ne!(ShutdownOutcome::Graceful, ShutdownOutcome::Destroyed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ShutdownOutcome {
    /// The guest shut down within the timeout.
    Graceful,
    /// It did not; it was destroyed (powered off).
    Destroyed,
    /// It was not running.
    AlreadyOff,
}

// ---- blocking operations, each run inside one `SharedConnection::call` closure ----

pub(crate) fn list(c: &Connect, filter: DomainFilter) -> Result<Vec<DomainSummary>> {
    c.list_all_domains(filter.flags())?.iter().map(DomainSummary::read).collect()
}

pub(crate) fn summary(c: &Connect, id: &DomainId) -> Result<DomainSummary> {
    DomainSummary::read(&id.lookup(c)?)
}

/// Defines the domain and reads its summary; also returns the handle (for the domain cache).
pub(crate) fn define(c: &Connect, xml: &str) -> Result<(DomainSummary, virt::domain::Domain)> {
    let dom = c.define_domain_xml(xml)?;
    // Name, UUID and id are cached in the handle; a just-defined domain is persistent: only
    // state and autostart need a call.
    let summary = DomainSummary {
        name: dom.name()?,
        uuid: dom.uuid_string()?,
        id: dom.id(),
        state: read_state(&dom)?.state,
        persistent: true,
        autostart: dom.autostart()?,
    };
    Ok((summary, dom))
}

pub(crate) fn undefine(dom: &virt::domain::Domain, options: UndefineOptions) -> Result<()> {
    let flags = options.flags();
    if flags == 0 {
        dom.undefine()?;
    } else {
        dom.undefine_flags(flags)?;
    }
    Ok(())
}

pub(crate) fn parse(xml: &str) -> Result<Domain> {
    Ok(Domain::parse(xml)?)
}

/// Checks that a domain document names itself (libvirt would invent nothing for a missing name).
pub(crate) fn require_name(domain: &Domain) -> Result<()> {
    match domain.name() {
        Some(n) if !n.is_empty() => Ok(()),
        _ => Err(LibvirtError::InvalidArgument { message: "the domain document has no <name>".into() }),
    }
}
