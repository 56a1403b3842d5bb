//! How much of a document the typed model covers, measured rather than declared: the document
//! is decoded into a [`DomainDef`], the def is encoded into a fresh element, and every element
//! of the original that the typed re-encoding reproduces (same name, same position among its
//! same-named siblings, under a covered parent) counts as typed. The rest is only preserved.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Domain, XmlPart};
use crate::xml::Element;

/// Element occurrences of a document, split into typed and only-preserved.
///
/// ```
/// use kvmhost_core::domain::Domain;
/// let d = Domain::parse("<domain><name>a</name><x:y xmlns:x='urn:x'><x:z/></x:y></domain>").unwrap();
/// let c = d.coverage();
/// assert_eq!((c.elements, c.typed), (4, 2));
/// assert_eq!(c.untyped, vec!["/domain/x:y"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Coverage {
    /// Element occurrences in the document, the root included.
    pub elements: usize,
    /// Occurrences the typed model decodes and writes.
    pub typed: usize,
    /// Distinct paths (no indices) of the outermost untyped elements.
    pub untyped: Vec<String>,
    /// Set when the typed model could not decode the document (so nothing below the root
    /// counts as typed): the decoding error.
    pub decode_error: Option<String>,
}

impl Coverage {
    /// `typed / elements` (1.0 for an empty count).
    pub fn fraction(&self) -> f64 {
        if self.elements == 0 {
            1.0
        } else {
            self.typed as f64 / self.elements as f64
        }
    }
}

pub(super) fn measure(domain: &Domain) -> Coverage {
    let root = domain.root();
    let mut cov = Coverage { elements: count(root), ..Coverage::default() };
    match domain.def() {
        Ok(def) => {
            let typed = def.to_element();
            let mut untyped = Vec::new();
            cov.typed = 1 + walk(root, &typed, "/domain", &mut untyped);
            let mut seen = std::collections::HashSet::new();
            untyped.retain(|p| seen.insert(p.clone()));
            cov.untyped = untyped;
        }
        Err(e) => {
            cov.typed = 1;
            cov.decode_error = Some(e.to_string());
            cov.untyped = root.elements().map(|c| format!("/domain/{}", c.name)).collect();
        }
    }
    cov
}

fn count(e: &Element) -> usize {
    1 + e.elements().map(count).sum::<usize>()
}

/// Counts the children of `orig` (recursively) matched in `typed`; records unmatched paths.
fn walk(orig: &Element, typed: &Element, path: &str, untyped: &mut Vec<String>) -> usize {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut covered = 0;
    for child in orig.elements() {
        let n = seen.entry(child.name.as_str()).or_insert(0);
        let counterpart = typed.children_named(&child.name).nth(*n);
        *n += 1;
        let child_path = format!("{path}/{}", child.name);
        match counterpart {
            Some(t) => covered += 1 + walk(child, t, &child_path, untyped),
            None => untyped.push(child_path),
        }
    }
    covered
}
