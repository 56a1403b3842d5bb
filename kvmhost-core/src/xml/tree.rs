//! `Drop`, `Clone`, `PartialEq` and `Debug` for [`Element`] without unbounded recursion:
//! derived, each would take one stack frame per nesting level, and a tree parsed with raised
//! limits ([`Limits`](super::Limits)) can be deeper than any thread's stack. Each walks the
//! tree with an explicit stack on the heap instead (drop: below a fixed recursion depth); the
//! common shallow cases take a short path.

use std::fmt;

use super::{Attribute, Element, Node, XmlVec};

/// Element drops nest this deep by plain recursion (a few dozen bytes of stack per level);
/// deeper trees are taken apart iteratively.
const DROP_RECURSION: usize = 128;

impl Drop for Element {
    #[inline]
    fn drop(&mut self) {
        // Elements inside the content are taken apart by `drop_content` without being dropped
        // as a whole: only the element a drop starts from gets here with content.
        if self.children.has_block() {
            drop_content(std::mem::take(&mut self.children), 0);
        }
    }
}

/// Drops the content of an element `depth` levels below the one being dropped, in one pass:
/// each child element is taken apart field by field, its own content by recursion (a few
/// dozen bytes of stack per level, the cheapest way to free the few levels of real documents)
/// and from [`DROP_RECURSION`] levels down by [`drop_deep`].
fn drop_content(children: XmlVec<Node>, depth: usize) {
    // SAFETY: `consume` hands over each node once. An element node's fields are each dropped
    // or moved out once (the content moves into the next call); the element as a whole is
    // then forgotten, so its own `Drop` (which would only look at the content again) does not
    // run. Every other node is dropped whole.
    unsafe {
        children.consume(|node| match &mut *node {
            Node::Element(e) => {
                // Every field named (no `..`): a field added to `Element` or `Attribute` does
                // not compile here until it is dropped below too.
                let Element { name: _, attributes: _, children: _, format: _ } = e;
                let e: *mut Element = e;
                std::ptr::drop_in_place(&mut (*e).name);
                std::ptr::read(&(*e).attributes).consume(|a| {
                    let Attribute { name: _, value: _ } = &*a;
                    std::ptr::drop_in_place(&mut (*a).name);
                    std::ptr::drop_in_place(&mut (*a).value);
                });
                std::ptr::drop_in_place(&mut (*e).format);
                let content = std::ptr::read(&(*e).children);
                if content.has_block() {
                    if depth < DROP_RECURSION {
                        drop_content(content, depth + 1);
                    } else {
                        drop_deep(content);
                    }
                }
            }
            Node::Text(t) => std::ptr::drop_in_place(t),
            _ => std::ptr::drop_in_place(node),
        });
    }
}

/// Drops content of any depth without recursion: every element's content moves to a list of
/// vectors, so that each vector dropped holds only elements without content.
#[cold]
#[inline(never)]
fn drop_deep(children: XmlVec<Node>) {
    let mut pending: Vec<XmlVec<Node>> = vec![children];
    while let Some(mut nodes) = pending.pop() {
        for n in nodes.iter_mut() {
            if let Node::Element(e) = n {
                if e.children.has_block() {
                    pending.push(std::mem::take(&mut e.children));
                }
            }
        }
    }
}

#[inline(always)]
fn has_grandchildren(e: &Element) -> bool {
    e.children.iter().any(|n| matches!(n, Node::Element(c) if !c.children.is_empty()))
}

impl Element {
    /// The element without its content.
    fn shallow_clone(&self) -> Element {
        Element::from_parts(self.name.clone(), self.attributes.clone(), self.format().clone())
    }
}

impl Clone for Element {
    fn clone(&self) -> Element {
        let mut out = self.shallow_clone();
        if !has_grandchildren(self) {
            // Cloning a childless child element takes this short path again: one level.
            out.children = self.children.clone();
            return out;
        }
        // As the parser builds a tree: every element's content gathered after it in `content`
        // and moved into its `children` when it is complete. `open` holds, innermost last,
        // the content still to copy of each element being copied and its place in `content`
        // (`None` for `self`).
        let mut content: Vec<Node> = Vec::new();
        let mut open: Vec<(std::slice::Iter<'_, Node>, Option<usize>)> = vec![(self.children.iter(), None)];
        while let Some((rest, at)) = open.last_mut() {
            match rest.next() {
                Some(Node::Element(e)) => {
                    let place = content.len();
                    content.push(Node::Element(e.shallow_clone()));
                    if !e.children.is_empty() {
                        open.push((e.children.iter(), Some(place)));
                    }
                }
                Some(other) => content.push(other.clone()),
                None => {
                    let at = *at;
                    open.pop();
                    match at {
                        None => out.children = XmlVec::take_tail_of(&mut content, 0),
                        Some(at) => {
                            let children = XmlVec::take_tail_of(&mut content, at + 1);
                            if let Some(Node::Element(e)) = content.last_mut() {
                                e.children = children;
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

impl PartialEq for Element {
    fn eq(&self, other: &Element) -> bool {
        let mut pending: Vec<(&Element, &Element)> = vec![(self, other)];
        while let Some((a, b)) = pending.pop() {
            if a.name != b.name || a.attributes != b.attributes || a.children.len() != b.children.len() {
                return false;
            }
            for (x, y) in a.children.iter().zip(b.children.iter()) {
                match (x, y) {
                    (Node::Element(x), Node::Element(y)) => pending.push((x, y)),
                    (Node::Element(_), _) | (_, Node::Element(_)) => return false,
                    (x, y) if x != y => return false,
                    _ => {}
                }
            }
        }
        true
    }
}

impl Eq for Element {}

/// `Debug` in the form `#[derive(Debug)]` gives (without the formatting kept for writing back),
/// `{:#?}` included.
impl fmt::Debug for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = DebugWriter { pretty: f.alternate(), f };
        out.open(self, 0)?;
        // Innermost last: the children still to print of each open element, the depth of its
        // `Element {` line, whether none was printed yet, and whether it sits in a
        // `Node::Element(..)` (all but `self`).
        let mut open: Vec<(std::slice::Iter<'_, Node>, usize, bool, bool)> =
            vec![(self.children.iter(), 0, true, false)];
        while let Some((rest, depth, first, nested)) = open.last_mut() {
            let (d, is_first, nested) = (*depth, *first, *nested);
            let Some(node) = rest.next() else {
                open.pop();
                out.close(d, is_first)?;
                if nested {
                    out.close_wrapper(d - 1)?;
                }
                continue;
            };
            *first = false;
            out.item_start(d + 2, is_first)?;
            match node {
                Node::Element(e) => {
                    out.open_wrapper(d + 2)?;
                    out.open(e, d + 3)?;
                    open.push((e.children.iter(), d + 3, true, true));
                }
                other => {
                    out.debug(other, d + 2)?;
                    out.item_end()?;
                }
            }
        }
        Ok(())
    }
}

/// The deepest indentation of `{:#?}`, in levels of four spaces.
const MAX_INDENT: usize = 60;

struct DebugWriter<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    pretty: bool,
}

impl DebugWriter<'_, '_> {
    /// A line break and indentation to `depth` in `{:#?}`, else `compact`. Past
    /// [`MAX_INDENT`] levels, lines are indented no further (so that the text stays linear in
    /// the size of the tree).
    fn newline(&mut self, depth: usize, compact: &str) -> fmt::Result {
        if !self.pretty {
            return self.f.write_str(compact);
        }
        self.f.write_str("\n")?;
        for _ in 0..depth.min(MAX_INDENT) {
            self.f.write_str("    ")?;
        }
        Ok(())
    }

    /// `value` with `{:?}`, or with `{:#?}` indented to `depth`.
    fn debug(&mut self, value: &dyn fmt::Debug, depth: usize) -> fmt::Result {
        if !self.pretty {
            return write!(self.f, "{value:?}");
        }
        let text = format!("{value:#?}");
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                self.newline(depth, "")?;
            }
            self.f.write_str(line)?;
        }
        Ok(())
    }

    /// Before a list item at `depth`.
    fn item_start(&mut self, depth: usize, first: bool) -> fmt::Result {
        self.newline(depth, if first { "" } else { ", " })
    }

    /// After a list item.
    fn item_end(&mut self) -> fmt::Result {
        if self.pretty {
            self.f.write_str(",")?;
        }
        Ok(())
    }

    /// `Element { name: .., attributes: [..], children: [` with `Element {` at `depth`.
    fn open(&mut self, e: &Element, depth: usize) -> fmt::Result {
        self.f.write_str("Element {")?;
        self.newline(depth + 1, " ")?;
        self.f.write_str("name: ")?;
        self.debug(&e.name, depth + 1)?;
        self.f.write_str(",")?;
        self.newline(depth + 1, " ")?;
        self.f.write_str("attributes: ")?;
        self.debug(&e.attributes, depth + 1)?;
        self.f.write_str(",")?;
        self.newline(depth + 1, " ")?;
        self.f.write_str("children: [")
    }

    /// `] }` after the children of the element opened at `depth` (`empty` if there were none).
    fn close(&mut self, depth: usize, empty: bool) -> fmt::Result {
        if !empty {
            self.newline(depth + 1, "")?;
        }
        self.f.write_str(if self.pretty { "]," } else { "]" })?;
        self.newline(depth, " ")?;
        self.f.write_str("}")
    }

    /// `Element(` around an element item at `depth`.
    fn open_wrapper(&mut self, depth: usize) -> fmt::Result {
        self.f.write_str("Element(")?;
        self.newline(depth + 1, "")
    }

    /// The `)` (and, pretty, the commas) after an element item at `depth`.
    fn close_wrapper(&mut self, depth: usize) -> fmt::Result {
        if self.pretty {
            self.f.write_str(",")?;
        }
        self.newline(depth, "")?;
        self.f.write_str(")")?;
        self.item_end()
    }
}

#[cfg(test)]
mod tests {
    use super::MAX_INDENT;
    use crate::xml::{Document, Element};

    fn deep(depth: usize) -> Element {
        let mut root = Element::new("a");
        let mut cur = &mut root;
        for _ in 1..depth {
            cur = cur.push_element(Element::new("a"));
        }
        root
    }

    #[test]
    fn deep_trees_clone_compare_print_and_drop_on_a_small_stack() {
        std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(|| {
                let a = deep(100_000);
                let b = a.clone();
                assert!(a == b);
                let mut c = b.clone();
                // the innermost element gets an attribute
                let mut cur = &mut c;
                while matches!(cur.children.first(), Some(crate::xml::Node::Element(_))) {
                    match cur.children.first_mut() {
                        Some(crate::xml::Node::Element(e)) => cur = e,
                        _ => unreachable!(),
                    }
                }
                cur.set_attr("x", "1");
                assert!(a != c);
                assert!(format!("{a:?}").len() > 100_000);
                let pretty = format!("{a:#?}");
                assert!(pretty.len() > 100_000 && pretty.len() < 100_000 * 8 * (4 * MAX_INDENT + 30));
            })
            .unwrap()
            .join()
            .unwrap();
    }

    /// The same text as `#[derive(Debug)]` on the same fields gives.
    #[test]
    fn debug_matches_the_derived_form() {
        mod mirror {
            #[derive(Debug)]
            #[allow(dead_code)]
            pub enum N {
                Element(Element),
                Text(&'static str),
            }
            #[derive(Debug)]
            #[allow(dead_code)]
            pub struct Element {
                pub name: &'static str,
                pub attributes: Vec<crate::xml::Attribute>,
                pub children: Vec<N>,
            }
        }
        use mirror::{Element as E, N};
        let d = Document::parse("<a x='1'>t<b><c/>u</b><d/></a>").unwrap();
        let attrs = d.root.attributes.to_vec();
        let leaf = |name| N::Element(E { name, attributes: vec![], children: vec![] });
        let b = N::Element(E { name: "b", attributes: vec![], children: vec![leaf("c"), N::Text("u")] });
        let want = E { name: "a", attributes: attrs, children: vec![N::Text("t"), b, leaf("d")] };
        assert_eq!(format!("{:?}", d.root), format!("{want:?}"));
        assert_eq!(format!("{:#?}", d.root), format!("{want:#?}"));
        let empty = E { name: "e", attributes: vec![], children: vec![] };
        assert_eq!(format!("{:?}", Element::new("e")), format!("{empty:?}"));
        assert_eq!(format!("{:#?}", Element::new("e")), format!("{empty:#?}"));
    }

    #[test]
    fn clone_keeps_every_node_and_format() {
        let src = "<a x='1'>t<b y=\"2\"><c/><!--k--></b><d></d>&apos;<e  z='3' /></a>";
        let d = Document::parse(src).unwrap();
        let mut copy = Document::new(d.root.clone());
        copy.set_quote_style(d.quote_style());
        assert!(copy.root == d.root);
        assert_eq!(copy.to_xml().unwrap(), src);
    }
}
