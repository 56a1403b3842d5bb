//! Where feeds and packages come from: a small [`Transport`] trait with an HTTP(S)
//! implementation ([`HttpTransport`], feature `http` / `https`) and one for local files
//! ([`FileTransport`]: `file://` URLs and plain paths). [`DefaultTransport`] picks by scheme.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// Errors of transports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A URL scheme no transport here handles (or whose feature is off).
    #[error("{url}: unsupported URL scheme (enable the `http`/`https` features for HTTP)")]
    Unsupported {
        /// The URL.
        url: String,
    },
    /// The server answered with an error status.
    #[error("{url}: HTTP status {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// Connecting, sending or reading failed.
    #[error("{url}: {message}")]
    Failed {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
}

/// A response whose body is read as a stream.
pub struct Response {
    /// HTTP status (200 or 206; files answer 200, or 206 for a range).
    pub status: u16,
    /// `Content-Length`, when given.
    pub content_length: Option<u64>,
    /// `Content-Range`, when given (`bytes 100-199/200`).
    pub content_range: Option<String>,
    /// The body.
    pub body: Box<dyn Read + Send>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("content_length", &self.content_length)
            .field("content_range", &self.content_range)
            .finish()
    }
}

/// Fetches URLs.
pub trait Transport {
    /// GETs `url`; from byte `range_from` on (an HTTP `Range: bytes=N-` request) when given.
    fn get(&self, url: &str, range_from: Option<u64>) -> Result<Response, TransportError>;
}

/// A parsed `Content-Range: bytes START-END/TOTAL` (`TOTAL` may be `*`).
///
/// ```
/// use kvmhost_templates::transport::parse_content_range;
/// assert_eq!(parse_content_range("bytes 100-199/200"), Some((100, 199, Some(200))));
/// assert_eq!(parse_content_range("bytes 0-9/*"), Some((0, 9, None)));
/// assert_eq!(parse_content_range("bytes */200"), None);
/// ```
pub fn parse_content_range(v: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    if b < a {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((a, b, total))
}

/// Local files: `file:///path` and plain paths.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileTransport;

impl Transport for FileTransport {
    fn get(&self, url: &str, range_from: Option<u64>) -> Result<Response, TransportError> {
        let path = url.strip_prefix("file://").unwrap_or(url);
        let fail = |e: std::io::Error| TransportError::Failed { url: url.to_string(), message: e.to_string() };
        let mut f = File::open(path).map_err(fail)?;
        let len = f.metadata().map_err(fail)?.len();
        match range_from {
            Some(from) if from > 0 => {
                if from >= len {
                    return Err(TransportError::Status { url: url.into(), status: 416 });
                }
                f.seek(SeekFrom::Start(from)).map_err(fail)?;
                Ok(Response {
                    status: 206,
                    content_length: Some(len - from),
                    content_range: Some(format!("bytes {from}-{}/{len}", len - 1)),
                    body: Box::new(f),
                })
            }
            _ => Ok(Response { status: 200, content_length: Some(len), content_range: None, body: Box::new(f) }),
        }
    }
}

/// HTTP and (with the `https` feature) HTTPS through `ureq`: no transparent decompression,
/// redirects followed (5 at most), connect and read timeouts of 30 s.
#[cfg(feature = "http")]
#[derive(Debug, Clone)]
pub struct HttpTransport {
    agent: ureq::Agent,
}

#[cfg(feature = "http")]
impl Default for HttpTransport {
    fn default() -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(std::time::Duration::from_secs(30))
            .timeout_read(std::time::Duration::from_secs(30))
            .redirects(5)
            .user_agent(concat!("kvmhost-templates/", env!("CARGO_PKG_VERSION")))
            .build();
        HttpTransport { agent }
    }
}

#[cfg(feature = "http")]
impl Transport for HttpTransport {
    fn get(&self, url: &str, range_from: Option<u64>) -> Result<Response, TransportError> {
        // Without TLS built in, say so (ureq's own error is "unknown scheme").
        if cfg!(not(feature = "https")) && url.starts_with("https://") {
            return Err(TransportError::Unsupported { url: url.into() });
        }
        let mut req = self.agent.get(url).set("Cache-Control", "no-cache");
        if let Some(from) = range_from.filter(|&f| f > 0) {
            req = req.set("Range", &format!("bytes={from}-"));
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(status, _)) => return Err(TransportError::Status { url: url.into(), status }),
            Err(e) => return Err(TransportError::Failed { url: url.into(), message: e.to_string() }),
        };
        let content_length = resp.header("Content-Length").and_then(|v| v.trim().parse().ok());
        let content_range = resp.header("Content-Range").map(str::to_string);
        Ok(Response { status: resp.status(), content_length, content_range, body: Box::new(resp.into_reader()) })
    }
}

/// Picks the transport by URL: `http://` / `https://` over HTTP, anything else as a file.
#[derive(Debug, Clone, Default)]
pub struct DefaultTransport {
    #[cfg(feature = "http")]
    http: HttpTransport,
}

impl Transport for DefaultTransport {
    fn get(&self, url: &str, range_from: Option<u64>) -> Result<Response, TransportError> {
        if url.starts_with("http://") || url.starts_with("https://") {
            #[cfg(feature = "http")]
            return self.http.get(url, range_from);
            #[cfg(not(feature = "http"))]
            return Err(TransportError::Unsupported { url: url.into() });
        }
        if url.contains("://") && !url.starts_with("file://") {
            return Err(TransportError::Unsupported { url: url.into() });
        }
        FileTransport.get(url, range_from)
    }
}

/// Reads a whole (small) body with a size limit.
pub(crate) fn read_limited(mut body: Box<dyn Read + Send>, limit: u64, url: &str) -> Result<Vec<u8>, TransportError> {
    let mut v = Vec::new();
    (&mut body)
        .take(limit + 1)
        .read_to_end(&mut v)
        .map_err(|e| TransportError::Failed { url: url.into(), message: e.to_string() })?;
    if v.len() as u64 > limit {
        return Err(TransportError::Failed { url: url.into(), message: format!("larger than {limit} bytes") });
    }
    Ok(v)
}

#[cfg(all(test, feature = "http", not(feature = "https")))]
mod tests {
    use super::*;

    #[test]
    fn https_without_the_feature_says_so() {
        // Refused before any connection (the address is a reserved documentation one).
        let Err(err) = HttpTransport::default().get("https://192.0.2.1/feed.xml", None) else {
            panic!("an https:// URL was fetched without the https feature");
        };
        assert!(matches!(err, TransportError::Unsupported { .. }), "{err:?}");
        assert!(err.to_string().contains("enable the `http`/`https` features"), "{err}");
    }
}
