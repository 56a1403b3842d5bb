//! Helpers shared by the typed parts of every area (os, features, cpu, clock, tuning, seclabel,
//! platform, …): trimmed text, text merged back without losing child nodes, memory unit
//! attributes, and [`TextValue`] for lists of text-only elements.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{set_attr, ElementPath, XmlPart};
use crate::domain::error::DomainError;
use crate::domain::memory::MemoryUnit;
use crate::xml::{Element, Node};

/// The trimmed text of `el`, `None` when empty or only whitespace.
pub(crate) fn text_of(el: &Element) -> Option<String> {
    let t = el.text();
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Sets the text of `el` to `value` (compared trimmed), keeping child elements and comments.
pub(crate) fn merge_text(el: &mut Element, value: Option<&str>) {
    let current = text_of(el);
    if current.as_deref().unwrap_or("") == value.map(str::trim).unwrap_or("") {
        return;
    }
    if el.elements().next().is_none() && !el.children.iter().any(|n| matches!(n, Node::Comment(_))) {
        el.set_text(value.unwrap_or_default());
        return;
    }
    el.children.retain(|n| match n {
        Node::Text(t) => t.trim().is_empty(),
        Node::CData(t) => t.trim().is_empty(),
        _ => true,
    });
    if let Some(v) = value {
        el.children.insert(0, Node::Text(v.to_string().into()));
    }
}

/// A memory unit attribute, tolerant of libvirt's case-insensitive spellings.
pub(crate) fn unit_attr(el: &Element, name: &str, path: &ElementPath<'_>) -> Result<Option<MemoryUnit>, DomainError> {
    match el.attr(name) {
        None => Ok(None),
        Some(u) => u.trim().parse::<MemoryUnit>().map(Some).map_err(|_| DomainError::InvalidValue {
            path: path.attribute(name),
            value: u.to_string(),
            expected: "memory unit (b, KiB, MiB, GiB, …)".into(),
        }),
    }
}

/// Writes a unit attribute, keeping the existing spelling when it denotes the same unit.
pub(crate) fn set_unit_attr(el: &mut Element, name: &str, unit: Option<MemoryUnit>) {
    if let (Some(u), Some(old)) = (unit, el.attr(name)) {
        if old.trim().parse::<MemoryUnit>().ok() == Some(u) {
            return;
        }
    }
    set_attr(el, name, unit.map(|u| u.as_str()));
}

impl crate::domain::codec::AttrValue for MemoryUnit {
    fn read(el: &Element, name: &str, path: &ElementPath<'_>) -> Result<Option<Self>, DomainError> {
        unit_attr(el, name, path)
    }
    fn write(el: &mut Element, name: &str, value: Option<&Self>) {
        set_unit_attr(el, name, value.copied())
    }
}

/// An element holding just text (`<initarg>--verbose</initarg>`), for lists of such elements.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct TextValue(pub String);

impl XmlPart for TextValue {
    const TAG: &'static str = "text";
    fn decode(el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(TextValue(el.text()))
    }
    fn encode_into(&self, el: &mut Element) {
        if el.text() != self.0 {
            merge_text(el, Some(&self.0));
        }
    }
}
