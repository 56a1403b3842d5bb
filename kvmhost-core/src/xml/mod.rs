//! A small, order-preserving XML tree: the lossless substrate under the typed domain model.
//!
//! Every element, attribute (in document order), text run, CDATA section, comment and
//! processing instruction is kept, and namespaced names (`qemu:commandline`) and `xmlns`
//! declarations are kept verbatim as ordinary names and attributes. [`Document::to_xml`]
//! writes the tree back; [`Element::semantically_eq`] compares two trees the way the domain
//! model promises to preserve them (attribute order, quote style, whitespace-only text between
//! elements and empty-element form are not significant).
//!
//! ```
//! use kvmhost_core::xml::Document;
//! let doc = Document::parse("<a x='1'><!-- c --><b>t &amp; u</b></a>").unwrap();
//! assert_eq!(doc.root.child("b").unwrap().text(), "t & u");
//! assert_eq!(doc.to_xml().unwrap(), "<a x=\"1\"><!-- c --><b>t &amp; u</b></a>");
//! ```

mod decode;
mod error;
mod parse;
mod scan;
mod vec;
mod write;

use serde::{Deserialize, Serialize};

pub use error::XmlError;
pub use vec::{XmlVec, CACHED_BLOCK_MAX, CACHED_PER_SIZE};

/// The string type of names, attribute values and text in the tree: short strings (up to 24
/// bytes, which is nearly every name, value and indentation run in a libvirt document) are
/// stored inline without a heap allocation. It dereferences to `str` and converts from and
/// into `String`.
pub type XmlString = compact_str::CompactString;

/// One node of an element's content, in document order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data, unescaped.
    Text(XmlString),
    /// A `<![CDATA[...]]>` section, verbatim.
    CData(String),
    /// A `<!-- ... -->` comment, verbatim.
    Comment(String),
    /// A `<?target data?>` processing instruction, verbatim content.
    ProcessingInstruction(String),
    /// A `<!DOCTYPE ...>` declaration (prolog only), verbatim content.
    DocType(String),
    /// The `<?xml ...?>` declaration (prolog only), verbatim content.
    Declaration(String),
}

impl Node {
    /// The element inside this node, if it is one.
    ///
    /// ```
    /// use kvmhost_core::xml::{Element, Node};
    /// assert!(Node::Element(Element::new("a")).as_element().is_some());
    /// assert!(Node::Text("t".into()).as_element().is_none());
    /// ```
    pub fn as_element(&self) -> Option<&Element> {
        match self {
            Node::Element(e) => Some(e),
            _ => None,
        }
    }
}

/// One attribute: qualified name and unescaped value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    /// Qualified name as written (`type`, `xmlns:qemu`).
    pub name: XmlString,
    /// Unescaped value.
    pub value: XmlString,
}

/// An element with its attributes and content, all in document order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Element {
    /// Qualified name as written (`disk`, `qemu:commandline`).
    pub name: XmlString,
    /// Attributes in document order.
    pub attributes: XmlVec<Attribute>,
    /// Content in document order.
    pub children: XmlVec<Node>,
}

/// A whole XML document: prolog nodes, the root element, trailing nodes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Document {
    /// Declaration, comments, doctype and whitespace before the root.
    pub prolog: Vec<Node>,
    /// The root element.
    pub root: Element,
    /// Comments and whitespace after the root.
    pub epilog: Vec<Node>,
}

impl Document {
    /// Parses a document, keeping everything needed to write it back.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let err = Document::parse("<a>\n  <b></a>").unwrap_err();
    /// assert_eq!(err.line(), Some(2));
    /// ```
    pub fn parse(input: &str) -> Result<Document, XmlError> {
        parse::parse_document(input)
    }

    /// Writes the document back as XML text.
    ///
    /// Fails only if a name or value holds a character XML 1.0 cannot carry.
    ///
    /// ```
    /// use kvmhost_core::xml::{Document, Element};
    /// let mut doc = Document::new(Element::new("domain"));
    /// doc.root.set_attr("type", "kvm");
    /// assert_eq!(doc.to_xml().unwrap(), "<domain type=\"kvm\"/>");
    /// doc.root.set_attr("type", "a\u{1}b");
    /// assert!(doc.to_xml().is_err());
    /// ```
    pub fn to_xml(&self) -> Result<String, XmlError> {
        write::write_document(self)
    }

    /// Writes the root element re-indented (two spaces) wherever an element holds only
    /// elements; text is never changed, so the result is semantically equal. Prolog and epilog
    /// are dropped.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let d = Document::parse("<a><b>t</b><c/></a>").unwrap();
    /// assert_eq!(d.to_xml_pretty().unwrap(), "<a>\n  <b>t</b>\n  <c/>\n</a>\n");
    /// ```
    pub fn to_xml_pretty(&self) -> Result<String, XmlError> {
        write::write_document_pretty(self)
    }

    /// A document holding just `root`.
    ///
    /// ```
    /// use kvmhost_core::xml::{Document, Element};
    /// assert_eq!(Document::new(Element::new("a")).root.name, "a");
    /// ```
    pub fn new(root: Element) -> Document {
        Document { prolog: Vec::new(), root, epilog: Vec::new() }
    }
}

impl Element {
    /// An empty element named `name`.
    ///
    /// ```
    /// use kvmhost_core::xml::Element;
    /// assert!(Element::new("vcpu").children.is_empty());
    /// ```
    pub fn new(name: impl Into<XmlString>) -> Element {
        Element { name: name.into(), attributes: XmlVec::new(), children: XmlVec::new() }
    }

    /// The value of attribute `name`.
    ///
    /// ```
    /// use kvmhost_core::xml::Element;
    /// let mut e = Element::new("a");
    /// e.set_attr("k", "v");
    /// assert_eq!(e.attr("k"), Some("v"));
    /// ```
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|a| a.name == name).map(|a| a.value.as_str())
    }

    /// Sets attribute `name`, in place if it exists, else appended.
    ///
    /// ```
    /// use kvmhost_core::xml::Element;
    /// let mut e = Element::new("a");
    /// e.set_attr("x", "1");
    /// e.set_attr("y", "2");
    /// e.set_attr("x", "3");
    /// assert_eq!(e.attributes[0].value, "3");
    /// ```
    pub fn set_attr(&mut self, name: &str, value: impl Into<XmlString>) {
        let value = value.into();
        match self.attributes.iter_mut().find(|a| a.name == name) {
            Some(a) => a.value = value,
            None => self.attributes.push(Attribute { name: name.into(), value }),
        }
    }

    /// Sets attribute `name` to `value`, or removes it when `value` is `None`.
    ///
    /// ```
    /// use kvmhost_core::xml::Element;
    /// let mut e = Element::new("a");
    /// e.set_attr_opt("x", Some("1"));
    /// e.set_attr_opt("x", None::<&str>);
    /// assert!(e.attr("x").is_none());
    /// ```
    pub fn set_attr_opt<S: Into<XmlString>>(&mut self, name: &str, value: Option<S>) {
        match value {
            Some(v) => self.set_attr(name, v),
            None => self.remove_attr(name),
        }
    }

    /// Removes attribute `name` if present.
    ///
    /// ```
    /// use kvmhost_core::xml::Element;
    /// let mut e = Element::new("a");
    /// e.set_attr("x", "1");
    /// e.remove_attr("x");
    /// assert!(e.attributes.is_empty());
    /// ```
    pub fn remove_attr(&mut self, name: &str) {
        self.attributes.retain(|a| a.name != name);
    }

    /// Child elements in document order.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let d = Document::parse("<a><b/>t<c/></a>").unwrap();
    /// assert_eq!(d.root.elements().count(), 2);
    /// ```
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(Node::as_element)
    }

    /// Mutable child elements in document order.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let mut d = Document::parse("<a><b/></a>").unwrap();
    /// d.root.elements_mut().for_each(|e| e.set_attr("x", "1"));
    /// assert_eq!(d.root.child("b").unwrap().attr("x"), Some("1"));
    /// ```
    pub fn elements_mut(&mut self) -> impl Iterator<Item = &mut Element> {
        self.children.iter_mut().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The first child element named `name`.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let d = Document::parse("<a><b x='1'/><b x='2'/></a>").unwrap();
    /// assert_eq!(d.root.child("b").unwrap().attr("x"), Some("1"));
    /// ```
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// The first child element named `name`, mutably.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let mut d = Document::parse("<a><b/></a>").unwrap();
    /// d.root.child_mut("b").unwrap().set_attr("x", "1");
    /// ```
    pub fn child_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.elements_mut().find(|e| e.name == name)
    }

    /// All child elements named `name`.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let d = Document::parse("<a><b/><c/><b/></a>").unwrap();
    /// assert_eq!(d.root.children_named("b").count(), 2);
    /// ```
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.name == name)
    }

    /// The concatenated text and CDATA content directly inside this element.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let d = Document::parse("<a>x<![CDATA[<y>]]></a>").unwrap();
    /// assert_eq!(d.root.text(), "x<y>");
    /// ```
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::CData(t) => out.push_str(t),
                _ => {}
            }
        }
        out
    }

    /// Replaces all content with a single text node (or nothing for an empty string).
    ///
    /// ```
    /// use kvmhost_core::xml::Element;
    /// let mut e = Element::new("name");
    /// e.set_text("vm1");
    /// assert_eq!(e.text(), "vm1");
    /// ```
    pub fn set_text(&mut self, text: impl Into<XmlString>) {
        let text = text.into();
        self.children.clear();
        if !text.is_empty() {
            self.children.push(Node::Text(text));
        }
    }

    /// Appends a child element and returns it.
    ///
    /// ```
    /// use kvmhost_core::xml::Element;
    /// let mut e = Element::new("os");
    /// e.push_element(Element::new("type")).set_text("hvm");
    /// assert_eq!(e.child("type").unwrap().text(), "hvm");
    /// ```
    pub fn push_element(&mut self, child: Element) -> &mut Element {
        self.children.push(Node::Element(child));
        match self.children.last_mut() {
            Some(Node::Element(e)) => e,
            _ => unreachable!("an element was just pushed"),
        }
    }

    /// Removes all child elements named `name`.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let mut d = Document::parse("<a><b/><c/><b/></a>").unwrap();
    /// d.root.remove_children("b");
    /// assert_eq!(d.root.elements().count(), 1);
    /// ```
    pub fn remove_children(&mut self, name: &str) {
        self.children.retain(|n| !matches!(n, Node::Element(e) if e.name == name));
    }

    /// Compares two elements as the domain model promises to preserve them: names, attribute
    /// sets (order and quoting ignored), and content with whitespace-only text between
    /// elements ignored, adjacent text and CDATA merged, comments and PIs compared verbatim.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let a = Document::parse("<a x='1' y='2'>\n  <b></b>\n</a>").unwrap();
    /// let b = Document::parse("<a y=\"2\" x=\"1\"><b/></a>").unwrap();
    /// assert!(a.root.semantically_eq(&b.root));
    /// ```
    pub fn semantically_eq(&self, other: &Element) -> bool {
        self.first_difference(other, "").is_none()
    }

    /// Where two elements first differ semantically (see [`Element::semantically_eq`]), as a
    /// path and a short reason, or `None` if they are equal.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let a = Document::parse("<a><b x='1'/></a>").unwrap();
    /// let b = Document::parse("<a><b x='2'/></a>").unwrap();
    /// assert!(a.root.first_difference(&b.root, "").unwrap().contains("/a/b"));
    /// ```
    pub fn first_difference(&self, other: &Element, parent_path: &str) -> Option<String> {
        let path = format!("{parent_path}/{}", self.name);
        if self.name != other.name {
            return Some(format!("{path}: element name {} vs {}", self.name, other.name));
        }
        if self.attributes.len() != other.attributes.len() {
            return Some(format!("{path}: attribute count differs"));
        }
        for a in &self.attributes {
            if other.attr(&a.name) != Some(a.value.as_str()) {
                return Some(format!("{path}/@{}: {:?} vs {:?}", a.name, a.value, other.attr(&a.name)));
            }
        }
        let mine = significant_content(&self.children);
        let theirs = significant_content(&other.children);
        if mine.len() != theirs.len() {
            return Some(format!("{path}: content length {} vs {}", mine.len(), theirs.len()));
        }
        for (a, b) in mine.iter().zip(theirs.iter()) {
            match (a, b) {
                (Content::Element(x), Content::Element(y)) => {
                    if let Some(d) = x.first_difference(y, &path) {
                        return Some(d);
                    }
                }
                (x, y) if x == y => {}
                (x, y) => return Some(format!("{path}: content {x:?} vs {y:?}")),
            }
        }
        None
    }
}

#[derive(Debug, PartialEq)]
enum Content<'a> {
    Element(&'a Element),
    Text(String),
    Other(&'a Node),
}

/// Content as compared semantically: adjacent text/CDATA merged; whitespace-only text dropped
/// when the element also has child elements (formatting), kept otherwise (a value).
fn significant_content(children: &[Node]) -> Vec<Content<'_>> {
    let has_elements = children.iter().any(|n| matches!(n, Node::Element(_)));
    let mut out: Vec<Content<'_>> = Vec::new();
    for n in children {
        let text: Option<&str> = match n {
            Node::Text(t) => Some(t),
            Node::CData(t) => Some(t),
            _ => None,
        };
        match n {
            _ if text.is_some() => {
                let t = text.unwrap_or_default();
                if let Some(Content::Text(prev)) = out.last_mut() {
                    prev.push_str(t);
                } else {
                    out.push(Content::Text(t.to_string()));
                }
            }
            Node::Element(e) => out.push(Content::Element(e)),
            other => out.push(Content::Other(other)),
        }
    }
    out.retain(|c| match c {
        Content::Text(t) => !(t.is_empty() || has_elements && t.trim().is_empty()),
        _ => true,
    });
    out
}

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

#[cfg(test)]
mod layout_tests {
    /// The parser moves elements and nodes around by value; their size is part of its speed
    /// (see BENCHMARKS.md). A field that grows them should be a conscious choice.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn elements_and_nodes_stay_five_words() {
        assert_eq!(std::mem::size_of::<super::Element>(), 40);
        assert_eq!(std::mem::size_of::<super::Node>(), 40);
        assert_eq!(std::mem::size_of::<super::XmlVec<super::Node>>(), 8);
    }
}
