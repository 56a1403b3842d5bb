//! `<iommu>`, `<vsock>` and `<crypto>`.

use serde::{Deserialize, Serialize};

use super::set_info;
use crate::domain::codec::{attr_part, attr_string, child_part, set_attr, set_child, ElementPath, XmlPart};
use crate::domain::devices::common::{Address, Alias};
use crate::domain::error::DomainError;
use crate::xml::Element;

attr_part! {
    /// IOMMU options (`<driver intremap='on' caching_mode='on' eim='on' iotlb='on' aw_bits='48'/>`).
    pub struct IommuDriver = "driver" {
        /// `intremap`.
        intremap: String = "intremap",
        /// `caching_mode`.
        caching_mode: String = "caching_mode",
        /// `eim`.
        eim: String = "eim",
        /// `iotlb`.
        iotlb: String = "iotlb",
        /// `aw_bits`.
        aw_bits: u32 = "aw_bits",
    }
}

/// A virtual IOMMU (`<iommu model='intel'>`).
///
/// ```
/// use kvmhost_core::domain::{Iommu, XmlPart};
/// let mut i = Iommu::default();
/// i.model = Some("intel".into());
/// assert_eq!(i.to_element().attr("model"), Some("intel"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Iommu {
    /// `model` (intel / smmuv3 / virtio).
    pub model: Option<String>,
    /// `<driver>`.
    pub driver: Option<IommuDriver>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<address>`.
    pub address: Option<Address>,
}

const INFO_ORDER: &[&str] = &["driver", "cid", "backend", "alias", "address"];

impl XmlPart for Iommu {
    const TAG: &'static str = "iommu";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Iommu {
            model: attr_string(el, "model"),
            driver: child_part(el, path)?,
            alias: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "model", self.model.as_deref());
        set_child(el, self.driver.as_ref(), INFO_ORDER);
        set_info(el, self.alias.as_ref(), self.address.as_ref(), INFO_ORDER);
    }
}

attr_part! {
    /// The guest context id of a vsock (`<cid auto='no' address='3'/>`).
    pub struct VsockCid = "cid" {
        /// `auto` (yes / no).
        auto: String = "auto",
        /// `address`.
        address: String = "address",
    }
}

attr_part! {
    /// Virtio driver options of a vsock (`<driver iommu='on'/>`).
    pub struct VsockDriver = "driver" {
        /// `iommu`.
        iommu: String = "iommu",
        /// `ats`.
        ats: String = "ats",
        /// `packed`.
        packed: String = "packed",
        /// `page_per_vq`.
        page_per_vq: String = "page_per_vq",
    }
}

/// A virtio vsock (`<vsock model='virtio'><cid auto='yes'/></vsock>`).
///
/// ```
/// use kvmhost_core::domain::{Vsock, XmlPart};
/// let v = Vsock::auto();
/// assert_eq!(v.to_element().child("cid").unwrap().attr("auto"), Some("yes"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Vsock {
    /// `model` (virtio / virtio-transitional / …).
    pub model: Option<String>,
    /// `<cid>`.
    pub cid: Option<VsockCid>,
    /// `<driver>`.
    pub driver: Option<VsockDriver>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<address>`.
    pub address: Option<Address>,
}

impl Vsock {
    /// A virtio vsock with an automatically assigned CID.
    pub fn auto() -> Vsock {
        Vsock {
            model: Some("virtio".into()),
            cid: Some(VsockCid { auto: Some("yes".into()), address: None }),
            ..Vsock::default()
        }
    }
}

impl XmlPart for Vsock {
    const TAG: &'static str = "vsock";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Vsock {
            model: attr_string(el, "model"),
            cid: child_part(el, path)?,
            driver: child_part(el, path)?,
            alias: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "model", self.model.as_deref());
        set_child(el, self.cid.as_ref(), INFO_ORDER);
        set_child(el, self.driver.as_ref(), INFO_ORDER);
        set_info(el, self.alias.as_ref(), self.address.as_ref(), INFO_ORDER);
    }
}

attr_part! {
    /// The crypto backend (`<backend model='builtin' queues='1'/>`).
    pub struct CryptoBackend = "backend" {
        /// `model` (builtin / lkcf).
        model: String = "model",
        /// `queues`.
        queues: u32 = "queues",
    }
}

/// A virtio crypto device (`<crypto model='virtio' type='qemu'>`).
///
/// ```
/// use kvmhost_core::domain::{Crypto, XmlPart};
/// let mut c = Crypto::default();
/// c.model = Some("virtio".into());
/// c.crypto_type = Some("qemu".into());
/// assert_eq!(c.to_element().attr("type"), Some("qemu"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Crypto {
    /// `model` (virtio).
    pub model: Option<String>,
    /// `type` (qemu).
    pub crypto_type: Option<String>,
    /// `<backend>`.
    pub backend: Option<CryptoBackend>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<address>`.
    pub address: Option<Address>,
}

impl XmlPart for Crypto {
    const TAG: &'static str = "crypto";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Crypto {
            model: attr_string(el, "model"),
            crypto_type: attr_string(el, "type"),
            backend: child_part(el, path)?,
            alias: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "model", self.model.as_deref());
        set_attr(el, "type", self.crypto_type.as_deref());
        set_child(el, self.backend.as_ref(), INFO_ORDER);
        set_info(el, self.alias.as_ref(), self.address.as_ref(), INFO_ORDER);
    }
}
