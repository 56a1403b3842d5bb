//! Writing the forms the parser kept as read (`RawFormat`), each checked against
//! the tree as it is now: a start tag's attributes one by one (an attribute whose name and
//! value are unchanged keeps its spacing, quote and spelling; a changed value keeps its spacing
//! and quote; a new attribute takes the element's quote), and a text only if it still reads
//! back as the current text. Whatever no longer matches — or is not well-formed, since a raw
//! form can also arrive through serde — is written the canonical way. Only elements that have
//! raw forms come here.

use super::out::{check_name, Out};
use crate::xml::decode::{attribute_value, classify, text_value};
use crate::xml::{Attribute, Quote, XmlError, XmlString};

/// Whether every byte of `s` is XML whitespace (space, tab, CR, LF).
pub(super) fn is_whitespace(s: &str) -> bool {
    s.bytes().all(is_space)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// One attribute of a start tag as read: ` name = 'value'` in parts.
#[derive(Clone, Copy)]
struct Piece<'a> {
    /// The whitespace before the name (never empty).
    space: &'a str,
    name: &'a str,
    /// `=` with the whitespace around it.
    eq: &'a str,
    quote: u8,
    /// The value as written between the quotes.
    value: &'a str,
}

/// The attributes of a start tag as read, in order; the iteration stops at the end or at
/// anything that is not an attribute (then the rest is never used).
struct Pieces<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        let piece = self.scan();
        if piece.is_none() {
            self.rest = "";
        }
        piece
    }
}

impl<'a> Pieces<'a> {
    fn scan(&mut self) -> Option<Piece<'a>> {
        // Every cut below is at an ASCII byte (whitespace, `=`, a quote) or at the end, so
        // each `get` falls on character boundaries; a `None` only ends the iteration.
        let (rest, b) = (self.rest, self.rest.as_bytes());
        let space_end = b.iter().position(|c| !is_space(*c))?;
        let name_end = space_end + b[space_end..].iter().position(|c| is_space(*c) || *c == b'=')?;
        let mut i = name_end;
        while b.get(i).copied().is_some_and(is_space) {
            i += 1;
        }
        (b.get(i) == Some(&b'=')).then_some(())?;
        i += 1;
        while b.get(i).copied().is_some_and(is_space) {
            i += 1;
        }
        let quote = *b.get(i).filter(|q| matches!(q, b'\'' | b'"'))?;
        let value_len = b[i + 1..].iter().position(|c| *c == quote)?;
        let piece = Piece {
            space: rest.get(..space_end).filter(|s| !s.is_empty())?,
            name: rest.get(space_end..name_end).filter(|s| !s.is_empty())?,
            eq: rest.get(name_end..i)?,
            quote,
            value: rest.get(i + 1..i + 1 + value_len)?,
        };
        self.rest = rest.get(i + 2 + value_len..)?;
        Some(piece)
    }
}

/// Writes `attributes` (after the element name) from `raw`, the start tag as read after the
/// name, up to `>` or `/>`; `quote` is the element's quote for attributes not in `raw`.
pub(super) fn write_attributes(
    out: &mut Out,
    attributes: &[Attribute],
    raw: &str,
    quote: Quote,
) -> Result<(), XmlError> {
    let mut pieces = Pieces { rest: raw };
    let mut current = pieces.next();
    let mut ahead: Option<Piece<'_>> = None;
    for a in attributes {
        check_name(&a.name)?;
        // The next attribute as read, or the one after it (the next one was removed).
        let piece = match current {
            Some(p) if p.name == a.name => {
                current = ahead.take().or_else(|| pieces.next());
                Some(p)
            }
            Some(_) => {
                if ahead.is_none() {
                    ahead = pieces.next();
                }
                match ahead {
                    Some(p) if p.name == a.name => {
                        ahead = None;
                        current = pieces.next();
                        Some(p)
                    }
                    _ => None,
                }
            }
            None => None,
        };
        match piece {
            Some(p) => {
                out.str(p.space);
                out.str(p.name);
                out.str(p.eq);
                out.byte(p.quote);
                if reads_as_value(p.value, &a.value) {
                    out.str(p.value);
                } else {
                    out.attribute_value(&a.value, Quote::from_byte(p.quote), &a.name)?;
                }
                out.byte(p.quote);
            }
            None => {
                out.byte(b' ');
                out.str(&a.name);
                out.byte(b'=');
                out.byte(quote.byte());
                out.attribute_value(&a.value, quote, &a.name)?;
                out.byte(quote.byte());
            }
        }
    }
    // The whitespace before `>` or `/>` as read.
    let trailing = &raw[raw.trim_end_matches([' ', '\t', '\r', '\n']).len()..];
    out.str(trailing);
    Ok(())
}

/// Whether `raw` (an attribute value as written, without its quotes) reads back as `value`.
fn reads_as_value(raw: &str, value: &str) -> bool {
    attribute_value(raw, classify(raw.as_bytes())).is_ok_and(|v| v == value)
}

/// Writes text child number `index`, `text`, as read if `texts` (an element's kept texts, by
/// index) holds a form that still reads back as `text`, else escaped.
pub(super) fn write_text(
    out: &mut Out,
    text: &str,
    index: usize,
    texts: &[(usize, Box<str>)],
    context: &XmlString,
) -> Result<(), XmlError> {
    if let Ok(k) = texts.binary_search_by_key(&index, |(i, _)| *i) {
        let raw = &*texts[k].1;
        // A `>` right after `]]` (from the text before) would end a CDATA section that is not
        // there: such a form is not written.
        let after_brackets = raw.starts_with('>') && out.buf.ends_with(b"]]");
        if !after_brackets && text_value(raw).is_ok_and(|v| v == text) {
            out.str(raw);
            return Ok(());
        }
    }
    out.text(text, context)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(attributes: &[(&str, &str)], raw: &str) -> String {
        let attributes: Vec<Attribute> =
            attributes.iter().map(|(n, v)| Attribute { name: (*n).into(), value: (*v).into() }).collect();
        let mut out = Out::with_capacity(64);
        write_attributes(&mut out, &attributes, raw, Quote::Single).unwrap();
        out.into_string()
    }

    #[test]
    fn attributes_keep_their_form_where_unchanged() {
        let raw = "\n  a = \"1\"\tb='x&#10;y'  c='3' \n";
        assert_eq!(write(&[("a", "1"), ("b", "x\ny"), ("c", "3")], raw), raw);
        // a changed value keeps spacing and quote
        assert_eq!(write(&[("a", "2"), ("b", "x\ny"), ("c", "3")], raw), "\n  a = \"2\"\tb='x&#10;y'  c='3' \n");
        assert_eq!(write(&[("a", "1"), ("b", "q'"), ("c", "3")], raw), "\n  a = \"1\"\tb='q&apos;'  c='3' \n");
        // removed, added, reordered
        assert_eq!(write(&[("a", "1"), ("c", "3")], raw), "\n  a = \"1\"  c='3' \n");
        assert_eq!(
            write(&[("a", "1"), ("b", "x\ny"), ("c", "3"), ("d", "4")], raw),
            "\n  a = \"1\"\tb='x&#10;y'  c='3' d='4' \n"
        );
        assert_eq!(write(&[("c", "3"), ("a", "1")], raw), " c='3'\n  a = \"1\" \n");
        assert_eq!(write(&[], raw), " \n");
    }

    #[test]
    fn malformed_raw_forms_are_not_written() {
        for raw in ["x", " a", " a=1", " a='1", " a='1'b='2'", "=", " ='1'", " a=\"<\""] {
            let out = write(&[("a", "<")], raw);
            assert!(out.starts_with(" a='&lt;'") || out.starts_with(" a=\"&lt;\""), "{raw:?}: {out:?}");
        }
    }

    #[test]
    fn texts_are_checked() {
        let texts: Vec<(usize, Box<str>)> = vec![(1, "it&apos;s".into()), (3, "&gt;".into())];
        let mut out = Out::with_capacity(64);
        let a = XmlString::from("a");
        write_text(&mut out, "it's", 1, &texts, &a).unwrap();
        write_text(&mut out, "it's", 2, &texts, &a).unwrap();
        write_text(&mut out, "its", 1, &texts, &a).unwrap();
        out.str("]]");
        write_text(&mut out, ">", 3, &texts, &a).unwrap();
        assert_eq!(out.into_string(), "it&apos;sit'sits]]&gt;");
    }
}
