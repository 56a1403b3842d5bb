//! `<seclabel>`: the security label (SELinux, AppArmor, DAC) of a domain.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{attr_string, set_attr, set_child_with, ElementPath, XmlPart, YesNo};
use crate::domain::error::DomainError;
use crate::domain::shared::{merge_text, text_of};
use crate::xml::Element;
use crate::xml_enum;

xml_enum! {
    /// How the label is chosen (`type`).
    pub enum SecLabelType { Dynamic = "dynamic", Static = "static", None = "none" }
}

const SECLABEL_ORDER: &[&str] = &["label", "imagelabel", "baselabel"];

/// `<seclabel type='dynamic' model='selinux' relabel='yes'><baselabel>…</baselabel></seclabel>`.
///
/// ```
/// use kvmhost_core::domain::{SecLabel, SecLabelType, XmlPart};
/// let s = SecLabel::static_label("selinux", "system_u:system_r:svirt_t:s0:c1,c2");
/// let el = s.to_element();
/// assert_eq!(el.attr("type"), Some("static"));
/// assert_eq!(el.child("label").unwrap().text(), "system_u:system_r:svirt_t:s0:c1,c2");
/// assert_eq!(SecLabel::none().seclabel_type, Some(SecLabelType::None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SecLabel {
    /// `type`.
    pub seclabel_type: Option<SecLabelType>,
    /// `model` (`selinux`, `apparmor`, `dac`).
    pub model: Option<String>,
    /// `relabel`.
    pub relabel: Option<YesNo>,
    /// `<label>`.
    pub label: Option<String>,
    /// `<imagelabel>`.
    pub image_label: Option<String>,
    /// `<baselabel>`.
    pub base_label: Option<String>,
}

impl SecLabel {
    /// `type='none'`: no confinement.
    pub fn none() -> SecLabel {
        SecLabel { seclabel_type: Some(SecLabelType::None), ..SecLabel::default() }
    }

    /// `type='dynamic'` for `model`.
    pub fn dynamic(model: &str) -> SecLabel {
        SecLabel { seclabel_type: Some(SecLabelType::Dynamic), model: Some(model.into()), ..SecLabel::default() }
    }

    /// `type='static'` with a fixed `label` for `model`.
    pub fn static_label(model: &str, label: &str) -> SecLabel {
        SecLabel {
            seclabel_type: Some(SecLabelType::Static),
            model: Some(model.into()),
            label: Some(label.into()),
            ..SecLabel::default()
        }
    }
}

fn set_text_child(el: &mut Element, name: &str, value: Option<&str>) {
    set_child_with(el, name, value.map(|v| move |e: &mut Element| merge_text(e, Some(v))), SECLABEL_ORDER);
}

impl XmlPart for SecLabel {
    const TAG: &'static str = "seclabel";
    fn decode(el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let text = |n: &str| el.child(n).map(|c| text_of(c).unwrap_or_default());
        Ok(SecLabel {
            seclabel_type: el.attr("type").map(Into::into),
            model: attr_string(el, "model"),
            relabel: el.attr("relabel").map(Into::into),
            label: text("label"),
            image_label: text("imagelabel"),
            base_label: text("baselabel"),
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.seclabel_type.as_ref());
        set_attr(el, "model", self.model.as_deref());
        set_attr(el, "relabel", self.relabel.as_ref());
        set_text_child(el, "label", self.label.as_deref());
        set_text_child(el, "imagelabel", self.image_label.as_deref());
        set_text_child(el, "baselabel", self.base_label.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn round_trip() {
        let xml = "<seclabel type='dynamic' model='selinux' relabel='yes'>\n  <label>a:b:c</label>\n  \
                   <imagelabel>x:y</imagelabel>\n  <baselabel>system_u:system_r:svirt_custom_t:s0</baselabel>\n</seclabel>";
        let d = Document::parse(xml).unwrap();
        let s = SecLabel::decode(&d.root, &ElementPath::root("seclabel")).unwrap();
        assert_eq!(s.image_label.as_deref(), Some("x:y"));
        let mut el = d.root.clone();
        s.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root));
        let mut s2 = s.clone();
        s2.label = None;
        s2.encode_into(&mut el);
        assert!(el.child("label").is_none());
    }
}
