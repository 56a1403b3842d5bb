//! Per-connection cache of domain handles by UUID, so an operation on a domain addressed by
//! UUID (what [`crate::DomainSummary::domain_id`] returns) costs no `virDomainLookupByUUID`
//! round trip after the first.
//!
//! A handle keyed by UUID is exactly what a fresh lookup would return: libvirt resolves a
//! handle by its UUID on every call, so a cached one never addresses another domain. It only
//! goes stale when its domain disappears (undefined, or a transient domain stopped); then the
//! call fails with `NoSuchDomain` and [`with_domain`] looks the UUID up once more before giving
//! that error to the caller. Names are not cached (a rename keeps the UUID, so a name-keyed
//! handle could act on a domain now called differently). The cache belongs to one live
//! connection ([`crate::connection::SharedConnection`] drops it at a reconnect), and
//! undefining through the API evicts the entry.

use std::collections::HashMap;
use std::sync::Mutex;

use virt::connect::Connect;
use virt::domain::Domain;

use crate::{DomainId, LibvirtError, Result};

/// At most this many handles are kept; the cache is emptied when it would grow beyond.
const CAPACITY: usize = 4096;

/// Domain handles of one connection, by lower-case UUID string.
#[derive(Default)]
pub(crate) struct DomainCache {
    by_uuid: Mutex<HashMap<String, Domain>>,
}

impl DomainCache {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Domain>> {
        self.by_uuid.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers `dom` under `uuid`.
    pub(crate) fn insert(&self, uuid: &str, dom: &Domain) {
        let mut map = self.map();
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(uuid.to_ascii_lowercase(), dom.clone());
    }

    /// Forgets `uuid`.
    pub(crate) fn evict(&self, uuid: &str) {
        self.map().remove(&uuid.to_ascii_lowercase());
    }

    /// The cached handle for `id` (UUIDs only).
    fn cached(&self, id: &DomainId) -> Option<Domain> {
        match id {
            DomainId::Uuid(u) => self.map().get(&u.to_ascii_lowercase()).cloned(),
            DomainId::Name(_) => None,
        }
    }

    /// A handle for `id`: cached, or looked up (and cached when `id` is a UUID).
    fn fresh(&self, conn: &Connect, id: &DomainId) -> Result<Domain> {
        let dom = id.lookup(conn)?;
        if let DomainId::Uuid(u) = id {
            self.insert(u, &dom);
        }
        Ok(dom)
    }

    /// How many handles are cached.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.map().len()
    }
}

/// Runs `op` on the domain `id`, with a cached handle when there is one. If `op` fails with
/// `NoSuchDomain` on a cached handle, the entry is dropped and `op` runs once more on a fresh
/// lookup (whose own `NoSuchDomain` is the caller's answer). `op` ran on the first handle only
/// if it did not fail that way, so it never takes effect twice.
pub(crate) fn with_domain<T>(
    conn: &Connect,
    cache: &DomainCache,
    id: &DomainId,
    op: impl Fn(&Domain) -> Result<T>,
) -> Result<T> {
    if let Some(dom) = cache.cached(id) {
        match op(&dom) {
            Err(LibvirtError::NoSuchDomain { .. }) => {
                if let DomainId::Uuid(u) = id {
                    cache.evict(u);
                }
            }
            other => return other,
        }
    }
    op(&cache.fresh(conn, id)?).map_err(|e| e.about(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_handles_are_cached_names_are_not_and_stale_entries_are_retried() {
        let conn = Connect::open(Some("test:///default")).unwrap();
        let cache = DomainCache::default();
        let uuid = conn.lookup_domain_by_name("test").unwrap().uuid_string().unwrap();
        let by_uuid = DomainId::uuid(uuid.clone());
        assert_eq!(with_domain(&conn, &cache, &by_uuid, |d| Ok(d.name()?)).unwrap(), "test");
        assert_eq!(cache.len(), 1);
        assert_eq!(with_domain(&conn, &cache, &DomainId::name("test"), |d| Ok(d.name()?)).unwrap(), "test");
        assert_eq!(cache.len(), 1);
        // A stale entry (its domain went away): the cached call's NoSuchDomain leads to one
        // fresh lookup, which fails too, so the operation ran once.
        let xml = "<domain type='test'><name>cache-gone</name><memory>1024</memory>\
                   <os><type>hvm</type></os></domain>";
        let gone = conn.define_domain_xml(xml).unwrap();
        let gone_uuid = gone.uuid_string().unwrap();
        gone.undefine().unwrap();
        cache.insert(&gone_uuid, &gone);
        let calls = std::cell::Cell::new(0);
        let res = with_domain(&conn, &cache, &DomainId::uuid(gone_uuid), |d| {
            calls.set(calls.get() + 1);
            Ok(d.is_active()?)
        });
        assert!(matches!(res, Err(LibvirtError::NoSuchDomain { .. })), "{res:?}");
        assert_eq!(calls.get(), 1, "the fresh lookup fails before a second call");
        assert_eq!(cache.len(), 1, "the stale entry was evicted");
    }
}
