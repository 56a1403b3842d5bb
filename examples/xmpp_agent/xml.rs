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
use tokio::io::{AsyncRead, BufReader, Take};

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

/// What the stream reader yields.
#[derive(Debug)]
pub enum StreamEvent {
    /// `<stream:stream …>`.
    Open,
    /// One complete top-level element (stanza, features, SASL answer, …).
    Stanza(Element),
}

/// Reads an XMPP stream: the header, then one top-level element at a time. Every byte of a
/// stanza counts against [`Limits::max_stanza_bytes`] (enforced by the underlying `Take`, so
/// that even one huge text node cannot grow memory past it).
pub struct StreamReader<R> {
    reader: Reader<BufReader<Take<R>>>,
    limits: Limits,
    buf: Vec<u8>,
    opened: bool,
}

impl<R: AsyncRead + Unpin> StreamReader<R> {
    /// A reader over `io`.
    pub fn new(io: R, limits: Limits) -> StreamReader<R> {
        use tokio::io::AsyncReadExt;
        let reader = Reader::from_reader(BufReader::new(io.take(limits.max_stanza_bytes)));
        StreamReader { reader, limits, buf: Vec::new(), opened: false }
    }

    /// The underlying stream (for STARTTLS: nothing is buffered after `<proceed/>`).
    pub fn into_inner(self) -> R {
        self.reader.into_inner().into_inner().into_inner()
    }

    /// The next stream header or top-level element.
    pub async fn next(&mut self) -> Result<StreamEvent, XmlError> {
        let mut tree = TreeBuilder::default();
        // Each stanza gets the full byte budget again.
        self.reader.get_mut().get_mut().set_limit(self.limits.max_stanza_bytes);
        loop {
            self.buf.clear();
            let event = match self.reader.read_event_into_async(&mut self.buf).await {
                Ok(ev) => ev,
                Err(e) => {
                    if self.reader.get_ref().get_ref().limit() == 0 {
                        return Err(XmlError::Limit("stanza size"));
                    }
                    return Err(match e {
                        quick_xml::Error::Io(io) => XmlError::Io(std::io::Error::new(io.kind(), io.to_string())),
                        other => malformed(other),
                    });
                }
            };
            match event {
                Event::Eof => {
                    if self.reader.get_ref().get_ref().limit() == 0 {
                        return Err(XmlError::Limit("stanza size"));
                    }
                    return Err(XmlError::Closed);
                }
                Event::Start(ref s) if !self.opened && s.name().as_ref() == b"stream:stream" => {
                    self.opened = true;
                    return Ok(StreamEvent::Open);
                }
                Event::End(ref e) if tree.stack.is_empty() && e.name().as_ref() == b"stream:stream" => {
                    return Err(XmlError::Closed);
                }
                Event::Text(_) | Event::GeneralRef(_) | Event::CData(_) if tree.stack.is_empty() => {
                    // Whitespace keepalives between stanzas.
                    continue;
                }
                ev => {
                    let opens = matches!(ev, Event::Start(_));
                    match tree.feed(ev, "jabber:client", &self.limits) {
                        Ok(Some(stanza)) => return Ok(StreamEvent::Stanza(stanza)),
                        Ok(None) => {}
                        // A stanza too deep, with too many attributes or an unknown entity
                        // costs itself, not the connection: read past its end and drop it.
                        Err(e @ (XmlError::Limit(_) | XmlError::Forbidden(_))) if !matches!(e, XmlError::Forbidden(ref w) if w == "DTD") =>
                        {
                            let open = tree.stack.len() + usize::from(opens);
                            drop(tree);
                            self.skip(open).await?;
                            return Err(XmlError::Skipped(e.to_string()));
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }

    /// Reads until `open` elements have closed, building nothing (the byte limit still holds).
    async fn skip(&mut self, mut open: usize) -> Result<(), XmlError> {
        while open > 0 {
            self.buf.clear();
            match self.reader.read_event_into_async(&mut self.buf).await {
                Ok(Event::Start(_)) => open += 1,
                Ok(Event::End(_)) => open -= 1,
                Ok(Event::Eof) | Err(_) if self.reader.get_ref().get_ref().limit() == 0 => {
                    return Err(XmlError::Limit("stanza size"));
                }
                Ok(Event::Eof) => return Err(XmlError::Closed),
                Ok(Event::DocType(_)) => return Err(XmlError::Forbidden("DTD".into())),
                Ok(_) => {}
                Err(e) => return Err(malformed(e)),
            }
        }
        Ok(())
    }
}

impl<R> StreamReader<R> {
    /// Starts a new stream on the same transport (after SASL success).
    pub fn restart(&mut self) {
        self.opened = false;
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

    fn read_all(chunks: Vec<Vec<u8>>, limits: Limits) -> Vec<Result<String, String>> {
        use tokio::io::AsyncWriteExt;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let (mut client, server) = tokio::io::duplex(1 << 16);
            tokio::spawn(async move {
                for c in chunks {
                    if client.write_all(&c).await.is_err() {
                        return;
                    }
                    tokio::task::yield_now().await;
                }
            });
            let mut reader = StreamReader::new(server, limits);
            let mut out = Vec::new();
            loop {
                match reader.next().await {
                    Ok(StreamEvent::Open) => out.push(Ok("open".to_string())),
                    Ok(StreamEvent::Stanza(s)) => out.push(Ok(s.to_string())),
                    Err(XmlError::Closed) => break,
                    Err(e @ XmlError::Skipped(_)) => out.push(Err(e.to_string())),
                    Err(e) => {
                        out.push(Err(e.to_string()));
                        break;
                    }
                }
            }
            out
        })
    }

    #[test]
    fn stream_reader_reassembles_stanzas_split_anywhere() {
        let doc = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'> \n<message to='a@b'><body>h&#233;llo &amp; bye</body></message><iq type='get' id='1'/></stream:stream>";
        // One byte at a time: every boundary inside tags, entities and text.
        let out = read_all(doc.bytes().map(|b| vec![b]).collect(), Limits::default());
        assert_eq!(
            out,
            vec![
                Ok("open".to_string()),
                Ok("<message to='b'><body>h\u{e9}llo &amp; bye</body></message>".replace("'b'", "'a@b'")),
                Ok("<iq type='get' id='1'/>".to_string()),
            ]
        );
    }

    #[test]
    fn stream_reader_refuses_oversized_and_malformed_stanzas() {
        let limits = Limits { max_stanza_bytes: 4096, ..Limits::default() };
        let header = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>".to_vec();
        // A stanza larger than the limit, fed in pieces: refused before it is all buffered.
        let mut big = b"<message><body>".to_vec();
        big.extend(std::iter::repeat_n(b'x', 64 * 1024));
        let out = read_all(vec![header.clone(), big], limits);
        assert_eq!(out.last().unwrap(), &Err("XML limit exceeded: stanza size".to_string()), "{out:?}");
        // The limit is per stanza: many small stanzas in a row are fine.
        let many: Vec<Vec<u8>> =
            std::iter::once(header.clone()).chain((0..200).map(|_| b"<presence/>".to_vec())).collect();
        let out = read_all(many, limits);
        assert_eq!(out.iter().filter(|r| r.is_ok()).count(), 201, "{out:?}");
        // Too deep or too many attributes: that stanza is dropped, the next one still arrives.
        let deep = "<iq>".repeat(100) + &"</iq>".repeat(100);
        let attrs: String = (0..100).map(|i| format!(" a{i}='x'")).collect();
        let out = read_all(
            vec![
                header.clone(),
                deep.into_bytes(),
                format!("<message{attrs}/>").into_bytes(),
                format!("<message><b{attrs}><c/></b></message>").into_bytes(),
                b"<message><body>&nope;<x/></body></message>".to_vec(),
                b"<presence/>".to_vec(),
            ],
            limits,
        );
        assert_eq!(out.len(), 2 + 4, "{out:?}");
        assert_eq!(out[1], Err("stanza dropped: XML limit exceeded: nesting depth".to_string()), "{out:?}");
        assert_eq!(out[2], Err("stanza dropped: XML limit exceeded: attributes per element".to_string()));
        assert_eq!(out[3], Err("stanza dropped: XML limit exceeded: attributes per element".to_string()));
        assert_eq!(out[4], Err("stanza dropped: forbidden XML: unknown entity &nope;".to_string()));
        assert_eq!(out[5], Ok("<presence/>".to_string()));
        // Mismatched tags and DTDs.
        let out = read_all(vec![header.clone(), b"<iq><query></iq>".to_vec()], limits);
        assert!(out.last().unwrap().is_err(), "{out:?}");
        let out = read_all(vec![header, b"<!DOCTYPE x [<!ENTITY a 'b'>]><iq/>".to_vec()], limits);
        assert!(out.last().unwrap().is_err(), "{out:?}");
    }
}
