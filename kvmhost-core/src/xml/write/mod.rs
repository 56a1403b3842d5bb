//! Writing the [`Document`] tree back to text.
//!
//! Each element's attributes are written with its quote character (its own, else the
//! document's); `<`, `&`, `>`, the quote characters and (in attributes) tab and line ends are
//! escaped so that a conforming parser reads back exactly the stored values. Where the parser
//! kept how an element was written (`RawFormat`: unusual whitespace inside tags,
//! mixed quotes, references the writer would spell differently), that text is written instead
//! of the canonical one — but only where it still reads back as the current name, value or text
//! (see [`raw`]): a raw form never outlives an edit.
//!
//! The tree is walked with an explicit stack (no recursion per nesting level), and the common
//! case is kept short (see [`out`]).

mod out;
mod raw;

use out::{attribute_special, check_name, check_verbatim, invalid, is_clean, Out};

use super::{Document, Element, Node, Quote, XmlError};

/// What follows a start tag.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    /// Nothing: the element was written whole.
    Closed,
    /// Content, written the writer's way.
    Plain,
    /// Content of an element with kept formatting ([`write_content_kept`]).
    Kept,
}

/// Writes `e`'s start tag (`<name attr='v'...` and `>`); for an element without content the
/// whole element (`/>`, or `></name>` if it was read so). `RAW` says whether kept formatting is
/// written (false for pretty printing).
#[inline(always)]
fn start_tag<const RAW: bool>(out: &mut Out, e: &Element, dq: u8) -> Result<Open, XmlError> {
    let name = e.name.as_str();
    check_name(name)?;
    out.framed(b"<", name.as_bytes(), b"");
    let bits = e.format().bits();
    if RAW && bits.kept() {
        return Ok(if start_tag_kept(out, e, dq)? { Open::Kept } else { Open::Closed });
    }
    for a in &e.attributes {
        let q = bits.quote_byte(dq);
        let (key, value) = (a.name.as_str(), a.value.as_str());
        check_name(key)?;
        if is_clean(value, true) {
            out.attribute(key.as_bytes(), value.as_bytes(), q);
        } else {
            out.framed(b" ", key.as_bytes(), b"=");
            out.byte(q);
            out.escaped_slow(value, attribute_special(q), key)?;
            out.byte(q);
        }
    }
    if e.children.is_empty() {
        out.framed(b"", b"/>", b"");
        return Ok(Open::Closed);
    }
    out.byte(b'>');
    Ok(Open::Plain)
}

/// [`start_tag`] for an element with kept formatting: its tag as read (checked, see [`raw`]),
/// or written `<a></a>` when empty.
#[cold]
#[inline(never)]
fn start_tag_kept(out: &mut Out, e: &Element, dq: u8) -> Result<bool, XmlError> {
    let quote = e.format().quote().unwrap_or(Quote::from_byte(dq));
    match e.format().get().and_then(|r| r.start.as_deref()) {
        Some(raw) => raw::write_attributes(out, &e.attributes, raw, quote)?,
        None => {
            for a in &e.attributes {
                check_name(&a.name)?;
                out.framed(b" ", a.name.as_bytes(), b"=");
                out.byte(quote.byte());
                out.attribute_value(&a.value, quote, &a.name)?;
                out.byte(quote.byte());
            }
        }
    }
    if e.children.is_empty() {
        if e.format().expanded() {
            out.byte(b'>');
            end_tag::<true>(out, e);
        } else {
            out.framed(b"", b"/>", b"");
        }
        return Ok(false);
    }
    out.byte(b'>');
    Ok(true)
}

/// `</name>`, with the whitespace before `>` it was read with.
#[inline(always)]
fn end_tag<const RAW: bool>(out: &mut Out, e: &Element) {
    let name = e.name.as_bytes();
    if RAW && e.format().bits().raw() {
        if let Some(ws) = e.format().get().and_then(|r| r.end.as_deref()).filter(|ws| raw::is_whitespace(ws)) {
            out.framed(b"</", name, b"");
            out.str(ws);
            out.byte(b'>');
            return;
        }
    }
    out.framed(b"</", name, b">");
}

/// Element content nests this deep in the writer by plain recursion (the cheapest way to walk
/// the few levels of real documents); deeper content is written with an explicit stack.
const WRITE_RECURSION: usize = 64;

/// Writes `root` and everything in it.
fn write_tree<const RAW: bool>(out: &mut Out, root: &Element, dq: u8) -> Result<(), XmlError> {
    match start_tag::<RAW>(out, root, dq)? {
        Open::Closed => {}
        Open::Plain => write_content::<RAW>(out, root, dq, 0)?,
        Open::Kept => write_content_kept(out, root, dq, 0)?,
    }
    Ok(())
}

/// The texts of `e` kept as read, if any (rare: most elements have none).
#[inline(always)]
fn kept_texts<const RAW: bool>(e: &Element) -> Option<&[(usize, Box<str>)]> {
    if RAW && e.format().bits().raw() {
        e.format().get().map(|r| r.texts.as_slice()).filter(|t| !t.is_empty())
    } else {
        None
    }
}

/// Writes a text child of `e` (number `index`).
#[inline(always)]
fn text<const RAW: bool>(
    out: &mut Out,
    t: &str,
    e: &Element,
    index: usize,
    texts: Option<&[(usize, Box<str>)]>,
) -> Result<(), XmlError> {
    match texts {
        Some(texts) => raw::write_text(out, t, index, texts, &e.name),
        None => out.text(t, &e.name),
    }
}

/// Writes the content and end tag of `e`, whose start tag is written (and said
/// [`Open::Plain`]) and which sits `depth` levels down: recursively for the first
/// [`WRITE_RECURSION`] levels, then with [`write_deep_content`].
fn write_content<const RAW: bool>(out: &mut Out, e: &Element, dq: u8, depth: usize) -> Result<(), XmlError> {
    for node in e.children.iter() {
        match node {
            Node::Element(c) => match start_tag::<RAW>(out, c, dq)? {
                Open::Closed => {}
                _ if depth >= WRITE_RECURSION => write_deep_content::<RAW>(out, c, dq)?,
                Open::Plain => write_content::<RAW>(out, c, dq, depth + 1)?,
                Open::Kept => write_content_kept(out, c, dq, depth + 1)?,
            },
            Node::Text(t) => out.text(t, &e.name)?,
            other => write_other(out, other)?,
        }
    }
    out.framed(b"</", e.name.as_bytes(), b">");
    Ok(())
}

/// [`write_content`] for an element with kept formatting (texts, end tag).
#[cold]
#[inline(never)]
fn write_content_kept(out: &mut Out, e: &Element, dq: u8, depth: usize) -> Result<(), XmlError> {
    let texts = kept_texts::<true>(e);
    for (i, node) in e.children.iter().enumerate() {
        match node {
            Node::Element(c) => match start_tag::<true>(out, c, dq)? {
                Open::Closed => {}
                _ if depth >= WRITE_RECURSION => write_deep_content::<true>(out, c, dq)?,
                Open::Plain => write_content::<true>(out, c, dq, depth + 1)?,
                Open::Kept => write_content_kept(out, c, dq, depth + 1)?,
            },
            Node::Text(t) => text::<true>(out, t, e, i, texts)?,
            other => write_other(out, other)?,
        }
    }
    end_tag::<true>(out, e);
    Ok(())
}

/// One open element of the writer's stack: the element and its next child to write.
struct Frame<'a> {
    element: &'a Element,
    next: usize,
}

/// [`write_content`] with an explicit stack instead of recursion, for content of any depth.
#[cold]
#[inline(never)]
fn write_deep_content<const RAW: bool>(out: &mut Out, top: &Element, dq: u8) -> Result<(), XmlError> {
    let mut open: Vec<Frame<'_>> = vec![Frame { element: top, next: 0 }];
    'elements: while let Some(frame) = open.last_mut() {
        let e = frame.element;
        let texts = kept_texts::<RAW>(e);
        let mut i = frame.next;
        while let Some(node) = e.children.get(i) {
            i += 1;
            match node {
                Node::Element(c) => {
                    if start_tag::<RAW>(out, c, dq)? != Open::Closed {
                        frame.next = i;
                        open.push(Frame { element: c, next: 0 });
                        continue 'elements;
                    }
                }
                Node::Text(t) => text::<RAW>(out, t, e, i - 1, texts)?,
                other => write_other(out, other)?,
            }
        }
        end_tag::<RAW>(out, e);
        open.pop();
    }
    Ok(())
}

/// Comments, CDATA, processing instructions and prolog nodes: written verbatim after a check.
/// (Text outside the root may only be whitespace, written as it is; an element there cannot
/// be written.)
#[inline(never)]
fn write_other(out: &mut Out, node: &Node) -> Result<(), XmlError> {
    match node {
        Node::Element(e) => return Err(invalid('<', &format!("element <{}> outside the root element", e.name))),
        Node::Text(t) => {
            if !t.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
                let c = t.chars().find(|c| !matches!(c, ' ' | '\t' | '\r' | '\n')).unwrap_or(' ');
                return Err(invalid(c, "text outside the root element"));
            }
            out.str(t);
        }
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
            // The content as read starts with the whitespace after the keyword.
            out.str(if t.starts_with([' ', '\t', '\r', '\n']) { "<!DOCTYPE" } else { "<!DOCTYPE " });
            out.str(t);
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

/// A node before or after the root: [`write_other`], with the common case (a line end after
/// the root) in place.
#[inline(always)]
fn write_outside(out: &mut Out, node: &Node) -> Result<(), XmlError> {
    match node {
        Node::Text(t) if t.as_bytes() == b"\n" => {
            out.byte(b'\n');
            Ok(())
        }
        other => write_other(out, other),
    }
}

pub(crate) fn write_document(doc: &Document) -> Result<String, XmlError> {
    let mut out = Out::with_capacity(8192);
    if doc.bom {
        out.str("\u{feff}");
    }
    for n in &doc.prolog {
        write_outside(&mut out, n)?;
    }
    write_tree::<true>(&mut out, &doc.root, doc.quote.byte())?;
    for n in &doc.epilog {
        write_outside(&mut out, n)?;
    }
    Ok(out.into_string())
}

/// Whether an element holds only elements, comments and whitespace, at least one element (so
/// it can be re-indented without changing its meaning: whitespace is formatting only between
/// elements, as for `semantically_eq`).
fn element_only(e: &Element) -> bool {
    e.children.iter().all(|n| match n {
        Node::Text(t) => crate::xml::is_xml_whitespace(t),
        Node::CData(_) => false,
        _ => true,
    }) && e.children.iter().any(|n| matches!(n, Node::Element(_)))
}

/// Deeper levels are indented no further (as libxml2 does), so that the output stays linear
/// in the size of the tree however deep it is.
const MAX_INDENT: usize = 60;

fn indent(out: &mut Out, depth: usize) {
    out.byte(b'\n');
    for _ in 0..depth.min(MAX_INDENT) {
        out.put(b"  ");
    }
}

/// Writes the document re-indented with two spaces where elements hold only elements;
/// text content is left exactly as it is.
pub(crate) fn write_document_pretty(doc: &Document) -> Result<String, XmlError> {
    let mut out = Out::with_capacity(8192);
    let q = doc.quote.byte();
    if !element_only(&doc.root) {
        write_tree::<false>(&mut out, &doc.root, q)?;
        out.byte(b'\n');
        return Ok(out.into_string());
    }
    // Each element that holds only elements is open on this stack with its remaining children
    // (whitespace skipped); any other element is written whole, as it is.
    start_tag::<false>(&mut out, &doc.root, q)?;
    let mut open: Vec<(&Element, std::slice::Iter<'_, Node>)> = vec![(&doc.root, doc.root.children.iter())];
    while !open.is_empty() {
        let depth = open.len() - 1;
        let Some((e, rest)) = open.last_mut() else { break };
        let e = *e;
        match rest.find(|n| !matches!(n, Node::Text(_))) {
            Some(Node::Element(c)) => {
                indent(&mut out, depth + 1);
                if element_only(c) {
                    start_tag::<false>(&mut out, c, q)?;
                    open.push((c, c.children.iter()));
                } else {
                    write_tree::<false>(&mut out, c, q)?;
                }
            }
            Some(other) => {
                indent(&mut out, depth + 1);
                write_other(&mut out, other)?;
            }
            None => {
                indent(&mut out, depth);
                end_tag::<false>(&mut out, e);
                open.pop();
            }
        }
    }
    out.byte(b'\n');
    Ok(out.into_string())
}

#[cfg(test)]
mod tests {
    use crate::xml::{Document, Element, Limits, Quote};

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
        let mut d = Document::parse("<a/>").unwrap();
        d.prolog.push(crate::xml::Node::Text("x".into()));
        assert!(d.to_xml().is_err(), "text outside the root");
        d.prolog[0] = crate::xml::Node::Element(Element::new("b"));
        assert!(d.to_xml().is_err(), "a second root");
    }

    #[test]
    fn quote_styles_and_escaping() {
        let mut e = Element::new("a");
        e.set_attr("v", "it's \"q\" <&>\t\n");
        let mut d = Document::new(e);
        assert_eq!(d.to_xml().unwrap(), "<a v=\"it's &quot;q&quot; &lt;&amp;&gt;&#9;&#10;\"/>");
        d.set_quote_style(Quote::Single);
        assert_eq!(d.to_xml().unwrap(), "<a v='it&apos;s &quot;q&quot; &lt;&amp;&gt;&#9;&#10;'/>");
        let back = Document::parse(&d.to_xml().unwrap()).unwrap();
        assert_eq!(back.root.attr("v"), Some("it's \"q\" <&>\t\n"));
        d.root.set_quote_style(Some(Quote::Double));
        assert!(d.to_xml().unwrap().starts_with("<a v=\"it's"));
    }

    #[test]
    fn pretty_output_is_linear_in_depth() {
        let depth = 1000;
        let src = format!("{}{}", "<a><b/>".repeat(depth), "</a>".repeat(depth));
        let limits = Limits::default().with_max_depth(depth + 1);
        let d = Document::parse_with(&src, &limits).unwrap();
        let pretty = d.to_xml_pretty().unwrap();
        // uncapped indentation would make about 3 MB of it
        assert!(pretty.len() < depth * (30 + 6 * super::MAX_INDENT), "{}", pretty.len());
        assert!(Document::parse_with(&pretty, &limits).unwrap().root.semantically_eq(&d.root));
    }
}
