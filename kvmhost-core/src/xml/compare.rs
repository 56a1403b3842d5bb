//! Semantic comparison of two trees ([`Element::semantically_eq`]): iterative (an explicit
//! stack, no recursion per nesting level) and linear in the size of the trees.

use std::borrow::Cow;
use std::collections::HashMap;

use super::{Attribute, Element, Node};

impl Element {
    /// Compares two elements as the domain model promises to preserve them: names, attribute
    /// sets (order and quoting ignored), and content with whitespace-only text between
    /// elements ignored, adjacent text and CDATA merged, comments and PIs compared verbatim.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let a = Document::parse("<a x='1' y='2'>\n  <b></b>\n</a>").unwrap();
    /// let b = Document::parse("<a y=\"2\" x=\"1\"><b/></a>").unwrap();
    /// assert!(a.root.semantically_eq(&b.root));
    /// ```
    pub fn semantically_eq(&self, other: &Element) -> bool {
        self.first_difference(other, "").is_none()
    }

    /// Where two elements first differ semantically (see [`Element::semantically_eq`]), as a
    /// path and a short reason, or `None` if they are equal.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let a = Document::parse("<a><b x='1'/></a>").unwrap();
    /// let b = Document::parse("<a><b x='2'/></a>").unwrap();
    /// assert_eq!(a.root.first_difference(&b.root, "").unwrap(), "/a/b/@x: \"1\" vs Some(\"2\")");
    /// ```
    pub fn first_difference(&self, other: &Element, parent_path: &str) -> Option<String> {
        // One frame per pair of elements being compared, innermost last: their significant
        // content still to compare (read lazily: a frame holds no allocation, so a deep tree
        // costs a few dozen bytes per level). `names` is the path to the innermost pair.
        let mut frames: Vec<Frame<'_>> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        if let Err(d) = enter(self, other, &mut frames, &mut names, parent_path) {
            return Some(d);
        }
        while let Some(top) = frames.last_mut() {
            let (Some(x), Some(y)) = (top.mine.next(), top.theirs.next()) else {
                // (both ended together: `enter` compared the lengths)
                frames.pop();
                names.pop();
                continue;
            };
            match (x, y) {
                (Content::Element(x), Content::Element(y)) => {
                    if let Err(d) = enter(x, y, &mut frames, &mut names, parent_path) {
                        return Some(d);
                    }
                }
                (x, y) if x == y => {}
                (x, y) => {
                    let (x, y) = (describe(&x), describe(&y));
                    return Some(format!("{}: content {x} vs {y}", path(parent_path, &names)));
                }
            }
        }
        None
    }
}

struct Frame<'a> {
    mine: Significant<'a>,
    theirs: Significant<'a>,
}

fn path(parent_path: &str, names: &[&str]) -> String {
    let mut p = String::from(parent_path);
    for n in names {
        p.push('/');
        p.push_str(n);
    }
    p
}

/// Compares the names and attributes of `a` and `b` and, if equal, pushes the frame comparing
/// their content; else the difference.
fn enter<'a>(
    a: &'a Element,
    b: &'a Element,
    frames: &mut Vec<Frame<'a>>,
    names: &mut Vec<&'a str>,
    parent_path: &str,
) -> Result<(), String> {
    names.push(&a.name);
    if a.name != b.name {
        return Err(format!("{}: element name {} vs {}", path(parent_path, names), a.name, b.name));
    }
    if a.attributes.len() != b.attributes.len() {
        return Err(format!("{}: attribute count differs", path(parent_path, names)));
    }
    if let Some((name, mine, theirs)) = attribute_difference(&a.attributes, &b.attributes) {
        return Err(format!("{}/@{name}: {mine:?} vs {theirs:?}", path(parent_path, names)));
    }
    let mine = Significant::new(&a.children);
    let theirs = Significant::new(&b.children);
    let (m, t) = (mine.clone().count(), theirs.clone().count());
    if m != t {
        return Err(format!("{}: content length {m} vs {t}", path(parent_path, names)));
    }
    frames.push(Frame { mine, theirs });
    Ok(())
}

/// The first attribute of `mine` whose value `theirs` lacks or differs (by name; the first of
/// duplicate names counts, as for [`Element::attr`]): a scan for a few attributes, a hash map
/// past that, so that the comparison stays linear.
fn attribute_difference<'a>(
    mine: &'a [Attribute],
    theirs: &'a [Attribute],
) -> Option<(&'a str, &'a str, Option<&'a str>)> {
    let lookup = if theirs.len() <= 8 {
        Lookup::Scan(theirs)
    } else {
        let mut map: HashMap<&str, &str> = HashMap::with_capacity(theirs.len());
        for t in theirs {
            map.entry(t.name.as_str()).or_insert(t.value.as_str());
        }
        Lookup::Map(map)
    };
    mine.iter().find_map(|a| {
        let found = lookup.get(&a.name);
        (found != Some(a.value.as_str())).then(|| (a.name.as_str(), a.value.as_str(), found))
    })
}

enum Lookup<'a> {
    Scan(&'a [Attribute]),
    Map(HashMap<&'a str, &'a str>),
}

impl<'a> Lookup<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        match self {
            Lookup::Scan(all) => all.iter().find(|t| t.name == name).map(|t| t.value.as_str()),
            Lookup::Map(map) => map.get(name).copied(),
        }
    }
}

#[derive(Debug, PartialEq)]
enum Content<'a> {
    Element(&'a Element),
    Text(Cow<'a, str>),
    Other(&'a Node),
}

/// A short description of a content item for a difference message (an element by its name
/// only: its subtree could be large).
fn describe(c: &Content<'_>) -> String {
    let mut s = match c {
        Content::Element(e) => format!("<{}>", e.name),
        Content::Text(t) => format!("text {t:?}"),
        Content::Other(n) => format!("{n:?}"),
    };
    if s.len() > 200 {
        let mut cut = 200;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Content as compared semantically, item by item: adjacent text/CDATA merged; whitespace-only
/// text dropped when the element also has child elements (formatting), kept otherwise (a
/// value).
#[derive(Clone)]
struct Significant<'a> {
    children: &'a [Node],
    next: usize,
    has_elements: bool,
}

impl<'a> Significant<'a> {
    fn new(children: &'a [Node]) -> Significant<'a> {
        Significant { children, next: 0, has_elements: children.iter().any(|n| matches!(n, Node::Element(_))) }
    }
}

fn text_of(n: &Node) -> Option<&str> {
    match n {
        Node::Text(t) => Some(t),
        Node::CData(t) => Some(t),
        _ => None,
    }
}

impl<'a> Iterator for Significant<'a> {
    type Item = Content<'a>;

    fn next(&mut self) -> Option<Content<'a>> {
        loop {
            let node = self.children.get(self.next)?;
            let Some(first) = text_of(node) else {
                self.next += 1;
                return Some(match node {
                    Node::Element(e) => Content::Element(e),
                    other => Content::Other(other),
                });
            };
            // A run of text and CDATA, merged (borrowed when it is one node).
            let start = self.next;
            self.next += 1;
            while self.children.get(self.next).and_then(text_of).is_some() {
                self.next += 1;
            }
            let run = &self.children[start..self.next];
            let text: Cow<'a, str> = match run {
                [_] => Cow::Borrowed(first),
                _ => Cow::Owned(run.iter().filter_map(text_of).collect()),
            };
            if !(text.is_empty() || self.has_elements && crate::xml::is_xml_whitespace(&text)) {
                return Some(Content::Text(text));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::xml::{Document, Element};

    #[test]
    fn differences_are_found_in_document_order() {
        let a = Document::parse("<a><b><c x='1'/></b>t<d/></a>").unwrap();
        let b = Document::parse("<a><b><c x='2'/></b>u<d/></a>").unwrap();
        assert_eq!(a.root.first_difference(&b.root, "/r").unwrap(), "/r/a/b/c/@x: \"1\" vs Some(\"2\")");
        let b = Document::parse("<a><b><c x='1'/></b>u<d/></a>").unwrap();
        assert_eq!(a.root.first_difference(&b.root, "").unwrap(), "/a: content text \"t\" vs text \"u\"");
        let b = Document::parse("<a><b><c x='1'/></b>t<e/></a>").unwrap();
        assert_eq!(a.root.first_difference(&b.root, "").unwrap(), "/a/d: element name d vs e");
        let b = Document::parse("<a><b><c x='1'/></b><d/>t</a>").unwrap();
        assert_eq!(a.root.first_difference(&b.root, "").unwrap(), "/a: content text \"t\" vs <d>");
        assert!(a.root.semantically_eq(&a.root.clone()));
    }

    #[test]
    fn only_xml_white_space_is_formatting() {
        let a = Document::parse("<a>\r\n\t <b/></a>").unwrap();
        let b = Document::parse("<a><b/></a>").unwrap();
        assert!(a.root.semantically_eq(&b.root));
        let nbsp = Document::parse("<a>\u{a0}<b/></a>").unwrap();
        assert_eq!(nbsp.root.first_difference(&b.root, "").unwrap(), "/a: content length 2 vs 1");
        // and the pretty writer keeps it
        assert_eq!(nbsp.to_xml_pretty().unwrap(), "<a>\u{a0}<b/></a>\n");
        // F7 (fuzzing): white space beside a comment, without elements, is content too, and
        // the pretty writer keeps it
        let c = Document::parse("<a><r>\n<!--c-->\n</r></a>").unwrap();
        let pretty = c.to_xml_pretty().unwrap();
        assert_eq!(pretty, "<a>\n  <r>\n<!--c-->\n</r>\n</a>\n");
        assert!(Document::parse(&pretty).unwrap().root.semantically_eq(&c.root));
    }

    #[test]
    fn many_attributes_compare_by_name() {
        let mut a = Element::new("a");
        let mut b = Element::new("a");
        for i in 0..100 {
            a.set_attr(&format!("k{i}"), i.to_string());
            b.set_attr(&format!("k{}", 99 - i), (99 - i).to_string());
        }
        assert!(a.semantically_eq(&b));
        b.set_attr("k50", "x");
        assert_eq!(a.first_difference(&b, "").unwrap(), "/a/@k50: \"50\" vs Some(\"x\")");
        b.remove_attr("k50");
        b.set_attr("k100", "50");
        assert_eq!(a.first_difference(&b, "").unwrap(), "/a/@k50: \"50\" vs None");
    }
}
