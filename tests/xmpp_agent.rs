//! The Archipel-compatible agent (`examples/xmpp_agent`) end to end against a real XMPP server:
//! a private Prosody on loopback (started by `scripts/services/prosody.sh` as the `prosody`
//! user, stopped by PID even when an assertion fails), two agents (two hypervisor JIDs, each
//! on its own `test:///default` host) and test clients speaking Archipel's protocol through the
//! server with the agent's own XMPP module.
//!
//! Asserted: every implemented command of the hypervisor and VM entities; Archipel's error
//! format; refusals for a JID without the permission (logged by the agent) and success after
//! `set`; the `alloc` requester's `all`; presence pushes after create / suspend / resume /
//! destroy / shutdown; an agent restarted keeps its VMs' JIDs, definitions and permissions.
//!
//! Needs `prosody` installed and root (to run it as its own user); otherwise it prints SKIP.

include!("xmpp_support/modules.rs");

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::archipel::{
    archipel_error, grant, info_attr, ok, refused, subscribe_node, Inbox, CONTROL, DEFINITION, HYP, PERMISSIONS,
};
use support::{acp, agent_binary, client, AgentProc, Ejabberd, Prosody, T};
use xml::Element;
use xmpp::{ConnectOptions, Security, NS_CLIENT};

fn domain(ns: &str, uuid: Option<&str>) -> Element {
    let mut d = Element::new("domain", ns).attr("type", "test");
    if let Some(u) = uuid {
        d = d.child(Element::new("name", ns).text("db1")).child(Element::new("uuid", ns).text(u));
    }
    d.child(Element::new("memory", ns).attr("unit", "KiB").text("262144"))
        .child(Element::new("currentMemory", ns).attr("unit", "KiB").text("262144"))
        .child(Element::new("vcpu", ns).text("2"))
        .child(Element::new("os", ns).child(Element::new("type", ns).text("hvm")))
}

#[test]
fn two_agents_speak_archipel_through_prosody() {
    let Some(prosody) = Prosody::start(&["hyp1@localhost", "hyp2@localhost"]) else { return };
    let bin = agent_binary();
    let state = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(scenario(&prosody, &bin, state.path()));
    drop(prosody);
}

/// The same agents on a two-node ejabberd cluster (the server Archipel deployments used), the
/// agents on node A and the clients on node B: the same commands give the same results —
/// allocation, control, refusals and grants, presence and pubsub pushes, a move between the two
/// agents, free.
#[test]
fn the_same_agents_work_on_an_ejabberd_cluster() {
    let Some((node_a, node_b)) = Ejabberd::start_cluster() else { return };
    let bin = agent_binary();
    let state = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let (server, server_b) = (node_a.server(), node_b.server());
        let (hyp1, hyp2) = ("hyp1@localhost/agent", "hyp2@localhost/agent");
        let a1 = AgentProc::start(&bin, "hyp1@localhost", &server, &state.path().join("a1"));
        let a2 = AgentProc::start(&bin, "hyp2@localhost", &server, &state.path().join("a2"));
        a1.wait_line("online as hyp1@localhost").await;
        a2.wait_line("online as hyp2@localhost").await;
        let (admin, admin_rx) = client(&server_b, "admin").await;
        let mut inbox = Inbox { rx: admin_rx, messages: Vec::new() };
        let (alice, _alice_rx) = client(&server_b, "alice").await;

        let q = ok(&acp(&admin, hyp1, HYP, "nodeinfo", &[], vec![]).await);
        assert!(q.get_child("nodeinfo").is_some(), "{q:?}");
        subscribe_node(&admin, "/archipel/hyp1@localhost/events").await;
        let q = ok(&acp(&admin, hyp1, HYP, "alloc", &[("name", "ej1")], vec![domain(HYP, None)]).await);
        let vm_bare = q.get_child("virtualmachine").unwrap().get_attr("jid").unwrap().to_string();
        inbox.wait_push("/archipel/hyp1@localhost/events", "hypervisor", "alloc").await;
        let vm = format!("{vm_bare}/hyp1");
        let q = ok(&acp(&admin, hyp1, HYP, "rostervm", &[], vec![]).await);
        assert!(q.elements().any(|i| i.text_content() == vm_bare), "{q:?}");

        let node = format!("/archipel/{vm_bare}/events");
        subscribe_node(&admin, &node).await;
        admin
            .send(&Element::new("presence", NS_CLIENT).attr("to", vm_bare.as_str()).attr("type", "subscribe"))
            .unwrap();
        inbox.wait_presence(&vm_bare, "Off").await;
        ok(&acp(&admin, &vm, CONTROL, "create", &[], vec![]).await);
        inbox.wait_presence(&vm_bare, "Running").await;
        inbox.wait_push(&node, "virtualmachine:control", "created").await;
        assert_eq!(info_attr(&acp(&admin, &vm, CONTROL, "info", &[], vec![]).await, "state"), "1");

        refused(&acp(&alice, &vm, CONTROL, "info", &[], vec![]).await, "info", CONTROL);
        ok(&acp(&admin, &vm, PERMISSIONS, "set", &[], vec![grant("alice@localhost", "info", "true")]).await);
        assert_eq!(info_attr(&acp(&alice, &vm, CONTROL, "info", &[], vec![]).await, "state"), "1");

        ok(&acp(&admin, &vm, CONTROL, "destroy", &[], vec![]).await);
        inbox.wait_presence(&vm_bare, "Off").await;
        ok(&acp(&admin, hyp2, PERMISSIONS, "set", &[], vec![grant("hyp1@localhost", "soft_alloc", "1")]).await);
        ok(&acp(&admin, &vm, CONTROL, "migrate", &[("hypervisorjid", hyp2)], vec![]).await);
        let moved = format!("{vm_bare}/hyp2");
        inbox.wait_presence(&moved, "Off").await;
        assert_eq!(info_attr(&acp(&alice, &moved, CONTROL, "info", &[], vec![]).await, "hypervisor"), hyp2);

        ok(&acp(&admin, hyp2, HYP, "free", &[("jid", vm_bare.as_str())], vec![]).await);
        let q = ok(&acp(&admin, hyp2, HYP, "rostervm", &[], vec![]).await);
        assert!(!q.elements().any(|i| i.text_content() == vm_bare), "{q:?}");
        drop((a1, a2));
    });
    drop(node_b);
    drop(node_a);
}

async fn scenario(prosody: &Prosody, bin: &Path, state: &Path) {
    let server = prosody.server();
    // Clients address entities by full JID (an iq to a bare JID is the server's to answer).
    let (hyp1, hyp2) = ("hyp1@localhost/agent", "hyp2@localhost/agent");
    let mut a1 = AgentProc::start(bin, "hyp1@localhost", &server, &state.join("a1"));
    let a2 = AgentProc::start(bin, "hyp2@localhost", &server, &state.join("a2"));
    a1.wait_line("online as hyp1@localhost").await;
    a2.wait_line("online as hyp2@localhost").await;

    let (admin, admin_rx) = client(&server, "admin").await;
    let mut inbox = Inbox { rx: admin_rx, messages: Vec::new() };
    let (alice, _alice_rx) = client(&server, "alice").await;
    let (bob, bob_rx) = client(&server, "bob").await;

    // ---- hypervisor entity ----
    let q = ok(&acp(&admin, hyp1, HYP, "nodeinfo", &[], vec![]).await);
    let node = q.get_child("nodeinfo").expect("nodeinfo");
    assert!(node.get_attr("memory").unwrap().parse::<u64>().unwrap() > 0, "{q:?}");
    assert!(node.get_attr("nrCPU").unwrap().parse::<u32>().unwrap() > 0);
    let q = ok(&acp(&admin, hyp2, HYP, "capabilities", &[], vec![]).await);
    let caps = q.get_child("capabilities").expect("capabilities");
    assert!(caps.get_child("host").is_some() && caps.get_child("guest").is_some(), "{caps:?}");

    // alloc with a definition on hyp1; without on hyp2 (defined afterwards). The hypervisor
    // pushes `alloc` on its events node.
    subscribe_node(&admin, "/archipel/hyp1@localhost/events").await;
    let q = ok(&acp(&admin, hyp1, HYP, "alloc", &[("name", "web1")], vec![domain(HYP, None)]).await);
    let vm1_bare = q.get_child("virtualmachine").unwrap().get_attr("jid").unwrap().to_string();
    let uuid1 = vm1_bare.split('@').next().unwrap().to_string();
    assert!(vm1_bare.ends_with("@localhost") && uuid1.len() == 36, "{vm1_bare}");
    let date = inbox.wait_push("/archipel/hyp1@localhost/events", "hypervisor", "alloc").await;
    assert_eq!(date.len(), 26, "{date}");
    let vm1_node = format!("/archipel/{vm1_bare}/events");
    subscribe_node(&admin, &vm1_node).await;
    // A VM entity is <uuid>@<domain>/<hypervisor node>.
    let vm1 = format!("{vm1_bare}/hyp1");
    let q = ok(&acp(&admin, hyp2, HYP, "alloc", &[("name", "db1")], vec![]).await);
    let vm2_bare = q.get_child("virtualmachine").unwrap().get_attr("jid").unwrap().to_string();
    let uuid2 = vm2_bare.split('@').next().unwrap().to_string();
    let vm2 = format!("{vm2_bare}/hyp2");

    let q = ok(&acp(&admin, hyp1, HYP, "rostervm", &[], vec![]).await);
    let items: Vec<(String, String, String)> = q
        .elements()
        .map(|i| (i.get_attr("managed").unwrap().into(), i.get_attr("name").unwrap().into(), i.text_content()))
        .collect();
    assert!(items.contains(&("True".into(), "web1".into(), vm1_bare.clone())), "{items:?}");
    assert!(items.iter().any(|i| i.0 == "False" && i.1 == "test"), "the driver's own domain: {items:?}");
    assert!(!items.iter().any(|i| i.2 == vm2_bare), "vm2 lives on hyp2: {items:?}");

    // ---- VM entity: definition ----
    let q = ok(&acp(&admin, &vm2, CONTROL, "xmldesc", &[], vec![]).await);
    assert!(q.get_child("not-defined").is_some(), "{q:?}");
    assert!(ok(&acp(&admin, &vm2, CONTROL, "info", &[], vec![]).await).children.is_empty());
    let wrong = acp(&admin, &vm2, DEFINITION, "define", &[], vec![domain(DEFINITION, Some(&uuid1))]).await;
    let (code, ns, text) = archipel_error(&wrong);
    assert_eq!((code.as_str(), ns.as_str()), ("-1007", "archipel:error:generic"), "{wrong}");
    assert!(text.contains("doesn't match JID") && text.ends_with("\n\narchipel:vm:definition\ndefine"), "{text}");
    ok(&acp(&admin, &vm2, DEFINITION, "define", &[], vec![domain(DEFINITION, Some(&uuid2))]).await);
    let q = ok(&acp(&admin, &vm2, CONTROL, "xmldesc", &[], vec![]).await);
    let d = q.get_child("domain").expect("domain");
    assert_eq!(d.get_child("uuid").unwrap().text_content(), uuid2);
    assert_eq!(d.get_child("name").unwrap().text_content(), "db1");
    ok(&acp(&admin, &vm2, DEFINITION, "undefine", &[], vec![]).await);
    assert!(ok(&acp(&admin, &vm2, CONTROL, "xmldesc", &[], vec![]).await).get_child("not-defined").is_some());

    // ---- VM entity: control, with presence ----
    admin.send(&Element::new("presence", NS_CLIENT).attr("to", vm1_bare.as_str()).attr("type", "subscribe")).unwrap();
    inbox.wait_presence(&vm1_bare, "Off").await;
    assert_eq!(info_attr(&acp(&admin, &vm1, CONTROL, "info", &[], vec![]).await, "state"), "5");
    let q = ok(&acp(&admin, &vm1, CONTROL, "create", &[], vec![]).await);
    assert!(q.get_child("domain").unwrap().get_attr("id").unwrap().parse::<u32>().is_ok(), "{q:?}");
    inbox.wait_presence(&vm1_bare, "Running").await;
    inbox.wait_push(&vm1_node, "virtualmachine:control", "created").await;
    let info = acp(&admin, &vm1, CONTROL, "info", &[], vec![]).await;
    assert_eq!(info_attr(&info, "state"), "1");
    assert_eq!(info_attr(&info, "maxMem"), "262144");
    assert_eq!(info_attr(&info, "nrVirtCpu"), "2");
    assert_eq!(info_attr(&info, "hypervisor"), hyp1);
    ok(&acp(&admin, &vm1, CONTROL, "suspend", &[], vec![]).await);
    inbox.wait_presence(&vm1_bare, "Paused").await;
    inbox.wait_push(&vm1_node, "virtualmachine:control", "suspended").await;
    ok(&acp(&admin, &vm1, CONTROL, "resume", &[], vec![]).await);
    inbox.wait_presence(&vm1_bare, "Running").await;
    ok(&acp(&admin, &vm1, CONTROL, "reboot", &[], vec![]).await);
    ok(&acp(&admin, &vm1, CONTROL, "memory", &[("value", "131072")], vec![]).await);
    assert_eq!(info_attr(&acp(&admin, &vm1, CONTROL, "info", &[], vec![]).await, "memory"), "131072");
    ok(&acp(&admin, &vm1, CONTROL, "setvcpus", &[("value", "1")], vec![]).await);
    assert_eq!(info_attr(&acp(&admin, &vm1, CONTROL, "info", &[], vec![]).await, "nrVirtCpu"), "1");
    ok(&acp(&admin, &vm1, CONTROL, "autostart", &[("value", "1")], vec![]).await);
    assert_eq!(info_attr(&acp(&admin, &vm1, CONTROL, "info", &[], vec![]).await, "autostart"), "1");
    let bad = acp(&admin, &vm1, CONTROL, "memory", &[("value", "lots")], vec![]).await;
    assert_eq!(archipel_error(&bad).0, "-1016");
    ok(&acp(&admin, &vm1, CONTROL, "destroy", &[], vec![]).await);
    inbox.wait_presence(&vm1_bare, "Off").await;
    inbox.wait_push(&vm1_node, "virtualmachine:control", "shutdown").await;
    ok(&acp(&admin, &vm1, CONTROL, "create", &[], vec![]).await);
    inbox.wait_presence(&vm1_bare, "Running").await;
    ok(&acp(&admin, &vm1, CONTROL, "shutdown", &[], vec![]).await);
    inbox.wait_presence(&vm1_bare, "Off").await;
    let q = ok(&acp(&admin, &vm1, CONTROL, "xmldesc", &[], vec![]).await);
    assert_eq!(q.get_child("domain").unwrap().get_child("uuid").unwrap().text_content(), uuid1);
    // A libvirt refusal: resuming a VM that is off.
    let lv = acp(&admin, &vm1, CONTROL, "resume", &[], vec![]).await;
    assert_eq!(archipel_error(&lv).1, "libvirt:error:generic", "{lv}");
    // Not an Archipel command at all.
    let iq = Element::new("iq", NS_CLIENT)
        .attr("type", "get")
        .attr("to", vm1.as_str())
        .child(Element::new("query", CONTROL));
    let answer = admin.request(iq, T).await.unwrap();
    assert_eq!(answer.get_child("error").and_then(|e| e.get_attr("code")), Some("-42"), "{answer}");

    // ---- permissions ----
    refused(&acp(&alice, &vm1, CONTROL, "info", &[], vec![]).await, "info", CONTROL);
    refused(&acp(&alice, hyp1, HYP, "alloc", &[("name", "nope")], vec![]).await, "alloc", HYP);
    refused(&acp(&alice, &vm1, PERMISSIONS, "list", &[], vec![]).await, "list", PERMISSIONS);
    a1.wait_line("refused: alice@localhost may not archipel:vm:control info").await;
    // permission_get is granted by default.
    let q = ok(&acp(
        &alice,
        &vm1,
        PERMISSIONS,
        "get",
        &[("permission_type", "user"), ("permission_target", "admin@localhost")],
        vec![],
    )
    .await);
    // admin allocated vm1: the requester holds `all` on it.
    assert_eq!(q.elements().map(|p| p.get_attr("name").unwrap()).collect::<Vec<_>>(), ["all"], "{q:?}");
    // alice cannot grant herself anything.
    refused(
        &acp(&alice, &vm1, PERMISSIONS, "set", &[], vec![grant("alice@localhost", "info", "true")]).await,
        "set",
        PERMISSIONS,
    );
    ok(&acp(&admin, &vm1, PERMISSIONS, "set", &[], vec![grant("alice@localhost", "info", "true")]).await);
    assert_eq!(info_attr(&acp(&alice, &vm1, CONTROL, "info", &[], vec![]).await, "state"), "5");
    refused(&acp(&alice, &vm1, CONTROL, "create", &[], vec![]).await, "create", CONTROL);
    // Hostile stanzas through the server (too deep, too many attributes) cost themselves, not
    // the VM entity's connection: it answers the next command without reconnecting.
    let mut deep = Element::new("x", "urn:example:deep");
    for _ in 0..100 {
        deep = Element::new("x", "urn:example:deep").child(deep);
    }
    let mut wide = Element::new("x", "urn:example:wide");
    for i in 0..100 {
        wide = wide.attr(&format!("a{i}"), "v");
    }
    for payload in [deep, wide] {
        alice.send(&Element::new("message", NS_CLIENT).attr("to", vm1.as_str()).child(payload)).unwrap();
    }
    assert_eq!(info_attr(&acp(&alice, &vm1, CONTROL, "info", &[], vec![]).await, "state"), "5");
    assert!(
        !a1.lines.lock().unwrap().iter().any(|l| l.contains("connection lost")),
        "an entity reconnected after hostile stanzas"
    );
    let q = ok(&acp(
        &alice,
        &vm1,
        PERMISSIONS,
        "getown",
        &[("permission_type", "user"), ("permission_target", "alice@localhost")],
        vec![],
    )
    .await);
    // As in Archipel, defaults only apply to users without any grant: alice now reads her own
    // with `getown` (never checked); `get` is refused.
    assert_eq!(q.elements().map(|p| p.get_attr("name").unwrap()).collect::<Vec<_>>(), ["info"]);
    let get = [("permission_type", "user"), ("permission_target", "alice@localhost")];
    refused(&acp(&alice, &vm1, PERMISSIONS, "get", &get, vec![]).await, "get", PERMISSIONS);
    let q = ok(&acp(&admin, &vm1, PERMISSIONS, "list", &[], vec![]).await);
    let names: Vec<&str> = q.elements().filter_map(|p| p.get_attr("name")).collect();
    for want in ["all", "permission_get", "info", "create", "define", "setvcpus"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    // Presence is a permission too: alice's subscription is refused.
    let mut alice_rx = _alice_rx;
    alice.send(&Element::new("presence", NS_CLIENT).attr("to", vm1_bare.as_str()).attr("type", "subscribe")).unwrap();
    a1.wait_line(&format!("refused: alice@localhost may not subscribe to {vm1_bare}")).await;

    // The alloc requester gets `all` on its VM, nothing elsewhere.
    ok(&acp(&admin, hyp1, PERMISSIONS, "set", &[], vec![grant("bob@localhost", "alloc", "yes")]).await);
    let q = ok(&acp(&bob, hyp1, HYP, "alloc", &[("name", "bob1")], vec![domain(HYP, None)]).await);
    let vm3_bare = q.get_child("virtualmachine").unwrap().get_attr("jid").unwrap().to_string();
    let vm3 = format!("{vm3_bare}/hyp1");
    ok(&acp(&bob, &vm3, CONTROL, "create", &[], vec![]).await);
    refused(&acp(&bob, &vm1, CONTROL, "info", &[], vec![]).await, "info", CONTROL);
    refused(&acp(&bob, hyp1, HYP, "free", &[("jid", vm3_bare.as_str())], vec![]).await, "free", HYP);

    // archipel:subscription: admin adds bob to vm1's presence (bob is asked, and his own
    // request is granted), then removes him.
    const SUBSCRIPTION: &str = "archipel:subscription";
    let mut bob_inbox = Inbox { rx: bob_rx, messages: Vec::new() };
    refused(&acp(&alice, &vm1, SUBSCRIPTION, "add", &[("jid", "alice@localhost")], vec![]).await, "add", SUBSCRIPTION);
    ok(&acp(&admin, &vm1, SUBSCRIPTION, "add", &[("jid", "bob@localhost")], vec![]).await);
    bob_inbox.wait_presence_type(&vm1_bare, "subscribe").await;
    bob.send(&Element::new("presence", NS_CLIENT).attr("to", vm1_bare.as_str()).attr("type", "subscribe")).unwrap();
    bob_inbox.wait_presence(&vm1_bare, "Off").await;
    ok(&acp(&admin, &vm1, SUBSCRIPTION, "remove", &[("jid", "bob@localhost")], vec![]).await);
    // The subscription ends: the server tells bob the VM is unavailable to him.
    bob_inbox.wait_presence_type(&vm1_bare, "unavailable").await;

    // free: a fourth VM comes and goes (libvirt definition and account included).
    let q = ok(&acp(&admin, hyp1, HYP, "alloc", &[("name", "tmp")], vec![domain(HYP, None)]).await);
    let vm4 = q.get_child("virtualmachine").unwrap().get_attr("jid").unwrap().to_string();
    ok(&acp(&admin, hyp1, HYP, "free", &[("jid", vm4.as_str())], vec![]).await);
    let q = ok(&acp(&admin, hyp1, HYP, "rostervm", &[], vec![]).await);
    assert!(!q.elements().any(|i| i.text_content() == vm4), "freed VM still listed: {q:?}");
    let gone = acp(&admin, hyp1, HYP, "free", &[("jid", vm4.as_str())], vec![]).await;
    assert_eq!(archipel_error(&gone).0, "-9002");

    // ---- restart: JIDs, definitions and permissions survive ----
    a1.stop();
    let a1 = AgentProc::start(bin, hyp1, &server, &state.join("a1"));
    let line = a1.wait_line("online as hyp1@localhost").await;
    assert!(line.contains("serving 2 VM entities"), "{line}");
    let q = ok(&acp(&admin, hyp1, HYP, "rostervm", &[], vec![]).await);
    let managed: Vec<String> =
        q.elements().filter(|i| i.get_attr("managed") == Some("True")).map(|i| i.text_content()).collect();
    let mut want = vec![vm1_bare.clone(), vm3_bare.clone()];
    want.sort();
    assert_eq!(managed, want);
    assert_eq!(info_attr(&acp(&alice, &vm1, CONTROL, "info", &[], vec![]).await, "state"), "5");
    refused(&acp(&alice, &vm1, CONTROL, "create", &[], vec![]).await, "create", CONTROL);
    ok(&acp(&bob, &vm3, CONTROL, "info", &[], vec![]).await);
    ok(&acp(&bob, hyp1, HYP, "alloc", &[("name", "bob2")], vec![]).await);
    // The restarted VM entity pushes presence again.
    ok(&acp(&admin, &vm1, CONTROL, "create", &[], vec![]).await);
    inbox.wait_presence(&vm1_bare, "Running").await;
    drop(alice_rx.try_recv());

    // ---- migrate vm1 from hyp1 to hyp2 (Archipel's move of a VM that is off) ----
    // A running VM needs a live migration: hyp1 first asks hyp2 for its `migrationinfo`, which
    // hyp2 answers only to hypervisors holding `migrationinfo` and `soft_alloc` there.
    let running = acp(&admin, &vm1, CONTROL, "migrate", &[("hypervisorjid", hyp2)], vec![]).await;
    let (code, _, text) = archipel_error(&running);
    assert_eq!(code, "-1013", "{running}");
    assert!(text.contains("refused the virtual machine: Cannot use 'migrationinfo': permission denied"), "{text}");
    ok(&acp(&admin, hyp2, PERMISSIONS, "set", &[], vec![grant("hyp1@localhost", "migrationinfo", "1")]).await);
    let running = acp(&admin, &vm1, CONTROL, "migrate", &[("hypervisorjid", hyp2)], vec![]).await;
    let (_, _, text) = archipel_error(&running);
    assert!(text.contains("refused the virtual machine: Cannot use 'soft_alloc': permission denied"), "{text}");
    ok(&acp(&admin, &vm1, CONTROL, "destroy", &[], vec![]).await);
    inbox.wait_presence(&vm1_bare, "Off").await;
    refused(&acp(&alice, &vm1, CONTROL, "migrate", &[("hypervisorjid", hyp2)], vec![]).await, "migrate", CONTROL);
    // hyp2 takes VMs only from hypervisors an admin trusts (its `soft_alloc` permission).
    let untrusted = acp(&admin, &vm1, CONTROL, "migrate", &[("hypervisorjid", hyp2)], vec![]).await;
    let (_, _, text) = archipel_error(&untrusted);
    assert!(text.contains("refused the virtual machine: Cannot use 'soft_alloc': permission denied"), "{text}");
    a2.wait_line("refused: hyp1@localhost may not archipel:hypervisor:control soft_alloc").await;
    ok(&acp(&admin, hyp2, PERMISSIONS, "set", &[], vec![grant("hyp1@localhost", "soft_alloc", "1")]).await);
    // Trusted now, but hyp2's test driver cannot receive a running VM (the live migration
    // between two libvirtd is tests/xmpp_migration.rs); vm1 stays on hyp1, still running.
    ok(&acp(&admin, &vm1, CONTROL, "create", &[], vec![]).await);
    inbox.wait_presence(&vm1_bare, "Running").await;
    let running = acp(&admin, &vm1, CONTROL, "migrate", &[("hypervisorjid", hyp2)], vec![]).await;
    let (_, _, text) = archipel_error(&running);
    assert!(
        text.contains("cannot receive running virtual machines: its libvirt (test:///default) cannot migrate"),
        "{text}"
    );
    assert_eq!(info_attr(&acp(&admin, &vm1, CONTROL, "info", &[], vec![]).await, "state"), "1");
    // A "hypervisor" that announces a libvirt URI running a program here (the `ext` transport)
    // is refused before libvirt sees it; so is one outside QEMU's driver.
    let marker = std::env::temp_dir().join(format!("kvmhost-xmpp-ext-{}", std::process::id()));
    let announced = [
        (format!("qemu+ext:///system?command=/usr/bin/touch%20{}", marker.display()), None),
        ("test:///default".to_string(), None),
        // (never contacted: refused first)
        ("qemu+tcp://192.0.2.1/system".to_string(), Some("unix:///run/some.sock")),
    ];
    for (uri, migration_uri) in announced {
        let (mallory, mut mallory_rx) = client(&server, "mallory").await;
        let answering = tokio::spawn(async move {
            while let Some(iq) = mallory_rx.recv().await {
                if iq.name == "iq" && iq.get_attr("type") == Some("get") {
                    let reply = Element::new("iq", NS_CLIENT)
                        .attr("type", "result")
                        .attr("to", iq.get_attr("from").unwrap_or_default())
                        .attr("id", iq.get_attr("id").unwrap_or_default())
                        .child(
                            Element::new("query", HYP).child(match migration_uri {
                                Some(m) => Element::new("migration", HYP)
                                    .attr("libvirt_uri", uri.as_str())
                                    .attr("migration_uri", m),
                                None => Element::new("migration", HYP).attr("libvirt_uri", uri.as_str()),
                            }),
                        );
                    mallory.send(&reply).unwrap();
                    return;
                }
            }
        });
        let hostile =
            acp(&admin, &vm1, CONTROL, "migrate", &[("hypervisorjid", "mallory@localhost/test")], vec![]).await;
        let (_, _, text) = archipel_error(&hostile);
        let why = if migration_uri.is_some() { "refusing the migration URI" } else { "refusing the libvirt URI" };
        assert!(text.contains(why), "{text}");
        answering.await.unwrap();
    }
    assert!(!marker.exists(), "the announced command ran");
    assert_eq!(info_attr(&acp(&admin, &vm1, CONTROL, "info", &[], vec![]).await, "state"), "1");
    ok(&acp(&admin, &vm1, CONTROL, "destroy", &[], vec![]).await);
    inbox.wait_presence(&vm1_bare, "Off").await;
    ok(&acp(&admin, &vm1, CONTROL, "migrate", &[("hypervisorjid", hyp2)], vec![]).await);
    // Same JID, now served by hyp2 (resource hyp2), its definition and grants with it.
    let moved = format!("{vm1_bare}/hyp2");
    inbox.wait_presence(&moved, "Off").await;
    let q = ok(&acp(&admin, hyp2, HYP, "rostervm", &[], vec![]).await);
    assert!(q.elements().any(|i| i.text_content() == vm1_bare && i.get_attr("managed") == Some("True")), "{q:?}");
    let q = ok(&acp(&admin, hyp1, HYP, "rostervm", &[], vec![]).await);
    assert!(!q.elements().any(|i| i.text_content() == vm1_bare), "still on hyp1: {q:?}");
    let info = acp(&alice, &moved, CONTROL, "info", &[], vec![]).await;
    assert_eq!(info_attr(&info, "hypervisor"), hyp2);
    assert_eq!(info_attr(&info, "state"), "5");
    let q = ok(&acp(&admin, &moved, CONTROL, "xmldesc", &[], vec![]).await);
    let d = q.get_child("domain").unwrap();
    assert_eq!(d.get_child("uuid").unwrap().text_content(), uuid1);
    assert!(d.get_child("description").is_none(), "the password must not stay in the definition: {d:?}");
    ok(&acp(&admin, &moved, CONTROL, "create", &[], vec![]).await);
    inbox.wait_presence(&moved, "Running").await;
    let state_file = std::fs::read_to_string(state.join("a1/agent.json")).unwrap();
    assert!(!state_file.contains(&uuid1), "hyp1 still remembers vm1");

    // Every push went to a node that exists (none before a VM's node is made, none after free).
    for agent in [&a1, &a2] {
        let lines = agent.lines.lock().unwrap();
        assert!(!lines.iter().any(|l| l.contains("item-not-found")), "a push to a missing node: {lines:?}");
    }

    // ---- the server restarts (empty: accounts gone): every entity reconnects by itself,
    // registering its account again with the password it keeps ----
    prosody.restart();
    a1.wait_line("hyp1@localhost: connection lost; reconnecting").await;
    a2.wait_line(&format!("{vm1_bare}: connection lost; reconnecting")).await;
    let (admin, _admin_rx) = client(&server, "admin").await;
    let deadline = Instant::now() + T;
    loop {
        let answer = acp(&admin, &moved, CONTROL, "info", &[], vec![]).await;
        if answer.get_attr("type") == Some("result") {
            assert_eq!(info_attr(&answer, "state"), "1", "{answer}");
            break;
        }
        assert!(Instant::now() < deadline, "vm1 not back after the server restart: {answer}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ok(&acp(&admin, hyp1, HYP, "nodeinfo", &[], vec![]).await);
    drop(a1);
    drop(a2);

    // ---- STARTTLS: verified against --ca-file; refused against the system roots ----
    let ca = prosody.dir.join("ca.pem");
    let ca_arg = ca.to_str().unwrap();
    let tls = AgentProc::start_with(bin, "tls1@localhost", &server, &state.join("tls1"), &["--ca-file", ca_arg]);
    tls.wait_line("online as tls1@localhost").await;
    let opts = ConnectOptions {
        jid: "carol@localhost".into(),
        password: "carol-secret".into(),
        server: Some(server.clone()),
        security: Security::StartTls { ca_file: Some(ca.clone()) },
        register: true,
        resource: "test".into(),
        limits: xml::Limits::default(),
    };
    let (carol, _carol_rx) = xmpp::connect(&opts).await.expect("STARTTLS client with the test CA");
    // carol has no grant on tls1: refused, through TLS end to end.
    refused(&acp(&carol, "tls1@localhost/agent", HYP, "nodeinfo", &[], vec![]).await, "nodeinfo", HYP);
    ok(&acp(&admin, "tls1@localhost/agent", HYP, "nodeinfo", &[], vec![]).await);
    let prosody_log = std::fs::read_to_string(prosody.dir.join("prosody.log")).unwrap_or_default();
    assert!(prosody_log.contains("Stream encrypted"), "no TLS stream in Prosody's log");
    let run = |server: &str, extra: &[&str], state: &Path| {
        Command::new(bin)
            .args(["--jid", "tls2@localhost", "--password", "pw", "--server", server, "--state"])
            .arg(state)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&server, &[], &state.join("tls2"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("TLS: invalid peer certificate: UnknownIssuer"), "{err}");
    // Never sent anywhere: the address is checked before connecting.
    let out = run("192.0.2.1:5222", &["--insecure-tcp"], &state.join("tls2"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("only allowed for a loopback server"), "{err}");
    drop(tls);
}
