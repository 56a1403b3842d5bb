//! Writing the [`Document`] tree back to text.
//!
//! Attributes are written with double quotes; `<`, `&`, `"` and (in attributes) tab and line
//! ends are escaped so that a conforming parser reads back exactly the stored values.
//!
//! The writer is on the hot path of every parse/edit/write cycle, so the common case is kept
//! short: names, values and text of up to 16 bytes are checked in one 16-byte step
//! ([`super::scan`]), longer ones by a branch-free byte-table pass (the full XML `Name` rule
//! runs only for non-ASCII names); clean values are copied whole, and small copies avoid a
//! `memcpy` call.

use super::{
    check_xml_chars, check_xml_name, is_xml_char, Document, Element, Node, XmlError, ASCII_NAME_CHAR, ASCII_NAME_START,
};

#[cold]
fn invalid(c: char, context: &str) -> XmlError {
    XmlError::InvalidCharacter { character: c, context: context.to_string() }
}

/// The error for a name the fast table check refused (or `Ok` for a valid non-ASCII name).
#[cold]
fn check_name_slow(name: &str) -> Result<(), XmlError> {
    check_xml_name(name).map_err(|bad| match bad {
        Some(c) => invalid(c, &format!("name {name:?}")),
        None => XmlError::InvalidName { name: String::new() },
    })
}

/// Checks an element or attribute name: one 16-byte step (up to 16 bytes) or a table pass
/// for ASCII names, the full rule otherwise.
#[inline(always)]
fn check_name(name: &str) -> Result<(), XmlError> {
    let b = name.as_bytes();
    if let (Some(all), Some(&first)) = (super::scan::all_name_chars(b), b.first()) {
        return if all && NAME_START_BYTE[first as usize] != 0 { Ok(()) } else { check_name_slow(name) };
    }
    let mut all = match b.first() {
        Some(&c) => NAME_START_BYTE[c as usize],
        None => 0,
    };
    for &c in b {
        all &= NAME_BYTE[c as usize];
    }
    if all != 0 {
        Ok(())
    } else {
        check_name_slow(name)
    }
}

const NAME_START_BYTE: [u8; 256] = byte_table(&ASCII_NAME_START);
const NAME_BYTE: [u8; 256] = byte_table(&ASCII_NAME_CHAR);

const fn byte_table(t: &[bool; 256]) -> [u8; 256] {
    let mut out = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        out[i] = t[i] as u8;
        i += 1;
    }
    out
}

/// Bytes that need escaping or refusing in text: `<`, `&`, `>`, CR, the other C0 controls but
/// tab and LF, and 0xEF (which starts U+FFFE / U+FFFF).
const TEXT_SPECIAL: [u8; 256] = special_bytes(false);
/// Bytes that need escaping or refusing in attribute values: those of text, `"`, tab and LF.
const ATTRIBUTE_SPECIAL: [u8; 256] = special_bytes(true);

const fn special_bytes(in_attribute: bool) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = (in_attribute || (i != b'\t' as usize && i != b'\n' as usize)) as u8;
        i += 1;
    }
    t[b'<' as usize] = 1;
    t[b'&' as usize] = 1;
    t[b'>' as usize] = 1;
    t[b'"' as usize] = in_attribute as u8;
    t[0xEF] = 1;
    t
}

/// The bytes that need escaping or refusing in an attribute value or in text.
#[inline(always)]
fn special_bytes_of(in_attribute: bool) -> &'static [u8; 256] {
    if in_attribute {
        &ATTRIBUTE_SPECIAL
    } else {
        &TEXT_SPECIAL
    }
}

/// Whether `s` needs no escaping or refusing: one 16-byte step for up to 16 bytes, else a
/// branch-free table pass.
#[inline(always)]
fn is_clean(s: &str, in_attribute: bool) -> bool {
    if let Some(clean) = super::scan::writes_verbatim(s.as_bytes(), in_attribute) {
        return clean;
    }
    let special = special_bytes_of(in_attribute);
    let mut any = 0u8;
    for &b in s.as_bytes() {
        any |= special[b as usize];
    }
    any == 0
}

/// The output: only whole `str`s and ASCII are ever appended, so it is always valid UTF-8.
struct Out {
    buf: Vec<u8>,
}

impl Out {
    fn with_capacity(n: usize) -> Out {
        Out { buf: Vec::with_capacity(n) }
    }

    fn into_string(self) -> String {
        // SAFETY: every append copies a whole `&str` or ASCII bytes, so `buf` is valid UTF-8.
        unsafe { String::from_utf8_unchecked(self.buf) }
    }

    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    /// Appends `s`; a `str`'s bytes or ASCII only (see [`Out::into_string`]).
    #[inline(always)]
    fn put(&mut self, s: &[u8]) {
        let n = s.len();
        self.buf.reserve(n);
        let len = self.buf.len();
        // SAFETY: `reserve` made room for `n` bytes after `len`; they are all written before
        // the length is raised, and source and destination cannot overlap (`s` is borrowed
        // shared while `buf` is borrowed mutably).
        unsafe {
            copy_small(s.as_ptr(), self.buf.as_mut_ptr().add(len), n);
            self.buf.set_len(len + n);
        }
    }

    fn str(&mut self, s: &str) {
        self.put(s.as_bytes());
    }

    /// Appends `pre`, `s` and `post` with one capacity check; `pre` and `post` are short ASCII
    /// constants (at most 16 bytes), `s` a `str`'s bytes.
    #[inline(always)]
    fn framed(&mut self, pre: &[u8], s: &[u8], post: &[u8]) {
        let n = pre.len() + s.len() + post.len();
        self.buf.reserve(n);
        let len = self.buf.len();
        // SAFETY: `reserve` made room for `n` bytes after `len`, and the three copies write
        // exactly `n` bytes there; the sources are shared borrows, so they do not overlap `buf`.
        unsafe {
            let mut p = self.buf.as_mut_ptr().add(len);
            copy_small(pre.as_ptr(), p, pre.len());
            p = p.add(pre.len());
            copy_small(s.as_ptr(), p, s.len());
            p = p.add(s.len());
            copy_small(post.as_ptr(), p, post.len());
            self.buf.set_len(len + n);
        }
    }

    /// Appends ` key="value"` for a value that needs no escaping, with one capacity check.
    #[inline(always)]
    fn attribute(&mut self, key: &[u8], value: &[u8]) {
        let n = key.len() + value.len() + 4;
        self.buf.reserve(n);
        let len = self.buf.len();
        // SAFETY: as in `framed`: `n` bytes were reserved and exactly `n` are written.
        unsafe {
            let mut p = self.buf.as_mut_ptr().add(len);
            *p = b' ';
            p = p.add(1);
            copy_small(key.as_ptr(), p, key.len());
            p = p.add(key.len());
            *p = b'=';
            *p.add(1) = b'"';
            p = p.add(2);
            copy_small(value.as_ptr(), p, value.len());
            *p.add(value.len()) = b'"';
            self.buf.set_len(len + n);
        }
    }

    /// Appends `s` escaped for text (`in_attribute` false) or a double-quoted attribute value.
    #[inline(always)]
    fn escaped(&mut self, s: &str, in_attribute: bool, context: &str) -> Result<(), XmlError> {
        if is_clean(s, in_attribute) {
            self.put(s.as_bytes());
            Ok(())
        } else {
            self.escaped_slow(s, special_bytes_of(in_attribute), context)
        }
    }

    #[cold]
    #[inline(never)]
    fn escaped_slow(&mut self, s: &str, special: &[u8; 256], context: &str) -> Result<(), XmlError> {
        // Every character that needs escaping or refusing starts with an ASCII byte or 0xEF
        // (U+FFFE / U+FFFF), so byte positions of the others are char boundaries.
        let bytes = s.as_bytes();
        let mut last = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if special[b as usize] == 0 {
                continue;
            }
            let rep: &str = match b {
                b'<' => "&lt;",
                b'&' => "&amp;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\n' => "&#10;",
                b'\r' => "&#13;",
                b'\t' => "&#9;",
                0..=0x1f => return Err(invalid(b as char, context)),
                _ => {
                    if let Err(c) = check_xml_chars(&s[i..(i + 3).min(s.len())]) {
                        return Err(invalid(c, context));
                    }
                    continue;
                }
            };
            self.str(&s[last..i]);
            self.str(rep);
            last = i + 1;
        }
        self.str(&s[last..]);
        Ok(())
    }
}

/// Copies `n` bytes; up to 16 bytes with two overlapping loads and stores instead of a call.
///
/// # Safety
/// `src` must be valid for reading and `dst` for writing `n` bytes, not overlapping.
#[inline(always)]
unsafe fn copy_small(src: *const u8, dst: *mut u8, n: usize) {
    // SAFETY (all branches): every access is inside `src[..n]` / `dst[..n]`, which the caller
    // guarantees; unaligned reads and writes are used because names may start anywhere.
    unsafe {
        if n >= 8 {
            if n <= 16 {
                let a = (src as *const u64).read_unaligned();
                let b = (src.add(n - 8) as *const u64).read_unaligned();
                (dst as *mut u64).write_unaligned(a);
                (dst.add(n - 8) as *mut u64).write_unaligned(b);
            } else {
                std::ptr::copy_nonoverlapping(src, dst, n);
            }
        } else if n >= 4 {
            let a = (src as *const u32).read_unaligned();
            let b = (src.add(n - 4) as *const u32).read_unaligned();
            (dst as *mut u32).write_unaligned(a);
            (dst.add(n - 4) as *mut u32).write_unaligned(b);
        } else if n > 0 {
            *dst = *src;
            *dst.add(n / 2) = *src.add(n / 2);
            *dst.add(n - 1) = *src.add(n - 1);
        }
    }
}

fn check_verbatim(s: &str, forbidden: &str, context: &str) -> Result<(), XmlError> {
    if let Some(c) = s.chars().find(|c| !is_xml_char(*c)) {
        return Err(invalid(c, context));
    }
    if s.contains(forbidden) {
        return Err(XmlError::InvalidCharacter {
            character: forbidden.chars().next().unwrap_or('?'),
            context: format!("{context} contains {forbidden:?}"),
        });
    }
    Ok(())
}

#[inline(always)]
fn write_node(out: &mut Out, node: &Node, parent: &str) -> Result<(), XmlError> {
    match node {
        Node::Element(e) => write_element(out, e),
        Node::Text(t) => out.escaped(t, false, parent),
        other => write_other(out, other),
    }
}

/// Comments, CDATA, processing instructions and prolog nodes: written verbatim after a check.
#[inline(never)]
fn write_other(out: &mut Out, node: &Node) -> Result<(), XmlError> {
    match node {
        Node::Element(_) | Node::Text(_) => unreachable!("handled by write_node"),
        Node::CData(t) => {
            check_verbatim(t, "]]>", "CDATA")?;
            out.str("<![CDATA[");
            out.str(t);
            out.str("]]>");
        }
        Node::Comment(t) => {
            check_verbatim(t, "--", "comment")?;
            out.str("<!--");
            out.str(t);
            out.str("-->");
        }
        Node::ProcessingInstruction(t) => {
            check_verbatim(t, "?>", "processing instruction")?;
            out.str("<?");
            out.str(t);
            out.str("?>");
        }
        Node::DocType(t) => {
            check_verbatim(t, "<!DOCTYPE", "DOCTYPE")?;
            out.str("<!DOCTYPE ");
            out.str(t.trim_start());
            out.byte(b'>');
        }
        Node::Declaration(t) => {
            check_verbatim(t, "?>", "XML declaration")?;
            out.str("<?");
            out.str(t);
            out.str("?>");
        }
    }
    Ok(())
}

fn write_element(out: &mut Out, e: &Element) -> Result<(), XmlError> {
    let name = e.name.as_str();
    check_name(name)?;
    out.framed(b"<", name.as_bytes(), b"");
    for a in &e.attributes {
        let (key, value) = (a.name.as_str(), a.value.as_str());
        check_name(key)?;
        if is_clean(value, true) {
            out.attribute(key.as_bytes(), value.as_bytes());
        } else {
            out.framed(b" ", key.as_bytes(), b"=\"");
            out.escaped_slow(value, &ATTRIBUTE_SPECIAL, key)?;
            out.byte(b'"');
        }
    }
    if e.children.is_empty() {
        out.framed(b"", b"/>", b"");
        return Ok(());
    }
    out.byte(b'>');
    for c in &e.children {
        write_node(out, c, name)?;
    }
    out.framed(b"</", name.as_bytes(), b">");
    Ok(())
}

/// Whether an element holds only elements, comments and whitespace (so it can be re-indented
/// without changing its meaning).
fn element_only(e: &Element) -> bool {
    e.children.iter().all(|n| match n {
        Node::Text(t) => t.trim().is_empty(),
        Node::CData(_) => false,
        _ => true,
    }) && e.children.iter().any(|n| !matches!(n, Node::Text(_)))
}

fn write_pretty(out: &mut Out, e: &Element, depth: usize) -> Result<(), XmlError> {
    if !element_only(e) {
        return write_element(out, e);
    }
    let mut shallow =
        Element { name: e.name.clone(), attributes: e.attributes.clone(), children: super::XmlVec::new() };
    shallow.children.push(Node::Text(super::XmlString::default()));
    let mut open = Out::with_capacity(64);
    write_element(&mut open, &shallow)?;
    out.put(&open.buf[..open.buf.len() - e.name.len() - 3]);
    for n in e.children.iter().filter(|n| !matches!(n, Node::Text(_))) {
        out.byte(b'\n');
        out.str(&"  ".repeat(depth + 1));
        match n {
            Node::Element(c) => write_pretty(out, c, depth + 1)?,
            other => write_node(out, other, &e.name)?,
        }
    }
    out.byte(b'\n');
    out.str(&"  ".repeat(depth));
    out.put(b"</");
    out.str(&e.name);
    out.byte(b'>');
    Ok(())
}

/// Writes the document re-indented with two spaces where elements hold only elements;
/// text content is left exactly as it is.
pub(crate) fn write_document_pretty(doc: &Document) -> Result<String, XmlError> {
    let mut out = Out::with_capacity(8192);
    write_pretty(&mut out, &doc.root, 0)?;
    out.byte(b'\n');
    Ok(out.into_string())
}

pub(crate) fn write_document(doc: &Document) -> Result<String, XmlError> {
    let mut out = Out::with_capacity(8192);
    for n in &doc.prolog {
        write_node(&mut out, n, "prolog")?;
    }
    write_element(&mut out, &doc.root)?;
    for n in &doc.epilog {
        write_node(&mut out, n, "epilog")?;
    }
    Ok(out.into_string())
}

#[cfg(test)]
mod tests {
    use crate::xml::Document;

    #[test]
    fn round_trip_keeps_everything() {
        let src = "<?xml version=\"1.0\"?>\n<!-- top -->\n<domain xmlns:qemu=\"http://libvirt.org/schemas/domain/qemu/1.0\" type=\"kvm\">\n  <name>a &lt;&amp;&gt; \"q\" 'é'</name>\n  <qemu:commandline><qemu:arg value=\"-x&#10;y\"/></qemu:commandline>\n  <![CDATA[ raw <stuff> ]]>\n  <?pi data?>\n</domain>\n";
        let d = Document::parse(src).unwrap();
        let out = d.to_xml().unwrap();
        let again = Document::parse(&out).unwrap();
        assert_eq!(d, again);
        assert_eq!(out, src);
    }

    #[test]
    fn invalid_characters_are_rejected_on_write() {
        let mut d = Document::parse("<a/>").unwrap();
        d.root.set_text("bell\u{7}");
        assert!(d.to_xml().is_err());
        d.root.set_text("ok");
        d.root.name = "bad name".into();
        assert!(d.to_xml().is_err());
    }
}
