//! Decoding attribute values and text: byte classes, whitespace normalisation, references.

use super::{check_xml_chars, XmlString};

/// Decodes an attribute value whose bytes have the classes `flags`, taking the slow paths
/// (character check, whitespace normalisation, references) only when the value needs them.
#[inline(always)]
pub(super) fn attribute_value(raw: &str, flags: u8) -> Result<XmlString, String> {
    if flags == 0 {
        return Ok(XmlString::from(raw));
    }
    attribute_value_slow(raw, flags)
}

#[cold]
#[inline(never)]
fn attribute_value_slow(raw: &str, flags: u8) -> Result<XmlString, String> {
    if flags & CLASS_SUSPECT != 0 {
        if let Err(c) = check_xml_chars(raw) {
            return Err(format!("character U+{:04X} is not allowed in XML", c as u32));
        }
        if raw.contains('<') {
            return Err("'<' is not allowed in an attribute value (write &lt;)".to_string());
        }
    }
    if flags & (CLASS_WHITESPACE | CLASS_CR) != 0 {
        return unescape(&normalize_attribute_whitespace(raw));
    }
    if flags & CLASS_AMP != 0 {
        return unescape(raw);
    }
    Ok(XmlString::from(raw))
}

pub(super) const CLASS_SUSPECT: u8 = 1;
pub(super) const CLASS_WHITESPACE: u8 = 2;
pub(super) const CLASS_AMP: u8 = 4;
pub(super) const CLASS_CR: u8 = 8;
pub(super) const CLASS_GT: u8 = 16;
pub(super) const CLASS_QUOTE: u8 = 32;

/// Byte classes for [`classify`]: control characters, `<` and 0xEF (which starts U+FFFE/U+FFFF)
/// are suspect, tab and LF are whitespace, CR is its own class, `&` starts a reference; `>`
/// and the quote characters are read as they are, but the writer may spell them differently.
pub(super) const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = CLASS_SUSPECT;
        i += 1;
    }
    t[b'\t' as usize] = CLASS_WHITESPACE;
    t[b'\n' as usize] = CLASS_WHITESPACE;
    t[b'\r' as usize] = CLASS_CR;
    t[b'&' as usize] = CLASS_AMP;
    t[0xEF] = CLASS_SUSPECT;
    t[b'<' as usize] = CLASS_SUSPECT;
    t[b'>' as usize] = CLASS_GT;
    t[b'"' as usize] = CLASS_QUOTE;
    t[b'\'' as usize] = CLASS_QUOTE;
    t
};

/// The union of the byte classes in `bytes` (a branch-free pass).
pub(super) fn classify(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |acc, &b| acc | CLASSES[b as usize])
}

/// Attribute-value normalisation (XML 1.0 §3.3.3): literal line ends and tabs become spaces.
fn normalize_attribute_whitespace(raw: &str) -> std::borrow::Cow<'_, str> {
    if !raw.bytes().any(|b| matches!(b, b'\n' | b'\r' | b'\t')) {
        return raw.into();
    }
    raw.replace("\r\n", " ").replace(['\n', '\r', '\t'], " ").into()
}

/// Resolves one entity or character reference body (`amp`, `#38`, `#x26`).
pub(super) fn resolve_reference(name: &str) -> Result<char, String> {
    Ok(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let num = name.strip_prefix('#').ok_or_else(|| format!("unknown entity &{};", shown(name)))?;
            let code = match num.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16),
                None => num.parse::<u32>(),
            }
            .map_err(|_| format!("bad character reference &{};", shown(name)))?;
            char::from_u32(code)
                .filter(|c| super::is_xml_char(*c))
                .ok_or_else(|| format!("character reference &{}; is not an XML character", shown(name)))?
        }
    })
}

/// `name` for an error message: cut after 40 characters.
pub(super) fn shown(name: &str) -> std::borrow::Cow<'_, str> {
    match name.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &name[..cut]).into(),
        None => name.into(),
    }
}

/// Unescapes entity and character references in an attribute value.
fn unescape(raw: &str) -> Result<XmlString, String> {
    if !raw.contains('&') {
        return Ok(XmlString::from(raw));
    }
    let mut out = XmlString::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';').ok_or_else(|| "unterminated reference".to_string())?;
        out.push(resolve_reference(&after[..semi])?);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether the writer writes `value` as exactly `raw`: as an attribute value quoted with
/// `quote`, or as text (`quote` `None`). (The parser keeps the form as read only where not.)
pub(super) fn escapes_to(value: &str, raw: &str, quote: Option<u8>) -> bool {
    let mut rest = raw.as_bytes();
    for b in value.as_bytes() {
        let spelled: &[u8] = match (b, quote) {
            (b'<', _) => b"&lt;",
            (b'&', _) => b"&amp;",
            (b'>', _) => b"&gt;",
            (b'\r', _) => b"&#13;",
            (b'"', Some(_)) => b"&quot;",
            (b'\'', Some(b'\'')) => b"&apos;",
            (b'\n', Some(_)) => b"&#10;",
            (b'\t', Some(_)) => b"&#9;",
            _ => std::slice::from_ref(b),
        };
        match rest.strip_prefix(spelled) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// Decodes text as written between tags (line ends read as LF, references resolved), refusing
/// what a parser would refuse there (`<`, `]]>`, characters XML cannot carry, bad references).
pub(super) fn text_value(raw: &str) -> Result<String, String> {
    if let Err(c) = check_xml_chars(raw) {
        return Err(format!("character U+{:04X} is not allowed in XML", c as u32));
    }
    if raw.contains('<') || raw.contains("]]>") {
        return Err("'<' or ']]>' in text".to_string());
    }
    let text = raw.replace("\r\n", "\n").replace('\r', "\n");
    unescape(&text).map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_spellings() {
        assert!(escapes_to("a'b\"c", "a&apos;b&quot;c", Some(b'\'')));
        assert!(escapes_to("a'b\"c", "a'b&quot;c", Some(b'"')));
        assert!(!escapes_to("a'b", "a'b", Some(b'\'')));
        assert!(escapes_to("x\ny\t<&>\r", "x&#10;y&#9;&lt;&amp;&gt;&#13;", Some(b'"')));
        assert!(!escapes_to("x y", "x\ty", Some(b'"')));
        assert!(escapes_to("it's \"q\"\n\t<&>\r", "it's \"q\"\n\t&lt;&amp;&gt;&#13;", None));
        assert!(!escapes_to("a>", "a>", None));
        assert!(!escapes_to("ab", "a", None) && !escapes_to("a", "ab", None));
    }

    #[test]
    fn text_values() {
        assert_eq!(text_value("a&apos;b\r\nc&#13;&gt;>").unwrap(), "a'b\nc\r>>");
        for bad in ["a<b", "a]]>b", "&bogus;", "&#0;", "a\u{1}"] {
            assert!(text_value(bad).is_err(), "{bad:?}");
        }
    }
}
