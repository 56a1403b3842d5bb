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
use tokio::io::AsyncRead;

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

/// Where the boundary scanner is inside the markup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Character data.
    Text,
    /// Just after `<`.
    Lt,
    /// Inside a start tag; `Some(q)` inside a quoted attribute value; the flag: last byte `/`.
    StartTag(Option<u8>, bool),
    /// Inside an end tag.
    EndTag,
    /// After `<!`: the bytes seen decide comment, CDATA or (refused) DTD.
    Bang,
    /// Inside a comment, CDATA section or processing instruction, until its terminator.
    Until(&'static [u8]),
}

/// Reads an XMPP stream: the header, then one top-level element at a time.
///
/// A small scanner finds each top-level element's end (tags, quotes, comments, CDATA) without
/// building anything; the complete element is then parsed by [`parse_str`]. So a stanza that
/// breaks a rule — larger than [`Limits::max_stanza_bytes`] (its bytes are dropped as they are
/// scanned: memory stays bounded), too deep, too many attributes, an unknown entity, not
/// well-formed inside — costs itself ([`XmlError::Skipped`]) and the stream goes on. Only a DTD
/// or the end of the connection end it.
pub struct StreamReader<R> {
    io: R,
    limits: Limits,
    /// Bytes received and not yet handed out.
    buf: Vec<u8>,
    /// Scanned up to here.
    pos: usize,
    state: Scan,
    /// Open elements of the current stanza.
    depth: usize,
    /// Where the current top-level element starts in `buf`.
    start: Option<usize>,
    /// The current stanza is over the size limit: its bytes are being dropped.
    skipping: bool,
    /// Bytes of the current stanza dropped so far.
    dropped: u64,
    /// The first bytes of the tag being read (to recognise `stream:stream`).
    name: Vec<u8>,
    name_done: bool,
    opened: bool,
}

impl<R: AsyncRead + Unpin> StreamReader<R> {
    /// A reader over `io`.
    pub fn new(io: R, limits: Limits) -> StreamReader<R> {
        StreamReader {
            io,
            limits,
            buf: Vec::new(),
            pos: 0,
            state: Scan::Text,
            depth: 0,
            start: None,
            skipping: false,
            dropped: 0,
            name: Vec::new(),
            name_done: false,
            opened: false,
        }
    }

    /// The underlying stream (for STARTTLS: nothing is buffered after `<proceed/>`).
    pub fn into_inner(self) -> R {
        self.io
    }

    /// The next stream header or top-level element.
    pub async fn next(&mut self) -> Result<StreamEvent, XmlError> {
        use tokio::io::AsyncReadExt;
        loop {
            if let Some(event) = self.scan()? {
                return event;
            }
            let mut chunk = [0u8; 8192];
            let n = self.io.read(&mut chunk).await?;
            if n == 0 {
                return Err(XmlError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Scans the buffered bytes; `Some` when an event (or a dropped stanza) is complete.
    #[allow(clippy::type_complexity)]
    fn scan(&mut self) -> Result<Option<Result<StreamEvent, XmlError>>, XmlError> {
        while self.pos < self.buf.len() {
            let b = self.buf[self.pos];
            self.pos += 1;
            let mut closed_top = false;
            match self.state {
                Scan::Text => {
                    if b == b'<' {
                        if self.depth == 0 && self.start.is_none() {
                            self.start = Some(self.pos - 1);
                        }
                        self.state = Scan::Lt;
                        self.name.clear();
                        self.name_done = false;
                    }
                }
                Scan::Lt => {
                    self.state = match b {
                        b'/' => Scan::EndTag,
                        b'!' => Scan::Bang,
                        b'?' => Scan::Until(b"?>"),
                        _ => {
                            self.name.push(b);
                            Scan::StartTag(None, false)
                        }
                    }
                }
                Scan::StartTag(Some(q), _) => {
                    if b == q {
                        self.state = Scan::StartTag(None, false);
                    }
                }
                Scan::StartTag(None, slash) => match b {
                    b'"' | b'\'' => self.state = Scan::StartTag(Some(b), false),
                    b'/' => {
                        self.name_done = true;
                        self.state = Scan::StartTag(None, true);
                    }
                    b'>' if slash => {
                        self.state = Scan::Text;
                        closed_top = self.depth == 0;
                    }
                    b'>' => {
                        self.state = Scan::Text;
                        if self.depth == 0 && !self.opened && self.name == b"stream:stream" {
                            self.opened = true;
                            self.consume();
                            return Ok(Some(Ok(StreamEvent::Open)));
                        }
                        self.depth += 1;
                        if self.depth > self.limits.max_depth && !self.skipping {
                            // Found too deep by the scanner already: drop it as it comes.
                            self.skipping = true;
                        }
                    }
                    _ => {
                        // The tag's name: up to the first space (only `stream:stream` matters).
                        if b.is_ascii_whitespace() {
                            self.name_done = true;
                        } else if !self.name_done && self.name.len() < 16 {
                            self.name.push(b);
                        }
                        self.state = Scan::StartTag(None, false);
                    }
                },
                Scan::EndTag => {
                    if b == b'>' {
                        self.state = Scan::Text;
                        if self.depth == 0 {
                            // `</stream:stream>`.
                            return Err(XmlError::Closed);
                        }
                        self.depth -= 1;
                        closed_top = self.depth == 0;
                    }
                }
                Scan::Bang => {
                    let at = self.pos - 1;
                    let seen = &self.buf[at..];
                    if seen.starts_with(b"--") {
                        self.pos = at + 2;
                        self.state = Scan::Until(b"-->");
                    } else if seen.starts_with(b"[CDATA[") {
                        self.pos = at + 7;
                        self.state = Scan::Until(b"]]>");
                    } else if b"--".starts_with(seen) || b"[CDATA[".starts_with(seen) {
                        // Not enough bytes yet to tell.
                        self.pos = at;
                        return Ok(None);
                    } else {
                        return Err(XmlError::Forbidden("DTD".into()));
                    }
                }
                Scan::Until(end) => {
                    if self.buf[..self.pos].ends_with(end) {
                        self.state = Scan::Text;
                        if self.depth == 0 {
                            // The XML declaration, a comment or CDATA between stanzas.
                            self.consume();
                        }
                    }
                }
            }
            if closed_top {
                return Ok(Some(self.finish()));
            }
            if let Some(start) = self.start {
                if !self.skipping && (self.pos - start) as u64 + self.dropped > self.limits.max_stanza_bytes {
                    self.skipping = true;
                }
            }
        }
        self.bound();
        Ok(None)
    }

    /// Keeps memory bounded once the buffered bytes are scanned: a stanza over the limit is
    /// dropped as it comes, whitespace between stanzas forgotten.
    fn bound(&mut self) {
        if let Some(start) = self.start {
            if self.skipping {
                self.dropped += (self.pos - start) as u64;
                self.buf.drain(..self.pos);
                self.pos = 0;
                self.start = Some(0);
            }
        } else if self.state == Scan::Text && self.depth == 0 {
            // Whitespace between stanzas.
            self.consume();
        }
    }

    /// The top-level element that just closed.
    fn finish(&mut self) -> Result<StreamEvent, XmlError> {
        let start = self.start.take().unwrap_or(0);
        let skipped = std::mem::take(&mut self.skipping);
        let dropped = std::mem::take(&mut self.dropped);
        let bytes: Vec<u8> = self.buf.drain(..self.pos).skip(start).collect();
        self.pos = 0;
        if skipped {
            let why = if dropped + bytes.len() as u64 > self.limits.max_stanza_bytes {
                "XML limit exceeded: stanza size"
            } else {
                "XML limit exceeded: nesting depth"
            };
            return Err(XmlError::Skipped(why.into()));
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| XmlError::Skipped("not UTF-8".into()))?;
        match parse_str(text, "jabber:client", &self.limits) {
            Ok(el) => Ok(StreamEvent::Stanza(el)),
            Err(XmlError::Forbidden(w)) if w == "DTD" => Err(XmlError::Forbidden(w)),
            Err(e) => Err(XmlError::Skipped(e.to_string())),
        }
    }

    fn consume(&mut self) {
        self.buf.drain(..self.pos);
        self.pos = 0;
        self.start = None;
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
        // A stanza larger than the limit, fed in pieces: dropped as it is scanned (never all
        // buffered), and the next one arrives.
        let mut big = vec![b"<message><body>".to_vec()];
        big.extend((0..16).map(|_| vec![b'x'; 4096]));
        big.push(b"</body></message><presence/>".to_vec());
        let out = read_all(std::iter::once(header.clone()).chain(big).collect(), limits);
        assert_eq!(
            out[1..],
            [Err("stanza dropped: XML limit exceeded: stanza size".to_string()), Ok("<presence/>".to_string())],
            "{out:?}"
        );
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
        // Mismatched tags inside a stanza: dropped; a DTD: the stream ends.
        let out = read_all(vec![header.clone(), b"<iq><query></iq></x><presence/>".to_vec()], limits);
        assert!(matches!(&out[1], Err(e) if e.starts_with("stanza dropped: malformed XML")), "{out:?}");
        assert_eq!(out[2], Ok("<presence/>".to_string()), "{out:?}");
        let out = read_all(vec![header, b"<!DOCTYPE x [<!ENTITY a 'b'>]><iq/>".to_vec()], limits);
        assert!(out.last().unwrap().is_err(), "{out:?}");
    }
}
