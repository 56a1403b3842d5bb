//! A feed from a directory of packages (what Archipel's `VMCastMaker.parseDirectory` did, with
//! checksums, sizes, formats and signing keys, escaped properly, written atomically).

use std::fs;
use std::path::{Path, PathBuf};

use super::{item_uuid, Enclosure, Feed, FeedError, Item, ENCLOSURE_TYPE};
use crate::archive::{self, Format};

/// Channel-level options of [`generate`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct GenerateOptions {
    /// Channel title (default: "VMCasts at BASE_URL").
    pub title: Option<String>,
    /// Channel description.
    pub description: Option<String>,
    /// Channel UUID (default: uuid3 of the base URL in the URL namespace).
    pub uuid: Option<String>,
    /// Channel language (default `en`).
    pub language: Option<String>,
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> FeedError {
    move |source| FeedError::Io { context, source }
}

/// Percent-encodes a file name for a URL path segment.
fn encode_segment(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// Scans `dir` for packages (any regular file whose content is a package of either format;
/// `rss.xml` and other files are skipped), writes `dir/rss.xml` atomically and returns its path
/// and the feed. Items are sorted by file name; each item's UUID is Archipel's (uuid3 of the
/// file name), its URL `BASE_URL/FILE`, its date the file's modification time.
pub fn generate(dir: &Path, base_url: &str, opts: &GenerateOptions) -> Result<(PathBuf, Feed), FeedError> {
    let base = base_url.trim_end_matches('/');
    let mut names: Vec<String> = Vec::new();
    for e in fs::read_dir(dir).map_err(io(format!("reading directory {}", dir.display())))? {
        let e = e.map_err(io(format!("reading directory {}", dir.display())))?;
        let Ok(name) = e.file_name().into_string() else { continue };
        if name.starts_with('.') || name == "rss.xml" {
            continue;
        }
        let ft = e.file_type().map_err(io(format!("stat {}", e.path().display())))?;
        if ft.is_file() {
            names.push(name);
        }
    }
    names.sort();
    let mut feed = Feed {
        title: opts.title.clone().unwrap_or_else(|| format!("VMCasts at {base}")),
        link: base.to_string(),
        uuid: Some(opts.uuid.clone().unwrap_or_else(|| item_uuid(base))),
        description: opts.description.clone().unwrap_or_else(|| "Appliances published by kvmhost".into()),
        language: Some(opts.language.clone().unwrap_or_else(|| "en".into())),
        items: Vec::new(),
    };
    for name in names {
        let path = dir.join(&name);
        let format = match archive::detect(&path) {
            Ok(f) => f,
            Err(archive::ArchiveError::NotAPackage { .. }) => continue,
            Err(e) => return Err(FeedError::Package { file: path.display().to_string(), source: Box::new(e) }),
        };
        let meta = fs::metadata(&path).map_err(io(format!("stat {}", path.display())))?;
        let sha256 = crate::fsutil::sha256_file(&path).map_err(io(format!("reading {}", path.display())))?;
        let (title, description, key_id) = match format {
            Format::Native => {
                let (m, sig) = archive::read_manifest(&path, &Default::default())
                    .map_err(|e| FeedError::Package { file: path.display().to_string(), source: Box::new(e) })?;
                (m.metadata.name, m.metadata.description, sig.map(|k| k.to_string()))
            }
            Format::Xvm2 => {
                (name.strip_suffix(".xvm2").unwrap_or(&name).to_string(), "Auto imported vmcast".into(), None)
            }
        };
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        feed.items.push(Item {
            title,
            link: base.to_string(),
            uuid: item_uuid(&name),
            enclosure: Enclosure {
                url: format!("{base}/{}", encode_segment(&name)),
                length: meta.len(),
                mime: ENCLOSURE_TYPE.into(),
            },
            description,
            pub_date: Some(crate::date::rfc822(mtime)),
            published: Some(mtime),
            sha256: Some(sha256),
            format: Some(format),
            key_id,
        });
    }
    let xml = super::write(&feed)?;
    let out = dir.join("rss.xml");
    crate::fsutil::atomic_write(&out, xml.as_bytes()).map_err(io(format!("writing {}", out.display())))?;
    Ok((out, feed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("a b&c.xvm2"), "a%20b%26c.xvm2");
    }
}
