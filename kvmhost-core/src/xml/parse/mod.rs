//! Parsing XML text into the [`Document`] tree with quick-xml, with positioned errors, within
//! [`Limits`], keeping how the document was written ([`Format`]) where the writer would not
//! reproduce it by itself.

mod end;
mod tag;

use super::decode::{classify, resolve_reference, CLASS_CR, CLASS_GT, CLASS_SUSPECT};
use super::error::line_column;
use super::error::XmlError;
use super::scan;
use super::{
    check_xml_chars, check_xml_name, Document, Limit, Limits, Node, Quote, XmlString, XmlVec, ASCII_NAME_START,
};
use end::{closed, same_name};
use quick_xml::events::Event;
use quick_xml::Reader;

/// `SHORT`: the whole input is within `limits.max_text_bytes`, so no text or value can be over
/// it and those checks are compiled out (the common case: one copy of the parser each way).
struct Parser<'a, const SHORT: bool> {
    /// The document after its byte order mark, if any: all offsets are into this.
    input: &'a str,
    /// The whole text (for error positions).
    whole: &'a str,
    reader: Reader<&'a [u8]>,
    limits: &'a Limits,
}

impl<'a, const SHORT: bool> Parser<'a, SHORT> {
    /// The error for a document over `limit` (whose value is `max`) at byte `offset`.
    #[cold]
    fn limit_at(&self, limit: Limit, max: usize, offset: usize) -> XmlError {
        let (line, column) = self.position(offset);
        XmlError::LimitExceeded { limit, max, line, column }
    }

    /// Line and column of `offset` (into `input`) in the whole text.
    fn position(&self, offset: usize) -> (usize, usize) {
        line_column(self.whole, offset + (self.whole.len() - self.input.len()))
    }

    /// Where `bytes` (a slice of the input) starts in it.
    fn offset_of(&self, bytes: &[u8]) -> usize {
        (bytes.as_ptr() as usize).wrapping_sub(self.input.as_ptr() as usize).min(self.input.len())
    }

    fn malformed_at(&self, offset: u64, message: impl Into<String>) -> XmlError {
        let (line, column) = self.position(offset as usize);
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
                None => return classify(&text[i..]) & (CLASS_SUSPECT | CLASS_CR | CLASS_GT) == 0,
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

/// Appends text to the content of an open element, merging with a preceding text node;
/// whether it merged.
#[inline(always)]
fn push_plain_text(children: &mut Vec<Node>, own_start: usize, text: &str) -> bool {
    if children.len() > own_start && matches!(children.last(), Some(Node::Text(_))) {
        push_text(children, own_start, text.into())
    } else {
        push_with(children, || Node::Text(XmlString::from(text)));
        false
    }
}

/// Appends text to the content, merging with a preceding text node; whether it merged.
fn push_text(children: &mut Vec<Node>, own_start: usize, text: std::borrow::Cow<'_, str>) -> bool {
    if let Some(Node::Text(prev)) = children.get_mut(own_start..).and_then(|own| own.last_mut()) {
        prev.push_str(&text);
        true
    } else {
        push_with(children, || Node::Text(XmlString::from(text)));
        false
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
    attributes: Vec<crate::xml::Attribute>,
    /// The names of one start tag's attributes, for tags with many (see `tag::is_duplicate`);
    /// made on first use (a set needs its random hash keys, which a `const` cannot give).
    names: Option<std::collections::HashSet<XmlString>>,
}

/// Scratch vectors longer than this (in elements) are freed after the document (about 200 KB
/// of nodes).
const KEEP_NODES: usize = 4096;

thread_local! {
    // (`const`: no lazy initialisation to check on each access)
    static SCRATCH: std::cell::Cell<Scratch> = const {
        std::cell::Cell::new(Scratch { open: Vec::new(), content: Vec::new(), attributes: Vec::new(), names: None })
    };
}

pub(crate) fn parse_document(input: &str, limits: &Limits) -> Result<Document, XmlError> {
    if input.len() > limits.max_input_bytes {
        let (line, column) = line_column(input, limits.max_input_bytes);
        return Err(XmlError::LimitExceeded { limit: Limit::InputBytes, max: limits.max_input_bytes, line, column });
    }
    // Taken out of the thread's slot (leaving empty vectors, which allocate nothing) and put
    // back afterwards, so a nested parse on the same thread simply starts with new vectors.
    let mut scratch = SCRATCH.take();
    let result = if input.len() <= limits.max_text_bytes {
        parse_with::<true>(input, limits, &mut scratch)
    } else {
        parse_with::<false>(input, limits, &mut scratch)
    };
    scratch.open.clear();
    scratch.content.clear();
    scratch.attributes.clear();
    // What a huge document grew is not kept for the thread's next documents.
    if scratch.content.capacity() > KEEP_NODES {
        scratch.content = Vec::new();
    }
    if scratch.open.capacity() > KEEP_NODES || scratch.attributes.capacity() > KEEP_NODES {
        scratch.open = Vec::new();
        scratch.attributes = Vec::new();
    }
    if scratch.names.as_ref().is_some_and(|n| n.capacity() > 256) {
        scratch.names = None;
    }
    SCRATCH.set(scratch);
    result
}

/// The text node being read (text and references are merged into one node): where it starts
/// in the input and where its last piece ends, and whether the writer would spell it
/// differently (then it is kept as read, see [`TextRun::keep`]).
#[derive(Default)]
struct TextRun {
    start: usize,
    end: usize,
    respelled: bool,
}

impl TextRun {
    /// Notes a piece of text at `start..end`, `merged` into the node before it or not.
    #[inline(always)]
    fn piece(&mut self, start: usize, end: usize, merged: bool, respelled: bool) {
        if !merged {
            self.start = start;
        }
        self.end = end;
        self.respelled |= respelled;
    }

    /// Keeps the text node just read (the last node of `content`, in the open element at
    /// `at`) as written, for the writer.
    #[cold]
    #[inline(never)]
    fn keep(&mut self, input: &str, content: &mut [Node], at: usize) {
        self.respelled = false;
        let index = content.len() - 1 - (at + 1);
        let raw: Box<str> = input.get(self.start..self.end).unwrap_or_default().into();
        if let Some(Node::Element(e)) = content.get_mut(at) {
            e.format_mut().raw_mut().texts.push((index, raw));
        }
    }
}

fn parse_with<const SHORT: bool>(whole: &str, limits: &Limits, scratch: &mut Scratch) -> Result<Document, XmlError> {
    // A byte order mark is kept for the writer, and the rest parsed (quick-xml would skip it,
    // but count the offsets of its events from after it).
    let input = whole.strip_prefix('\u{feff}').unwrap_or(whole);
    let bom = input.len() != whole.len();
    let mut reader = Reader::from_str(input);
    let config = reader.config_mut();
    config.trim_text(false);
    // (checked in the `End` arm, where the whitespace before `>` is found too)
    config.check_end_names = false;
    config.trim_markup_names_in_closing_tags = false;
    config.expand_empty_elements = false;
    let mut p = Parser::<SHORT> { input, whole, reader, limits };
    // quick-xml skips a byte order mark at the start of what it reads: a second one (U+FEFF is
    // not white space, so not allowed before the root) would vanish from the written document.
    if input.starts_with('\u{feff}') {
        return Err(p.malformed_at(0, "a second byte order mark (U+FEFF) before the root element"));
    }

    let mut prolog: Vec<Node> = Vec::new();
    let mut epilog: Vec<Node> = Vec::new();
    let mut root: Option<crate::xml::Element> = None;
    let Scratch { open, content, attributes: attr_scratch, names } = scratch;
    let mut run = TextRun::default();
    let mut quotes = tag::QuoteCount::default();

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
        // A text node is complete when anything else comes (checked in each arm: a check before
        // the `match` would move the event first, see above).
        macro_rules! text_done {
            () => {
                if run.respelled {
                    if let Some(&at) = open.last() {
                        run.keep(input, content, at);
                    }
                }
            };
        }
        // Refuses a node of more than `max_text_bytes`.
        macro_rules! bounded {
            ($bytes:expr) => {
                if !SHORT && $bytes.len() > limits.max_text_bytes {
                    return Err(p.limit_at(Limit::TextBytes, limits.max_text_bytes, p.offset_of(&$bytes)));
                }
            };
        }
        match event {
            Ok(Event::Start(start)) => {
                text_done!();
                if open.is_empty() && root.is_some() {
                    return Err(p.malformed_here("more than one root element"));
                }
                if open.len() >= limits.max_depth {
                    let at = p.offset_of(&start).saturating_sub(1);
                    return Err(p.limit_at(Limit::Depth, limits.max_depth, at));
                }
                open.push(content.len());
                p.element_start(&start, attr_scratch, names, content, &mut quotes)?;
            }
            Ok(Event::Empty(start)) => {
                text_done!();
                if open.is_empty() && root.is_some() {
                    return Err(p.malformed_here("more than one root element"));
                }
                if open.len() >= limits.max_depth {
                    let at = p.offset_of(&start).saturating_sub(1);
                    return Err(p.limit_at(Limit::Depth, limits.max_depth, at));
                }
                p.element_start(&start, attr_scratch, names, content, &mut quotes)?;
                if open.is_empty() {
                    if let Some(Node::Element(el)) = content.pop() {
                        root = Some(el);
                    }
                }
            }
            Ok(Event::End(end)) => {
                text_done!();
                // quick-xml refuses an end tag with nothing open; whether the name matches is
                // checked here, against the open element's name (quick-xml's check calls
                // `memcmp`).
                let at = open.pop().ok_or_else(|| p.malformed_here("unexpected end tag"))?;
                // The name as quick-xml gives it (not trimmed, see the configuration): with the
                // whitespace before `>` if there is any (rare: `</a >`).
                let name = end.name().into_inner();
                let name_len = match content.get(at) {
                    Some(Node::Element(el)) if same_name(el.name.as_bytes(), name) => name.len(),
                    other => {
                        let expected = match other {
                            Some(Node::Element(el)) => Some(el.name.as_str()),
                            _ => None,
                        };
                        p.end_name_spaced(expected, name)?
                    }
                };
                let children = XmlVec::take_tail_of(content, at + 1);
                let after_name = p.offset_of(name) + name_len;
                if open.is_empty() {
                    if let Some(Node::Element(mut el)) = content.pop() {
                        closed(&mut el, children, input, after_name);
                        root = Some(el);
                    }
                } else if let Some(Node::Element(el)) = content.last_mut() {
                    closed(el, children, input, after_name);
                }
            }
            Ok(Event::Text(t)) => {
                bounded!(t);
                let (raw, win, base) = p.str_window(&t)?;
                let Some(&at) = open.last() else {
                    // Outside the root: whitespace only, kept as it is.
                    if !raw.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
                        return Err(p.malformed_here("text outside the root element"));
                    }
                    let (nodes, start) = target!();
                    push_text(nodes, start, raw.into());
                    continue;
                };
                // The common case: nothing to check, normalise or keep as read.
                if Parser::<SHORT>::plain_text(raw.as_bytes(), win, base) {
                    let merged = push_plain_text(content, at + 1, raw);
                    run.piece(base, base + raw.len(), merged, false);
                    if merged {
                        p.bounded_text(content, base)?;
                    }
                    continue;
                }
                let flags = classify(raw.as_bytes());
                if flags & CLASS_SUSPECT != 0 {
                    p.checked(raw)?;
                }
                if flags & CLASS_GT != 0 && raw.contains("]]>") {
                    return Err(p.malformed_here("']]>' is not allowed in text"));
                }
                // XML 1.0 end-of-line handling: CR LF and lone CR read as LF.
                let text: std::borrow::Cow<'_, str> = if flags & CLASS_CR != 0 {
                    raw.replace("\r\n", "\n").replace('\r', "\n").into()
                } else {
                    raw.into()
                };
                let merged = push_text(content, at + 1, text);
                // Line ends and `>` are written differently (`\n`, `&gt;`): kept as read.
                run.piece(base, base + raw.len(), merged, flags & (CLASS_CR | CLASS_GT) != 0);
                p.bounded_text(content, base)?;
            }
            Ok(Event::GeneralRef(r)) => {
                if r.len() > limits.max_name_bytes {
                    return Err(p.limit_at(Limit::NameBytes, limits.max_name_bytes, p.offset_of(&r)));
                }
                let name = p.text_of(&r)?;
                let c = resolve_reference(name).map_err(|m| p.malformed_here(m))?;
                let Some(&at) = open.last() else {
                    return Err(p.malformed_here("reference outside the root element"));
                };
                let mut buf = [0u8; 4];
                let merged = push_text(content, at + 1, (&*c.encode_utf8(&mut buf)).into());
                // The writer spells only these references (`\r` as `&#13;`) the way they
                // were read; any other is kept as read.
                let own = matches!(name, "lt" | "amp" | "gt" | "#13");
                let start = p.offset_of(&r);
                run.piece(start.saturating_sub(1), start + name.len() + 1, merged, !own);
                p.bounded_text(content, start)?;
            }
            Ok(Event::CData(c)) => {
                text_done!();
                if open.is_empty() {
                    return Err(p.malformed_here("CDATA outside the root element"));
                }
                bounded!(c);
                let text = p.utf8(&c)?;
                target!().0.push(Node::CData(text));
            }
            Ok(Event::Comment(c)) => {
                text_done!();
                bounded!(c);
                let text = p.utf8(&c)?;
                if text.contains("--") {
                    return Err(p.malformed_here("'--' inside a comment"));
                }
                target!().0.push(Node::Comment(text));
            }
            Ok(Event::PI(pi)) => {
                text_done!();
                bounded!(pi);
                let text = p.utf8(&pi)?;
                target!().0.push(Node::ProcessingInstruction(text));
            }
            Ok(Event::Decl(d)) => {
                if root.is_some() || !open.is_empty() || !prolog.is_empty() {
                    return Err(p.malformed_here("XML declaration not at the start"));
                }
                bounded!(d);
                let text = p.utf8(&d)?;
                prolog.push(Node::Declaration(text));
            }
            Ok(Event::DocType(d)) => {
                if root.is_some() || !open.is_empty() {
                    return Err(p.malformed_here("DOCTYPE after the root element"));
                }
                bounded!(d);
                // With the whitespace after the keyword (quick-xml leaves it out), for the
                // writer.
                let start = p.offset_of(&d);
                let spaced = input[..start].trim_end_matches([' ', '\t', '\r', '\n']).len();
                // (quick-xml also takes `<!doctype`, as HTML allows; XML does not)
                if !input[..spaced].ends_with("<!DOCTYPE") {
                    return Err(
                        p.malformed_at(spaced.saturating_sub(9) as u64, "the DOCTYPE keyword must be upper case")
                    );
                }
                // (XML wants white space after the keyword; quick-xml does not, and the writer
                // would add it)
                if spaced == start {
                    return Err(p.malformed_at(start as u64, "white space is needed after <!DOCTYPE"));
                }
                // (quick-xml reads a `<!DOCTYPE` inside one as part of it; XML has no such
                // markup, and the writer refuses it)
                if let Some(inner) = input[start..start + d.len()].find("<!DOCTYPE") {
                    return Err(p.malformed_at((start + inner) as u64, "a DOCTYPE inside the DOCTYPE"));
                }
                let text = p.utf8(&input.as_bytes()[spaced..start + d.len()])?;
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
    let quote = if quotes.single * 2 > quotes.all { Quote::Single } else { Quote::Double };
    Ok(Document { prolog, root, epilog, quote, bom })
}

impl<const SHORT: bool> Parser<'_, SHORT> {
    /// Refuses a text node (the last node of `content`) grown past `max_text_bytes` by merging;
    /// `at` is the offset of its last piece.
    #[inline(always)]
    fn bounded_text(&self, content: &[Node], at: usize) -> Result<(), XmlError> {
        if SHORT {
            return Ok(());
        }
        match content.last() {
            Some(Node::Text(t)) if t.len() > self.limits.max_text_bytes => {
                Err(self.limit_at(Limit::TextBytes, self.limits.max_text_bytes, at))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
