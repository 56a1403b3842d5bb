//! Reading helpers shared by the capabilities documents: root check, trimmed text, numbers and
//! `yes`/`no` flags, with paths for errors; the kept document's serde form (its XML text).

use crate::capabilities::error::CapabilitiesError;
use crate::xml::{Document, Element};

/// Parses `xml` and checks its root element is `<name>`.
pub(crate) fn document(xml: &str, name: &str) -> Result<Document, CapabilitiesError> {
    let doc = Document::parse(xml)?;
    if doc.root.name != name {
        return Err(CapabilitiesError::WrongRoot { expected: name.to_string(), found: doc.root.name.to_string() });
    }
    Ok(doc)
}

/// The trimmed text of child `<child>`, when present.
pub(crate) fn text(el: &Element, child: &str) -> Option<String> {
    el.child(child).map(|c| c.text().trim().to_string())
}

/// A number (`value` trimmed), or an error naming `path`.
pub(crate) fn num<T: std::str::FromStr>(
    path: impl FnOnce() -> String,
    value: Option<&str>,
) -> Result<Option<T>, CapabilitiesError> {
    value
        .map(|v| {
            v.trim().parse::<T>().map_err(|_| CapabilitiesError::InvalidValue {
                path: path(),
                value: v.to_string(),
                expected: "a non-negative integer".into(),
            })
        })
        .transpose()
}

/// `supported='yes'` and the like.
pub(crate) fn yes(s: Option<&str>) -> bool {
    s == Some("yes")
}

/// The kept document serialises (serde) as its XML text, byte for byte, like a domain.
pub(crate) mod xml_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::xml::Document;

    pub(crate) fn serialize<S: Serializer>(doc: &Document, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&doc.to_xml().map_err(serde::ser::Error::custom)?)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Document, D::Error> {
        Document::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
