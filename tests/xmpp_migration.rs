//! Live migration of a running VM between two agents (`examples/xmpp_agent`), each on its own
//! libvirtd: the two daemons of `scripts/services/libvirt-hosts.sh` (network namespaces joined
//! by a veth pair), a private Prosody on loopback, and an admin client speaking Archipel's
//! protocol. Asserted: the VM entity says `Migrating - N%` while libvirt moves the guest, then
//! the same JID is served by the destination agent (resource `hyp2`), running, with its grants;
//! the source no longer has the domain nor the entity; the destination's agent restarted keeps
//! it; and the VM migrates back the same way. A `soft_alloc live='yes'` for a guest that was
//! booted on the destination (not migrated there) is refused. Without the two daemons only the
//! test driver's path runs (moving a VM that is off, in tests/xmpp_agent.rs): this test prints
//! which.

include!("xmpp_support/modules.rs");

use std::path::Path;

use kvmhost::core::domain::{Display, DomainBuilder, DomainType};
use kvmhost::libvirt::{DomainId, DomainState, Hypervisor, LibvirtHypervisor, UndefineOptions};
use support::archipel::{archipel_error, grant, info_attr, ok, refused, Inbox, CONTROL, HYP, PERMISSIONS};
use support::{acp, agent_binary, client, AgentProc, Prosody};
use xml::Element;
use xmpp::NS_CLIENT;

const NAME: &str = "xmpp-live-mig";

struct Hosts {
    src_uri: String,
    dst_uri: String,
    src_addr: String,
    dst_addr: String,
}

fn hosts() -> Option<Hosts> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    Some(Hosts {
        src_uri: var("KVMHOST_MIGRATION_SRC_URI")?,
        dst_uri: var("KVMHOST_MIGRATION_DST_URI")?,
        src_addr: var("KVMHOST_MIGRATION_SRC_ADDR")?,
        dst_addr: var("KVMHOST_MIGRATION_DST_ADDR")?,
    })
}

/// A 64 MiB guest without disks or NICs, as `alloc` receives it.
fn tiny_domain() -> Element {
    let ns = HYP;
    let kind = if Path::new("/dev/kvm").exists() { "kvm" } else { "qemu" };
    Element::new("domain", ns)
        .attr("type", kind)
        .child(Element::new("memory", ns).attr("unit", "MiB").text("64"))
        .child(Element::new("vcpu", ns).text("1"))
        .child(
            Element::new("os", ns)
                .child(Element::new("type", ns).attr("arch", "x86_64").attr("machine", "pc").text("hvm")),
        )
        .child(
            Element::new("devices", ns)
                .child(Element::new("emulator", ns).text("/usr/bin/qemu-system-x86_64"))
                .child(Element::new("memballoon", ns).attr("model", "none")),
        )
}

/// Removes the test's guests from both daemons (leftovers of an earlier run included).
async fn cleanup(hosts: &[&LibvirtHypervisor]) {
    for h in hosts {
        for name in [NAME.to_string(), format!("{NAME}-booted")] {
            let id = DomainId::name(&name);
            let _ = h.destroy(&id).await;
            let _ = h.undefine(&id, UndefineOptions::default()).await;
        }
    }
}

async fn state_on(h: &LibvirtHypervisor, uuid: &str) -> Option<DomainState> {
    h.state(&DomainId::uuid(uuid)).await.ok().map(|s| s.state)
}

#[test]
fn a_running_vm_migrates_live_between_two_agents() {
    let Some(hosts) = hosts() else {
        println!(
            "SKIP: live migration between two agents: the two libvirtd of scripts/services/libvirt-hosts.sh \
             are not started (KVMHOST_MIGRATION_*); ran: only the test driver's move of a VM that is off \
             (tests/xmpp_agent.rs)"
        );
        return;
    };
    let Some(prosody) = Prosody::start(&["hyp1@localhost", "hyp2@localhost"]) else { return };
    let bin = agent_binary();
    let state = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let src = LibvirtHypervisor::connect(&hosts.src_uri).await.unwrap();
        let dst = LibvirtHypervisor::connect(&hosts.dst_uri).await.unwrap();
        cleanup(&[&src, &dst]).await;
        scenario(&prosody, &bin, state.path(), &hosts, &src, &dst).await;
        cleanup(&[&src, &dst]).await;
    });
    println!("ran: live migration between two libvirtd hosts ({} and {})", hosts.src_uri, hosts.dst_uri);
    drop(prosody);
}

async fn scenario(
    prosody: &Prosody,
    bin: &Path,
    state: &Path,
    hosts: &Hosts,
    src: &LibvirtHypervisor,
    dst: &LibvirtHypervisor,
) {
    let server = prosody.server();
    let (hyp1, hyp2) = ("hyp1@localhost/agent", "hyp2@localhost/agent");
    let agent = |jid: &str, dir: &str, uri: &str, addr: &str| {
        let extra = ["--insecure-tcp", "--libvirt", uri, "--migration-libvirt-uri", uri, "--migration-address", addr];
        AgentProc::start_with(bin, jid, &server, &state.join(dir), &extra)
    };
    let a1 = agent("hyp1@localhost", "a1", &hosts.src_uri, &hosts.src_addr);
    let mut a2 = agent("hyp2@localhost", "a2", &hosts.dst_uri, &hosts.dst_addr);
    a1.wait_line("online as hyp1@localhost").await;
    a2.wait_line("online as hyp2@localhost").await;
    let (admin, admin_rx) = client(&server, "admin").await;
    let mut inbox = Inbox { rx: admin_rx, messages: Vec::new() };
    let (alice, _alice_rx) = client(&server, "alice").await;

    let q = ok(&acp(&admin, hyp1, HYP, "alloc", &[("name", NAME)], vec![tiny_domain()]).await);
    let vm_bare = q.get_child("virtualmachine").unwrap().get_attr("jid").unwrap().to_string();
    let uuid = vm_bare.split('@').next().unwrap().to_string();
    let vm = format!("{vm_bare}/hyp1");
    admin.send(&Element::new("presence", NS_CLIENT).attr("to", vm_bare.as_str()).attr("type", "subscribe")).unwrap();
    inbox.wait_presence(&vm, "Off").await;
    ok(&acp(&admin, &vm, PERMISSIONS, "set", &[], vec![grant("alice@localhost", "info", "true")]).await);
    ok(&acp(&admin, &vm, CONTROL, "create", &[], vec![]).await);
    inbox.wait_presence(&vm, "Running").await;

    // hyp2 announces its libvirt only to hypervisors it trusts with migrationinfo + soft_alloc.
    refused(&acp(&alice, hyp2, HYP, "migrationinfo", &[], vec![]).await, "migrationinfo", HYP);
    for (perm, who) in [("migrationinfo", "hyp1@localhost"), ("soft_alloc", "hyp1@localhost")] {
        ok(&acp(&admin, hyp2, PERMISSIONS, "set", &[], vec![grant(who, perm, "1")]).await);
    }
    let q = ok(&acp(&admin, hyp2, HYP, "migrationinfo", &[], vec![]).await);
    let info = q.get_child("migration").unwrap_or_else(|| panic!("no <migration>: {q:?}"));
    assert_eq!(info.get_attr("libvirt_uri"), Some(hosts.dst_uri.as_str()), "{q:?}");
    assert_eq!(info.get_attr("migration_uri"), Some(format!("tcp://{}", hosts.dst_addr).as_str()), "{q:?}");

    // A sender trusted with soft_alloc still cannot take over a guest that was already running
    // on hyp2 (booted there, not brought by a migration), whatever grants it sends along.
    let kind = if Path::new("/dev/kvm").exists() { DomainType::Kvm } else { DomainType::Qemu };
    let booted = DomainBuilder::new(format!("{NAME}-booted"))
        .domain_type(kind)
        .memory_mib(64)
        .vcpus(1)
        .without_default_nic()
        .display(Display::Headless)
        .build()
        .unwrap();
    let booted = dst.define(&booted).await.unwrap();
    dst.start(&booted.domain_id()).await.unwrap();
    let takeover = Element::new("domain", HYP)
        .child(Element::new("name", HYP).text("stolen"))
        .child(Element::new("uuid", HYP).text(booted.uuid.as_str()))
        .child(Element::new("description", HYP).text(format!("{}@localhost::::pw", booted.uuid)));
    let grants = Element::new("permissions", HYP)
        .child(Element::new("permission", HYP).attr("user", "alice@localhost").attr("name", "all"));
    let answer = acp(&admin, hyp2, HYP, "soft_alloc", &[("live", "yes")], vec![takeover, grants]).await;
    let (_, _, text) = archipel_error(&answer);
    assert!(text.contains("not running after a migration"), "{text}");
    assert_eq!(state_on(dst, &booted.uuid).await, Some(DomainState::Running), "the guest was touched");
    let _ = dst.destroy(&booted.domain_id()).await;
    let _ = dst.undefine(&booted.domain_id(), UndefineOptions::default()).await;

    // ---- hyp1 -> hyp2, live ----
    ok(&acp(&admin, &vm, CONTROL, "migrate", &[("hypervisorjid", hyp2)], vec![]).await);
    inbox.wait_presence(&vm, "Migrating - 0%").await;
    let moved = format!("{vm_bare}/hyp2");
    inbox.wait_presence(&moved, "Running").await;
    a1.wait_line(&format!("{vm_bare}: migrated to {hyp2} in")).await;
    a2.wait_line(&format!("{vm_bare} ({NAME}) arrived from hyp1@localhost (live migration)")).await;
    // The guest runs on the destination daemon, persistently; the source has no trace of it.
    assert_eq!(state_on(dst, &uuid).await, Some(DomainState::Running));
    assert!(dst.lookup(&DomainId::uuid(&uuid)).await.unwrap().persistent, "not persistent on the destination");
    assert_eq!(state_on(src, &uuid).await, None, "the source kept the domain");
    let q = ok(&acp(&admin, hyp1, HYP, "rostervm", &[], vec![]).await);
    assert!(!q.elements().any(|i| i.text_content() == vm_bare), "still on hyp1: {q:?}");
    let q = ok(&acp(&admin, hyp2, HYP, "rostervm", &[], vec![]).await);
    assert!(q.elements().any(|i| i.text_content() == vm_bare && i.get_attr("managed") == Some("True")), "{q:?}");
    // Same JID, grants travelled: alice's `info` works against the new resource.
    let info = acp(&alice, &moved, CONTROL, "info", &[], vec![]).await;
    assert_eq!(info_attr(&info, "state"), "1");
    assert_eq!(info_attr(&info, "hypervisor"), hyp2);
    let q = ok(&acp(&admin, &moved, CONTROL, "xmldesc", &[], vec![]).await);
    let d = q.get_child("domain").unwrap();
    assert!(d.get_child("description").is_none(), "the password must not reach libvirt: {d:?}");
    let state_file = std::fs::read_to_string(state.join("a1/agent.json")).unwrap();
    assert!(!state_file.contains(&uuid), "hyp1 still remembers the VM");

    // The destination's agent restarted serves the VM again (its state has the entity).
    a2.stop();
    drop(a2);
    let a2 = agent("hyp2@localhost", "a2", &hosts.dst_uri, &hosts.dst_addr);
    a2.wait_line("serving 1 VM entities").await;
    inbox.wait_presence(&moved, "Running").await;

    // ---- hyp2 -> hyp1, live, the same way back ----
    for perm in ["migrationinfo", "soft_alloc"] {
        ok(&acp(&admin, hyp1, PERMISSIONS, "set", &[], vec![grant("hyp2@localhost", perm, "1")]).await);
    }
    ok(&acp(&admin, &moved, CONTROL, "migrate", &[("hypervisorjid", hyp1)], vec![]).await);
    inbox.wait_presence(&vm, "Running").await;
    assert_eq!(state_on(src, &uuid).await, Some(DomainState::Running));
    assert_eq!(state_on(dst, &uuid).await, None, "the destination kept the domain");
    assert_eq!(info_attr(&acp(&alice, &vm, CONTROL, "info", &[], vec![]).await, "hypervisor"), hyp1);

    ok(&acp(&admin, &vm, CONTROL, "destroy", &[], vec![]).await);
    inbox.wait_presence(&vm, "Off").await;
    ok(&acp(&admin, hyp1, HYP, "free", &[("jid", vm_bare.as_str())], vec![]).await);
    assert_eq!(state_on(src, &uuid).await, None, "free did not remove the definition");
    drop((a1, a2));
}
