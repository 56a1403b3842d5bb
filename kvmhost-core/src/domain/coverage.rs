//! How much of a document the typed model covers, measured rather than declared: the document
//! is decoded into a [`DomainDef`], the def is encoded into a fresh element, and every element
//! of the original that the typed re-encoding reproduces (same name, same position among its
//! same-named siblings, under a covered parent) counts as typed. The rest is only preserved.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{Domain, XmlPart};
use crate::xml::{Element, Node};

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
            let (covered, untyped) = walk(root, &typed);
            cov.typed = 1 + covered;
            cov.untyped = untyped;
        }
        Err(e) => {
            cov.typed = 1;
            cov.decode_error = Some(e.to_string());
            let mut seen = HashSet::new();
            cov.untyped =
                root.elements().map(|c| format!("/domain/{}", c.name)).filter(|p| seen.insert(p.clone())).collect();
        }
    }
    cov
}

/// The elements of the tree under `e`, `e` included (iteratively: a document can nest deeper
/// than a thread's stack).
fn count(e: &Element) -> usize {
    let mut n = 0;
    let mut pending = vec![e];
    while let Some(e) = pending.pop() {
        n += 1;
        pending.extend(e.elements());
    }
    n
}

/// One pair of elements being matched: the original's children still to look at, the typed
/// element's children by name with how many of each name the original had so far, and the
/// length of the pair's path in the path buffer.
struct Frame<'a> {
    rest: std::slice::Iter<'a, Node>,
    typed: HashMap<&'a str, (Vec<&'a Element>, usize)>,
    path_len: usize,
}

impl<'a> Frame<'a> {
    fn new(orig: &'a Element, typed: &'a Element, path_len: usize) -> Frame<'a> {
        let mut by_name: HashMap<&str, (Vec<&Element>, usize)> = HashMap::new();
        for t in typed.elements() {
            by_name.entry(t.name.as_str()).or_default().0.push(t);
        }
        Frame { rest: orig.children.iter(), typed: by_name, path_len }
    }

    /// The counterpart of the next original child named `name`.
    fn counterpart(&mut self, name: &str) -> Option<&'a Element> {
        let (same_name, seen) = self.typed.get_mut(name)?;
        *seen += 1;
        same_name.get(*seen - 1).copied()
    }
}

/// Counts the elements under `orig` matched in `typed` (same name, same position among their
/// same-named siblings, under a matched parent), and lists the distinct paths of the outermost
/// unmatched ones, in document order. Iterative, with one path buffer (a path is built only
/// for an unmatched element), so time and memory stay linear in the size of the document.
fn walk(orig: &Element, typed: &Element) -> (usize, Vec<String>) {
    let mut path = String::from("/domain");
    let mut untyped = Vec::new();
    let mut recorded: HashSet<String> = HashSet::new();
    let mut covered = 0;
    let mut frames = vec![Frame::new(orig, typed, path.len())];
    while let Some(frame) = frames.last_mut() {
        let Some(child) = frame.rest.by_ref().find_map(Node::as_element) else {
            frames.pop();
            if let Some(parent) = frames.last() {
                path.truncate(parent.path_len);
            }
            continue;
        };
        let counterpart = frame.counterpart(&child.name);
        path.truncate(frame.path_len);
        path.push('/');
        path.push_str(&child.name);
        match counterpart {
            Some(t) => {
                covered += 1;
                frames.push(Frame::new(child, t, path.len()));
            }
            None => {
                if recorded.insert(path.clone()) {
                    untyped.push(path.clone());
                }
            }
        }
    }
    (covered, untyped)
}
