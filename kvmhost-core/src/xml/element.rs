//! Reading and editing an [`Element`]: attributes, children, text.

use super::{Attribute, Element, Format, Node, Quote, XmlString, XmlVec};

impl Element {
    /// An empty element named `name`.
    ///
    /// ```
    /// use kvmhost_core::xml::Element;
    /// assert!(Element::new("vcpu").children.is_empty());
    /// ```
    pub fn new(name: impl Into<XmlString>) -> Element {
        Element { name: name.into(), attributes: XmlVec::new(), children: XmlVec::new(), format: Format::PLAIN }
    }

    /// An element as the parser builds it: name and attributes, no content yet.
    #[inline(always)]
    pub(crate) fn from_parts(name: XmlString, attributes: XmlVec<Attribute>, format: Format) -> Element {
        Element { name, attributes, children: XmlVec::new(), format }
    }

    /// How the element was written (crate-internal: the writer and the parser).
    #[inline(always)]
    pub(crate) fn format(&self) -> &Format {
        &self.format
    }

    #[inline(always)]
    pub(crate) fn format_mut(&mut self) -> &mut Format {
        &mut self.format
    }

    /// The quote character of this element's attributes, if it has one of its own: the one its
    /// attributes were read with (the one most of them were read with, if they were mixed), or
    /// the one set with [`Element::set_quote_style`]. Without one the element is written with
    /// its document's ([`Document::quote_style`](super::Document::quote_style)). A new attribute
    /// is written with it; an attribute whose value changes keeps its own.
    ///
    /// ```
    /// use kvmhost_core::xml::{Document, Element, Quote};
    /// let mut d = Document::parse("<a x=\"1\" y='2'><b z='3'/></a>").unwrap();
    /// assert_eq!(d.root.quote_style(), Some(Quote::Double));
    /// assert_eq!(Element::new("c").quote_style(), None);
    /// d.root.set_attr("y", "4");
    /// d.root.set_attr("w", "5");
    /// assert_eq!(d.to_xml().unwrap(), "<a x=\"1\" y='4' w=\"5\"><b z='3'/></a>");
    /// ```
    pub fn quote_style(&self) -> Option<Quote> {
        self.format.quote()
    }

    /// Sets (or, with `None`, removes) this element's own quote style. Attributes kept with
    /// their tag as read (a tag with unusual whitespace or mixed quotes) keep their quotes.
    ///
    /// ```
    /// use kvmhost_core::xml::{Document, Quote};
    /// let mut d = Document::parse("<a x='1'/>").unwrap();
    /// d.root.set_quote_style(Some(Quote::Double));
    /// assert_eq!(d.to_xml().unwrap(), "<a x=\"1\"/>");
    /// ```
    pub fn set_quote_style(&mut self, quote: Option<Quote>) {
        self.format.set_quote(quote);
    }

    /// Forgets how this element (not its children) was written: its tag, end tag and text are
    /// then written the way the writer writes a new element (its quote style included).
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let mut d = Document::parse("<a  x = '1' ></a >").unwrap();
    /// assert_eq!(d.to_xml().unwrap(), "<a  x = '1' ></a >");
    /// d.root.clear_format();
    /// assert_eq!(d.to_xml().unwrap(), "<a x='1'/>");
    /// ```
    pub fn clear_format(&mut self) {
        let quote = self.format.quote();
        self.format = Format::PLAIN;
        self.format.set_quote(quote);
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
        let mut i = 0;
        while i < self.children.len() {
            if matches!(&self.children[i], Node::Element(e) if e.name == name) {
                self.remove_node(i);
            } else {
                i += 1;
            }
        }
    }

    /// Inserts `node` into the content at `index` (as `children.insert`), keeping how the
    /// other text children were read: text kept as written (a `&apos;`, CR LF line ends) is
    /// recorded by position, and editing `children` directly may leave it unmatched (such
    /// text is then written the writer's way: the same text, other bytes).
    ///
    /// ```
    /// use kvmhost_core::xml::{Document, Element, Node};
    /// let mut d = Document::parse("<a>it&apos;s<b/></a>").unwrap();
    /// d.root.insert_node(0, Node::Element(Element::new("c")));
    /// assert_eq!(d.to_xml().unwrap(), "<a><c/>it&apos;s<b/></a>");
    /// ```
    ///
    /// # Panics
    ///
    /// If `index > children.len()`.
    pub fn insert_node(&mut self, index: usize, node: Node) {
        self.children.insert(index, node);
        self.shift_kept_texts(index, |i| i + 1);
    }

    /// Removes and returns the content node at `index` (as `children.remove`), keeping how the
    /// other text children were read (see [`Element::insert_node`]).
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// let mut d = Document::parse("<a><b/>it&apos;s</a>").unwrap();
    /// d.root.remove_node(0);
    /// assert_eq!(d.to_xml().unwrap(), "<a>it&apos;s</a>");
    /// ```
    ///
    /// # Panics
    ///
    /// If `index >= children.len()`.
    pub fn remove_node(&mut self, index: usize) -> Node {
        let node = self.children.remove(index);
        if self.format.bits().raw() {
            self.format.raw_mut().texts.retain(|(i, _)| *i != index);
        }
        self.shift_kept_texts(index, |i| i - 1);
        node
    }

    /// Inserts text child `text` at `index`, to be written as `raw` (what the parser would read
    /// back as `text`: whitespace with CR LF line ends) where that differs from the writer's
    /// form.
    pub(crate) fn insert_text_as(&mut self, index: usize, text: XmlString, raw: Option<&str>) {
        self.insert_node(index, Node::Text(text));
        if let Some(raw) = raw {
            let texts = &mut self.format.raw_mut().texts;
            let at = texts.partition_point(|(i, _)| *i < index);
            texts.insert(at, (index, raw.into()));
        }
    }

    /// How text child `index` was written, where the parser kept it (it differs from the
    /// writer's form).
    pub(crate) fn text_as_written(&self, index: usize) -> Option<&str> {
        let texts = &self.format.get()?.texts;
        texts.binary_search_by_key(&index, |(i, _)| *i).ok().map(|k| &*texts[k].1)
    }

    /// Moves the kept texts at positions `from` and after with `f`.
    fn shift_kept_texts(&mut self, from: usize, f: impl Fn(usize) -> usize) {
        if self.format.bits().raw() {
            for (i, _) in self.format.raw_mut().texts.iter_mut().filter(|(i, _)| *i >= from) {
                *i = f(*i);
            }
        }
    }
}
