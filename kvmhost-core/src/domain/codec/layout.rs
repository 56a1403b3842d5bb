//! Where a new child element goes and how it is indented (see [`insert_child`]).

use crate::xml::{is_xml_whitespace, Element, Node, XmlString};

/// libvirt's indent unit, used when the document shows none where an element is inserted.
const DEFAULT_UNIT: &str = "  ";

/// Whether `n` is text made only of whitespace.
fn is_blank(n: &Node) -> bool {
    matches!(n, Node::Text(t) if is_xml_whitespace(t))
}

/// The text of `n` if it is whitespace holding a line break.
fn line_break(n: &Node) -> Option<&str> {
    match n {
        Node::Text(t) if t.contains('\n') && is_xml_whitespace(t) => Some(t),
        _ => None,
    }
}

/// The indentation a whitespace run gives the line it ends: what follows its last newline.
fn indentation(ws: &str) -> &str {
    &ws[ws.rfind('\n').map_or(0, |i| i + 1)..]
}

/// Indices of the line breaks that introduce a child (whitespace followed by a non-text node).
fn sibling_breaks(el: &Element) -> impl Iterator<Item = usize> + '_ {
    let c = &el.children;
    (0..c.len()).filter(move |&i| {
        line_break(&c[i]).is_some() && c.get(i + 1).is_some_and(|n| !matches!(n, Node::Text(_) | Node::CData(_)))
    })
}

/// The line break before the closing tag, if the element ends with one.
fn closing_break(el: &Element) -> Option<&str> {
    el.children.last().and_then(line_break)
}

/// The step between `el`'s closing-tag indentation and its children's indentation.
fn own_unit(el: &Element) -> Option<&str> {
    let closing = indentation(closing_break(el)?);
    let child = sibling_breaks(el).find_map(|i| line_break(&el.children[i]))?;
    indentation(child).strip_prefix(closing).filter(|u| !u.is_empty())
}

/// The first indent step shown by `el` or, depth first, an element inside it (iteratively:
/// a document can nest deeper than a thread's stack).
fn unit_within(el: &Element) -> Option<&str> {
    let mut pending = vec![el];
    while let Some(e) = pending.pop() {
        if let Some(unit) = own_unit(e) {
            return Some(unit);
        }
        // Children in reverse, so that the first is looked at next (document order).
        let start = pending.len();
        pending.extend(e.elements());
        pending[start..].reverse();
    }
    None
}

/// The indent unit to use below `el`: its own step, else one found inside it, else libvirt's.
///
/// ```
/// use kvmhost_core::domain::codec::indent_unit;
/// use kvmhost_core::xml::Document;
/// let d = Document::parse("<domain>\n\t<os>\n\t\t<type>hvm</type>\n\t</os>\n</domain>").unwrap();
/// assert_eq!(indent_unit(&d.root), "\t");
/// let d = Document::parse("<domain><os><type>hvm</type></os></domain>").unwrap();
/// assert_eq!(indent_unit(&d.root), "  ");
/// ```
pub fn indent_unit(el: &Element) -> &str {
    unit_within(el).unwrap_or(DEFAULT_UNIT)
}

/// Position at which a new child named `name` goes, given the canonical `order` of children:
/// after the last existing child named `name`, else after the last child whose name comes
/// earlier in `order`, else before the first child whose name comes later, else at the end
/// (before the whitespace that indents the closing tag).
pub(super) fn insert_position(el: &Element, name: &str, order: &[&str]) -> usize {
    let is_elem = |n: &Node, pred: &dyn Fn(&str) -> bool| matches!(n, Node::Element(c) if pred(&c.name));
    if let Some(i) = el.children.iter().rposition(|n| is_elem(n, &|c| c == name)) {
        return i + 1;
    }
    if let Some(rank) = order.iter().position(|n| *n == name) {
        let rank_of = |c: &str| order.iter().position(|n| *n == c);
        if let Some(a) = el.children.iter().rposition(|n| is_elem(n, &|c| rank_of(c).is_some_and(|r| r < rank))) {
            return a + 1;
        }
        if let Some(b) = el.children.iter().position(|n| is_elem(n, &|c| rank_of(c).is_some_and(|r| r > rank))) {
            return b;
        }
    }
    let mut end = el.children.len();
    while end > 0 && is_blank(&el.children[end - 1]) {
        end -= 1;
    }
    end
}

/// Subtrees are laid out this many levels down; deeper content is inserted as it is (one
/// line), so that the whitespace added stays linear in the size of any subtree.
const LAYOUT_DEPTH: usize = 64;

/// Lays out a freshly built subtree whose opening tag sits at `indent`: every element holding
/// only elements (and comments or processing instructions) gets each child on its own line,
/// one `unit` deeper, and its closing tag on a line at `indent`: line breaks are `nl` in the
/// text, written with CR LF if `crlf` (as a parsed document's were read). Elements holding any
/// text or CDATA are left as they are, and so is everything below [`LAYOUT_DEPTH`] levels.
/// Iterative (no recursion per level).
fn indent_subtree(el: &mut Element, indent: &str, unit: &str, nl: &str, crlf: bool) {
    // `breaks[d]`: the line break and indentation at depth `d` (0: `el`'s closing tag), and
    // how it is written if not the writer's way (CR LF).
    let line = |indent: String| -> (XmlString, Option<String>) {
        let raw = crlf.then(|| format!("\r\n{indent}"));
        (format!("{nl}{indent}").into(), raw)
    };
    let mut indents = vec![indent.to_string()];
    let mut breaks = vec![line(indent.to_string())];
    let mut pending: Vec<(&mut Element, usize)> = vec![(el, 0)];
    while let Some((e, depth)) = pending.pop() {
        if depth >= LAYOUT_DEPTH
            || e.children.is_empty()
            || e.children.iter().any(|n| matches!(n, Node::Text(_) | Node::CData(_)))
        {
            continue;
        }
        if breaks.len() <= depth + 1 {
            let deeper = format!("{}{unit}", indents[depth]);
            breaks.push(line(deeper.clone()));
            indents.push(deeper);
        }
        let children = std::mem::take(&mut e.children);
        let mut at = 0;
        for node in children {
            let (text, raw) = &breaks[depth + 1];
            e.insert_text_as(at, text.clone(), raw.as_deref());
            e.children.push(node);
            at += 2;
        }
        let (text, raw) = &breaks[depth];
        e.insert_text_as(at, text.clone(), raw.as_deref());
        for n in e.children.iter_mut() {
            if let Node::Element(c) = n {
                pending.push((c, depth + 1));
            }
        }
    }
}

/// Inserts `child` at `pos`, laid out like the children around it (see [`insert_child`]).
pub(super) fn insert_indented(el: &mut Element, pos: usize, mut child: Element) {
    let before = sibling_breaks(el).filter(|&i| i < pos).last().or_else(|| sibling_breaks(el).next());
    // The whitespace to copy, and how it was written (CR LF line ends) if not the writer's way.
    let ws: Option<(String, Option<String>)> = match (before, closing_break(el)) {
        (Some(i), _) => line_break(&el.children[i]).map(|t| (t.to_string(), el.text_as_written(i).map(str::to_string))),
        // Only the closing tag's line: the first child goes one unit deeper.
        (None, Some(closing)) => {
            let unit = indent_unit(el);
            let raw = el.text_as_written(el.children.len() - 1).map(|r| format!("{r}{unit}"));
            Some((format!("{closing}{unit}"), raw))
        }
        (None, None) => None,
    };
    let Some((ws, raw)) = ws else {
        el.insert_node(pos, Node::Element(child));
        return;
    };
    // The unit is the step from the closing tag to this line (documents are not always
    // consistent: the line the child copies is the one to go one unit deeper from).
    let own = closing_break(el).and_then(|c| indentation(&ws).strip_prefix(indentation(c))).filter(|u| !u.is_empty());
    let unit = own.unwrap_or_else(|| indent_unit(el)).to_string();
    let crlf = raw.as_deref().is_some_and(|r| r.contains("\r\n"));
    let nl = if ws.contains("\r\n") { "\r\n" } else { "\n" };
    indent_subtree(&mut child, indentation(&ws), &unit, nl, crlf);
    if pos > 0 && line_break(&el.children[pos - 1]).is_some() {
        // The break before `pos` now introduces `child`; the node that was at `pos` gets a copy.
        el.insert_node(pos, Node::Element(child));
        el.insert_text_as(pos + 1, ws.into(), raw.as_deref());
    } else {
        el.insert_text_as(pos, ws.into(), raw.as_deref());
        el.insert_node(pos + 1, Node::Element(child));
    }
}

/// Inserts a new child element at its canonical place (after its peers, per `order`), laid out
/// like the document.
///
/// A typed edit that adds an element (a device, `<currentMemory>`, a `<vlan>` inside an
/// existing interface, …) inserts it at libvirt's canonical position and lays it out like the
/// document around it:
///
/// - the new element gets the line break and indentation its siblings have;
/// - a freshly built subtree (elements holding only elements, no text at all) is indented
///   below it, one *indent unit* per level, closing tags aligned with their opening tags;
/// - the indent unit is the step between the parent's closing-tag indentation and the
///   indentation the new element copies (`"\n  </devices>"` vs `"\n    <disk"`: two spaces);
///   when the parent does not show it, the first such step found inside the parent, else two
///   spaces (libvirt's own);
/// - a parent whose children are not on lines of their own (a one-line document, an inline
///   `<os><type>hvm</type></os>`) gets no whitespace at all;
/// - existing nodes are never changed, and a subtree that already holds text (formatted by its
///   author, or mixed content) is inserted as it is.
///
/// ```
/// use kvmhost_core::domain::codec::insert_child;
/// use kvmhost_core::xml::{Document, Element};
/// let mut d = Document::parse("<domain>\n    <devices>\n        <disk/>\n    </devices>\n</domain>").unwrap();
/// let mut nic = Element::new("interface");
/// nic.push_element(Element::new("model"));
/// insert_child(d.root.child_mut("devices").unwrap(), nic, &["disk", "interface"]);
/// assert_eq!(
///     d.to_xml().unwrap(),
///     "<domain>\n    <devices>\n        <disk/>\n        <interface>\n            <model/>\n        </interface>\n    </devices>\n</domain>"
/// );
/// ```
pub fn insert_child(el: &mut Element, child: Element, order: &[&str]) {
    let pos = insert_position(el, &child.name, order);
    insert_indented(el, pos, child);
}

/// Removes the `idx`-th child element named `name`, with the whitespace that indented it.
pub(super) fn remove_nth(el: &mut Element, name: &str, idx: usize) {
    let Some(pos) = el
        .children
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(n, Node::Element(c) if c.name == name))
        .nth(idx)
        .map(|(i, _)| i)
    else {
        return;
    };
    remove_node_at(el, pos);
}

/// Removes the node at index `pos` of `el`'s content, with the whitespace that indented it.
pub(crate) fn remove_node_at(el: &mut Element, pos: usize) {
    if pos >= el.children.len() {
        return;
    }
    el.remove_node(pos);
    if pos > 0 && is_blank(&el.children[pos - 1]) {
        el.remove_node(pos - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    fn subtree() -> Element {
        let mut nic = Element::new("interface");
        nic.set_attr("type", "bridge");
        nic.push_element(Element::new("source")).set_attr("bridge", "br0");
        let mut vlan = Element::new("vlan");
        vlan.push_element(Element::new("tag")).set_attr("id", "7");
        nic.push_element(vlan);
        nic.push_element(Element::new("model")).set_text("x");
        nic
    }

    fn insert(xml: &str, order: &[&str]) -> String {
        let mut d = Document::parse(xml).unwrap();
        insert_child(&mut d.root, subtree(), order);
        d.to_xml().unwrap()
    }

    #[test]
    fn subtree_takes_the_siblings_indentation_and_unit() {
        assert_eq!(
            insert("<devices>\n    <disk/>\n    <rng/>\n  </devices>", &["disk", "interface", "rng"]),
            "<devices>\n    <disk/>\n    <interface type=\"bridge\">\n      <source bridge=\"br0\"/>\n      \
             <vlan>\n        <tag id=\"7\"/>\n      </vlan>\n      <model>x</model>\n    </interface>\n    \
             <rng/>\n  </devices>"
        );
        // At the front, with tabs.
        assert_eq!(
            insert("<d>\n\t<rng/>\n</d>", &["interface", "rng"]),
            "<d>\n\t<interface type=\"bridge\">\n\t\t<source bridge=\"br0\"/>\n\t\t<vlan>\n\t\t\t<tag id=\"7\"/>\
             \n\t\t</vlan>\n\t\t<model>x</model>\n\t</interface>\n\t<rng/>\n</d>"
        );
        // CRLF line ends in the tree (the parser normalises them, a caller's tree may hold them)
        // are copied.
        let mut d = Element::new("d");
        d.children.push(Node::Text("\r\n  ".into()));
        d.push_element(Element::new("rng"));
        d.children.push(Node::Text("\r\n".into()));
        insert_child(&mut d, subtree(), &["interface", "rng"]);
        let breaks: Vec<&str> = d.children[1].as_element().unwrap().children.iter().filter_map(line_break).collect();
        assert_eq!(breaks, ["\r\n    ", "\r\n    ", "\r\n    ", "\r\n  "]);
        assert_eq!(
            insert("<d>\n <disk/>\n</d>", &[]),
            "<d>\n <disk/>\n <interface type=\"bridge\">\n  <source bridge=\"br0\"/>\n  <vlan>\n   <tag id=\"7\"/>\n  \
             </vlan>\n  <model>x</model>\n </interface>\n</d>"
        );
    }

    #[test]
    fn crlf_documents_keep_their_line_ends() {
        let src = "<domain>\r\n  <devices>\r\n    <disk/>\r\n    <tpm/>\r\n  </devices>\r\n</domain>\r\n";
        let mut d = Document::parse(src).unwrap();
        let devices = d.root.child_mut("devices").unwrap();
        insert_child(devices, subtree(), &["disk", "interface", "tpm"]);
        let added = "    <interface type=\"bridge\">\r\n      <source bridge=\"br0\"/>\r\n      <vlan>\r\n        \
                     <tag id=\"7\"/>\r\n      </vlan>\r\n      <model>x</model>\r\n    </interface>\r\n";
        let with = src.replace("    <tpm/>", &format!("{added}    <tpm/>"));
        assert_eq!(d.to_xml().unwrap(), with);
        // and removing it again gives the document back, byte for byte
        remove_nth(d.root.child_mut("devices").unwrap(), "interface", 0);
        assert_eq!(d.to_xml().unwrap(), src);
        // a new first child of an empty parent
        let src = "<domain>\r\n  <devices>\r\n  </devices>\r\n</domain>";
        let mut d = Document::parse(src).unwrap();
        insert_child(d.root.child_mut("devices").unwrap(), Element::new("tpm"), &["tpm"]);
        assert_eq!(d.to_xml().unwrap(), src.replace("<devices>\r\n", "<devices>\r\n    <tpm/>\r\n"));
    }

    #[test]
    fn no_indentation_where_the_document_has_none() {
        assert_eq!(
            insert("<d><disk/></d>", &[]),
            "<d><disk/><interface type=\"bridge\"><source bridge=\"br0\"/><vlan><tag id=\"7\"/></vlan>\
             <model>x</model></interface></d>"
        );
        assert_eq!(insert("<d/>", &[]).matches('\n').count(), 0);
    }

    #[test]
    fn empty_parent_on_its_own_lines_goes_one_unit_deeper() {
        // `<devices>` holds only the closing tag's line break: the child goes one unit deeper.
        let mut d = Document::parse("<domain>\n   <devices>\n   </devices>\n</domain>").unwrap();
        insert_child(d.root.child_mut("devices").unwrap(), subtree(), &[]);
        let out = d.to_xml().unwrap();
        assert!(out.contains("<devices>\n     <interface type=\"bridge\">\n       <source"), "{out}");
        assert!(out.contains("</vlan>\n       <model>x</model>\n     </interface>\n   </devices>"), "{out}");
    }

    #[test]
    fn formatted_or_mixed_subtrees_are_inserted_as_they_are() {
        let mut d = Document::parse("<d>\n  <a/>\n</d>").unwrap();
        let given = Document::parse("<x><y/> <z/></x>").unwrap().root;
        insert_child(&mut d.root, given, &[]);
        assert_eq!(d.to_xml().unwrap(), "<d>\n  <a/>\n  <x><y/> <z/></x>\n</d>");
    }

    #[test]
    fn existing_nodes_are_untouched_and_removal_takes_the_indentation() {
        let src = "<d>\n  <a><b/></a>\n  <c/>\n</d>";
        let mut d = Document::parse(src).unwrap();
        insert_child(&mut d.root, Element::new("e"), &["a", "e", "c"]);
        assert_eq!(d.to_xml().unwrap(), "<d>\n  <a><b/></a>\n  <e/>\n  <c/>\n</d>");
        remove_nth(&mut d.root, "e", 0);
        assert_eq!(d.to_xml().unwrap(), src);
    }

    #[test]
    fn unit_detection() {
        let d = Document::parse("<a>\n    <b/>\n</a>").unwrap();
        assert_eq!(indent_unit(&d.root), "    ");
        // A parent whose closing tag is not on its own line shows no step; one inside does.
        let d = Document::parse("<a>\n  <b>\n     <c/>\n  </b></a>").unwrap();
        assert_eq!(indent_unit(&d.root), "   ");
    }
}
