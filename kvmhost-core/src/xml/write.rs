//! Writing the [`Document`] tree back to text.
//!
//! Attributes are written with double quotes; `<`, `&`, `"` and (in attributes) tab and line
//! ends are escaped so that a conforming parser reads back exactly the stored values.

use super::{check_xml_chars, check_xml_name, is_xml_char, Document, Element, Node, XmlError};

fn invalid(c: char, context: &str) -> XmlError {
    XmlError::InvalidCharacter { character: c, context: context.to_string() }
}

fn check_name(name: &str) -> Result<(), XmlError> {
    check_xml_name(name).map_err(|bad| match bad {
        Some(c) => invalid(c, &format!("name {name:?}")),
        None => XmlError::InvalidName { name: String::new() },
    })
}

/// Bytes that need escaping or refusing in text: `<`, `&`, `>`, CR, the other C0 controls but
/// tab and LF, and 0xEF (which starts U+FFFE / U+FFFF).
const TEXT_SPECIAL: [bool; 256] = special_bytes(false);
/// Bytes that need escaping or refusing in attribute values: those of text, `"`, tab and LF.
const ATTRIBUTE_SPECIAL: [bool; 256] = special_bytes(true);

const fn special_bytes(in_attribute: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = in_attribute || (i != b'\t' as usize && i != b'\n' as usize);
        i += 1;
    }
    t[b'<' as usize] = true;
    t[b'&' as usize] = true;
    t[b'>' as usize] = true;
    t[b'"' as usize] = in_attribute;
    t[0xEF] = true;
    t
}

fn escape_into(out: &mut String, s: &str, in_attribute: bool, context: &str) -> Result<(), XmlError> {
    // One pass: every character that needs escaping or refusing starts with an ASCII byte
    // or 0xEF (U+FFFE / U+FFFF), so byte positions of the others are char boundaries.
    let special = if in_attribute { &ATTRIBUTE_SPECIAL } else { &TEXT_SPECIAL };
    let bytes = s.as_bytes();
    let Some(first) = bytes.iter().position(|b| special[*b as usize]) else {
        out.push_str(s);
        return Ok(());
    };
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        if !special[b as usize] {
            continue;
        }
        let rep = match b {
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
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
    Ok(())
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

fn write_node(out: &mut String, node: &Node, parent: &str) -> Result<(), XmlError> {
    match node {
        Node::Element(e) => write_element(out, e)?,
        Node::Text(t) => escape_into(out, t, false, parent)?,
        Node::CData(t) => {
            check_verbatim(t, "]]>", "CDATA")?;
            out.push_str("<![CDATA[");
            out.push_str(t);
            out.push_str("]]>");
        }
        Node::Comment(t) => {
            check_verbatim(t, "--", "comment")?;
            out.push_str("<!--");
            out.push_str(t);
            out.push_str("-->");
        }
        Node::ProcessingInstruction(t) => {
            check_verbatim(t, "?>", "processing instruction")?;
            out.push_str("<?");
            out.push_str(t);
            out.push_str("?>");
        }
        Node::DocType(t) => {
            check_verbatim(t, "<!DOCTYPE", "DOCTYPE")?;
            out.push_str("<!DOCTYPE ");
            out.push_str(t.trim_start());
            out.push('>');
        }
        Node::Declaration(t) => {
            check_verbatim(t, "?>", "XML declaration")?;
            out.push_str("<?");
            out.push_str(t);
            out.push_str("?>");
        }
    }
    Ok(())
}

fn write_element(out: &mut String, e: &Element) -> Result<(), XmlError> {
    check_name(&e.name)?;
    out.push('<');
    out.push_str(&e.name);
    for a in &e.attributes {
        check_name(&a.name)?;
        out.push(' ');
        out.push_str(&a.name);
        out.push_str("=\"");
        escape_into(out, &a.value, true, &a.name)?;
        out.push('"');
    }
    if e.children.is_empty() {
        out.push_str("/>");
        return Ok(());
    }
    out.push('>');
    for c in &e.children {
        write_node(out, c, &e.name)?;
    }
    out.push_str("</");
    out.push_str(&e.name);
    out.push('>');
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

fn write_pretty(out: &mut String, e: &Element, depth: usize) -> Result<(), XmlError> {
    if !element_only(e) {
        return write_element(out, e);
    }
    let mut shallow = Element { name: e.name.clone(), attributes: e.attributes.clone(), children: Vec::new() };
    shallow.children.push(Node::Text(super::XmlString::default()));
    let mut open = String::new();
    write_element(&mut open, &shallow)?;
    out.push_str(&open[..open.len() - e.name.len() - 3]);
    for n in e.children.iter().filter(|n| !matches!(n, Node::Text(_))) {
        out.push('\n');
        out.push_str(&"  ".repeat(depth + 1));
        match n {
            Node::Element(c) => write_pretty(out, c, depth + 1)?,
            other => write_node(out, other, &e.name)?,
        }
    }
    out.push('\n');
    out.push_str(&"  ".repeat(depth));
    out.push_str("</");
    out.push_str(&e.name);
    out.push('>');
    Ok(())
}

/// Writes the document re-indented with two spaces where elements hold only elements;
/// text content is left exactly as it is.
pub(crate) fn write_document_pretty(doc: &Document) -> Result<String, XmlError> {
    let mut out = String::new();
    write_pretty(&mut out, &doc.root, 0)?;
    out.push('\n');
    Ok(out)
}

pub(crate) fn write_document(doc: &Document) -> Result<String, XmlError> {
    let mut out = String::with_capacity(8192);
    for n in &doc.prolog {
        write_node(&mut out, n, "prolog")?;
    }
    write_element(&mut out, &doc.root)?;
    for n in &doc.epilog {
        write_node(&mut out, n, "epilog")?;
    }
    Ok(out)
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
