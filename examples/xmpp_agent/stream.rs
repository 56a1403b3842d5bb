//! Reading an XMPP stream: the header, then one complete top-level element at a time, each
//! parsed by [`crate::xml::parse_str`]; hostile stanzas cost themselves, not the connection.

use tokio::io::AsyncRead;

use crate::xml::{parse_str, Element, Limits, XmlError};

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
