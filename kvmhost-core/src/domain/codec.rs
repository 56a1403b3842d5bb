//! The machinery shared by every typed part of the domain model: the [`XmlPart`] trait,
//! element paths for errors, attribute / child decoding helpers, and merge-style encoding
//! that writes typed fields into an existing element while keeping everything else.
//!
//! Encoding never rebuilds an element from scratch when one exists: typed attributes are set
//! in place (or removed when `None`), typed children are merged into the existing child of the
//! same name, new children are inserted at their canonical position (given by the parent's
//! `ORDER`), and attributes, children, comments and text the model does not type are left where
//! they were.

use std::fmt;
use std::str::FromStr;

use crate::xml::{Element, Node};

use crate::domain::error::DomainError;

mod layout;

pub(crate) use layout::remove_node_at;
pub use layout::{indent_unit, insert_child};
use layout::{insert_indented, insert_position, remove_nth};

/// A typed view of one XML element kind, decoded from and merged back into the tree.
///
/// ```
/// use kvmhost_core::domain::{XmlPart, ElementPath, Memory};
/// use kvmhost_core::xml::Document;
/// let doc = Document::parse("<memory unit='MiB' extra='kept'>512</memory>").unwrap();
/// let m = Memory::decode(&doc.root, &ElementPath::root("memory")).unwrap();
/// assert_eq!(m.bytes(), Some(512 * 1024 * 1024));
/// let mut el = doc.root.clone();
/// Memory::mib(1024).encode_into(&mut el);
/// assert_eq!(el.text(), "1024");
/// assert_eq!(el.attr("extra"), Some("kept"));
/// ```
pub trait XmlPart: Sized {
    /// The element name this part is written as (`disk`, `memory`, …).
    const TAG: &'static str;

    /// Decodes the typed fields of `el`; `path` locates `el` for error messages.
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError>;

    /// Writes the typed fields into `el`, keeping what the model does not type.
    fn encode_into(&self, el: &mut Element);

    /// A fresh element holding just the typed fields.
    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::TAG);
        self.encode_into(&mut el);
        el
    }
}

/// Where an element sits in the document, built as a chain of frames so that a path string is
/// only formatted when an error needs it.
///
/// ```
/// use kvmhost_core::domain::ElementPath;
/// let root = ElementPath::root("domain");
/// let devices = root.child("devices");
/// let disk = devices.indexed("disk", 1);
/// assert_eq!(disk.to_string(), "/domain/devices/disk[2]");
/// assert_eq!(disk.attribute("type"), "/domain/devices/disk[2]/@type");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ElementPath<'a> {
    parent: Option<&'a ElementPath<'a>>,
    name: &'a str,
    index: Option<usize>,
}

impl<'a> ElementPath<'a> {
    /// The document root named `name`.
    pub fn root(name: &'a str) -> ElementPath<'a> {
        ElementPath { parent: None, name, index: None }
    }

    /// A child element named `name` (the only or first of its name).
    pub fn child(&'a self, name: &'a str) -> ElementPath<'a> {
        ElementPath { parent: Some(self), name, index: None }
    }

    /// The `index`-th (0-based) child element named `name`; written 1-based as in XPath.
    pub fn indexed(&'a self, name: &'a str, index: usize) -> ElementPath<'a> {
        ElementPath { parent: Some(self), name, index: Some(index) }
    }

    /// The path of attribute `name` of this element.
    pub fn attribute(&self, name: &str) -> String {
        format!("{self}/@{name}")
    }
}

impl fmt::Display for ElementPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.parent {
            write!(f, "{p}")?;
        }
        write!(f, "/{}", self.name)?;
        if let Some(i) = self.index {
            write!(f, "[{}]", i + 1)?;
        }
        Ok(())
    }
}

/// An attribute's value as an owned string.
///
/// ```
/// use kvmhost_core::domain::codec::attr_string;
/// let mut e = kvmhost_core::xml::Element::new("a");
/// e.set_attr("k", "v");
/// assert_eq!(attr_string(&e, "k").as_deref(), Some("v"));
/// ```
pub fn attr_string(el: &Element, name: &str) -> Option<String> {
    el.attr(name).map(str::to_string)
}

/// A required attribute; its absence is [`DomainError::Missing`] naming the path.
///
/// ```
/// use kvmhost_core::domain::{codec::required_attr, ElementPath};
/// let e = kvmhost_core::xml::Element::new("alias");
/// let err = required_attr(&e, "name", &ElementPath::root("alias")).unwrap_err();
/// assert!(err.to_string().contains("/alias/@name"));
/// ```
pub fn required_attr(el: &Element, name: &str, path: &ElementPath<'_>) -> Result<String, DomainError> {
    el.attr(name).map(str::to_string).ok_or_else(|| DomainError::Missing { path: path.attribute(name) })
}

/// The attribute `attr` of the child `child`, for children that exist to carry one attribute
/// (`<protocol type='raw'/>`): `None` without the child, [`DomainError::Missing`] for a child
/// without its attribute (which the model could not write back).
///
/// ```
/// use kvmhost_core::domain::{codec::attr_of_child, ElementPath};
/// use kvmhost_core::xml::Document;
/// let d = Document::parse("<rng><protocol/></rng>").unwrap();
/// let err = attr_of_child(&d.root, "protocol", "type", &ElementPath::root("rng")).unwrap_err();
/// assert!(err.to_string().contains("/rng/protocol/@type"));
/// ```
pub fn attr_of_child(
    el: &Element,
    child: &str,
    attr: &str,
    path: &ElementPath<'_>,
) -> Result<Option<String>, DomainError> {
    el.child(child).map(|c| required_attr(c, attr, &path.child(child))).transpose()
}

/// An attribute parsed with `FromStr`; a value that does not parse is an
/// [`DomainError::InvalidValue`] naming the attribute's path.
///
/// ```
/// use kvmhost_core::domain::{codec::attr_parse, ElementPath};
/// let mut e = kvmhost_core::xml::Element::new("vcpu");
/// e.set_attr("current", "x");
/// let err = attr_parse::<u32>(&e, "current", &ElementPath::root("vcpu")).unwrap_err();
/// assert!(err.to_string().contains("/vcpu/@current"));
/// ```
pub fn attr_parse<T: FromStr>(el: &Element, name: &str, path: &ElementPath<'_>) -> Result<Option<T>, DomainError> {
    match el.attr(name) {
        None => Ok(None),
        Some(v) => parse_value(v.trim(), || path.attribute(name), std::any::type_name::<T>()).map(Some),
    }
}

/// Parses `value`, or returns [`DomainError::InvalidValue`] at the path `where_`.
pub fn parse_value<T: FromStr>(value: &str, where_: impl FnOnce() -> String, expected: &str) -> Result<T, DomainError> {
    value.parse::<T>().map_err(|_| DomainError::InvalidValue {
        path: where_(),
        value: value.to_string(),
        expected: expected.rsplit("::").next().unwrap_or(expected).to_string(),
    })
}

/// An attribute as a tolerant enum (any `From<&str>` type, see [`crate::xml_enum`]).
pub fn attr_enum<T: for<'s> From<&'s str>>(el: &Element, name: &str) -> Option<T> {
    el.attr(name).map(T::from)
}

/// The text of the first child named `name`.
///
/// ```
/// use kvmhost_core::xml::Document;
/// use kvmhost_core::domain::codec::child_text;
/// let d = Document::parse("<os><type>hvm</type></os>").unwrap();
/// assert_eq!(child_text(&d.root, "type").as_deref(), Some("hvm"));
/// ```
pub fn child_text(el: &Element, name: &str) -> Option<String> {
    el.child(name).map(Element::text)
}

/// The text of the first child named `name`, parsed; errors name the child's path.
pub fn child_parse<T: FromStr>(el: &Element, name: &str, path: &ElementPath<'_>) -> Result<Option<T>, DomainError> {
    match el.child(name) {
        None => Ok(None),
        Some(c) => {
            let text = c.text();
            parse_value(text.trim(), || path.child(name).to_string(), std::any::type_name::<T>()).map(Some)
        }
    }
}

/// Decodes the first child named `T::TAG`, if any.
pub fn child_part<T: XmlPart>(el: &Element, path: &ElementPath<'_>) -> Result<Option<T>, DomainError> {
    child_part_named(el, T::TAG, path)
}

/// Decodes the first child named `name` as a `T`, if any (for parts written under several
/// names, such as the `<memory>` amounts or the feature switches).
pub fn child_part_named<T: XmlPart>(
    el: &Element,
    name: &str,
    path: &ElementPath<'_>,
) -> Result<Option<T>, DomainError> {
    el.child(name).map(|c| T::decode(c, &path.child(name))).transpose()
}

/// Decodes every child named `T::TAG`, in order.
pub fn children_parts<T: XmlPart>(el: &Element, path: &ElementPath<'_>) -> Result<Vec<T>, DomainError> {
    children_parts_named(el, T::TAG, path)
}

/// Decodes every child named `name` as a `T`, in order (for parts written under several
/// names, such as `serial` / `console` / `channel`).
pub fn children_parts_named<T: XmlPart>(
    el: &Element,
    name: &str,
    path: &ElementPath<'_>,
) -> Result<Vec<T>, DomainError> {
    el.children_named(name).enumerate().map(|(i, c)| T::decode(c, &path.indexed(name, i))).collect()
}

/// How one optional attribute value is read and written by `attr_part!`: kept as text, as a tolerant
/// enum (every [`xml_enum!`](crate::xml_enum) type), or as a number (an invalid number is a
/// decode error naming the attribute).
///
/// Public only because the exported [`xml_enum!`](crate::xml_enum) implements it.
#[doc(hidden)]
pub trait AttrValue: Sized + fmt::Display {
    /// Reads attribute `name` of `el`; `path` locates `el` for error messages.
    fn read(el: &Element, name: &str, path: &ElementPath<'_>) -> Result<Option<Self>, DomainError>;

    /// Sets or removes attribute `name` of `el` (by default with [`set_attr`]).
    fn write(el: &mut Element, name: &str, value: Option<&Self>) {
        set_attr(el, name, value)
    }
}

impl AttrValue for String {
    fn read(el: &Element, name: &str, _path: &ElementPath<'_>) -> Result<Option<Self>, DomainError> {
        Ok(attr_string(el, name))
    }
}

macro_rules! numeric_attr {
    ($($t:ty),*) => {$(
        impl AttrValue for $t {
            fn read(el: &Element, name: &str, path: &ElementPath<'_>) -> Result<Option<Self>, DomainError> {
                attr_parse(el, name, path)
            }
        }
    )*};
}
numeric_attr!(u8, u16, u32, u64, i32, i64);

/// Declares a struct of optional attributes (an attribute-only element) with its [`XmlPart`]
/// implementation. Every field is `Option<Type>` and written back only when set; `Type` is
/// any [`AttrValue`] (`String`, an integer type, or an [`xml_enum!`](crate::xml_enum) type).
///
/// ```text
/// attr_part! {
///     /// Doc of the struct.
///     pub struct Reconnect = "reconnect" {
///         /// Doc of the field.
///         enabled: YesNo = "enabled",
///         timeout: u32 = "timeout",
///     }
/// }
/// ```
macro_rules! attr_part {
    (
        $(#[$m:meta])*
        pub struct $name:ident = $tag:literal {
            $( $(#[$fm:meta])* $field:ident : $ty:ty = $attr:literal ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, ::serde::Serialize, ::serde::Deserialize)]
        #[non_exhaustive]
        pub struct $name {
            $( $(#[$fm])* pub $field: Option<$ty>, )*
        }
        impl $crate::domain::codec::XmlPart for $name {
            const TAG: &'static str = $tag;
            #[allow(unused_variables)]
            fn decode(
                el: &$crate::xml::Element,
                path: &$crate::domain::codec::ElementPath<'_>,
            ) -> Result<Self, $crate::domain::DomainError> {
                Ok($name {
                    $( $field: <$ty as $crate::domain::codec::AttrValue>::read(el, $attr, path)?, )*
                })
            }
            #[allow(unused_variables)]
            fn encode_into(&self, el: &mut $crate::xml::Element) {
                $( <$ty as $crate::domain::codec::AttrValue>::write(el, $attr, self.$field.as_ref()); )*
            }
        }
    };
}
pub(crate) use attr_part;

/// Sets or removes an attribute from an optional displayable value.
///
/// A value equal to what is stored (as text, or after parsing for numbers written
/// differently, such as `0x1f` vs `31`) leaves the stored text untouched.
pub fn set_attr<V: fmt::Display>(el: &mut Element, name: &str, value: Option<V>) {
    match value {
        None => el.remove_attr(name),
        Some(v) => {
            let text = v.to_string();
            if let Some(old) = el.attr(name) {
                if old == text || same_number(old, &text) {
                    return;
                }
            }
            el.set_attr(name, text);
        }
    }
}

/// Whether two texts denote the same integer (decimal, or hex with `0x`, with an optional
/// sign; `-0` equals `0`), so that `01`, `0x1f` or `-01` written by a user stay as written
/// when the typed value is unchanged.
fn same_number(a: &str, b: &str) -> bool {
    fn num(s: &str) -> Option<(bool, u128)> {
        let s = s.trim();
        let (negative, digits) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let magnitude = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
            Some(h) => u128::from_str_radix(h, 16).ok()?,
            None if digits.bytes().all(|c| c.is_ascii_digit()) && !digits.is_empty() => digits.parse().ok()?,
            None => return None,
        };
        Some((negative && magnitude != 0, magnitude))
    }
    matches!((num(a), num(b)), (Some(x), Some(y)) if x == y)
}

/// Merges an optional typed child: updates the existing child named `T::TAG`, inserts a new one
/// at its canonical place, or removes it when `value` is `None`.
pub fn set_child<T: XmlPart>(el: &mut Element, value: Option<&T>, order: &[&str]) {
    set_child_named(el, T::TAG, value, order)
}

/// Like [`set_child`] with an explicit element name (for parts written under several names).
pub fn set_child_named<T: XmlPart>(el: &mut Element, name: &str, value: Option<&T>, order: &[&str]) {
    set_child_with(el, name, value.map(|v| |e: &mut Element| v.encode_into(e)), order)
}

/// Like [`set_child`] for a child whose content is written by a closure.
pub fn set_child_with<F: FnOnce(&mut Element)>(el: &mut Element, name: &str, write: Option<F>, order: &[&str]) {
    match write {
        None => {
            while el.child(name).is_some() {
                remove_nth(el, name, 0);
            }
        }
        Some(write) => match el.child_mut(name) {
            Some(existing) => write(existing),
            None => {
                let mut child = Element::new(name);
                write(&mut child);
                let pos = insert_position(el, name, order);
                insert_indented(el, pos, child);
            }
        },
    }
}

/// Merges a list of typed children named `T::TAG`: the i-th value is merged into the i-th
/// existing child, extra existing children are removed, new ones are inserted after the last.
pub fn set_children<T: XmlPart>(el: &mut Element, values: &[T], order: &[&str]) {
    set_children_named(el, T::TAG, values, order)
}

/// Like [`set_children`] with an explicit element name (for parts written under several names,
/// such as `serial` / `console` / `channel`).
pub fn set_children_named<T: XmlPart>(el: &mut Element, name: &str, values: &[T], order: &[&str]) {
    let existing = el.children_named(name).count();
    for i in (values.len()..existing).rev() {
        remove_nth(el, name, i);
    }
    let mut i = 0;
    for node in el.children.iter_mut() {
        if let Node::Element(c) = node {
            if c.name == name {
                values[i].encode_into(c);
                i += 1;
            }
        }
    }
    for v in &values[i..] {
        let mut child = Element::new(name);
        v.encode_into(&mut child);
        let pos = insert_position(el, name, order);
        insert_indented(el, pos, child);
    }
}

/// Sets or removes a child holding just text (`<name>vm1</name>`).
pub fn set_child_text<V: fmt::Display>(el: &mut Element, name: &str, value: Option<V>, order: &[&str]) {
    set_child_with(
        el,
        name,
        value.map(|v| {
            move |e: &mut Element| {
                // Keep the text as written when it already says the same (libvirt trims
                // surrounding whitespace of such values, and so do the decoders).
                let text = v.to_string();
                let old = e.text();
                if old != text && old.trim() != text && !same_number(&old, &text) {
                    e.set_text(text);
                }
            }
        }),
        order,
    )
}

/// Sets or removes an empty marker child (`<readonly/>`), keeping an existing one untouched.
pub fn set_flag_child(el: &mut Element, name: &str, present: bool, order: &[&str]) {
    set_child_with(el, name, present.then_some(|_: &mut Element| {}), order)
}

/// Generates a tolerant string enum: known values as variants, anything else kept verbatim in
/// `Other(String)` and written back unchanged. Serialises as the XML string.
///
/// ```
/// kvmhost_core::xml_enum! {
///     /// A colour.
///     pub enum Colour { Red = "red", Green = "green" }
/// }
/// assert_eq!(Colour::from("red"), Colour::Red);
/// assert_eq!(Colour::from("mauve"), Colour::Other("mauve".into()));
/// assert_eq!(Colour::Other("mauve".into()).as_str(), "mauve");
/// ```
#[macro_export]
macro_rules! xml_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis enum $name {
            $(#[doc = concat!("`", $s, "`")] $var,)+
            /// A value this version does not know, kept verbatim.
            Other(String),
        }
        impl $name {
            /// The value as written in XML.
            pub fn as_str(&self) -> &str {
                match self { $($name::$var => $s,)+ $name::Other(s) => s.as_str() }
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s { $($s => $name::$var,)+ other => $name::Other(other.to_string()) }
            }
        }
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result { f.write_str(self.as_str()) }
        }
        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }
        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as ::serde::Deserialize>::deserialize(d)?;
                Ok($name::from(s.as_str()))
            }
        }
        impl $crate::domain::codec::AttrValue for $name {
            fn read(
                el: &$crate::xml::Element,
                name: &str,
                _path: &$crate::domain::codec::ElementPath<'_>,
            ) -> Result<Option<Self>, $crate::domain::DomainError> {
                Ok($crate::domain::codec::attr_enum(el, name))
            }
        }
    };
}

xml_enum! {
    /// libvirt's `yes` / `no` switch.
    pub enum YesNo { Yes = "yes", No = "no" }
}

xml_enum! {
    /// libvirt's `on` / `off` switch.
    pub enum OnOff { On = "on", Off = "off" }
}

/// Test support shared by the typed parts' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{ElementPath, XmlPart};
    use crate::xml::Document;

    /// Decodes `xml` as a `T` and checks that both a merge into the original element and a
    /// fresh encoding reproduce the document.
    pub(crate) fn assert_round_trip<T: XmlPart>(xml: &str) -> T {
        let d = Document::parse(xml).unwrap();
        let v = T::decode(&d.root, &ElementPath::root("x")).unwrap();
        let mut el = d.root.clone();
        v.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root), "{xml}");
        assert!(v.to_element().semantically_eq(&d.root), "fresh {xml}");
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn insertion_follows_order_and_indentation() {
        let mut d = Document::parse("<a>\n  <x/>\n  <z/>\n</a>").unwrap();
        set_child_text(&mut d.root, "y", Some("1"), &["x", "y", "z"]);
        assert_eq!(d.to_xml().unwrap(), "<a>\n  <x/>\n  <y>1</y>\n  <z/>\n</a>");
        set_child_text(&mut d.root, "w", Some("0"), &["w", "x", "y", "z"]);
        assert_eq!(d.to_xml().unwrap(), "<a>\n  <w>0</w>\n  <x/>\n  <y>1</y>\n  <z/>\n</a>");
        set_child_text(&mut d.root, "y", None::<&str>, &[]);
        assert_eq!(d.to_xml().unwrap(), "<a>\n  <w>0</w>\n  <x/>\n  <z/>\n</a>");
    }

    #[test]
    fn numbers_written_differently_are_kept() {
        let mut e = Element::new("address");
        e.set_attr("slot", "0x1f");
        set_attr(&mut e, "slot", Some(31));
        assert_eq!(e.attr("slot"), Some("0x1f"));
        set_attr(&mut e, "slot", Some(30));
        assert_eq!(e.attr("slot"), Some("30"));
        e.set_attr("port", "-0");
        set_attr(&mut e, "port", Some(0));
        assert_eq!(e.attr("port"), Some("-0"));
        e.set_attr("port", "-01");
        set_attr(&mut e, "port", Some(-1));
        assert_eq!(e.attr("port"), Some("-01"));
        set_attr(&mut e, "port", Some(1));
        assert_eq!(e.attr("port"), Some("1"));
    }
}
