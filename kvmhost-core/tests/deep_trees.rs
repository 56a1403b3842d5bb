//! Trees far deeper than the parser's default depth limit, built through the API (issue 11,
//! part 2: no recursion a document can drive without bound). A 1,000,000-deep chain of
//! elements goes through every operation on the tree — write, pretty write, parse of the
//! written text (limits raised; refused at the default limit), clone, `==`,
//! `semantically_eq` / `first_difference`, `Debug`, coverage, layout of an inserted subtree,
//! drop — on a thread with a 2 MiB stack, where one stack frame per level would overflow.

use kvmhost_core::domain::codec::{indent_unit, insert_child};
use kvmhost_core::domain::{Domain, DomainError};
use kvmhost_core::xml::{Document, Element, Limit, Limits, Node, XmlError};

const DEPTH: usize = 1_000_000;

/// `<a><a>…</a></a>`, `depth` levels, the innermost holding `leaf` as text (built bottom up:
/// no recursion, one move per level).
fn chain(depth: usize, leaf: &str) -> Element {
    let mut e = Element::new("a");
    e.set_text(leaf);
    chain_over(depth - 1, e)
}

/// `depth` levels of `<a>` over `bottom`.
fn chain_over(depth: usize, bottom: Element) -> Element {
    let mut e = bottom;
    for _ in 0..depth {
        let mut parent = Element::new("a");
        parent.push_element(e);
        e = parent;
    }
    e
}

/// A domain whose `<metadata>` holds `chain`.
fn deep_domain(chain: Element) -> Domain {
    let mut root = Element::new("domain");
    root.push_element(Element::new("name")).set_text("deep");
    root.push_element(Element::new("metadata")).push_element(chain);
    Domain::from_document(Document::new(root)).unwrap()
}

/// Runs `f` on a thread with a 2 MiB stack (a normal thread's), failing the test on a panic
/// or a stack overflow (which aborts the test binary).
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().stack_size(2 << 20).spawn(f).unwrap().join().expect("no panic");
}

#[test]
fn a_million_levels_write_parse_compare_clone_debug_cover_and_drop() {
    on_small_stack(|| {
        let d = deep_domain(chain(DEPTH, "leaf"));

        let xml = d.to_xml().unwrap();
        let expected_len = "<domain><name>deep</name><metadata>".len()
            + DEPTH * "<a></a>".len()
            + "leaf".len()
            + "</metadata></domain>".len();
        assert_eq!(xml.len(), expected_len);
        assert!(xml.contains("<a><a>leaf</a></a>") && xml.ends_with("</a></a></metadata></domain>"));

        // Pretty: indentation stops growing (linear output), the text is kept.
        let pretty = d.to_xml_pretty().unwrap();
        assert!(pretty.len() < 300 * DEPTH, "{} bytes", pretty.len());
        assert!(pretty.contains("<a>leaf</a>"));

        // The written text is refused at the default limit, with the position of the 257th
        // level, and parses with the limit raised.
        match Domain::parse(&xml) {
            Err(DomainError::Xml(XmlError::LimitExceeded { limit: Limit::Depth, max: 256, line: 1, column })) => {
                assert_eq!(column, "<domain><name>deep</name><metadata>".len() + 254 * 3 + 1)
            }
            other => panic!("{:?}", other.map(|_| "parsed")),
        }
        let limits = Limits::default().with_max_depth(2 * DEPTH);
        let back = Domain::parse_with(&xml, &limits).unwrap();
        assert!(back == d);
        assert!(back.root().semantically_eq(d.root()));
        assert_eq!(back.to_xml().unwrap(), xml);
        let back_pretty = Document::parse_with(&pretty, &limits.with_max_input_bytes(usize::MAX)).unwrap();
        assert!(back_pretty.root.semantically_eq(d.root()));
        drop(back_pretty);

        // A difference at the bottom is found, and named by its path.
        let other = deep_domain(chain(DEPTH, "leaf2"));
        assert!(other != d);
        assert!(!other.root().semantically_eq(d.root()));
        let diff = d.root().first_difference(other.root(), "").unwrap();
        assert!(diff.starts_with("/domain/metadata/a/a/a/"), "{}", &diff[..100]);
        assert!(diff.len() > 2 * DEPTH && diff.contains("leaf2"), "{}", &diff[diff.len() - 100..]);
        drop(other);

        let copy = d.clone();
        assert!(copy == d);
        let debug = format!("{copy:?}");
        assert!(debug.len() > 10 * DEPTH);
        assert_eq!(debug.matches("\"leaf\"").count(), 1);
        drop(debug);
        drop(copy);
        // `{:#?}` writes about ten lines per level: checked on 20,000 levels (still far more
        // than a thread's stack would take by recursion).
        let alt = format!("{:#?}", chain(20_000, "leaf"));
        assert!(alt.len() > 10 * 20_000 && alt.contains("\"leaf\""));
        drop(alt);

        let cov = d.coverage();
        assert_eq!(cov.elements, DEPTH + 3);
        drop(back);
        drop(d);
    });
}

#[test]
fn a_million_level_subtree_is_inserted_and_laid_out_without_recursion() {
    on_small_stack(|| {
        // The indent unit is found however deep it first shows.
        let mut inner = Element::new("b");
        inner.children.push(Node::Text("\n\t\t".into()));
        inner.push_element(Element::new("c"));
        inner.children.push(Node::Text("\n\t".into()));
        let mut doc = Document::new(Element::new("domain"));
        doc.root.push_element(chain_over(DEPTH, inner));
        assert_eq!(indent_unit(&doc.root), "\t");
        drop(doc);

        // A deep subtree inserted into an indented document: the first levels are laid out,
        // the rest is inserted as it is.
        let mut d = Document::parse("<domain>\n  <devices>\n    <disk/>\n  </devices>\n</domain>\n").unwrap();
        insert_child(d.root.child_mut("devices").unwrap(), chain(DEPTH, "x"), &["disk", "a"]);
        let xml = d.to_xml().unwrap();
        assert!(xml.starts_with("<domain>\n  <devices>\n    <disk/>\n    <a>\n      <a>\n        <a>\n"));
        assert!(xml.contains("<a>x</a></a></a>"));
        assert!(xml.ends_with("</a>\n      </a>\n    </a>\n  </devices>\n</domain>\n"), "{}", &xml[xml.len() - 200..]);
        assert!(xml.len() < 20 * DEPTH);
        let back = Document::parse_with(&xml, &Limits::unlimited()).unwrap();
        assert!(back.root.semantically_eq(&d.root));
    });
}
