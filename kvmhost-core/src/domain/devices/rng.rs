//! `<rng>`: virtio random number generators.

use serde::{Deserialize, Serialize};

use super::common::set_device_info;
use super::shared::VirtioDriverOptions;
use crate::domain::codec::{
    attr_part, attr_string, child_part, set_attr, set_child, set_child_with, ElementPath, XmlPart,
};
use crate::domain::devices::common::{AcpiIndex, Address, Alias};
use crate::domain::error::DomainError;
use crate::xml::Element;

attr_part! {
    /// `<rate bytes='1234' period='2000'/>`: the entropy rate limit.
    pub struct RngRate = "rate" {
        /// `bytes` per period.
        bytes: u32 = "bytes",
        /// `period` in milliseconds.
        period: u32 = "period",
    }
}

attr_part! {
    /// The `<source>` of an egd backend (a character device source).
    pub struct RngBackendSource = "source" {
        /// `mode` (bind / connect).
        mode: String = "mode",
        /// `host`.
        host: String = "host",
        /// `service`: the port.
        service: String = "service",
        /// `path` (unix).
        path: String = "path",
    }
}

/// `<backend model='random'>/dev/urandom</backend>` or
/// `<backend model='egd' type='tcp'><source …/><protocol type='raw'/></backend>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RngBackend {
    /// `model` (random / egd / builtin).
    pub model: Option<String>,
    /// `type` (egd: the character device type, tcp / udp / unix / …).
    pub backend_type: Option<String>,
    /// The random device path given as text (random model).
    pub device: Option<String>,
    /// `<source>` (egd).
    pub source: Option<RngBackendSource>,
    /// `<protocol type>` (egd).
    pub protocol: Option<String>,
}

impl XmlPart for RngBackend {
    const TAG: &'static str = "backend";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let text = el.text();
        let device = (el.elements().next().is_none() && !text.trim().is_empty()).then(|| text.trim().to_string());
        Ok(RngBackend {
            model: attr_string(el, "model"),
            backend_type: attr_string(el, "type"),
            device,
            source: child_part(el, path)?,
            protocol: crate::domain::codec::attr_of_child(el, "protocol", "type", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "model", self.model.as_deref());
        set_attr(el, "type", self.backend_type.as_deref());
        if let Some(dev) = &self.device {
            if el.text().trim() != dev {
                el.set_text(dev.clone());
            }
        } else if el.elements().next().is_none() && !el.text().trim().is_empty() {
            el.set_text("");
        }
        let order = &["source", "protocol"];
        set_child(el, self.source.as_ref(), order);
        let protocol = self.protocol.as_deref();
        set_child_with(el, "protocol", protocol.map(|p| move |e: &mut Element| set_attr(e, "type", Some(p))), order);
    }
}

/// A random number generator (`<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>`).
///
/// ```
/// use kvmhost_core::domain::{Rng, XmlPart};
/// let el = Rng::virtio_urandom().to_element();
/// assert_eq!(el.attr("model"), Some("virtio"));
/// assert_eq!(el.child("backend").unwrap().text(), "/dev/urandom");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Rng {
    /// `model` (virtio / virtio-transitional / virtio-non-transitional).
    pub model: Option<String>,
    /// `<rate>`.
    pub rate: Option<RngRate>,
    /// `<backend>`.
    pub backend: Option<RngBackend>,
    /// `<driver>` virtio options.
    pub driver: Option<VirtioDriverOptions>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<acpi>`.
    pub acpi: Option<AcpiIndex>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// libvirt's order of `<rng>` children.
const ORDER: &[&str] = &["driver", "rate", "backend", "alias", "acpi", "address"];

impl Rng {
    /// A virtio RNG fed from the host's `/dev/urandom`.
    pub fn virtio_urandom() -> Rng {
        Rng {
            model: Some("virtio".into()),
            backend: Some(RngBackend {
                model: Some("random".into()),
                device: Some("/dev/urandom".into()),
                ..RngBackend::default()
            }),
            ..Rng::default()
        }
    }
}

impl XmlPart for Rng {
    const TAG: &'static str = "rng";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Rng {
            model: attr_string(el, "model"),
            rate: child_part(el, path)?,
            backend: child_part(el, path)?,
            driver: child_part(el, path)?,
            alias: child_part(el, path)?,
            acpi: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "model", self.model.as_deref());
        set_child(el, self.driver.as_ref(), ORDER);
        set_child(el, self.rate.as_ref(), ORDER);
        set_child(el, self.backend.as_ref(), ORDER);
        set_device_info(el, self.alias.as_ref(), self.acpi.as_ref(), self.address.as_ref(), ORDER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn egd_backend_round_trips() {
        let src = "<rng model='virtio'><rate bytes='123' period='1234'/>\n  <backend model='egd' type='tcp'>\n    \
                   <source mode='connect' host='1.2.3.4' service='1234'/>\n    <protocol type='raw'/>\n  </backend>\
                   </rng>";
        let d = Document::parse(src).unwrap();
        let r = Rng::decode(&d.root, &ElementPath::root("rng")).unwrap();
        let b = r.backend.as_ref().unwrap();
        assert_eq!(b.device, None);
        assert_eq!(b.protocol.as_deref(), Some("raw"));
        assert_eq!(r.rate.as_ref().unwrap().period, Some(1234));
        let mut el = d.root.clone();
        r.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root));
    }

    #[test]
    fn random_device_is_edited() {
        let d = Document::parse("<rng model='virtio'><backend model='random'>/dev/random</backend></rng>").unwrap();
        let mut r = Rng::decode(&d.root, &ElementPath::root("rng")).unwrap();
        assert_eq!(r.backend.as_ref().unwrap().device.as_deref(), Some("/dev/random"));
        r.backend.as_mut().unwrap().device = Some("/dev/hwrng".into());
        let mut el = d.root.clone();
        r.encode_into(&mut el);
        assert_eq!(el.child("backend").unwrap().text(), "/dev/hwrng");
    }
}
