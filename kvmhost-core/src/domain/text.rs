//! `FromStr` and `Display` for the domain and its typed parts: the text form of each is its
//! libvirt XML.
//!
//! ```
//! use kvmhost_core::domain::{Cpu, CpuMode, Domain, Interface};
//! let vm: Domain = r#"<domain type="kvm"><name>web1</name></domain>"#.parse()?;
//! assert_eq!(vm.to_string(), r#"<domain type="kvm"><name>web1</name></domain>"#);
//! let cpu: Cpu = "<cpu mode='host-model'/>".parse()?;
//! assert_eq!(cpu.mode, Some(CpuMode::HostModel));
//! assert_eq!(cpu.to_string(), "<cpu mode=\"host-model\"/>");
//! let nic: Interface = "<interface type='bridge'><source bridge='br0'/></interface>".parse()?;
//! assert_eq!(nic.to_string().parse::<Interface>()?, nic);
//! assert!("<disk/>".parse::<Cpu>().is_err()); // another element
//! # Ok::<(), kvmhost_core::domain::DomainError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use crate::xml::Document;

use super::{Cpu, Disk, Domain, ElementPath, Interface, XmlPart};
use crate::domain::error::DomainError;

impl FromStr for Domain {
    type Err = DomainError;
    /// [`Domain::parse`].
    fn from_str(xml: &str) -> Result<Domain, DomainError> {
        Domain::parse(xml)
    }
}

impl fmt::Display for Domain {
    /// [`Domain::to_xml`]; a document that cannot be written (a name or value holding a
    /// character XML cannot carry) is a formatting error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_xml().map_err(|_| fmt::Error)?)
    }
}

/// Parses one typed part from the text of its element (`<cpu …>…</cpu>`).
///
/// ```
/// use kvmhost_core::domain::{part_from_str, Disk};
/// let disk: Disk = part_from_str("<disk type='file' device='disk'><target dev='vda'/></disk>")?;
/// assert_eq!(disk.target.unwrap().dev.as_deref(), Some("vda"));
/// # Ok::<(), kvmhost_core::domain::DomainError>(())
/// ```
pub fn part_from_str<T: XmlPart>(xml: &str) -> Result<T, DomainError> {
    let doc = Document::parse(xml)?;
    if doc.root.name != T::TAG {
        return Err(DomainError::Invalid {
            path: format!("/{}", doc.root.name),
            reason: format!("expected a <{}> element", T::TAG),
        });
    }
    T::decode(&doc.root, &ElementPath::root(T::TAG))
}

/// Writes one typed part as its element's text.
///
/// ```
/// use kvmhost_core::domain::{part_to_string, Cpu};
/// assert_eq!(part_to_string(&Cpu::host_passthrough())?, "<cpu mode=\"host-passthrough\"/>");
/// # Ok::<(), kvmhost_core::domain::DomainError>(())
/// ```
pub fn part_to_string<T: XmlPart>(part: &T) -> Result<String, DomainError> {
    Ok(Document::new(part.to_element()).to_xml()?)
}

macro_rules! text_as_xml {
    ($($part:ty),*) => {$(
        impl FromStr for $part {
            type Err = DomainError;
            fn from_str(xml: &str) -> Result<Self, DomainError> {
                part_from_str(xml)
            }
        }

        impl fmt::Display for $part {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&part_to_string(self).map_err(|_| fmt::Error)?)
            }
        }
    )*};
}

text_as_xml!(Cpu, Interface, Disk);
