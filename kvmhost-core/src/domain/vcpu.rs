//! `<vcpu>`: the number of virtual CPUs, with placement and the current count.

use serde::{Deserialize, Serialize};

use super::codec::{attr_parse, attr_string, parse_value, set_attr, set_child, ElementPath, XmlPart};
use super::{Domain, DOMAIN_ORDER};
use crate::domain::error::DomainError;
use crate::xml::Element;

crate::xml_enum! {
    /// Where vCPUs may run (`placement`).
    pub enum VcpuPlacement { Static = "static", Auto = "auto" }
}

/// `<vcpu placement='static' cpuset='1-3' current='2'>4</vcpu>`.
///
/// ```
/// use kvmhost_core::domain::{Vcpu, XmlPart};
/// let v = Vcpu::new(4);
/// assert_eq!(v.to_element().text(), "4");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Vcpu {
    /// Maximum vCPUs.
    pub count: u32,
    /// `placement`.
    pub placement: Option<VcpuPlacement>,
    /// `cpuset` (host CPUs, libvirt range syntax).
    pub cpuset: Option<String>,
    /// `current`: vCPUs online at boot.
    pub current: Option<u32>,
}

impl Vcpu {
    /// `count` vCPUs, all online.
    pub fn new(count: u32) -> Vcpu {
        Vcpu { count, ..Vcpu::default() }
    }
}

impl XmlPart for Vcpu {
    const TAG: &'static str = "vcpu";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let text = el.text();
        Ok(Vcpu {
            count: parse_value(text.trim(), || path.to_string(), "unsigned integer")?,
            placement: el.attr("placement").map(Into::into),
            cpuset: attr_string(el, "cpuset"),
            current: attr_parse(el, "current", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "placement", self.placement.as_ref());
        set_attr(el, "cpuset", self.cpuset.as_deref());
        set_attr(el, "current", self.current);
        if el.text().trim().parse::<u32>().ok() != Some(self.count) {
            el.set_text(self.count.to_string());
        }
    }
}

impl Domain {
    /// Sets the number of vCPUs (`<vcpu>`'s count, as `virt-xml --vcpus N`), keeping its
    /// `placement` and `cpuset`; a `current` count above the new number is dropped (all vCPUs
    /// online), one at or below it stays. Adds `<vcpu>` if the document has none.
    ///
    /// ```
    /// use kvmhost_core::domain::Domain;
    /// let mut d = Domain::parse("<domain><vcpu placement='static' current='4'>8</vcpu></domain>").unwrap();
    /// d.set_vcpu_count(2).unwrap();
    /// assert_eq!(d.to_xml().unwrap(), "<domain><vcpu placement='static'>2</vcpu></domain>");
    /// assert!(d.set_vcpu_count(0).is_err());
    /// ```
    pub fn set_vcpu_count(&mut self, count: u32) -> Result<(), DomainError> {
        if count == 0 {
            return Err(DomainError::Invalid {
                path: "/domain/vcpu".into(),
                reason: "at least one vCPU is needed".into(),
            });
        }
        let mut vcpu = self.vcpu()?.unwrap_or_default();
        vcpu.count = count;
        vcpu.current = vcpu.current.filter(|&c| c <= count);
        set_child(self.root_mut(), Some(&vcpu), DOMAIN_ORDER);
        Ok(())
    }
}
