//! `<tpm>`: the trusted platform module.

use serde::{Deserialize, Serialize};

use super::common::set_device_info;
use crate::domain::codec::YesNo;
use crate::domain::codec::{
    attr_part, attr_string, child_part, set_attr, set_child, set_child_with, set_flag_child, ElementPath, XmlPart,
};
use crate::domain::devices::common::{AcpiIndex, Address, Alias};
use crate::domain::error::DomainError;
use crate::xml::Element;

attr_part! {
    /// `<source type='unix' mode='connect' path='/tmp/swtpm.sock'/>` of an external TPM.
    pub struct TpmSource = "source" {
        /// `type` (unix).
        source_type: String = "type",
        /// `mode` (connect).
        mode: String = "mode",
        /// `path`.
        path: String = "path",
    }
}

/// PCR banks an emulated TPM activates (`<active_pcr_banks><sha256/></active_pcr_banks>`).
pub const PCR_BANKS: &[&str] = &["sha1", "sha256", "sha384", "sha512"];

/// The TPM `<backend type='emulator' version='2.0'>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TpmBackend {
    /// `type` (passthrough / emulator / external).
    pub backend_type: Option<String>,
    /// `version` (1.2 / 2.0; emulator).
    pub version: Option<String>,
    /// `persistent_state` (yes / no; emulator).
    pub persistent_state: Option<YesNo>,
    /// `<device path>` (passthrough).
    pub device_path: Option<String>,
    /// `<encryption secret>`: UUID of the secret encrypting the emulator state.
    pub encryption_secret: Option<String>,
    /// `<active_pcr_banks>`: the banks present (see [`PCR_BANKS`]); `None` when the element is absent.
    pub active_pcr_banks: Option<Vec<String>>,
    /// `<source>` (external).
    pub source: Option<TpmSource>,
}

/// libvirt's order of `<backend>` children.
const BACKEND_ORDER: &[&str] = &["device", "encryption", "active_pcr_banks", "source"];

impl XmlPart for TpmBackend {
    const TAG: &'static str = "backend";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(TpmBackend {
            backend_type: attr_string(el, "type"),
            version: attr_string(el, "version"),
            persistent_state: el.attr("persistent_state").map(Into::into),
            device_path: crate::domain::codec::attr_of_child(el, "device", "path", path)?,
            encryption_secret: crate::domain::codec::attr_of_child(el, "encryption", "secret", path)?,
            active_pcr_banks: el.child("active_pcr_banks").map(|b| {
                b.elements().filter(|e| PCR_BANKS.contains(&e.name.as_str())).map(|e| e.name.to_string()).collect()
            }),
            source: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.backend_type.as_deref());
        set_attr(el, "version", self.version.as_deref());
        set_attr(el, "persistent_state", self.persistent_state.as_ref());
        let dev = self.device_path.as_deref();
        set_child_with(el, "device", dev.map(|p| move |e: &mut Element| set_attr(e, "path", Some(p))), BACKEND_ORDER);
        let secret = self.encryption_secret.as_deref();
        set_child_with(
            el,
            "encryption",
            secret.map(|s| move |e: &mut Element| set_attr(e, "secret", Some(s))),
            BACKEND_ORDER,
        );
        let banks = self.active_pcr_banks.as_ref();
        set_child_with(
            el,
            "active_pcr_banks",
            banks.map(|banks| {
                move |e: &mut Element| {
                    for bank in PCR_BANKS {
                        set_flag_child(e, bank, banks.iter().any(|b| b == bank), PCR_BANKS);
                    }
                }
            }),
            BACKEND_ORDER,
        );
        set_child(el, self.source.as_ref(), BACKEND_ORDER);
    }
}

/// A TPM device (`<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>`).
///
/// ```
/// use kvmhost_core::domain::{Tpm, XmlPart};
/// let el = Tpm::emulator("tpm-crb", "2.0").to_element();
/// assert_eq!(el.child("backend").unwrap().attr("type"), Some("emulator"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Tpm {
    /// `model` (tpm-tis / tpm-crb / tpm-spapr / spapr-tpm-proxy).
    pub model: Option<String>,
    /// `<backend>`.
    pub backend: Option<TpmBackend>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<acpi>`.
    pub acpi: Option<AcpiIndex>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// libvirt's order of `<tpm>` children.
const ORDER: &[&str] = &["backend", "alias", "acpi", "address"];

impl Tpm {
    /// An swtpm-emulated TPM of `model` and `version`.
    pub fn emulator(model: impl Into<String>, version: impl Into<String>) -> Tpm {
        Tpm {
            model: Some(model.into()),
            backend: Some(TpmBackend {
                backend_type: Some("emulator".into()),
                version: Some(version.into()),
                ..TpmBackend::default()
            }),
            ..Tpm::default()
        }
    }
}

impl XmlPart for Tpm {
    const TAG: &'static str = "tpm";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Tpm {
            model: attr_string(el, "model"),
            backend: child_part(el, path)?,
            alias: child_part(el, path)?,
            acpi: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "model", self.model.as_deref());
        set_child(el, self.backend.as_ref(), ORDER);
        set_device_info(el, self.alias.as_ref(), self.acpi.as_ref(), self.address.as_ref(), ORDER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn pcr_banks_round_trip_and_edit() {
        let src = "<tpm model='tpm-tis'><backend type='emulator' version='2.0' persistent_state='yes'>\
                   <encryption secret='32ee7e76-2178-47a1-ab7b-269e6e348015'/>\
                   <active_pcr_banks><sha256/><sha512/></active_pcr_banks></backend></tpm>";
        let d = Document::parse(src).unwrap();
        let mut t = Tpm::decode(&d.root, &ElementPath::root("tpm")).unwrap();
        let b = t.backend.as_mut().unwrap();
        assert_eq!(b.active_pcr_banks.as_deref(), Some(&["sha256".to_string(), "sha512".to_string()][..]));
        let mut el = d.root.clone();
        t.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root));
        t.backend.as_mut().unwrap().active_pcr_banks = Some(vec!["sha1".into()]);
        t.encode_into(&mut el);
        let names: Vec<_> = el
            .child("backend")
            .unwrap()
            .child("active_pcr_banks")
            .unwrap()
            .elements()
            .map(|e| e.name.clone())
            .collect();
        assert_eq!(names, ["sha1"]);
    }
}
