//! Start tags: the element name and its attributes, checked, decoded and bounded in one pass
//! over the tag, with how the tag was written (quote style, and the tag as read if the writer
//! would not reproduce it).

use std::collections::HashSet;

use quick_xml::events::BytesStart;

use super::{push_with, Parser};
use crate::xml::decode::{attribute_value, classify, escapes_to, CLASSES};
use crate::xml::scan;
use crate::xml::{Attribute, Element, Format, Limit, Node, Quote, XmlError, XmlString, XmlVec, ASCII_NAME_CHAR};

/// Up to this many attributes, duplicates are found by comparing with each earlier one; past
/// it, with a hash set (so that a tag with many attributes costs linear time).
const SCAN_FOR_DUPLICATES: usize = 8;

/// Decoding classes that tell a value the writer may spell differently from how it was read.
const RESPELLED: u8 = crate::xml::decode::CLASS_WHITESPACE
    | crate::xml::decode::CLASS_CR
    | crate::xml::decode::CLASS_AMP
    | crate::xml::decode::CLASS_GT
    | crate::xml::decode::CLASS_QUOTE;

impl Parser<'_> {
    /// Builds the element of a start tag: its name and attributes, checked and decoded in one
    /// pass over the tag. `scratch` is an empty vector kept across calls, so that the element
    /// gets an exactly sized attribute vector without counting first. The element is appended
    /// to `out` (written in place: see [`push_with`]).
    pub(super) fn element_start(
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
        if name_len > self.limits.max_name_bytes {
            return Err(self.limit_at(Limit::NameBytes, self.limits.max_name_bytes, base));
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
        // The attributes are scanned here rather than with quick-xml's iterator: one pass over
        // the tag that also checks names and enforces what quick-xml leaves out (whitespace
        // between attributes, no `<` in values, unique names). Along the way: whether the
        // writer would write the tag back as it is (`canonical`: one space before each
        // attribute, none around `=` or at the end, one quote character, values spelled the
        // writer's way), and how many values are single-quoted.
        let mut canonical = true;
        let mut singles = 0usize;
        let mut first_quote = 0u8;
        let mut seen: Option<HashSet<XmlString>> = None;
        let mut i = name_len;
        let result = loop {
            let before = i;
            while i < bytes.len() && TAG_BYTES[bytes[i] as usize] & WHITESPACE != 0 {
                i += 1;
            }
            if i == bytes.len() {
                canonical &= i == before;
                break Ok(());
            }
            if i == before {
                break Err(self.malformed_here(format!("attributes of <{name}> must be separated by whitespace")));
            }
            canonical &= i == before + 1 && bytes[before] == b' ';
            let key_start = i;
            if scratch.len() >= self.limits.max_attributes {
                break Err(self.limit_at(Limit::Attributes, self.limits.max_attributes, base + key_start));
            }
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
            if i - key_start > self.limits.max_name_bytes {
                break Err(self.limit_at(Limit::NameBytes, self.limits.max_name_bytes, base + key_start));
            }
            let key = match self.checked_name(ascii_slice(raw, key_start, i), ascii_key, "attribute") {
                Ok(k) => k,
                Err(e) => break Err(e),
            };
            let key_end = i;
            while i < bytes.len() && TAG_BYTES[bytes[i] as usize] & WHITESPACE != 0 {
                i += 1;
            }
            if bytes.get(i) != Some(&b'=') {
                break Err(self.malformed_here(format!("attribute {key} of <{name}> has no value")));
            }
            i += 1;
            while i < bytes.len() && TAG_BYTES[bytes[i] as usize] & WHITESPACE != 0 {
                i += 1;
            }
            // No whitespace before or after `=`.
            canonical &= key_end + 1 == i;
            let quote = match bytes.get(i) {
                Some(q @ (b'"' | b'\'')) => *q,
                _ => break Err(self.malformed_here(format!("value of attribute {key} of <{name}> is not quoted"))),
            };
            singles += (quote == b'\'') as usize;
            if first_quote == 0 {
                first_quote = quote;
            }
            canonical &= quote == first_quote;
            i += 1;
            let value_start = i;
            // Find the closing quote and classify the value's bytes: 16 at a time when the
            // quote is within them, else byte by byte.
            let mut flags = 0u8;
            let fast = scan::value_marks(win, base + i, quote).and_then(|(quotes, special)| {
                let len = quotes.trailing_zeros() as usize;
                (len < 16 && i + len < bytes.len()).then_some((len, special & scan::low_bits(len) != 0))
            });
            let closed = match fast {
                Some((len, special)) => {
                    i += len;
                    if special {
                        flags = classify(&bytes[value_start..i]);
                    }
                    true
                }
                None => loop {
                    match bytes.get(i) {
                        Some(&b) if b == quote => break true,
                        Some(&b) => {
                            flags |= CLASSES[b as usize];
                            i += 1;
                        }
                        None => break false,
                    }
                },
            };
            if !closed {
                break Err(self.malformed_here(format!("value of attribute {key} of <{name}> is not closed")));
            }
            if i - value_start > self.limits.max_text_bytes {
                break Err(self.limit_at(Limit::TextBytes, self.limits.max_text_bytes, base + value_start));
            }
            let value_raw = ascii_slice(raw, value_start, i);
            i += 1;
            if self.is_duplicate(scratch, &mut seen, key) {
                break Err(self.malformed_here(format!("duplicate attribute {key} in <{name}>")));
            }
            let value = match attribute_value(value_raw, flags) {
                Ok(v) => v,
                Err(m) => break Err(self.malformed_here(format!("in attribute {key} of <{name}>: {m}"))),
            };
            if flags & RESPELLED != 0 {
                canonical &= escapes_to(&value, value_raw, Some(quote));
            }
            push_with(scratch, || Attribute { name: XmlString::from(key), value });
        };
        if let Err(e) = result {
            scratch.clear();
            return Err(e);
        }
        let mut format = Format::PLAIN;
        let count = scratch.len();
        let quote = match (singles * 2).cmp(&count) {
            std::cmp::Ordering::Greater => Some(Quote::Single),
            std::cmp::Ordering::Less if count > 0 => Some(Quote::Double),
            _ if count > 0 => Some(Quote::from_byte(first_quote)),
            _ => None,
        };
        format.set_quote(quote);
        if !canonical {
            format.raw_mut().start = Some(raw[name_len..].into());
        }
        // One allocation of the exact length; the attributes move out and `scratch` is left
        // empty for the next tag.
        let attributes = XmlVec::take_tail_of(scratch, 0);
        push_with(out, || Node::Element(Element::from_parts(name, attributes, format)));
        Ok(())
    }

    /// Whether `key` is among the attributes already read: compared with each of a few, looked
    /// up in `seen` (built when first needed) past that.
    #[inline(always)]
    fn is_duplicate(&self, scratch: &[Attribute], seen: &mut Option<HashSet<XmlString>>, key: &str) -> bool {
        if scratch.len() < SCAN_FOR_DUPLICATES {
            return scratch.iter().any(|a| a.name == key);
        }
        let set = seen.get_or_insert_with(|| scratch.iter().map(|a| a.name.clone()).collect());
        !set.insert(XmlString::from(key))
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
