//! Limits applied to everything read from a package or a feed: hostile input is normal input.

use serde::{Deserialize, Serialize};

/// Bounds on what a package or feed may make this crate read, allocate or write.
///
/// Every limit is checked while streaming; crossing one is a typed error
/// ([`crate::archive::ArchiveError::LimitExceeded`]) and nothing is left in the target.
///
/// ```
/// use kvmhost_templates::Limits;
/// let mut strict = Limits::default();
/// strict.max_total_bytes = 1 << 30;
/// assert!(strict.max_total_bytes < Limits::default().max_total_bytes);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Limits {
    /// Most bytes of data (not holes) all members may expand to, together (default 1 TiB).
    pub max_total_bytes: u64,
    /// Largest apparent size of one disk image, holes included (default 64 TiB).
    pub max_disk_size: u64,
    /// Largest expansion ratio of decompressed to compressed bytes (default 1000), checked once
    /// more than [`Limits::ratio_floor`] bytes came out.
    pub max_ratio: u64,
    /// Output below this many bytes is never a "bomb" (default 16 MiB).
    pub ratio_floor: u64,
    /// Most members in a package (default 1024).
    pub max_members: u64,
    /// Largest XML member or manifest (domain, snapshot, manifest; default 8 MiB).
    pub max_xml_bytes: u64,
    /// Most data extents of one sparse disk member (default 4 Mi).
    pub max_extents: u64,
    /// Largest feed document (default 16 MiB).
    pub max_feed_bytes: u64,
    /// Most items in one feed (default 100 000).
    pub max_feed_items: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total_bytes: 1 << 40,
            max_disk_size: 64 << 40,
            max_ratio: 1000,
            ratio_floor: 16 << 20,
            max_members: 1024,
            max_xml_bytes: 8 << 20,
            max_extents: 4 << 20,
            max_feed_bytes: 16 << 20,
            max_feed_items: 100_000,
        }
    }
}
