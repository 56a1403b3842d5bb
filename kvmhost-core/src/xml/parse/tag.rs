//! Start tags: the element name and its attributes, checked, decoded and bounded in one pass
//! over the tag, with how the tag was written (quote style, and the tag as read if the writer
//! would not reproduce it).

use std::collections::HashSet;

use quick_xml::events::BytesStart;

use super::{push_with, Parser};
use crate::xml::decode::{attribute_value, classify, escapes_to, CLASSES};
use crate::xml::scan;
use crate::xml::{
    Attribute, Element, Format, Limit, Limits, Node, Quote, XmlError, XmlString, XmlVec, ASCII_NAME_CHAR,
};

/// How many attribute values were single-quoted, of how many (for the document's quote style).
#[derive(Default)]
pub(super) struct QuoteCount {
    pub(super) single: usize,
    pub(super) all: usize,
}

/// Up to this many attributes, duplicates are found by comparing with each earlier one; past
/// it, with a hash set (so that a tag with many attributes costs linear time).
const SCAN_FOR_DUPLICATES: usize = 8;

/// Decoding classes that tell a value the writer may spell differently from how it was read.
const RESPELLED: u8 = crate::xml::decode::CLASS_WHITESPACE
    | crate::xml::decode::CLASS_CR
    | crate::xml::decode::CLASS_AMP
    | crate::xml::decode::CLASS_GT
    | crate::xml::decode::CLASS_QUOTE;

impl<const SHORT: bool> Parser<'_, SHORT> {
    /// Builds the element of a start tag: its name and attributes, checked and decoded in one
    /// pass over the tag. `scratch` is an empty vector kept across calls, so that the element
    /// gets an exactly sized attribute vector without counting first. The element is appended
    /// to `out` (written in place: see [`push_with`]).
    pub(super) fn element_start(
        &self,
        start: &BytesStart<'_>,
        scratch: &mut Vec<Attribute>,
        seen: &mut Option<HashSet<XmlString>>,
        out: &mut Vec<Node>,
        quotes: &mut QuoteCount,
    ) -> Result<(), XmlError> {
        let limits: &Limits = self.limits;
        // The whole tag body (`name attr='v' ...`), found in the input; every delimiter below is
        // ASCII, so each slice of `raw` falls on character boundaries.
        let (raw, win, base) = self.str_window(start)?;
        let bytes = raw.as_bytes();
        // The 16-byte fast paths (`scan`) read the document around `raw`, at `base + i` for
        // `raw[i]`; `win` is empty (so they all decline) if `raw` is not a slice of the input.
        let name_len = start.name().into_inner().len();
        if name_len > limits.max_name_bytes {
            return Err(self.limit_at(Limit::NameBytes, limits.max_name_bytes, base));
        }
        let ascii_name = match scan::name_chars(win, base) {
            Some(m) if name_len <= 16 => m & scan::low_bits(name_len) == scan::low_bits(name_len),
            _ => bytes[..name_len].iter().fold(NAME_CHAR, |all, &b| all & TAG_BYTES[b as usize]) != 0,
        };
        let name = XmlString::from(self.checked_name(ascii_slice(raw, 0, name_len), ascii_name, "element")?);
        if name_len == bytes.len() {
            push_with(out, || Node::Element(Element::from_parts(name, XmlVec::new(), Format::PLAIN)));
            return Ok(());
        }
        // An error leaves `scratch` empty for the next document.
        macro_rules! bail {
            ($e:expr) => {{
                let e = $e;
                scratch.clear();
                return Err(e);
            }};
        }
        // The attributes are scanned here rather than with quick-xml's iterator: one pass over
        // the tag that also checks names and enforces what quick-xml leaves out (whitespace
        // between attributes, no `<` in values, unique names). Along the way: whether the
        // writer would write the tag back as it is (`canonical`: one space before each
        // attribute, none around `=` or at the end, values spelled the writer's way — the
        // common case is the fast path, `canonical` is only written off it; one quote
        // character is checked at the end), and how many values are single-quoted.
        let mut canonical = true;
        let mut singles = 0usize;
        // Below this many attributes, duplicates are looked for one by one and the limit is
        // not reached; from it on, each new attribute is checked against the limit first.
        let few = SCAN_FOR_DUPLICATES.min(limits.max_attributes);
        let mut i = name_len;
        loop {
            if i == bytes.len() {
                break;
            }
            // Before each attribute: one space (the writer's form), else any whitespace run
            // (then the tag is kept as read); none at the end of the tag.
            let before = i;
            if bytes[i] == b' ' && bytes.get(i + 1).is_some_and(|b| TAG_BYTES[*b as usize] & WHITESPACE == 0) {
                i += 1;
            } else {
                while i < bytes.len() && TAG_BYTES[bytes[i] as usize] & WHITESPACE != 0 {
                    i += 1;
                }
                if i == before {
                    bail!(self.malformed_here(format!("attributes of <{name}> must be separated by whitespace")));
                }
                canonical = false;
                if i == bytes.len() {
                    break;
                }
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
                    if i - key_start > limits.max_name_bytes {
                        bail!(self.limit_at(Limit::NameBytes, limits.max_name_bytes, base + key_start));
                    }
                    all != 0
                }
            };
            let key = match self.checked_name(ascii_slice(raw, key_start, i), ascii_key, "attribute") {
                Ok(k) => k,
                Err(e) => bail!(e),
            };
            // `=` and the opening quote: right after the key (the writer's form), else with
            // whitespace around `=`.
            let quote = match (bytes.get(i), bytes.get(i + 1)) {
                (Some(b'='), Some(q @ (b'"' | b'\''))) => {
                    i += 1;
                    *q
                }
                _ => {
                    canonical = false;
                    while i < bytes.len() && TAG_BYTES[bytes[i] as usize] & WHITESPACE != 0 {
                        i += 1;
                    }
                    if bytes.get(i) != Some(&b'=') {
                        bail!(self.malformed_here(format!("attribute {key} of <{name}> has no value")));
                    }
                    i += 1;
                    while i < bytes.len() && TAG_BYTES[bytes[i] as usize] & WHITESPACE != 0 {
                        i += 1;
                    }
                    match bytes.get(i) {
                        Some(q @ (b'"' | b'\'')) => *q,
                        _ => bail!(self.malformed_here(format!("value of attribute {key} of <{name}> is not quoted"))),
                    }
                }
            };
            singles += (quote == b'\'') as usize;
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
                    if !SHORT && len > limits.max_text_bytes {
                        bail!(self.limit_at(Limit::TextBytes, limits.max_text_bytes, base + value_start));
                    }
                }
                None => {
                    // (The tag is within the input's size limit: one pass, then the length.)
                    loop {
                        match bytes.get(i) {
                            Some(&b) if b == quote => break,
                            Some(&b) => {
                                flags |= CLASSES[b as usize];
                                i += 1;
                            }
                            None => {
                                bail!(self.malformed_here(format!("value of attribute {key} of <{name}> is not closed")))
                            }
                        }
                    }
                    if !SHORT && i - value_start > limits.max_text_bytes {
                        bail!(self.limit_at(Limit::TextBytes, limits.max_text_bytes, base + value_start));
                    }
                }
            }
            let value_raw = ascii_slice(raw, value_start, i);
            i += 1;
            // Few attributes: compared one by one; many: bounded, and looked up in a set (the
            // set only from `SCAN_FOR_DUPLICATES` on: a limit below it is reached first).
            let duplicate = if scratch.len() < few {
                scratch.iter().any(|a| super::same_name(a.name.as_bytes(), key.as_bytes()))
            } else {
                if scratch.len() >= limits.max_attributes {
                    bail!(self.limit_at(Limit::Attributes, limits.max_attributes, base + key_start));
                }
                is_duplicate_many(scratch, seen, key)
            };
            if duplicate {
                bail!(self.malformed_here(format!("duplicate attribute {key} in <{name}>")));
            }
            if flags == 0 {
                // The common case: the value as read. Both strings are built where they are
                // stored (an `XmlString` built first and then moved is written in 8-byte
                // pieces and read back in 16-byte ones, and each such read stalls).
                push_with(scratch, || Attribute { name: XmlString::from(key), value: XmlString::from(value_raw) });
                continue;
            }
            let value = match attribute_value(value_raw, flags) {
                Ok(v) => v,
                Err(m) => bail!(self.malformed_here(format!("in attribute {key} of <{name}>: {m}"))),
            };
            if flags & RESPELLED != 0 && !escapes_to(&value, value_raw, Some(quote)) {
                canonical = false;
            }
            push_with(scratch, || Attribute { name: XmlString::from(key), value });
        }
        let count = scratch.len();
        if count == 0 {
            // (`<a >`: whitespace only)
            push_with(out, || Node::Element(Element::from_parts(name, XmlVec::new(), Format::PLAIN)));
            if let Some(Node::Element(e)) = out.last_mut() {
                e.format_mut().raw_mut().start = Some(raw[name_len..].into());
            }
            return Ok(());
        }
        let quote = match singles {
            0 => Quote::Double,
            s if s == count => Quote::Single,
            _ => {
                canonical = false;
                mixed_quote(singles, count, bytes)
            }
        };
        let mut format = Format::quoted(quote);
        if !canonical {
            format.raw_mut().start = Some(raw[name_len..].into());
        }
        quotes.single += singles;
        quotes.all += count;
        // One allocation of the exact length; the attributes move out and `scratch` is left
        // empty for the next tag.
        let attributes = XmlVec::take_tail_of(scratch, 0);
        push_with(out, || Node::Element(Element::from_parts(name, attributes, format)));
        Ok(())
    }
}

/// The quote style of a tag whose values are quoted both ways: the one most have, else the
/// first one's.
#[cold]
fn mixed_quote(singles: usize, count: usize, tag: &[u8]) -> Quote {
    match (singles * 2).cmp(&count) {
        std::cmp::Ordering::Greater => Quote::Single,
        std::cmp::Ordering::Less => Quote::Double,
        std::cmp::Ordering::Equal => {
            Quote::from_byte(tag.iter().copied().find(|b| matches!(b, b'\'' | b'"')).unwrap_or(b'"'))
        }
    }
}

/// Whether `key` is among the attributes already read, for tags with many: looked up in `seen`
/// (filled with the first ones when the tag reaches [`SCAN_FOR_DUPLICATES`]; a scratch set
/// kept with the parser's other scratch vectors).
#[cold]
#[inline(never)]
fn is_duplicate_many(scratch: &[Attribute], seen: &mut Option<HashSet<XmlString>>, key: &str) -> bool {
    let seen = seen.get_or_insert_with(HashSet::new);
    if scratch.len() == SCAN_FOR_DUPLICATES {
        seen.clear();
        seen.extend(scratch.iter().map(|a| a.name.clone()));
    }
    !seen.insert(XmlString::from(key))
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
