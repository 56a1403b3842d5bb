//! Sixteen bytes at a time: byte-class masks for the parser's hot loops (attribute names and
//! values, element names, text), with SSE2 on x86_64 and no fast path elsewhere.
//!
//! Each function looks at the 16 bytes of `input` starting at `at` and returns a bit mask
//! (bit `i` is about byte `at + i`), or `None` when fewer than 16 bytes remain, in which case
//! the caller takes its byte-at-a-time path. Reads never leave `input`: the bytes after the
//! slice the caller is interested in belong to the same document.

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_sub_epi8,
    };

    /// The 16 bytes at `at`, if there are that many.
    #[inline(always)]
    pub(super) fn load(input: &[u8], at: usize) -> Option<__m128i> {
        let block: &[u8; 16] = input.get(at..at.wrapping_add(16))?.try_into().ok()?;
        // SAFETY: `block` is 16 readable bytes; the load has no alignment requirement.
        #[allow(unused_unsafe)]
        Some(unsafe { _mm_loadu_si128(block.as_ptr().cast()) })
    }

    // SAFETY (every `unsafe` below): SSE2 is part of the x86_64 baseline, so these intrinsics
    // are always available; they only compute on registers. (They are `unsafe` to call only
    // on older toolchains.)

    #[inline(always)]
    pub(super) fn eq(v: __m128i, b: u8) -> __m128i {
        #[allow(unused_unsafe)]
        unsafe {
            _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8))
        }
    }

    /// Bytes in `lo..=hi` (unsigned).
    #[inline(always)]
    pub(super) fn in_range(v: __m128i, lo: u8, hi: u8) -> __m128i {
        #[allow(unused_unsafe)]
        unsafe {
            let d = _mm_sub_epi8(v, _mm_set1_epi8(lo as i8));
            _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8((hi - lo) as i8)), d)
        }
    }

    #[inline(always)]
    pub(super) fn or(a: __m128i, b: __m128i) -> __m128i {
        #[allow(unused_unsafe)]
        unsafe {
            _mm_or_si128(a, b)
        }
    }

    #[inline(always)]
    pub(super) fn mask(v: __m128i) -> u32 {
        #[allow(unused_unsafe)]
        unsafe {
            _mm_movemask_epi8(v) as u32
        }
    }

    /// ASCII XML name characters: `A-Z a-z 0-9 _ : - .`.
    #[inline(always)]
    pub(super) fn name_chars(v: __m128i) -> u32 {
        let letters = in_range(or(v, eq_all(0x20)), b'a', b'z');
        let digits_colon = in_range(v, b'0', b':');
        let dash_dot = in_range(v, b'-', b'.');
        mask(or(or(letters, digits_colon), or(dash_dot, eq(v, b'_'))))
    }

    /// Every byte of `s` (1 to 16 bytes) in one vector, some of them repeated: two
    /// overlapping loads, all inside `s`, so no lane holds a byte from outside it.
    #[inline(always)]
    pub(super) fn gather(s: &[u8]) -> __m128i {
        use core::arch::x86_64::_mm_set_epi64x;
        let n = s.len();
        debug_assert!((1..=16).contains(&n));
        let p = s.as_ptr();
        // SAFETY: every read below lies within `s[..n]` (for each length range, the first and
        // last windows start at 0 and end at `n`); unaligned reads are allowed.
        #[allow(unused_unsafe)]
        unsafe {
            let (lo, hi) = if n >= 8 {
                (p.cast::<u64>().read_unaligned(), p.add(n - 8).cast::<u64>().read_unaligned())
            } else if n >= 4 {
                let a = p.cast::<u32>().read_unaligned() as u64;
                let b = p.add(n - 4).cast::<u32>().read_unaligned() as u64;
                let w = a | (b << 32);
                (w, w)
            } else {
                let (a, b, c) = (u64::from(*p), u64::from(*p.add(n / 2)), u64::from(*p.add(n - 1)));
                let w = ((a * 0x0101_0101_0101_0101) & !0xffff) | b | (c << 8);
                (w, w)
            };
            _mm_set_epi64x(hi as i64, lo as i64)
        }
    }

    #[inline(always)]
    fn eq_all(b: u8) -> __m128i {
        #[allow(unused_unsafe)]
        unsafe {
            _mm_set1_epi8(b as i8)
        }
    }
}

/// Bit `i` set where byte `at + i` is an ASCII XML name character (`A-Z a-z 0-9 _ : - .`).
#[inline(always)]
pub(crate) fn name_chars(input: &[u8], at: usize) -> Option<u32> {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::load(input, at).map(sse2::name_chars)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (input, at);
        None
    }
}

/// For an attribute value: bytes equal to `quote`, and bytes that need a closer look (C0
/// controls, `<`, `&`, 0xEF which starts U+FFFE / U+FFFF; `>` and the quote characters, which
/// the writer may spell differently; and `#$%`, which share a range with `"&'`).
#[inline(always)]
pub(crate) fn value_marks(input: &[u8], at: usize, quote: u8) -> Option<(u32, u32)> {
    #[cfg(target_arch = "x86_64")]
    {
        use sse2::{eq, in_range, mask, or};
        let v = sse2::load(input, at)?;
        // `"`, `&` and `'` in one range (with `#$%`, which then take the exact path too).
        let special = or(or(in_range(v, 0, 0x1f), in_range(v, b'"', b'\'')), or(eq(v, b'<'), eq(v, b'>')));
        Some((mask(eq(v, quote)), mask(or(special, eq(v, 0xEF)))))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (input, at, quote);
        None
    }
}

/// For text: bytes that need a closer look (C0 controls other than tab and LF, CR included,
/// 0xEF, and `>`, which the writer spells `&gt;`).
#[inline(always)]
pub(crate) fn text_marks(input: &[u8], at: usize) -> Option<u32> {
    #[cfg(target_arch = "x86_64")]
    {
        use sse2::{eq, in_range, mask, or};
        let v = sse2::load(input, at)?;
        Some(mask(or(or(in_range(v, 0, 0x08), in_range(v, 0x0B, 0x1f)), or(eq(v, 0xEF), eq(v, b'>')))))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (input, at);
        None
    }
}

/// Whether every byte of `s` is an ASCII XML name character; `None` for an empty `s`, one
/// longer than 16 bytes, or without the 16-byte path.
#[inline(always)]
pub(crate) fn all_name_chars(s: &[u8]) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    {
        if s.is_empty() || s.len() > 16 {
            return None;
        }
        Some(sse2::name_chars(sse2::gather(s)) == 0xffff)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = s;
        None
    }
}

/// Whether `s` needs no escaping or refusing when written as text (`in_attribute` false) or
/// as an attribute value in either quote: no C0 control (but tab and LF in text), `<`, `&`,
/// `>`, 0xEF, nor (in attributes) `"`, `'`, tab and LF — nor `#$%`, which share a range with
/// `"&'` (a value holding one takes the exact path). `None` as for [`all_name_chars`].
#[inline(always)]
pub(crate) fn writes_verbatim(s: &[u8], in_attribute: bool) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    {
        use sse2::{eq, in_range, mask, or};
        if s.is_empty() || s.len() > 16 {
            return None;
        }
        let v = sse2::gather(s);
        let angles = or(or(eq(v, b'<'), eq(v, b'>')), eq(v, 0xEF));
        let special = if in_attribute {
            // `"`, `&` and `'` in one range (with `#$%`, which then take the exact path too).
            or(or(in_range(v, 0, 0x1f), in_range(v, b'"', b'\'')), angles)
        } else {
            or(or(in_range(v, 0, 0x08), in_range(v, 0x0B, 0x1f)), or(angles, eq(v, b'&')))
        };
        Some(mask(special) == 0)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (s, in_attribute);
        None
    }
}

/// Bits `0..n` set (`n` at most 32).
#[inline(always)]
pub(crate) fn low_bits(n: usize) -> u32 {
    if n >= 32 {
        u32::MAX
    } else {
        (1u32 << n) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_the_byte_tables() {
        let mut input: Vec<u8> = (0u8..=255).collect();
        input.extend_from_slice(&[b'x'; 16]);
        for at in 0..256 {
            let Some(names) = name_chars(&input, at) else { continue };
            let (quotes, special) = value_marks(&input, at, b'"').unwrap();
            let text = text_marks(&input, at).unwrap();
            for i in 0..16 {
                let b = input[at + i];
                assert_eq!(names >> i & 1 == 1, crate::xml::ASCII_NAME_CHAR[b as usize], "name byte {b:#x}");
                assert_eq!(quotes >> i & 1 == 1, b == b'"', "quote byte {b:#x}");
                let want = b < 0x20 || b"<&>\"'#$%\xEF".contains(&b);
                assert_eq!(special >> i & 1 == 1, want, "value byte {b:#x}");
                let want = (b < 0x20 && b != b'\t' && b != b'\n') || b == 0xEF || b == b'>';
                assert_eq!(text >> i & 1 == 1, want, "text byte {b:#x}");
            }
        }
        assert!(name_chars(b"short", 0).is_none());
        #[cfg(target_arch = "x86_64")]
        for n in 1..=16 {
            for at in 0..n {
                for b in 0u8..=255 {
                    let mut s = vec![b'a'; n];
                    s[at] = b;
                    let name_ok = crate::xml::ASCII_NAME_CHAR[b as usize];
                    assert_eq!(all_name_chars(&s), Some(name_ok), "name {s:?}");
                    let text_ok = !((b < 0x20 && b != b'\t' && b != b'\n') || b"<&>\xEF".contains(&b));
                    assert_eq!(writes_verbatim(&s, false), Some(text_ok), "text {s:?}");
                    let attr_ok = !(b < 0x20 || b"<&>\"'#$%\xEF".contains(&b));
                    assert_eq!(writes_verbatim(&s, true), Some(attr_ok), "attribute {s:?}");
                }
            }
        }
        assert_eq!(all_name_chars(b""), None);
        assert_eq!(writes_verbatim(&[b'a'; 17], true), None);
        assert_eq!(low_bits(3), 0b111);
        assert_eq!(low_bits(40), u32::MAX);
    }
}
