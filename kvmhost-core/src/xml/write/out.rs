//! The writer's output buffer, name checks and escaping.
//!
//! The common case is kept short: names, values and text of up to 16 bytes are checked in one
//! 16-byte step ([`crate::xml::scan`]), longer ones by a branch-free byte-table pass (the full
//! XML `Name` rule runs only for non-ASCII names); clean values are copied whole, and small
//! copies avoid a `memcpy` call.

use crate::xml::scan;
use crate::xml::{
    check_xml_chars, check_xml_name, is_xml_char, Quote, XmlError, XmlString, ASCII_NAME_CHAR, ASCII_NAME_START,
};

#[cold]
pub(super) fn invalid(c: char, context: &str) -> XmlError {
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
pub(super) fn check_name(name: &str) -> Result<(), XmlError> {
    let b = name.as_bytes();
    if let (Some(all), Some(&first)) = (scan::all_name_chars(b), b.first()) {
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
pub(super) const TEXT_SPECIAL: [u8; 256] = special_bytes(false, false);
/// Bytes that need escaping or refusing in a `"`-quoted attribute value: those of text, `"`,
/// tab and LF.
const DOUBLE_QUOTED_SPECIAL: [u8; 256] = special_bytes(true, false);
/// Bytes that need escaping or refusing in a `'`-quoted attribute value: those of a
/// `"`-quoted one and `'` (libvirt's escaping: `&apos;` and `&quot;` both).
const SINGLE_QUOTED_SPECIAL: [u8; 256] = special_bytes(true, true);

const fn special_bytes(in_attribute: bool, single: bool) -> [u8; 256] {
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
    t[b'\'' as usize] = single as u8;
    t[0xEF] = 1;
    t
}

/// The bytes that need escaping or refusing in an attribute value quoted with `quote`.
#[inline(always)]
pub(super) fn attribute_special(quote: u8) -> &'static [u8; 256] {
    if quote == b'\'' {
        &SINGLE_QUOTED_SPECIAL
    } else {
        &DOUBLE_QUOTED_SPECIAL
    }
}

/// Whether `s` needs no escaping or refusing as text (`in_attribute` false) or as an attribute
/// value in either quote (`'` and `"` both count as special: a value holding one takes the
/// exact path): one 16-byte step for up to 16 bytes, else a branch-free table pass.
#[inline(always)]
pub(super) fn is_clean(s: &str, in_attribute: bool) -> bool {
    if let Some(clean) = scan::writes_verbatim(s.as_bytes(), in_attribute) {
        return clean;
    }
    let special = if in_attribute { &SINGLE_QUOTED_SPECIAL } else { &TEXT_SPECIAL };
    let mut any = 0u8;
    for &b in s.as_bytes() {
        any |= special[b as usize];
    }
    any == 0
}

/// The output: only whole `str`s and ASCII are ever appended, so it is always valid UTF-8.
pub(super) struct Out {
    pub(super) buf: Vec<u8>,
}

impl Out {
    pub(super) fn with_capacity(n: usize) -> Out {
        Out { buf: Vec::with_capacity(n) }
    }

    pub(super) fn into_string(self) -> String {
        // SAFETY: every append copies a whole `&str` or ASCII bytes, so `buf` is valid UTF-8.
        unsafe { String::from_utf8_unchecked(self.buf) }
    }

    #[inline(always)]
    pub(super) fn byte(&mut self, b: u8) {
        debug_assert!(b.is_ascii());
        self.buf.push(b);
    }

    /// Appends `s`; a `str`'s bytes or ASCII only (see [`Out::into_string`]).
    #[inline(always)]
    pub(super) fn put(&mut self, s: &[u8]) {
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

    pub(super) fn str(&mut self, s: &str) {
        self.put(s.as_bytes());
    }

    /// Appends `pre`, `s` and `post` with one capacity check; `pre` and `post` are short ASCII
    /// constants (at most 16 bytes), `s` a `str`'s bytes.
    #[inline(always)]
    pub(super) fn framed(&mut self, pre: &[u8], s: &[u8], post: &[u8]) {
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

    /// Appends ` key=QvalueQ` (`quote` is `'` or `"`) for a value that needs no escaping, with
    /// one capacity check.
    #[inline(always)]
    pub(super) fn attribute(&mut self, key: &[u8], value: &[u8], quote: u8) {
        debug_assert!(quote == b'"' || quote == b'\'');
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
            *p.add(1) = quote;
            p = p.add(2);
            copy_small(value.as_ptr(), p, value.len());
            *p.add(value.len()) = quote;
            self.buf.set_len(len + n);
        }
    }

    /// Appends `value` escaped for an attribute quoted with `quote` (without the quotes).
    #[inline(always)]
    pub(super) fn attribute_value(&mut self, value: &str, quote: Quote, context: &str) -> Result<(), XmlError> {
        if is_clean(value, true) {
            self.put(value.as_bytes());
            Ok(())
        } else {
            self.escaped_slow(value, attribute_special(quote.byte()), context)
        }
    }

    /// Appends `s` escaped for text in the element named `context`.
    #[inline(always)]
    pub(super) fn text(&mut self, s: &str, context: &XmlString) -> Result<(), XmlError> {
        if is_clean(s, false) {
            self.put(s.as_bytes());
            Ok(())
        } else {
            self.escaped_slow(s, &TEXT_SPECIAL, context)
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn escaped_slow(&mut self, s: &str, special: &[u8; 256], context: &str) -> Result<(), XmlError> {
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
                b'\'' => "&apos;",
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

/// Checks content written verbatim (comments, CDATA, processing instructions, prolog nodes):
/// XML characters only, and not the sequence that would end it.
pub(super) fn check_verbatim(s: &str, forbidden: &str, context: &str) -> Result<(), XmlError> {
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
