//! Typed edits of real documents change only what they edit: the output is the input with
//! exactly the edited lines changed or the added lines inserted, each added line indented like
//! its siblings, at libvirt's canonical position.
//!
//! Documents: libvirt's corpus (mostly single-quoted attributes) and a document as virt-install
//! writes it (double quotes, two-space indentation). The exact tests compare with the input
//! bytes (added elements take the document's predominant quote style); their twins compare
//! after turning every `'` into `"` on both sides, so that they say whether the lines alone
//! are right.

use kvmhost_core::domain::{Disk, Domain, Interface, Memory, DEVICE_ORDER};
use kvmhost_core::xml::Node;
use kvmhost_testdata::{libvirt_corpus, xml_files};

/// A guest as `virt-install --name web1 --memory 2048 --vcpus 2 --disk size=20 --network
/// network=default --os-variant debian12` defines it (as `virsh dumpxml --inactive` shows it).
const VIRT_INSTALL: &str = r#"<domain type="kvm">
  <name>web1</name>
  <uuid>5b8cbb26-7d6c-4c6c-9d2f-3c0d2a5e4a11</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit="KiB">2097152</memory>
  <currentMemory unit="KiB">2097152</currentMemory>
  <vcpu placement="static">2</vcpu>
  <os>
    <type arch="x86_64" machine="pc-q35-7.2">hvm</type>
    <boot dev="hd"/>
  </os>
  <features>
    <acpi/>
    <apic/>
    <vmport state="off"/>
  </features>
  <cpu mode="host-passthrough" check="none" migratable="on"/>
  <clock offset="utc">
    <timer name="rtc" tickpolicy="catchup"/>
    <timer name="pit" tickpolicy="delay"/>
    <timer name="hpet" present="no"/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <pm>
    <suspend-to-mem enabled="no"/>
    <suspend-to-disk enabled="no"/>
  </pm>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type="file" device="disk">
      <driver name="qemu" type="qcow2" discard="unmap"/>
      <source file="/var/lib/libvirt/images/web1.qcow2"/>
      <target dev="vda" bus="virtio"/>
      <address type="pci" domain="0x0000" bus="0x04" slot="0x00" function="0x0"/>
    </disk>
    <controller type="usb" index="0" model="qemu-xhci" ports="15">
      <address type="pci" domain="0x0000" bus="0x02" slot="0x00" function="0x0"/>
    </controller>
    <controller type="pci" index="0" model="pcie-root"/>
    <interface type="network">
      <mac address="52:54:00:6b:3c:58"/>
      <source network="default"/>
      <model type="virtio"/>
      <address type="pci" domain="0x0000" bus="0x01" slot="0x00" function="0x0"/>
    </interface>
    <console type="pty">
      <target type="serial" port="0"/>
    </console>
    <channel type="unix">
      <target type="virtio" name="org.qemu.guest_agent.0"/>
    </channel>
    <input type="tablet" bus="usb">
      <address type="usb" bus="0" port="1"/>
    </input>
    <graphics type="vnc" port="-1" autoport="yes">
      <listen type="address"/>
    </graphics>
    <video>
      <model type="virtio" heads="1" primary="yes"/>
    </video>
    <memballoon model="virtio">
      <address type="pci" domain="0x0000" bus="0x05" slot="0x00" function="0x0"/>
    </memballoon>
    <rng model="virtio">
      <backend model="random">/dev/urandom</backend>
    </rng>
  </devices>
</domain>
"#;

const NIC: [&str; 4] =
    ["<interface type=\"bridge\">", "  <source bridge=\"br0\"/>", "  <model type=\"virtio\"/>", "</interface>"];

const DISK: [&str; 5] = [
    "<disk type=\"file\" device=\"disk\">",
    "  <driver name=\"qemu\" type=\"qcow2\"/>",
    "  <source file=\"/var/lib/libvirt/images/data.qcow2\"/>",
    "  <target dev=\"vdz\" bus=\"virtio\"/>",
    "</disk>",
];

fn nic() -> Interface {
    Interface::bridge("br0")
}

fn disk() -> Disk {
    Disk::file("/var/lib/libvirt/images/data.qcow2", "vdz")
}

/// `'` → `"`, for comparing a single-quoted input with the double-quoted output of today's writer.
fn dq(s: &str) -> String {
    s.replace('\'', "\"")
}

/// The index at which `after` is `before` with `block` inserted, if it is.
fn inserted_at(before: &[&str], after: &[&str], block: &[String]) -> Option<usize> {
    if after.len() != before.len() + block.len() {
        return None;
    }
    let prefix = before.iter().zip(after).take_while(|(a, b)| a == b).count();
    (0..=prefix).find(|&p| {
        after[p..p + block.len()].iter().zip(block).all(|(a, b)| *a == b.as_str())
            && after[p + block.len()..] == before[p..]
    })
}

/// How a document indents its devices: (indentation of the device lines, one unit), if every
/// device of `<devices>` is on a line of its own with the same indentation.
fn device_indentation(d: &Domain) -> Option<(String, String)> {
    let devices = d.root().child("devices")?;
    let text = |n: &Node| match n {
        Node::Text(t) if t.trim().is_empty() => t.rsplit_once('\n').map(|(_, i)| i.to_string()),
        _ => None,
    };
    let mut indents = devices.children.windows(2).filter(|w| w[1].as_element().is_some()).map(|w| text(&w[0]));
    let first = indents.next()??;
    if !indents.all(|i| i.as_ref() == Some(&first)) {
        return None;
    }
    let closing = text(devices.children.last()?)?;
    let unit = first.strip_prefix(closing.as_str()).filter(|u| !u.is_empty())?.to_string();
    Some((first, unit))
}

fn block(lines: &[&str], indent: &str, unit: &str, quote: char) -> Vec<String> {
    // The blocks above are written with a two-space unit and double quotes.
    lines
        .iter()
        .map(|l| {
            let depth = (l.len() - l.trim_start().len()) / 2;
            format!("{indent}{}{}", unit.repeat(depth), l.trim_start().replace('"', &quote.to_string()))
        })
        .collect()
}

/// The names of `<devices>`' child elements, in order.
fn device_names(d: &Domain) -> Vec<String> {
    d.root().child("devices").map(|x| x.elements().map(|e| e.name.to_string()).collect()).unwrap_or_default()
}

/// Checks that the device added last (`name`, at `index` among the devices) sits at libvirt's
/// canonical place: right after the devices of its kind, else after the last device libvirt
/// writes before it, else before the first it writes after it.
fn assert_canonical(before: &[String], after: &[String], name: &str, file: &str) {
    let rank = |n: &str| DEVICE_ORDER.iter().position(|o| *o == n);
    let ours = rank(name).unwrap();
    let expected = match before.iter().rposition(|n| n == name) {
        Some(i) => i + 1,
        None => match before.iter().rposition(|n| rank(n).is_some_and(|r| r < ours)) {
            Some(i) => i + 1,
            None => before.iter().position(|n| rank(n).is_some_and(|r| r > ours)).unwrap_or(before.len()),
        },
    };
    let mut names = before.to_vec();
    names.insert(expected, name.to_string());
    assert_eq!(after, names, "{file}: <{name}> should be device {expected}");
}

/// Corpus documents that parse, or nothing (after saying so) without the corpus.
fn corpus() -> Vec<(String, String)> {
    let Some(dir) = libvirt_corpus() else {
        println!("SKIP: libvirt test corpus not found");
        return Vec::new();
    };
    xml_files(&dir.join("domain"))
        .into_iter()
        .filter_map(|f| {
            let src = std::fs::read_to_string(&f).ok()?;
            Domain::parse(&src).ok()?;
            Some((f.display().to_string(), src))
        })
        .collect()
}

/// Adds a bridge NIC, then (separately) a disk, to every corpus document whose devices are
/// indented, checking the lines; `exact` compares with the input bytes, else after [`dq`].
fn check_device_insertions(exact: bool) {
    let (mut checked, mut writer_differs) = (0, 0);
    for (file, src) in corpus() {
        let input = if exact { src.clone() } else { dq(&src) };
        let unedited = Domain::parse(&src).unwrap().to_xml().unwrap();
        if !exact && dq(&unedited) != input {
            writer_differs += 1; // `<a></a>` written `<a/>` and the like: the XML layer's part.
            continue;
        }
        let before: Vec<&str> = input.lines().collect();
        let Some((indent, unit)) = device_indentation(&Domain::parse(&src).unwrap()) else { continue };
        let quote = if exact { Domain::parse(&src).unwrap().document().quote_style().char() } else { '"' };
        for (added, lines) in [("interface", &NIC[..]), ("disk", &DISK[..])] {
            let mut d = Domain::parse(&src).unwrap();
            let names_before = device_names(&d);
            match added {
                "interface" => d.add_device(&nic()),
                _ => d.add_device(&disk()),
            }
            let out = d.to_xml().unwrap();
            let out = if exact { out } else { dq(&out) };
            let after: Vec<&str> = out.lines().collect();
            let expected = block(lines, &indent, &unit, quote);
            assert!(
                inserted_at(&before, &after, &expected).is_some(),
                "{file}: adding <{added}> should insert exactly\n{}\ngot\n{out}",
                expected.join("\n")
            );
            assert_canonical(&names_before, &device_names(&d), added, &file);
        }
        checked += 1;
    }
    println!("{checked} corpus documents checked, {writer_differs} skipped (writer normalises them)");
    assert!(checked > 400 || libvirt_corpus().is_none(), "only {checked} documents checked");
    assert!(writer_differs < 10, "{writer_differs} documents differ unedited");
}

#[test]
fn added_devices_are_indented_like_their_siblings_in_the_corpus() {
    check_device_insertions(false);
}

#[test]
fn added_devices_change_only_the_added_lines_of_corpus_documents() {
    check_device_insertions(true);
}

/// Sets the memory of every corpus document whose `<memory>` (and `<currentMemory>`, if any)
/// are lines of their own, and checks that exactly those lines changed (a missing
/// `<currentMemory>` line is added after `<memory>`).
fn check_memory_edits(exact: bool) {
    let (mut checked, mut writer_differs) = (0, 0);
    for (file, src) in corpus() {
        let input = if exact { src.clone() } else { dq(&src) };
        if !exact && dq(&Domain::parse(&src).unwrap().to_xml().unwrap()) != input {
            writer_differs += 1;
            continue;
        }
        let before: Vec<&str> = input.lines().collect();
        let own_line = |tag: &str| {
            before.iter().position(|l| {
                let t = l.trim();
                (t.starts_with(&format!("<{tag} ")) || t.starts_with(&format!("<{tag}>")))
                    && t.ends_with(&format!("</{tag}>"))
            })
        };
        let Some(memory) = own_line("memory") else { continue };
        let current = own_line("currentMemory");
        if current.is_some_and(|c| c != memory + 1) {
            continue;
        }
        let mut d = Domain::parse(&src).unwrap();
        d.set_memory(&Memory::mib(2222));
        assert_eq!(
            d.memory().unwrap(),
            Some(Memory::mib(2222)).map(|mut m| {
                m.dump_core = Domain::parse(&src).unwrap().memory().unwrap().unwrap().dump_core;
                m
            })
        );
        assert_eq!(d.current_memory().unwrap(), Some(Memory::mib(2222)), "{file}");
        let out = d.to_xml().unwrap();
        let out = if exact { out } else { dq(&out) };
        let after: Vec<&str> = out.lines().collect();
        let expected_len = before.len() + usize::from(current.is_none());
        assert_eq!(after.len(), expected_len, "{file}:\n{out}");
        let indent = &before[memory][..before[memory].len() - before[memory].trim_start().len()];
        for (i, line) in after.iter().enumerate() {
            let changed = match i {
                i if i == memory => line.starts_with(&format!("{indent}<memory ")) && line.ends_with(">2222</memory>"),
                i if i == memory + 1 => {
                    line.starts_with(&format!("{indent}<currentMemory ")) && line.ends_with(">2222</currentMemory>")
                }
                i => {
                    let j = if current.is_none() && i > memory { i - 1 } else { i };
                    *line == before[j]
                }
            };
            assert!(changed, "{file}: line {} is {line:?}\n{out}", i + 1);
        }
        // The old lines are gone (unless they already said 2222 MiB).
        assert!(after[memory] != before[memory] || before[memory].contains(">2222<"), "{file}");
        checked += 1;
    }
    println!("{checked} corpus documents checked, {writer_differs} skipped (writer normalises them)");
    assert!(checked > 400 || libvirt_corpus().is_none(), "only {checked} documents checked");
}

#[test]
fn memory_edit_changes_only_the_memory_lines_in_the_corpus() {
    check_memory_edits(false);
}

#[test]
fn memory_edit_changes_only_the_memory_lines_byte_for_byte() {
    check_memory_edits(true);
}

#[test]
fn virt_install_document_edits_change_only_their_lines() {
    assert_eq!(Domain::parse(VIRT_INSTALL).unwrap().to_xml().unwrap(), VIRT_INSTALL, "unedited round trip");
    let mut d = Domain::parse(VIRT_INSTALL).unwrap();
    d.add_device(&nic());
    d.add_device(&disk());
    d.set_memory(&Memory::gib(3));
    d.set_vcpu_count(4).unwrap();
    let expected = VIRT_INSTALL
        .replace(
            "  <memory unit=\"KiB\">2097152</memory>\n  <currentMemory unit=\"KiB\">2097152</currentMemory>\n",
            "  <memory unit=\"GiB\">3</memory>\n  <currentMemory unit=\"GiB\">3</currentMemory>\n",
        )
        .replace("<vcpu placement=\"static\">2</vcpu>", "<vcpu placement=\"static\">4</vcpu>")
        .replace(
            "    </disk>\n",
            "    </disk>\n    <disk type=\"file\" device=\"disk\">\n      <driver name=\"qemu\" type=\"qcow2\"/>\n      \
             <source file=\"/var/lib/libvirt/images/data.qcow2\"/>\n      <target dev=\"vdz\" bus=\"virtio\"/>\n    \
             </disk>\n",
        )
        .replace(
            "    </interface>\n",
            "    </interface>\n    <interface type=\"bridge\">\n      <source bridge=\"br0\"/>\n      \
             <model type=\"virtio\"/>\n    </interface>\n",
        );
    assert_eq!(d.to_xml().unwrap(), expected);
}

#[test]
fn one_line_documents_get_no_indentation() {
    let src = "<domain type='kvm'><name>a</name><memory>1024</memory><devices><disk type='file'/></devices></domain>";
    let mut d = Domain::parse(src).unwrap();
    d.add_device(&nic());
    d.set_memory(&Memory::mib(2));
    assert_eq!(
        d.to_xml().unwrap(),
        "<domain type='kvm'><name>a</name><memory unit='MiB'>2</memory><currentMemory unit='MiB'>2</currentMemory>\
         <devices><disk type='file'/><interface type='bridge'><source bridge='br0'/><model type='virtio'/>\
         </interface></devices></domain>"
    );
}

#[test]
fn a_new_devices_element_is_laid_out_with_its_device() {
    let mut d = Domain::parse("<domain type='kvm'>\n    <name>a</name>\n    <on_crash>destroy</on_crash>\n</domain>\n")
        .unwrap();
    d.add_device(&nic());
    assert_eq!(
        d.to_xml().unwrap(),
        "<domain type='kvm'>\n    <name>a</name>\n    <on_crash>destroy</on_crash>\n    <devices>\n        \
         <interface type='bridge'>\n            <source bridge='br0'/>\n            <model type='virtio'/>\n        \
         </interface>\n    </devices>\n</domain>\n"
    );
}
