//! Software versions as packagers write them, compared numerically.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

/// A version: its numeric components (compared numerically, missing ones count as 0) and the
/// text it was read from.
///
/// Debian and RPM spellings are understood: an epoch (`1:`) and everything from the first
/// character that is not a digit or `.` (`+dfsg-7+deb12u18`, `-4.el8`) are not compared.
///
/// ```
/// use kvmhost_core::preflight::Version;
/// let v: Version = "1:7.2+dfsg-7+deb12u18+b3".parse().unwrap();
/// assert_eq!(v.parts(), [7, 2]);
/// assert!(v >= "1.0".parse().unwrap());
/// assert!("0.9.11".parse::<Version>().unwrap() > "0.9.4".parse().unwrap());
/// assert_eq!("0.9.4".parse::<Version>().unwrap(), "0.9.4.0".parse().unwrap());
/// assert_eq!(v.to_string(), "7.2");
/// assert!("abc".parse::<Version>().is_err());
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version {
    parts: Vec<u32>,
}

impl Version {
    /// A version from its components.
    pub fn new(parts: &[u32]) -> Version {
        Version { parts: parts.to_vec() }
    }

    /// libvirt's encoding `major * 1_000_000 + minor * 1_000 + release` (also QEMU's in
    /// libvirt's capability cache).
    ///
    /// ```
    /// assert_eq!(kvmhost_core::preflight::Version::from_libvirt(9_000_000).to_string(), "9.0.0");
    /// ```
    pub fn from_libvirt(raw: u64) -> Version {
        let p = |d: u64| u32::try_from(d % 1000).unwrap_or(0);
        Version { parts: vec![u32::try_from(raw / 1_000_000).unwrap_or(u32::MAX), p(raw / 1000), p(raw)] }
    }

    /// The numeric components.
    pub fn parts(&self) -> &[u32] {
        &self.parts
    }

    fn get(&self, i: usize) -> u32 {
        self.parts.get(i).copied().unwrap_or(0)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        (0..n).map(|i| self.get(i).cmp(&other.get(i))).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
    }
}

impl std::str::FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Version, String> {
        let t = s.trim();
        let t = match t.split_once(':') {
            Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => rest,
            _ => t,
        };
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
        let end = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
        let parts: Result<Vec<u32>, _> =
            t[..end].trim_end_matches('.').split('.').take(8).map(str::parse::<u32>).collect();
        match parts {
            Ok(p) if !p.is_empty() => Ok(Version { parts: p }),
            _ => Err(format!("not a version: {s:?}")),
        }
    }
}

impl TryFrom<String> for Version {
    type Error = String;
    fn try_from(s: String) -> Result<Version, String> {
        s.parse()
    }
}

impl From<Version> for String {
    fn from(v: Version) -> String {
        v.to_string()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}
