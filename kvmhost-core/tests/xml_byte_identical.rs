//! Unedited documents write back byte for byte, and edits change only their own text (issue 11,
//! part 4): over libvirt's domain corpus, and form by form.

use kvmhost_core::domain::{Domain, Memory};
use kvmhost_core::xml::{Document, Element, Quote};
use kvmhost_testdata::{libvirt_corpus, xml_files};

/// The share of libvirt's domain documents that parse and write back byte-identical, and the
/// ones that do not (none at the time of writing; the issue asks for at least 99 %).
#[test]
fn libvirt_corpus_round_trips_byte_for_byte() {
    let Some(dir) = libvirt_corpus() else {
        eprintln!("SKIP: libvirt test corpus not found (set KVMHOST_TESTDATA)");
        return;
    };
    let files = xml_files(&dir.join("domain"));
    assert!(files.len() > 500, "corpus looks incomplete: {} files", files.len());
    let (mut parsed, mut identical, mut differ) = (0usize, 0usize, Vec::new());
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        let Ok(doc) = Document::parse(&src) else { continue };
        parsed += 1;
        let out = doc.to_xml().unwrap();
        if out == src {
            identical += 1;
        } else {
            let at = out.bytes().zip(src.bytes()).take_while(|(a, b)| a == b).count();
            differ.push(format!("{} (first difference at byte {at})", path.display()));
        }
    }
    let share = identical as f64 / parsed as f64;
    eprintln!("byte-identical: {identical} of {parsed} parsed documents ({} files)", files.len());
    for d in &differ {
        eprintln!("  differs: {d}");
    }
    assert_eq!(parsed, files.len(), "every corpus document parses");
    assert!(share >= 0.99, "{identical} of {parsed} byte-identical; differing:\n{}", differ.join("\n"));
}

/// The typed no-op edit (`apply(def())`) of every corpus document the typed model decodes
/// changes no byte either.
#[test]
fn typed_no_op_edits_keep_libvirt_documents_byte_for_byte() {
    let Some(dir) = libvirt_corpus() else { return };
    let (mut decoded, mut identical, mut differ) = (0usize, 0usize, Vec::new());
    for path in xml_files(&dir.join("domain")) {
        let src = std::fs::read_to_string(&path).unwrap();
        let Ok(mut d) = Domain::parse(&src) else { continue };
        let Ok(def) = d.def() else { continue };
        decoded += 1;
        d.apply(&def);
        let out = d.to_xml().unwrap();
        if out == src {
            identical += 1;
        } else {
            let at = out.bytes().zip(src.bytes()).take_while(|(a, b)| a == b).count();
            differ.push(format!(
                "{} (first difference at byte {at}: {:?})",
                path.display(),
                &out[at..(at + 60).min(out.len())]
            ));
        }
    }
    eprintln!("typed no-op edit byte-identical: {identical} of {decoded} decoded documents");
    assert!(decoded > 500);
    assert!(identical as f64 >= 0.99 * decoded as f64, "differing:\n{}", differ.join("\n"));
}

fn round_trip(src: &str) {
    let d = Document::parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
    assert_eq!(d.to_xml().unwrap(), src);
}

#[test]
fn each_form_is_kept() {
    for src in [
        // quote style, per element and mixed in one tag
        "<a x='1'><b y=\"2\"/><c p='1' q=\"2\" r='3'/></a>",
        // the XML declaration, prolog and epilog whitespace, DOCTYPE, comments, PIs
        "<?xml version='1.0' encoding='UTF-8' standalone=\"yes\" ?>\n<!DOCTYPE  a>\n<!-- c -->\n<a/>\n<?pi x?>\n",
        // whitespace inside tags
        "<a\n    x='1'\n    y = \"2\"\t/>",
        "<a ><b /><c x='1' ></c ><d\n/></a\n>",
        // empty-element forms
        "<a><b></b><c/><d x='1'></d></a>",
        // references where the writer would spell them otherwise
        "<a x='it&apos;s' y=\"&quot;q&quot; &apos;\" z='a&#10;b&#9;c&gt;d' w='&#x41;&#65;'/>",
        "<a v=\"a>b 'c'\" w='x\"y'>it&apos;s &quot;q&quot; a&gt;b c>d &#10;&#x41;&#13;</a>",
        "<a>x<b/>&apos;<b/>y&#x20;z</a>",
        // line ends: CR LF throughout, in text, between attributes, in values
        "<a\r\n  x='1\r\n2'>\r\n  <b>t\r\n</b>\r\n</a>\r\n",
        // a byte order mark
        "\u{feff}<?xml version='1.0'?>\n<a/>",
        // what the writer writes itself
        "<a x='&lt;&amp;&gt;' y=\"&lt;&quot;\">&lt;&amp;&gt;&#13;</a>",
    ] {
        round_trip(src);
    }
}

#[test]
fn a_changed_value_keeps_its_quote_and_the_rest_of_the_tag() {
    let mut d = Document::parse("<a x='1' y=\"2\"><b\n   p = '1'\n   q='2'/></a>").unwrap();
    d.root.set_attr("x", "one");
    d.root.set_attr("y", "it's");
    let b = d.root.child_mut("b").unwrap();
    b.set_attr("p", "'");
    assert_eq!(d.to_xml().unwrap(), "<a x='one' y=\"it's\"><b\n   p = '&apos;'\n   q='2'/></a>");
    // an attribute removed from a tag kept as read takes its spacing with it
    d.root.child_mut("b").unwrap().remove_attr("p");
    assert_eq!(d.to_xml().unwrap(), "<a x='one' y=\"it's\"><b\n   q='2'/></a>");
}

#[test]
fn a_new_attribute_takes_its_elements_quote() {
    let mut d = Document::parse("<a x=\"1\"><b y='2'/><c\n  z='3'/><e/></a>").unwrap();
    d.root.set_attr("n", "1");
    d.root.child_mut("b").unwrap().set_attr("n", "2");
    d.root.child_mut("c").unwrap().set_attr("n", "3");
    // an element without attributes takes the document's style (here: `'`, two elements of
    // three)
    d.root.child_mut("e").unwrap().set_attr("n", "4");
    assert_eq!(d.to_xml().unwrap(), "<a x=\"1\" n=\"1\"><b y='2' n='2'/><c\n  z='3' n='3'/><e n='4'/></a>");
}

#[test]
fn a_new_element_takes_the_documents_quote() {
    let src = "<domain type='kvm'>\n  <name>a</name>\n  <devices>\n    <disk type='file'/>\n  </devices>\n</domain>\n";
    let mut d = Document::parse(src).unwrap();
    assert_eq!(d.quote_style(), Quote::Single);
    let mut nic = Element::new("interface");
    nic.set_attr("type", "bridge");
    nic.push_element(Element::new("source")).set_attr("bridge", "br0");
    d.root.child_mut("devices").unwrap().push_element(nic);
    let want =
        src.replace("\n  </devices>", "\n  <interface type='bridge'><source bridge='br0'/></interface></devices>");
    assert_eq!(d.to_xml().unwrap(), want);
    // a document built from scratch keeps writing `"`
    assert_eq!(Document::new(Element::new("a")).quote_style(), Quote::Double);
}

#[test]
fn a_typed_edit_changes_only_its_own_text() {
    let src = "<domain type='kvm'>\n  <name>web1</name>\n  <description>it&apos;s \"ours\"</description>\n  <memory unit='GiB'>2</memory>\n  <devices>\n    <disk type='file' device='disk'/>\n  </devices>\n</domain>\n";
    let mut d = Domain::parse(src).unwrap();
    assert_eq!(d.to_xml().unwrap(), src);
    d.set_memory(&Memory::mib(4096));
    let out = d.to_xml().unwrap();
    // `set_memory` sets the boot-time balloon target too (a line of its own, like its siblings)
    assert_eq!(
        out,
        src.replace(
            "<memory unit='GiB'>2</memory>",
            "<memory unit='MiB'>4096</memory>\n  <currentMemory unit='MiB'>4096</currentMemory>"
        )
    );
}

#[test]
fn stale_raw_forms_are_never_written() {
    // a renamed attribute, a changed text, a renamed element: each is written the canonical
    // way, the rest as read
    let mut d = Document::parse("<a  x = 'it&apos;s'>it&apos;s<b/>&gt;</a >").unwrap();
    d.root.attributes[0].name = "y".into();
    assert_eq!(d.to_xml().unwrap(), "<a y='it&apos;s'>it&apos;s<b/>&gt;</a >");
    d.root.set_text("its");
    assert_eq!(d.to_xml().unwrap(), "<a y='it&apos;s'>its</a >");
    d.root.name = "c".into();
    assert_eq!(d.to_xml().unwrap(), "<c y='it&apos;s'>its</c >");
    // a text moved to another position is written the canonical way
    let mut d = Document::parse("<a><b/>it&apos;s</a>").unwrap();
    d.root.children.swap(0, 1);
    assert_eq!(d.to_xml().unwrap(), "<a>it's<b/></a>");
    // `<a></a>` given content, then emptied again
    let mut d = Document::parse("<a></a>").unwrap();
    d.root.set_text("t");
    assert_eq!(d.to_xml().unwrap(), "<a>t</a>");
    d.root.set_text("");
    assert_eq!(d.to_xml().unwrap(), "<a></a>");
    // forgetting the format
    d.root.clear_format();
    assert_eq!(d.to_xml().unwrap(), "<a/>");
}

#[test]
fn formats_survive_serde() {
    let src = "<a  x = 'it&apos;s'>it&apos;s<b></b></a >";
    let d = Document::parse(src).unwrap();
    let json = serde_json::to_string(&d).unwrap();
    let back: Document = serde_json::from_str(&json).unwrap();
    assert_eq!(back.to_xml().unwrap(), src);
    // a tampered raw form is checked like any other and not written
    let json = json.replace("it&apos;s", "<bad>");
    let back: Document = serde_json::from_str(&json).unwrap();
    let out = back.to_xml().unwrap();
    assert!(Document::parse(&out).unwrap().root.semantically_eq(&d.root), "{out}");
}
