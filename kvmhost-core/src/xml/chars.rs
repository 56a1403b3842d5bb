//! Which characters and names XML 1.0 allows.

/// Whether `c` may appear in XML 1.0 content.
///
/// ```
/// use kvmhost_core::xml::is_xml_char;
/// assert!(is_xml_char('é'));
/// assert!(!is_xml_char('\u{0}'));
/// assert!(!is_xml_char('\u{FFFE}'));
/// ```
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Whether `s` is only XML white space (space, tab, CR, LF: the `S` production; U+00A0 and
/// the other Unicode spaces are content).
pub(crate) fn is_xml_whitespace(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// ASCII bytes that may start an XML name (`A-Z a-z _ :`).
pub(crate) const ASCII_NAME_START: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphabetic() || c == b'_' || c == b':';
        i += 1;
    }
    t
};

/// ASCII bytes that may continue an XML name (start bytes, digits, `-`, `.`).
pub(crate) const ASCII_NAME_CHAR: [bool; 256] = {
    let mut t = ASCII_NAME_START;
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = t[i] || c.is_ascii_digit() || c == b'-' || c == b'.';
        i += 1;
    }
    t
};

fn is_name_start_char(c: char) -> bool {
    c.is_ascii_alphabetic()
        || matches!(c, ':' | '_' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
            | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}'
            | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
            | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || c.is_ascii_digit()
        || matches!(c, '-' | '.' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Checks that `name` is an XML 1.0 `Name` (element and attribute names, `qemu:arg` included).
/// The error is the first character that is not allowed where it stands, or `None` for an
/// empty name.
///
/// ```
/// use kvmhost_core::xml::check_xml_name;
/// assert!(check_xml_name("qemu:commandline").is_ok());
/// assert!(check_xml_name("on_poweroff").is_ok());
/// assert_eq!(check_xml_name("a=b"), Err(Some('=')));
/// assert_eq!(check_xml_name("1a"), Err(Some('1')));
/// assert_eq!(check_xml_name(""), Err(None));
/// ```
pub fn check_xml_name(name: &str) -> Result<(), Option<char>> {
    let b = name.as_bytes();
    if b.first().is_some_and(|c| ASCII_NAME_START[*c as usize]) && b.iter().all(|c| ASCII_NAME_CHAR[*c as usize]) {
        return Ok(());
    }
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(None),
        Some(c) if !is_name_start_char(c) => return Err(Some(c)),
        Some(_) => {}
    }
    match chars.find(|c| !is_name_char(*c)) {
        Some(c) => Err(Some(c)),
        None => Ok(()),
    }
}

/// Checks that every character of `s` can be carried by XML 1.0.
///
/// ```
/// use kvmhost_core::xml::check_xml_chars;
/// assert!(check_xml_chars("vm <&\"'> ✓").is_ok());
/// assert_eq!(check_xml_chars("a\u{7}").unwrap_err(), '\u{7}');
/// ```
pub fn check_xml_chars(s: &str) -> Result<(), char> {
    // One pass over the bytes: in valid UTF-8 the only characters XML 1.0 excludes are the C0
    // controls other than tab and line ends, and U+FFFE / U+FFFF (EF BF BE / EF BF BF).
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r') {
            return Err(b as char);
        }
        if b == 0xEF && bytes.get(i + 1) == Some(&0xBF) {
            match bytes.get(i + 2) {
                Some(0xBE) => return Err('\u{FFFE}'),
                Some(0xBF) => return Err('\u{FFFF}'),
                _ => {}
            }
        }
    }
    Ok(())
}
