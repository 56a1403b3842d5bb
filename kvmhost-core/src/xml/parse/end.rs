//! End tags: the name checked against the open element's (quick-xml's own check is off, see
//! `parse_with`), and the element completed with its content and how its end tag was written.

use super::Parser;
use crate::xml::{Element, Node, XmlError, XmlVec};

/// Completes an element at its end tag, whose name ends at `after_name` in `input`: its
/// content, and how it was written where that is not the writer's form (`<a></a>`, `</a >`).
#[inline(always)]
pub(super) fn closed(el: &mut Element, children: XmlVec<Node>, input: &str, after_name: usize) {
    if children.is_empty() {
        el.format_mut().set_expanded(true);
    }
    // The element has no content yet (`element_start` made it with an empty vector, which
    // owns no block): replaced without the out-of-line drop call an assignment makes.
    let none = std::mem::replace(&mut el.children, children);
    debug_assert!(none.capacity() == 0);
    std::mem::forget(none);
    // `</name >`: whitespace before `>` (rare), kept for the writer.
    if input.as_bytes().get(after_name) != Some(&b'>') {
        keep_end_space(el, input, after_name);
    }
}

#[cold]
#[inline(never)]
fn keep_end_space(el: &mut Element, input: &str, after_name: usize) {
    let rest = input.get(after_name..).unwrap_or_default();
    let ws = &rest[..rest.len() - rest.trim_start_matches([' ', '\t', '\r', '\n']).len()];
    el.format_mut().raw_mut().end = Some(ws.into());
}

/// Whether two names are the same bytes: up to 16 bytes in two overlapping word compares
/// each, without a `memcmp` call.
#[inline(always)]
pub(super) fn same_name(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    fn word8(s: &[u8], at: usize) -> u64 {
        u64::from_ne_bytes(s[at..at + 8].try_into().unwrap_or_default())
    }
    fn word4(s: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes(s[at..at + 4].try_into().unwrap_or_default())
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => (word4(a, 0) ^ word4(b, 0)) | (word4(a, n - 4) ^ word4(b, n - 4)) == 0,
        8..=16 => (word8(a, 0) ^ word8(b, 0)) | (word8(a, n - 8) ^ word8(b, n - 8)) == 0,
        _ => a == b,
    }
}

impl<const SHORT: bool> Parser<'_, SHORT> {
    /// The length of the name in an end tag whose name (as quick-xml gives it, `found`) is not
    /// exactly `expected` (the open element's name): whitespace may follow the name; anything
    /// else is an error.
    #[cold]
    #[inline(never)]
    pub(super) fn end_name_spaced(&self, expected: Option<&str>, found: &[u8]) -> Result<usize, XmlError> {
        let len = found.iter().rposition(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n')).map_or(0, |i| i + 1);
        match expected {
            Some(name) if name.as_bytes() == &found[..len] => Ok(len),
            _ => Err(self.mismatched_end(expected.unwrap_or(""), &found[..len])),
        }
    }

    /// The error for an end tag `</found>` where `</expected>` was due (as quick-xml words
    /// it), at the end tag's `<`.
    #[cold]
    #[inline(never)]
    fn mismatched_end(&self, expected: &str, found: &[u8]) -> XmlError {
        let at = self.offset_of(found).saturating_sub(2);
        let found = String::from_utf8_lossy(found);
        self.malformed_at(
            at as u64,
            format!("ill-formed document: expected `</{expected}>`, but `</{found}>` was found"),
        )
    }
}
