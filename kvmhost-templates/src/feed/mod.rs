//! VMCast feeds: RSS 2.0 as Archipel wrote and read them, with kvmhost's extensions.
//!
//! Archipel's feed is plain RSS 2.0 without namespaces: a bare `<uuid>` in the channel and in
//! each item, an `<enclosure type='application/enomalism2-xvm2'>` pointing at the package, the
//! description often in CDATA, and `pubDate` in RFC 822 (its docs) or Python's `str(datetime)`
//! (its writer). [`parse`] reads both, and tolerates the unescaped `&` Archipel's string
//! concatenation left in text and URLs. [`write()`] escapes properly and adds, in the
//! [`NAMESPACE`] namespace (which Archipel's reader ignores), each package's SHA-256, size,
//! format and signing key id. [`generate`] builds a feed from a directory of packages.
//!
//! ```
//! let xml = "<?xml version='1.0' encoding='utf-8'?>\n   <rss version='2.0'>\n   <channel>\n\
//!   <title>Tom & Jerry's VMs</title><link>http://h/</link><uuid>c0ffee00-0000-0000-0000-000000000000</uuid>\n\
//!   <description>d</description><item><title>debian</title><link>http://h/</link>\
//!   <uuid>1c2a8e3e-dd5c-3b64-8d7a-5b2a70e4e4f6</uuid>\
//!   <enclosure url='http://h/debian.xvm2?a=1&b=2' length='123' type='application/enomalism2-xvm2'/>\
//!   <description>\n<![CDATA[\n  Auto imported vmcast\n]]>\n</description>\
//!   <pubDate>2016-11-07 09:51:30.123456</pubDate></item></channel></rss>";
//! let feed = kvmhost_templates::feed::parse(xml.as_bytes(), &Default::default()).unwrap();
//! assert_eq!(feed.title, "Tom & Jerry's VMs");
//! let item = &feed.items[0];
//! assert_eq!(item.enclosure.url, "http://h/debian.xvm2?a=1&b=2");
//! assert_eq!(item.description, "Auto imported vmcast");
//! assert_eq!(item.published, Some(1478512290));
//! ```

mod generate;
mod read;
mod write;

pub use generate::{generate, GenerateOptions};
pub use read::parse;
pub use write::write;

use serde::{Deserialize, Serialize};

/// The XML namespace of kvmhost's feed extensions.
pub const NAMESPACE: &str = "urn:x-kvmhost:vmcast:1";
/// The prefix written for [`NAMESPACE`].
pub const PREFIX: &str = "kvmhost";
/// The enclosure type Archipel uses for packages.
pub const ENCLOSURE_TYPE: &str = "application/enomalism2-xvm2";

/// Errors of feeds.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// Not well-formed XML even after the tolerated repairs.
    #[error("malformed feed XML at byte {position}: {message}")]
    Xml {
        /// Byte offset.
        position: u64,
        /// The parser's message.
        message: String,
    },
    /// Not an RSS document with a channel.
    #[error("not an RSS feed: {0}")]
    NotRss(String),
    /// An item without something it needs.
    #[error("item {index} ({title:?}) has no {field}")]
    Missing {
        /// Item index (0-based).
        index: usize,
        /// Its title, if any.
        title: String,
        /// The missing field.
        field: &'static str,
    },
    /// A value that does not parse.
    #[error("item {index}: invalid {field} {value:?}")]
    BadValue {
        /// Item index.
        index: usize,
        /// Field.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// Past the limits (document size, items, nesting).
    #[error("feed exceeds a limit: {0}")]
    Limit(String),
    /// Text that XML cannot carry (when writing).
    #[error("cannot write {0:?} into XML")]
    Unwritable(String),
    /// A file operation (generating).
    #[error("{context}")]
    Io {
        /// What.
        context: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A package in the directory could not be read (generating).
    #[error("{file}: {source}")]
    Package {
        /// The package.
        file: String,
        /// Why.
        #[source]
        source: Box<crate::archive::ArchiveError>,
    },
}

/// A feed (an RSS channel).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Feed {
    /// `<title>`.
    pub title: String,
    /// `<link>`.
    pub link: String,
    /// The bare `<uuid>` Archipel identifies feeds by.
    pub uuid: Option<String>,
    /// `<description>`.
    pub description: String,
    /// `<language>`.
    pub language: Option<String>,
    /// The appliances.
    pub items: Vec<Item>,
}

/// An `<enclosure>`: where the package is and how big.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Enclosure {
    /// `url`.
    pub url: String,
    /// `length` in bytes.
    pub length: u64,
    /// `type`.
    pub mime: String,
}

/// One appliance of a feed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Item {
    /// `<title>`.
    pub title: String,
    /// `<link>`.
    pub link: String,
    /// The bare `<uuid>` (Archipel: uuid3 of the package's file name in the URL namespace).
    pub uuid: String,
    /// `<enclosure>`.
    pub enclosure: Enclosure,
    /// `<description>` (CDATA or text), trimmed.
    pub description: String,
    /// `<pubDate>` as written.
    pub pub_date: Option<String>,
    /// `<pubDate>` in seconds since the epoch, when it parses (RFC 822 or Python's form).
    pub published: Option<i64>,
    /// Extension: SHA-256 of the package (lower-case hex).
    pub sha256: Option<String>,
    /// Extension: the package's format.
    pub format: Option<crate::Format>,
    /// Extension: id of the key that signed the package's manifest.
    pub key_id: Option<String>,
}

/// Archipel's item UUID: uuid3 in the URL namespace of the package's file name.
///
/// ```
/// assert_eq!(kvmhost_templates::feed::item_uuid("debian.xvm2"),
///            uuid::Uuid::new_v3(&uuid::Uuid::NAMESPACE_URL, b"debian.xvm2").to_string());
/// ```
pub fn item_uuid(file_name: &str) -> String {
    uuid::Uuid::new_v3(&uuid::Uuid::NAMESPACE_URL, file_name.as_bytes()).to_string()
}
