//! Parsing XML text into the [`Document`] tree with quick-xml, with positioned errors.

use super::decode::{attribute_value, classify, resolve_reference, CLASSES, CLASS_CR, CLASS_SUSPECT};
use super::error::line_column;
use super::error::XmlError;
use super::scan;
use super::{
    check_xml_chars, check_xml_name, Attribute, Document, Element, Node, XmlString, XmlVec, ASCII_NAME_CHAR,
    ASCII_NAME_START,
};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

struct Parser<'a> {
    input: &'a str,
    reader: Reader<&'a [u8]>,
}

impl<'a> Parser<'a> {
    fn malformed_at(&self, offset: u64, message: impl Into<String>) -> XmlError {
        let (line, column) = line_column(self.input, offset as usize);
        XmlError::Malformed { line, column, message: message.into() }
    }

    fn malformed_here(&self, message: impl Into<String>) -> XmlError {
        self.malformed_at(self.reader.buffer_position(), message)
    }

    fn checked(&self, s: &str) -> Result<(), XmlError> {
        check_xml_chars(s)
            .map_err(|c| self.malformed_here(format!("character U+{:04X} is not allowed in XML", c as u32)))
    }

    /// The text of `bytes`, which quick-xml sliced out of the input: found by position in the
    /// (already valid UTF-8) input, so it needs no second UTF-8 validation.
    fn text_of<'b>(&self, bytes: &'b [u8]) -> Result<&'b str, XmlError>
    where
        'a: 'b,
    {
        let s = self.str_of(bytes)?;
        self.checked(s)?;
        Ok(s)
    }

    /// Like [`Parser::text_of`] without the XML character check.
    #[inline(always)]
    fn str_of<'b>(&self, bytes: &'b [u8]) -> Result<&'b str, XmlError>
    where
        'a: 'b,
    {
        self.str_window(bytes).map(|(s, _, _)| s)
    }

    /// Whether text (a slice of the input) holds no character that needs a closer look (see
    /// [`scan::text_marks`]): 16 bytes at a time, the last few byte by byte.
    #[inline(always)]
    fn plain_text(text: &[u8], win: &[u8], base: usize) -> bool {
        let mut i = 0;
        while i < text.len() {
            match scan::text_marks(win, base + i) {
                Some(marks) => {
                    if marks & scan::low_bits(text.len() - i) != 0 {
                        return false;
                    }
                    i += 16;
                }
                None => return classify(&text[i..]) & (CLASS_SUSPECT | CLASS_CR) == 0,
            }
        }
        true
    }

    /// [`Parser::str_of`], plus the document bytes and the offset of `bytes` in them for
    /// reading past the end of `bytes` (see [`scan`]); those are empty if `bytes` is not a
    /// slice of the input.
    #[inline(always)]
    fn str_window<'b>(&self, bytes: &'b [u8]) -> Result<(&'b str, &'a [u8], usize), XmlError>
    where
        'a: 'b,
    {
        let off = (bytes.as_ptr() as usize).wrapping_sub(self.input.as_ptr() as usize);
        match self.input.get(off..off.saturating_add(bytes.len())) {
            Some(s) if s.as_ptr() == bytes.as_ptr() => Ok((s, self.input.as_bytes(), off)),
            _ => Ok((self.str_of_copy(bytes)?, &[], 0)),
        }
    }

    /// [`Parser::str_of`] for bytes that are not a slice of the input.
    #[cold]
    fn str_of_copy<'b>(&self, bytes: &'b [u8]) -> Result<&'b str, XmlError> {
        std::str::from_utf8(bytes).map_err(|_| self.malformed_here("invalid UTF-8"))
    }

    fn utf8(&self, bytes: &[u8]) -> Result<String, XmlError> {
        Ok(self.text_of(bytes)?.to_string())
    }

    /// `name` (a slice of the input) checked against the XML `Name` rule; `ascii_ok` says the
    /// caller already found every byte to be an ASCII name character (the fast path).
    #[inline(always)]
    fn checked_name<'b>(&self, name: &'b str, ascii_ok: bool, what: &str) -> Result<&'b str, XmlError> {
        if ascii_ok && name.as_bytes().first().is_some_and(|c| ASCII_NAME_START[*c as usize]) {
            return Ok(name);
        }
        self.checked_name_slow(name, what)
    }

    /// [`Parser::checked_name`] for names that are not all ASCII name characters.
    #[cold]
    #[inline(never)]
    fn checked_name_slow<'b>(&self, name: &'b str, what: &str) -> Result<&'b str, XmlError> {
        check_xml_name(name).map_err(|bad| match bad {
            Some(c) => self.malformed_here(format!("character {c:?} is not allowed in {what} name {name:?}")),
            None => self.malformed_here(format!("empty {what} name")),
        })?;
        Ok(name)
    }

    /// Builds the element of a start tag: its name and attributes, checked and decoded in one
    /// pass over the tag. `scratch` is an empty vector kept across calls, so that the element
    /// gets an exactly sized attribute vector without counting first. The element is appended
    /// to `out` (written in place: see [`push_with`]).
    fn element_start(
        &self,
        start: &BytesStart<'_>,
        scratch: &mut Vec<Attribute>,
        out: &mut Vec<Node>,
    ) -> Result<(), XmlError> {
        // The whole tag body (`name attr='v' ...`), found in the input; every delimiter below is
        // ASCII, so each slice of `raw` falls on character boundaries.
        let (raw, win, base) = self.str_window(start)?;
        let bytes = raw.as_bytes();
        // The 16-byte fast paths (`scan`) read the document around `raw`, at `base + i` for
        // `raw[i]`; `win` is empty (so they all decline) if `raw` is not a slice of the input.
        let name_len = start.name().into_inner().len();
        let ascii_name = match scan::name_chars(win, base) {
            Some(m) if name_len <= 16 => m & scan::low_bits(name_len) == scan::low_bits(name_len),
            _ => bytes[..name_len].iter().fold(NAME_CHAR, |all, &b| all & TAG_BYTES[b as usize]) != 0,
        };
        let name = XmlString::from(self.checked_name(ascii_slice(raw, 0, name_len), ascii_name, "element")?);
        if name_len == bytes.len() {
            push_with(out, || Node::Element(Element { name, attributes: XmlVec::new(), children: XmlVec::new() }));
            return Ok(());
        }
        // The attributes are scanned here rather than with quick-xml's iterator: one pass over
        // the tag that also checks names and enforces what quick-xml leaves out (whitespace
        // between attributes, no `<` in values, unique names).
        let mut i = name_len;
        loop {
            let before = i;
            while i < bytes.len() && TAG_BYTES[bytes[i] as usize] & WHITESPACE != 0 {
                i += 1;
            }
            if i == bytes.len() {
                break;
            }
            if i == before {
                return Err(self.malformed_here(format!("attributes of <{name}> must be separated by whitespace")));
            }
            let key_start = i;
            // Fast path: the key is a run of ASCII name characters ended by `=` or whitespace
            // within 16 bytes. Otherwise (long or non-ASCII key) byte by byte.
            let fast_end = scan::name_chars(win, base + i).and_then(|m| {
                let end = i + (!m & 0xffff).trailing_zeros() as usize;
                (end < i + 16 && bytes.get(end).is_some_and(|b| TAG_BYTES[*b as usize] & KEY_END != 0)).then_some(end)
            });
            let ascii_key = match fast_end {
                Some(end) => {
                    i = end;
                    true
                }
                None => {
                    let mut all = NAME_CHAR;
                    while i < bytes.len() {
                        let class = TAG_BYTES[bytes[i] as usize];
                        if class & KEY_END != 0 {
                            break;
                        }
                        all &= class;
                        i += 1;
                    }
                    all != 0
                }
            };
            let key = self.checked_name(ascii_slice(raw, key_start, i), ascii_key, "attribute")?;
            while i < bytes.len() && TAG_BYTES[bytes[i] as usize] & WHITESPACE != 0 {
                i += 1;
            }
            if bytes.get(i) != Some(&b'=') {
                return Err(self.malformed_here(format!("attribute {key} of <{name}> has no value")));
            }
            i += 1;
            while i < bytes.len() && TAG_BYTES[bytes[i] as usize] & WHITESPACE != 0 {
                i += 1;
            }
            let quote = match bytes.get(i) {
                Some(q @ (b'"' | b'\'')) => *q,
                _ => return Err(self.malformed_here(format!("value of attribute {key} of <{name}> is not quoted"))),
            };
            i += 1;
            let value_start = i;
            // Find the closing quote and classify the value's bytes: 16 at a time when the
            // quote is within them, else byte by byte.
            let mut flags = 0u8;
            let fast = scan::value_marks(win, base + i, quote).and_then(|(quotes, special)| {
                let len = quotes.trailing_zeros() as usize;
                (len < 16 && i + len < bytes.len()).then_some((len, special & scan::low_bits(len) != 0))
            });
            match fast {
                Some((len, special)) => {
                    i += len;
                    if special {
                        flags = classify(&bytes[value_start..i]);
                    }
                }
                None => loop {
                    match bytes.get(i) {
                        Some(&b) if b == quote => break,
                        Some(&b) => {
                            flags |= CLASSES[b as usize];
                            i += 1;
                        }
                        None => {
                            return Err(
                                self.malformed_here(format!("value of attribute {key} of <{name}> is not closed"))
                            )
                        }
                    }
                },
            }
            let value_raw = ascii_slice(raw, value_start, i);
            i += 1;
            if scratch.iter().any(|a| a.name == key) {
                scratch.clear();
                return Err(self.malformed_here(format!("duplicate attribute {key} in <{name}>")));
            }
            let value = match attribute_value(value_raw, flags) {
                Ok(v) => v,
                Err(m) => {
                    scratch.clear();
                    return Err(self.malformed_here(format!("in attribute {key} of <{name}>: {m}")));
                }
            };
            push_with(scratch, || Attribute { name: XmlString::from(key), value });
        }
        // One allocation of the exact length; the attributes move out and `scratch` is left
        // empty for the next tag.
        let attributes = XmlVec::take_tail_of(scratch, 0);
        push_with(out, || Node::Element(Element { name, attributes, children: XmlVec::new() }));
        Ok(())
    }
}

/// Appends `make()` to `v`, making room first, so that the value is built where it is stored:
/// built before a possible reallocation (as `v.push(value)` does), a node lives on the stack,
/// written in pieces (a one-byte variant tag among them), and is then read back in wider
/// blocks, and each such read waits for the writes it straddles.
#[inline(always)]
fn push_with<T>(v: &mut Vec<T>, make: impl FnOnce() -> T) {
    if v.len() == v.capacity() {
        v.reserve(1);
    }
    let len = v.len();
    // SAFETY: there is room at `len`; the length covers the slot only once it is written (if
    // `make` panics, `v` is unchanged).
    unsafe {
        v.as_mut_ptr().add(len).write(make());
        v.set_len(len + 1);
    }
}

/// `raw[start..end]` for positions that are at ASCII bytes or at the end of `raw` (the tag
/// scanner only cuts at ASCII delimiters), without re-checking character boundaries.
#[inline(always)]
fn ascii_slice(raw: &str, start: usize, end: usize) -> &str {
    let bytes = &raw.as_bytes()[start..end];
    debug_assert!(raw.is_char_boundary(start) && raw.is_char_boundary(end));
    // SAFETY: `raw` is valid UTF-8 and both cuts are at ASCII bytes or the end of `raw`,
    // which are character boundaries, so the bytes between them are valid UTF-8 too.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

const NAME_CHAR: u8 = 1;
const WHITESPACE: u8 = 2;
const KEY_END: u8 = 4;

/// Byte classes inside a start tag: ASCII name characters, XML whitespace (space, tab, CR, LF),
/// and what ends an attribute name (whitespace or `=`).
const TAG_BYTES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        if ASCII_NAME_CHAR[i] {
            t[i] = NAME_CHAR;
        }
        i += 1;
    }
    t[b' ' as usize] = WHITESPACE | KEY_END;
    t[b'\t' as usize] = WHITESPACE | KEY_END;
    t[b'\r' as usize] = WHITESPACE | KEY_END;
    t[b'\n' as usize] = WHITESPACE | KEY_END;
    t[b'=' as usize] = KEY_END;
    t
};

/// Appends text to the content of an open element, merging with a preceding text node.
#[inline(always)]
fn push_plain_text(children: &mut Vec<Node>, own_start: usize, text: &str) {
    if children.len() > own_start && matches!(children.last(), Some(Node::Text(_))) {
        push_text(children, own_start, text.into());
    } else {
        push_with(children, || Node::Text(XmlString::from(text)));
    }
}

/// Appends text to the content, merging with a preceding text node.
fn push_text(children: &mut Vec<Node>, own_start: usize, text: std::borrow::Cow<'_, str>) {
    if let Some(Node::Text(prev)) = children.get_mut(own_start..).and_then(|own| own.last_mut()) {
        prev.push_str(&text);
    } else {
        push_with(children, || Node::Text(XmlString::from(text)));
    }
}

/// The parser's working vectors, kept per thread between documents so that a parse does not
/// allocate them again (they are emptied after every document, whatever its outcome).
#[derive(Default)]
struct Scratch {
    /// Open elements, innermost last: where each sits in `content`.
    open: Vec<usize>,
    /// The content of all open elements, each open element followed by its content so far;
    /// when an element closes, its content moves into an exactly sized `children` vector.
    content: Vec<Node>,
    /// One start tag's attributes.
    attributes: Vec<Attribute>,
}

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

pub(crate) fn parse_document(input: &str) -> Result<Document, XmlError> {
    // Taken out of the thread's slot (leaving empty vectors, which allocate nothing) and put
    // back afterwards, so a nested parse on the same thread simply starts with new vectors.
    let mut scratch = SCRATCH.take();
    let result = parse_with(input, &mut scratch);
    scratch.open.clear();
    scratch.content.clear();
    scratch.attributes.clear();
    SCRATCH.set(scratch);
    result
}

fn parse_with(input: &str, scratch: &mut Scratch) -> Result<Document, XmlError> {
    let mut reader = Reader::from_str(input);
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    config.expand_empty_elements = false;
    let mut p = Parser { input, reader };

    let mut prolog: Vec<Node> = Vec::new();
    let mut epilog: Vec<Node> = Vec::new();
    let mut root: Option<Element> = None;
    let Scratch { open, content, attributes: attr_scratch } = scratch;

    loop {
        // Matched where quick-xml returned it (moving the event out of the `Result` first
        // copies it, and the copy stalls on the stores that just wrote it).
        let event = p.reader.read_event();
        // Where a node goes: the open element, else prolog (before root) or epilog; and where
        // the current element's own content starts (for merging adjacent text).
        macro_rules! target {
            () => {
                match open.last() {
                    Some(at) => (&mut *content, *at + 1),
                    None if root.is_none() => (&mut prolog, 0),
                    None => (&mut epilog, 0),
                }
            };
        }
        match event {
            Ok(Event::Start(start)) => {
                if open.is_empty() && root.is_some() {
                    return Err(p.malformed_here("more than one root element"));
                }
                open.push(content.len());
                p.element_start(&start, attr_scratch, content)?;
            }
            Ok(Event::Empty(start)) => {
                if open.is_empty() && root.is_some() {
                    return Err(p.malformed_here("more than one root element"));
                }
                p.element_start(&start, attr_scratch, content)?;
                if open.is_empty() {
                    if let Some(Node::Element(el)) = content.pop() {
                        root = Some(el);
                    }
                }
            }
            Ok(Event::End(_)) => {
                // quick-xml checks that end names match their start.
                let at = open.pop().ok_or_else(|| p.malformed_here("unexpected end tag"))?;
                let children = XmlVec::take_tail_of(content, at + 1);
                if open.is_empty() {
                    if let Some(Node::Element(mut el)) = content.pop() {
                        el.children = children;
                        root = Some(el);
                    }
                } else if let Some(Node::Element(el)) = content.last_mut() {
                    el.children = children;
                }
            }
            Ok(Event::Text(t)) => {
                let (raw, win, base) = p.str_window(&t)?;
                // The common case: text inside the root with nothing to check or normalise.
                if let Some(at) = open.last() {
                    if Parser::plain_text(raw.as_bytes(), win, base) {
                        push_plain_text(content, *at + 1, raw);
                        continue;
                    }
                }
                let flags = classify(raw.as_bytes());
                if flags & CLASS_SUSPECT != 0 {
                    p.checked(raw)?;
                }
                // XML 1.0 end-of-line handling: CR LF and lone CR read as LF.
                let text: std::borrow::Cow<'_, str> = if flags & CLASS_CR != 0 {
                    raw.replace("\r\n", "\n").replace('\r', "\n").into()
                } else {
                    raw.into()
                };
                if open.is_empty() && !text.trim().is_empty() {
                    return Err(p.malformed_here("text outside the root element"));
                }
                let (nodes, start) = target!();
                push_text(nodes, start, text);
            }
            Ok(Event::GeneralRef(r)) => {
                let name = p.utf8(&r)?;
                let c = resolve_reference(&name).map_err(|m| p.malformed_here(m))?;
                if open.is_empty() {
                    return Err(p.malformed_here("reference outside the root element"));
                }
                let mut buf = [0u8; 4];
                let (nodes, start) = target!();
                push_text(nodes, start, (&*c.encode_utf8(&mut buf)).into());
            }
            Ok(Event::CData(c)) => {
                if open.is_empty() {
                    return Err(p.malformed_here("CDATA outside the root element"));
                }
                let text = p.utf8(&c)?;
                target!().0.push(Node::CData(text));
            }
            Ok(Event::Comment(c)) => {
                let text = p.utf8(&c)?;
                if text.contains("--") {
                    return Err(p.malformed_here("'--' inside a comment"));
                }
                target!().0.push(Node::Comment(text));
            }
            Ok(Event::PI(pi)) => {
                let text = p.utf8(&pi)?;
                target!().0.push(Node::ProcessingInstruction(text));
            }
            Ok(Event::Decl(d)) => {
                if root.is_some() || !open.is_empty() || !prolog.is_empty() {
                    return Err(p.malformed_here("XML declaration not at the start"));
                }
                let text = p.utf8(&d)?;
                prolog.push(Node::Declaration(text));
            }
            Ok(Event::DocType(d)) => {
                if root.is_some() || !open.is_empty() {
                    return Err(p.malformed_here("DOCTYPE after the root element"));
                }
                let text = p.utf8(&d)?;
                prolog.push(Node::DocType(text));
            }
            Ok(Event::Eof) => break,
            Err(e) => {
                let pos = p.reader.error_position();
                return Err(p.malformed_at(pos, e.to_string()));
            }
        }
    }
    if let Some(&at) = open.last() {
        let name = match &content[at] {
            Node::Element(open) => open.name.clone(),
            _ => XmlString::default(),
        };
        return Err(p.malformed_at(input.len() as u64, format!("element <{name}> is not closed")));
    }
    let root = root.ok_or_else(|| p.malformed_at(input.len() as u64, "no root element"))?;
    Ok(Document { prolog, root, epilog })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_whitespace() {
        let d = parse_document("<a v='x&#10;y\nz'>&lt;&#x41;&amp;</a>").unwrap();
        assert_eq!(d.root.attr("v"), Some("x\ny z"));
        assert_eq!(d.root.text(), "<A&");
    }

    #[test]
    fn errors_have_positions() {
        let e = parse_document("<a>\n  <b x='1' x='2'/></a>").unwrap_err();
        assert_eq!(e.line(), Some(2), "{e}");
        let e = parse_document("<a>&nope;</a>").unwrap_err();
        assert!(e.to_string().contains("unknown entity"), "{e}");
        assert!(parse_document("").is_err());
        assert!(parse_document("<a/><b/>").is_err());
        assert!(parse_document("<a>\u{1}</a>").is_err());
        assert!(parse_document("<a>&#1;</a>").is_err());
        assert!(parse_document("<a>").is_err());
        assert!(parse_document("x<a/>").is_err());
        assert!(parse_document("<a x='1'y='2'/>").is_err());
        assert!(parse_document("<a x='1' y=\"2\"/>").is_ok());
        assert_eq!(parse_document("<a x = '1'\n\ty=\"'\"/>").unwrap().root.attr("y"), Some("'"));
        for bad in ["<a x/>", "<a x=1/>", "<a x='<'/>", "<a x='1' x='1'/>", "<a ='1'/>", "<a x y='1'/>"] {
            let e = parse_document(bad).expect_err(bad);
            assert!(matches!(e, XmlError::Malformed { line: 1, .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("é\nàb", 5), (2, 2));
        assert_eq!(line_column("abc", 0), (1, 1));
    }
}
