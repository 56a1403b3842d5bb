//! A small, order-preserving XML tree: the lossless substrate under the typed domain model.
//!
//! Every element, attribute (in document order), text run, CDATA section, comment and
//! processing instruction is kept, and namespaced names (`qemu:commandline`) and `xmlns`
//! declarations are kept verbatim as ordinary names and attributes.
//!
//! **Byte for byte.** The tree also keeps how the document was written where XML leaves a
//! choice, so [`Document::to_xml`] writes an unedited document back exactly as it was read: the
//! quote character of each element's attributes, `<a></a>` against `<a/>`, the XML declaration,
//! all whitespace (inside tags too) and the spelling of references (`&apos;`, `&#10;`). An edit
//! changes only its own text: a changed value keeps its quote character, a new attribute takes
//! that of its element's attributes, and an element built with [`Element::new`] takes the
//! document's predominant one ([`Document::quote_style`]). [`Element::semantically_eq`] compares
//! two trees the way the domain model promises to preserve them (attribute order, quote style,
//! whitespace-only text between elements and empty-element form are not significant).
//!
//! **Hostile input.** [`Document::parse_with`] takes [`Limits`] (nesting depth, attributes per
//! element, input size, name and text length; [`Document::parse`] uses the defaults) and
//! reports a document over one as [`XmlError::LimitExceeded`] with its position. Parsing,
//! writing, comparison (`==`, [`Element::semantically_eq`]), `clone` and drop are iterative and
//! linear, so a tree of any depth the limits let through is safe for them. What still recurses
//! on the tree: `Debug` is iterative too, but serde's (de)serialisation of [`Element`] is
//! derived and recurses once per nesting level (serde_json refuses more than 128 levels when
//! reading; writing has no such guard), so serialise deep trees as XML text (as
//! [`Domain`](crate::domain::Domain) does).
//!
//! ```
//! use kvmhost_core::xml::Document;
//! let src = "<a x='1'><!-- c --><b>t &amp; u</b></a>";
//! let mut doc = Document::parse(src).unwrap();
//! assert_eq!(doc.root.child("b").unwrap().text(), "t & u");
//! assert_eq!(doc.to_xml().unwrap(), src);
//! doc.root.set_attr("y", "2");
//! assert_eq!(doc.to_xml().unwrap(), "<a x='1' y='2'><!-- c --><b>t &amp; u</b></a>");
//! ```

mod chars;
mod compare;
mod decode;
mod element;
mod error;
mod format;
mod limits;
mod parse;
mod scan;
mod tree;
mod vec;
mod write;

use serde::{Deserialize, Serialize};

pub use chars::{check_xml_chars, check_xml_name, is_xml_char};
pub(crate) use chars::{is_xml_whitespace, ASCII_NAME_CHAR, ASCII_NAME_START};
pub use error::XmlError;
pub(crate) use format::Format;
pub use format::Quote;
pub use limits::{Limit, Limits};
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
    /// Character data, unescaped (references resolved, line ends read as `\n`). How it was
    /// written, where that differs from what the writer produces, is kept by its parent.
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

/// One attribute: qualified name and unescaped value. (Its quote character is its element's,
/// see [`Element::quote_style`].)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    /// Qualified name as written (`type`, `xmlns:qemu`).
    pub name: XmlString,
    /// Unescaped value.
    pub value: XmlString,
}

/// An element with its attributes and content, all in document order, and how it was written.
///
/// `==` compares names, attributes (in order) and content, not the formatting kept for writing
/// back (quote style, whitespace inside tags, reference spelling): compare [`Document::to_xml`]
/// output for that. `==`, `clone`, `Debug` and drop are iterative (no recursion per level).
#[derive(Default, Serialize, Deserialize)]
pub struct Element {
    /// Qualified name as written (`disk`, `qemu:commandline`).
    pub name: XmlString,
    /// Attributes in document order.
    pub attributes: XmlVec<Attribute>,
    /// Content in document order.
    pub children: XmlVec<Node>,
    /// How the element was written (see [`Element::quote_style`]).
    #[serde(default, skip_serializing_if = "Format::is_plain")]
    format: Format,
}

/// A whole XML document: prolog nodes, the root element, trailing nodes.
///
/// `==` compares the nodes, not the formatting (see [`Element`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Document {
    /// Declaration, comments, doctype and whitespace before the root.
    pub prolog: Vec<Node>,
    /// The root element.
    pub root: Element,
    /// Comments and whitespace after the root.
    pub epilog: Vec<Node>,
    /// The quote style of elements that have none of their own.
    #[serde(default)]
    quote: Quote,
    /// Whether the text started with a byte order mark (U+FEFF), written back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    bom: bool,
}

impl PartialEq for Document {
    fn eq(&self, other: &Document) -> bool {
        self.prolog == other.prolog && self.root == other.root && self.epilog == other.epilog
    }
}

impl Eq for Document {}

impl Document {
    /// Parses a document with the default [`Limits`], keeping everything needed to write it
    /// back byte for byte.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let err = Document::parse("<a>\n  <b></a>").unwrap_err();
    /// assert_eq!(err.line(), Some(2));
    /// ```
    pub fn parse(input: &str) -> Result<Document, XmlError> {
        parse::parse_document(input, &Limits::default())
    }

    /// Parses a document within `limits`: a document over one of them is refused with
    /// [`XmlError::LimitExceeded`], naming the limit, its value and the position.
    ///
    /// ```
    /// use kvmhost_core::xml::{Document, Limit, Limits, XmlError};
    /// let limits = Limits::default().with_max_attributes(2);
    /// let err = Document::parse_with("<a\n x='1' y='2' z='3'/>", &limits).unwrap_err();
    /// assert!(matches!(err, XmlError::LimitExceeded { limit: Limit::Attributes, max: 2, line: 2, column: 14 }), "{err}");
    /// assert_eq!(err.to_string(),
    ///     "XML limit exceeded at line 2, column 14: number of attributes of an element over 2 (Limits::max_attributes)");
    /// ```
    pub fn parse_with(input: &str, limits: &Limits) -> Result<Document, XmlError> {
        parse::parse_document(input, limits)
    }

    /// Writes the document back as XML text: byte for byte as it was read where it was not
    /// edited (see the [module documentation](self)).
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
    /// are dropped; each element keeps its quote style, but not its other formatting.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let d = Document::parse("<a><b x='1'>t</b><c/></a>").unwrap();
    /// assert_eq!(d.to_xml_pretty().unwrap(), "<a>\n  <b x='1'>t</b>\n  <c/>\n</a>\n");
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
        Document { prolog: Vec::new(), root, epilog: Vec::new(), quote: Quote::Double, bom: false }
    }

    /// The quote style of elements without one of their own (those built with
    /// [`Element::new`]): the one most attributes of a parsed document were written with,
    /// [`Quote::Double`] for a document built from scratch.
    ///
    /// ```
    /// use kvmhost_core::xml::{Document, Element, Quote};
    /// let mut d = Document::parse("<domain type='kvm'><devices/></domain>").unwrap();
    /// assert_eq!(d.quote_style(), Quote::Single);
    /// let mut disk = Element::new("disk");
    /// disk.set_attr("type", "file");
    /// d.root.child_mut("devices").unwrap().push_element(disk);
    /// assert_eq!(d.to_xml().unwrap(), "<domain type='kvm'><devices><disk type='file'/></devices></domain>");
    /// ```
    pub fn quote_style(&self) -> Quote {
        self.quote
    }

    /// Sets the quote style of elements without one of their own.
    ///
    /// ```
    /// use kvmhost_core::xml::{Document, Element, Quote};
    /// let mut d = Document::new(Element::new("a"));
    /// d.root.set_attr("x", "1");
    /// d.set_quote_style(Quote::Single);
    /// assert_eq!(d.to_xml().unwrap(), "<a x='1'/>");
    /// ```
    pub fn set_quote_style(&mut self, quote: Quote) {
        self.quote = quote;
    }
}

#[cfg(test)]
mod layout_tests {
    /// The parser moves elements and nodes around by value; their size is part of its speed
    /// (see BENCHMARKS.md). A field that grows them should be a conscious choice: the format
    /// pointer took them from 40 to 48 bytes (+0.45 % instructions for parse + write).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn elements_and_nodes_stay_six_words() {
        assert_eq!(std::mem::size_of::<super::Element>(), 48);
        assert_eq!(std::mem::size_of::<super::Node>(), 48);
        assert_eq!(std::mem::size_of::<super::Attribute>(), 48);
        assert_eq!(std::mem::size_of::<super::XmlVec<super::Node>>(), 8);
    }
}
