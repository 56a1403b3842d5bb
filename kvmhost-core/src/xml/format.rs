//! How an element was written where XML leaves the writer a choice: the quote character around
//! attribute values, `<a></a>` for an empty element, and — for the rare element written in a
//! way the writer would not reproduce by itself — its start tag, end tag and text as read.
//!
//! Like toml_edit's "repr", this is what makes an unedited document write back byte for byte.
//! It costs one word per element: nothing is allocated for an element whose tag the writer
//! reproduces from its quote style (every element of a document libvirt wrote); the raw forms
//! sit in a heap block only for the others. The raw forms are never trusted when written: the
//! writer checks each against the current name, attributes and text, and writes the canonical
//! form wherever they no longer match (see `write/raw.rs`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The quote character around attribute values.
///
/// ```
/// use kvmhost_core::xml::{Document, Quote};
/// let d = Document::parse("<domain type='kvm'/>").unwrap();
/// assert_eq!(d.root.quote_style(), Some(Quote::Single));
/// assert_eq!(d.quote_style(), Quote::Single);
/// assert_eq!(Quote::Single.char(), '\'');
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quote {
    /// `"`: what the writer uses when nothing else is known.
    #[default]
    Double,
    /// `'`: what libvirt writes.
    Single,
}

impl Quote {
    /// The quote character.
    pub fn char(self) -> char {
        self.byte() as char
    }

    pub(crate) fn byte(self) -> u8 {
        match self {
            Quote::Double => b'"',
            Quote::Single => b'\'',
        }
    }

    pub(crate) fn from_byte(b: u8) -> Quote {
        if b == b'\'' {
            Quote::Single
        } else {
            Quote::Double
        }
    }
}

const SINGLE: u8 = 1;
const DOUBLE: u8 = 2;
const QUOTE_BITS: u8 = SINGLE | DOUBLE;
const EXPANDED: u8 = 4;
/// Set exactly when the element owns a [`RawFormat`] block: raw forms may be recorded.
const RAW: u8 = 8;
/// The flag bits, kept in the low bits of the block pointer (blocks are 16-byte aligned).
const FLAG_BITS: usize = 15;

/// The forms of one element that its quote style does not give: kept in a heap block only for
/// elements that need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[repr(align(16))]
pub(crate) struct RawFormat {
    /// The start tag after the element name, up to (not including) `>` or `/>`: attributes
    /// and whitespace as read.
    pub(crate) start: Option<Box<str>>,
    /// The whitespace between the end tag's name and its `>`.
    pub(crate) end: Option<Box<str>>,
    /// Text children as read (references, line ends) where the writer would write them
    /// differently: each one's index in `children`, in increasing order.
    pub(crate) texts: Vec<(usize, Box<str>)>,
}

/// An element's format in one word: the flags (quote style, `<a></a>`, [`RAW`]) in the low four
/// bits, so that reading them is one load and a mask, and above them the address of an owned
/// heap block (a `Box<RawFormat>`, 16-byte aligned) when raw forms are kept, else zero. A null
/// pointer is [`Format::PLAIN`]: nothing recorded.
pub(crate) struct Format(*mut RawFormat);

// SAFETY: a `Format` owns its `Box<RawFormat>` (if any) like a `Box` does; `RawFormat` is `Send`
// and `Sync`.
unsafe impl Send for Format {}
// SAFETY: as above; shared access only reads.
unsafe impl Sync for Format {}

/// `p` (null, or a 16-byte aligned block) with `flags` (below 16) in its low bits: pointer
/// arithmetic, so that a block pointer keeps its provenance.
#[inline(always)]
const fn tagged(p: *mut RawFormat, flags: u8) -> *mut RawFormat {
    p.cast::<u8>().wrapping_add(flags as usize).cast()
}

/// [`tagged`] undone: the pointer with `flags` (its low bits) taken off.
#[inline(always)]
fn untagged(p: *mut RawFormat, flags: u8) -> *mut RawFormat {
    p.cast::<u8>().wrapping_sub(flags as usize).cast()
}

impl Format {
    pub(crate) const PLAIN: Format = Format(std::ptr::null_mut());

    /// A format with only `flags` (no block).
    #[inline(always)]
    const fn flagged(flags: u8) -> Format {
        Format(tagged(std::ptr::null_mut(), flags & 7))
    }

    /// A format with the given quote style and empty-element form (no allocation).
    #[inline(always)]
    #[cfg(test)]
    pub(crate) fn inline(quote: Option<Quote>, expanded: bool) -> Format {
        let bits = match quote {
            Some(Quote::Single) => SINGLE,
            Some(Quote::Double) => DOUBLE,
            None => 0,
        } | if expanded { EXPANDED } else { 0 };
        Format::flagged(bits)
    }

    /// A format with the given quote style (no allocation).
    #[inline(always)]
    pub(crate) fn quoted(quote: Quote) -> Format {
        Format::flagged(if quote == Quote::Single { SINGLE } else { DOUBLE })
    }

    /// Everything the writer needs to know first, without a memory access: see [`Bits`].
    #[inline(always)]
    pub(crate) fn bits(&self) -> Bits {
        Bits(self.flags())
    }

    /// The recorded forms, if any.
    #[inline(always)]
    pub(crate) fn get(&self) -> Option<&RawFormat> {
        // SAFETY: a non-null block pointer is a box owned by `self`, borrowed with `self`.
        self.owned().map(|p| unsafe { &*p })
    }

    /// Whether nothing is recorded.
    pub(crate) fn is_plain(&self) -> bool {
        self.0.is_null()
    }

    #[inline(always)]
    fn flags(&self) -> u8 {
        (self.0 as usize & FLAG_BITS) as u8
    }

    /// The owned block, if any.
    #[inline(always)]
    fn owned(&self) -> Option<*mut RawFormat> {
        let p = untagged(self.0, self.flags());
        (!p.is_null()).then_some(p)
    }

    fn set_flags(&mut self, flags: u8) {
        let raw = if self.owned().is_some() { RAW } else { 0 };
        self.0 = tagged(self.owned().unwrap_or(std::ptr::null_mut()), (flags & 7) | raw);
    }

    /// The recorded forms, mutably: moved to an owned heap block first if need be.
    pub(crate) fn raw_mut(&mut self) -> &mut RawFormat {
        let p = match self.owned() {
            Some(p) => p,
            None => {
                let p = Box::into_raw(Box::new(RawFormat::default()));
                let flags = self.flags() | RAW;
                self.0 = tagged(p, flags);
                p
            }
        };
        // SAFETY: `p` is the box owned by `self`, borrowed mutably with `self`.
        unsafe { &mut *p }
    }

    #[inline(always)]
    pub(crate) fn quote(&self) -> Option<Quote> {
        self.bits().quote()
    }

    pub(crate) fn set_quote(&mut self, quote: Option<Quote>) {
        let bits = match quote {
            Some(Quote::Single) => SINGLE,
            Some(Quote::Double) => DOUBLE,
            None => 0,
        };
        self.set_flags(self.flags() & !QUOTE_BITS | bits);
    }

    #[inline(always)]
    pub(crate) fn expanded(&self) -> bool {
        self.bits().expanded()
    }

    #[inline(always)]
    pub(crate) fn set_expanded(&mut self, expanded: bool) {
        self.set_flags(if expanded { self.flags() | EXPANDED } else { self.flags() & !EXPANDED });
    }
}

/// An element's quote style, empty-element form and whether it has raw forms.
#[derive(Clone, Copy)]
pub(crate) struct Bits(u8);

impl Bits {
    #[inline(always)]
    pub(crate) fn quote(self) -> Option<Quote> {
        match self.0 & QUOTE_BITS {
            SINGLE => Some(Quote::Single),
            DOUBLE => Some(Quote::Double),
            _ => None,
        }
    }

    #[inline(always)]
    pub(crate) fn expanded(self) -> bool {
        self.0 & EXPANDED != 0
    }

    /// The quote character of the element's attributes in a document quoting with `doc`: its
    /// own if it has one (a shift of a constant, no branch).
    #[inline(always)]
    pub(crate) fn quote_byte(self, doc: u8) -> u8 {
        // By the quote bits: none (the document's), single, double (3 does not occur).
        let table = u32::from_le_bytes([doc, b'\'', b'"', doc]);
        (table >> ((self.0 & QUOTE_BITS) * 8)) as u8
    }

    /// Whether anything but the quote style is recorded (raw forms or the `<a></a>` form).
    #[inline(always)]
    pub(crate) fn kept(self) -> bool {
        self.0 & (RAW | EXPANDED) != 0
    }

    /// Whether raw forms may be recorded ([`Format::get`] is worth looking at).
    #[inline(always)]
    pub(crate) fn raw(self) -> bool {
        self.0 & RAW != 0
    }
}

impl Default for Format {
    fn default() -> Format {
        Format::PLAIN
    }
}

impl Drop for Format {
    #[inline(always)]
    fn drop(&mut self) {
        // One comparison: flags alone are at most `FLAG_BITS`.
        if self.0 as usize > FLAG_BITS {
            free_raw(untagged(self.0, self.flags()));
        }
    }
}

/// Frees an owned format block (rare: only elements written unusually have one), out of line so
/// that dropping a `Format` is a test the compiler inlines.
#[cold]
#[inline(never)]
fn free_raw(p: *mut RawFormat) {
    // SAFETY: an owned pointer came from `Box::into_raw` in `raw_mut` and is dropped once.
    drop(unsafe { Box::from_raw(p) });
}

impl Clone for Format {
    fn clone(&self) -> Format {
        match self.get() {
            Some(raw) => {
                let p = Box::into_raw(Box::new(raw.clone()));
                let flags = self.flags();
                Format(tagged(p, flags))
            }
            None => Format(self.0),
        }
    }
}

impl std::fmt::Debug for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_plain() {
            return f.write_str("Plain");
        }
        f.debug_struct("Format")
            .field("quote", &self.quote())
            .field("expanded", &self.expanded())
            .field("raw", &self.get())
            .finish()
    }
}

/// The serialised form of a [`Format`] (omitted from an element's serialisation when nothing is
/// recorded).
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct FormatRepr {
    #[serde(skip_serializing_if = "Option::is_none")]
    quote: Option<Quote>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    expanded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    texts: Vec<(usize, String)>,
}

impl Serialize for Format {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw = self.get();
        FormatRepr {
            quote: self.quote(),
            expanded: self.expanded(),
            start: raw.and_then(|r| r.start.as_deref()).map(str::to_string),
            end: raw.and_then(|r| r.end.as_deref()).map(str::to_string),
            texts: raw.map(|r| r.texts.iter().map(|(i, t)| (*i, t.to_string())).collect()).unwrap_or_default(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Format {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Whatever arrives here is checked again when written, like any raw form.
        let repr = FormatRepr::deserialize(d)?;
        let mut f = Format::PLAIN;
        f.set_quote(repr.quote);
        f.set_expanded(repr.expanded);
        if repr.start.is_some() || repr.end.is_some() || !repr.texts.is_empty() {
            let raw = f.raw_mut();
            raw.start = repr.start.map(String::into_boxed_str);
            raw.end = repr.end.map(String::into_boxed_str);
            raw.texts = repr.texts.into_iter().map(|(i, t)| (i, t.into_boxed_str())).collect();
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_need_no_allocation_and_raw_forms_keep_them() {
        let mut f = Format::PLAIN;
        assert!(f.is_plain());
        f.set_quote(Some(Quote::Single));
        f.set_expanded(true);
        assert!(f.owned().is_none(), "flags need no block");
        assert_eq!((f.quote(), f.expanded()), (Some(Quote::Single), true));
        f.raw_mut().start = Some(" x = '1'".into());
        assert!(f.owned().is_some());
        assert_eq!((f.quote(), f.expanded()), (Some(Quote::Single), true));
        let g = f.clone();
        assert_eq!(g.get(), f.get());
        assert_ne!(g.owned(), f.owned(), "a clone owns its own block");
        f.set_expanded(false);
        assert!(!f.expanded() && g.expanded());
        f.set_quote(None);
        assert!(!f.is_plain(), "the raw forms are still there");
        assert!(f.bits().raw() && f.bits().quote().is_none());
        let mut h = Format::PLAIN;
        h.set_quote(Some(Quote::Double));
        assert!(!h.bits().raw());
        h.set_quote(None);
        assert!(h.is_plain());
        let i = Format::inline(Some(Quote::Single), true);
        assert_eq!((i.quote(), i.expanded(), i.bits().raw()), (Some(Quote::Single), true, false));
        assert!(Format::inline(None, false).is_plain());
    }

    #[test]
    fn serde_round_trip() {
        let mut f = Format::PLAIN;
        f.set_quote(Some(Quote::Double));
        f.raw_mut().texts.push((2, "a&apos;b".into()));
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, r#"{"quote":"double","texts":[[2,"a&apos;b"]]}"#);
        let back: Format = serde_json::from_str(&json).unwrap();
        assert_eq!(back.get(), f.get());
        assert_eq!(serde_json::to_string(&Format::PLAIN).unwrap(), "{}");
    }
}
