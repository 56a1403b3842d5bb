//! A small XML element tree for XMPP stanzas: parsed from the network (hostile input: typed
//! errors, limits on size, depth and attributes, no panic) and serialized back.
//!
//! Namespaces are handled the way XMPP uses them: an element's namespace is its `xmlns`
//! attribute or else its parent's; the serializer writes `xmlns` only where it differs from the
//! parent's. Prefixed names (`stream:features`) are kept as written.

use std::borrow::Cow;
use std::fmt::Write as _;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Limits applied to everything parsed.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of one stanza (from its `<` to its end tag).
    pub max_stanza_bytes: u64,
    /// Nesting depth inside a stanza.
    pub max_depth: usize,
    /// Attributes on one element.
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_stanza_bytes: 1 << 20, max_depth: 48, max_attributes: 64 }
    }
}

/// What can go wrong reading XML.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    /// Not well-formed (quick-xml's message).
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// A limit was hit.
    #[error("XML limit exceeded: {0}")]
    Limit(&'static str),
    /// A construct XMPP forbids (DTD, unknown entity).
    #[error("forbidden XML: {0}")]
    Forbidden(String),
    /// One stanza broke a depth, attribute or entity rule and was read to its end and dropped;
    /// the stream goes on (only the stream reader returns it).
    #[error("stanza dropped: {0}")]
    Skipped(String),
    /// The peer closed the stream or the connection.
    #[error("stream closed")]
    Closed,
    /// Reading failed.
    #[error("read: {0}")]
    Io(#[from] std::io::Error),
}

/// A child: element or text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// An element.
    Element(Element),
    /// Character data (unescaped).
    Text(String),
}

/// An element with its (resolved) namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// The name as written (may carry a prefix, e.g. `stream:features`).
    pub name: String,
    /// The default namespace in force (own `xmlns` or inherited).
    pub ns: String,
    /// Attributes in document order, `xmlns` excluded.
    pub attrs: Vec<(String, String)>,
    /// Children in document order.
    pub children: Vec<Node>,
}

impl Element {
    /// A new element in namespace `ns`.
    pub fn new(name: &str, ns: &str) -> Element {
        Element { name: name.into(), ns: ns.into(), ..Default::default() }
    }

    /// Builder: adds (or replaces) an attribute.
    pub fn attr(mut self, name: &str, value: impl Into<String>) -> Element {
        self.set_attr(name, value);
        self
    }

    /// Builder: adds a child element.
    pub fn child(mut self, child: Element) -> Element {
        self.children.push(Node::Element(child));
        self
    }

    /// Builder: adds text.
    pub fn text(mut self, text: impl Into<String>) -> Element {
        self.children.push(Node::Text(text.into()));
        self
    }

    /// Sets an attribute.
    pub fn set_attr(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.attrs.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((name.into(), value)),
        }
    }

    /// An attribute's value.
    pub fn get_attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element named `name` (any namespace).
    pub fn get_child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// The first child element named `name` in namespace `ns`.
    pub fn get_child_ns(&self, name: &str, ns: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name && e.ns == ns)
    }

    /// Mutable first child element named `name`.
    pub fn get_child_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.children.iter_mut().find_map(|c| match c {
            Node::Element(e) if e.name == name => Some(e),
            _ => None,
        })
    }

    /// The concatenated text children.
    pub fn text_content(&self) -> String {
        self.children
            .iter()
            .filter_map(|c| match c {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// Gives this element and its descendants that inherited `from` the namespace `to`.
    pub fn rebase_ns(&mut self, from: &str, to: &str) {
        if self.ns == from {
            self.ns = to.into();
        }
        for c in &mut self.children {
            if let Node::Element(e) = c {
                e.rebase_ns(from, to);
            }
        }
    }

    /// Serializes, writing `xmlns` where the namespace differs from `parent_ns`.
    pub fn to_string_in(&self, parent_ns: &str) -> String {
        let mut out = String::new();
        self.write(&mut out, parent_ns);
        out
    }

    fn write(&self, out: &mut String, parent_ns: &str) {
        out.push('<');
        out.push_str(&self.name);
        if self.ns != parent_ns && !self.name.contains(':') {
            let _ = write!(out, " xmlns='{}'", escape(&self.ns));
        }
        for (n, v) in &self.attrs {
            let _ = write!(out, " {n}='{}'", escape(v));
        }
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for c in &self.children {
            match c {
                Node::Element(e) => e.write(out, &self.ns),
                Node::Text(t) => out.push_str(&escape(t)),
            }
        }
        let _ = write!(out, "</{}>", self.name);
    }
}

impl std::fmt::Display for Element {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string_in("jabber:client"))
    }
}

/// Escapes text and attribute values (both quotes, so either quoting works).
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['<', '>', '&', '\'', '"']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

/// Builds an element from a start tag, resolving its namespace against `parent_ns`.
fn start_element(start: &BytesStart<'_>, parent_ns: &str, limits: &Limits) -> Result<Element, XmlError> {
    let name = std::str::from_utf8(start.name().as_ref()).map_err(malformed)?.to_string();
    let mut el = Element { name, ns: parent_ns.into(), ..Default::default() };
    for attr in start.attributes() {
        let attr = attr.map_err(malformed)?;
        if el.attrs.len() >= limits.max_attributes {
            return Err(XmlError::Limit("attributes per element"));
        }
        let key = std::str::from_utf8(attr.key.as_ref()).map_err(malformed)?.to_string();
        let value = attr.unescape_value().map_err(malformed)?.into_owned();
        if key == "xmlns" {
            el.ns = value;
        } else {
            el.attrs.push((key, value));
        }
    }
    Ok(el)
}

fn entity_text(r: &quick_xml::events::BytesRef<'_>) -> Result<String, XmlError> {
    if let Some(ch) = r.resolve_char_ref().map_err(malformed)? {
        return Ok(ch.to_string());
    }
    let name = r.decode().map_err(malformed)?;
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(str::to_string)
        .ok_or_else(|| XmlError::Forbidden(format!("unknown entity &{name};")))
}

/// Builds a tree event by event; shared by the string and stream parsers.
#[derive(Default)]
struct TreeBuilder {
    stack: Vec<Element>,
}

impl TreeBuilder {
    /// Feeds one event; returns the finished root when it closes.
    fn feed(&mut self, event: Event<'_>, root_ns: &str, limits: &Limits) -> Result<Option<Element>, XmlError> {
        let parent_ns = |s: &Vec<Element>| s.last().map(|e| e.ns.clone()).unwrap_or_else(|| root_ns.to_string());
        match event {
            Event::Start(start) => {
                if self.stack.len() >= limits.max_depth {
                    return Err(XmlError::Limit("nesting depth"));
                }
                let el = start_element(&start, &parent_ns(&self.stack), limits)?;
                self.stack.push(el);
                Ok(None)
            }
            Event::Empty(start) => {
                let el = start_element(&start, &parent_ns(&self.stack), limits)?;
                Ok(self.close(el))
            }
            Event::End(_) => match self.stack.pop() {
                Some(el) => Ok(self.close(el)),
                None => Err(XmlError::Malformed("end tag without start".into())),
            },
            Event::Text(t) => {
                let text = t.decode().map_err(malformed)?;
                self.push_text(&text);
                Ok(None)
            }
            Event::CData(t) => {
                let text = t.decode().map_err(malformed)?;
                self.push_text(&text);
                Ok(None)
            }
            Event::GeneralRef(r) => {
                let text = entity_text(&r)?;
                self.push_text(&text);
                Ok(None)
            }
            Event::DocType(_) => Err(XmlError::Forbidden("DTD".into())),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => Ok(None),
            Event::Eof => Err(XmlError::Closed),
        }
    }

    fn push_text(&mut self, text: &str) {
        if let Some(top) = self.stack.last_mut() {
            match top.children.last_mut() {
                Some(Node::Text(prev)) => prev.push_str(text),
                _ => top.children.push(Node::Text(text.to_string())),
            }
        }
    }

    fn close(&mut self, mut el: Element) -> Option<Element> {
        // Whitespace between child elements is formatting, not content.
        if el.children.iter().any(|c| matches!(c, Node::Element(_))) {
            el.children.retain(|c| !matches!(c, Node::Text(t) if t.trim().is_empty()));
        }
        match self.stack.last_mut() {
            Some(parent) => {
                parent.children.push(Node::Element(el));
                None
            }
            None => Some(el),
        }
    }
}

/// Parses a whole document (libvirt's XML, a test's fixture) whose root inherits `root_ns`.
/// Whitespace-only text between child elements is dropped.
pub fn parse_str(xml: &str, root_ns: &str, limits: &Limits) -> Result<Element, XmlError> {
    if xml.len() as u64 > limits.max_stanza_bytes {
        return Err(XmlError::Limit("document size"));
    }
    let mut reader = Reader::from_str(xml);
    let mut tree = TreeBuilder::default();
    loop {
        let event = reader.read_event().map_err(malformed)?;
        if matches!(event, Event::Eof) {
            return Err(XmlError::Malformed("no root element".into()));
        }
        if let Some(root) = tree.feed(event, root_ns, limits)? {
            return Ok(root);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_namespaces_and_escapes() {
        let src = "<iq type='get' id='a&amp;b'><query xmlns='archipel:vm:control'><archipel action='info'/>x&lt;y</query></iq>";
        let el = parse_str(src, "jabber:client", &Limits::default()).unwrap();
        assert_eq!(el.get_attr("id"), Some("a&b"));
        let q = el.get_child("query").unwrap();
        assert_eq!(q.ns, "archipel:vm:control");
        assert_eq!(q.get_child("archipel").unwrap().ns, "archipel:vm:control");
        assert_eq!(q.text_content(), "x<y");
        assert_eq!(el.to_string(), src);
    }

    #[test]
    fn hostile_input_is_refused() {
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(matches!(parse_str(&deep, "", &Limits::default()), Err(XmlError::Limit(_))));
        assert!(matches!(parse_str("<!DOCTYPE x><a/>", "", &Limits::default()), Err(XmlError::Forbidden(_))));
        assert!(matches!(parse_str("<a>&foo;</a>", "", &Limits::default()), Err(XmlError::Forbidden(_))));
        assert!(parse_str("<a><b></a>", "", &Limits::default()).is_err());
    }
}
