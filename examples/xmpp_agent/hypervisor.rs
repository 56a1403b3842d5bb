//! The hypervisor entity's commands (`archipel:hypervisor:control`, as
//! `archipelHypervisor.py` answers them): `alloc`, `free`, `rostervm`, `capabilities`,
//! `nodeinfo`; `soft_alloc` and `migrationinfo` are in [`crate::migration`].

use std::sync::Arc;
use std::time::Duration;

use kvmhost::libvirt::{DomainFilter, DomainId, Hypervisor, LibvirtError, UndefineOptions};

use crate::acp::{Failure, Request};
use crate::agent::Agent;
use crate::log;
use crate::state::VmRecord;
use crate::xml::{self, Element, Limits};

const CODE_ALLOC: i64 = -9001;
const CODE_FREE: i64 = -9002;
const CODE_ROSTER: i64 = -9003;
const CODE_CAPABILITIES: i64 = -9009;
const CODE_NODE_INFO: i64 = -9014;

/// libvirt's own XML is trusted more than the network's, but still bounded.
pub const LIBVIRT_XML: Limits = Limits { max_stanza_bytes: 8 << 20, max_depth: 64, max_attributes: 256 };

/// Runs one hypervisor command (the permission was checked).
pub async fn handle(agent: &Arc<Agent>, req: &Request) -> Result<Vec<Element>, Failure> {
    match req.action.as_str() {
        "alloc" => alloc(agent, req).await,
        "free" => free(agent, req).await,
        "rostervm" => roster(agent).await,
        "soft_alloc" => crate::migration::soft_alloc(agent, req).await,
        "migrationinfo" => crate::migration::info(agent, req),
        "capabilities" => {
            // Kept as libvirt wrote it (the typed capabilities keep their document).
            let caps = agent.host.capabilities().await.map_err(|e| Failure::libvirt(&e, CODE_CAPABILITIES))?;
            let text = caps.to_xml().map_err(|e| Failure::generic(CODE_CAPABILITIES, e.to_string()))?;
            let el = xml::parse_str(&text, "", &LIBVIRT_XML)
                .map_err(|e| Failure::generic(CODE_CAPABILITIES, e.to_string()))?;
            Ok(vec![el])
        }
        "nodeinfo" => {
            let n = agent.host.node_info().await.map_err(|e| Failure::libvirt(&e, CODE_NODE_INFO))?;
            Ok(vec![Element::new("nodeinfo", "")
                .attr("model", n.model)
                .attr("memory", n.memory_kib.to_string())
                .attr("nrCPU", n.cpus.to_string())
                .attr("mHzCPU", n.mhz.to_string())
                .attr("nrNumaNodes", n.nodes.to_string())
                .attr("nrSockets", n.sockets.to_string())
                .attr("nrCoreperSocket", n.cores.to_string())
                .attr("nrThreadperCore", n.threads.to_string())])
        }
        other => Err(Failure::generic(-1, format!("unknown action '{other}'"))),
    }
}

/// Sets `<name>` and `<uuid>` of a `<domain>` element (Archipel overwrites both at alloc).
pub fn set_identity(domain: &mut Element, name: &str, uuid: &str) {
    for (tag, value) in [("name", name), ("uuid", uuid)] {
        match domain.get_child_mut(tag) {
            Some(el) => el.children = vec![xml::Node::Text(value.to_string())],
            None => {
                let ns = domain.ns.clone();
                domain.children.insert(0, xml::Node::Element(Element::new(tag, &ns).text(value)));
            }
        }
    }
}

/// Defines a `<domain>` element received in a command; returns the XML defined.
pub async fn define_element(agent: &Agent, domain: &Element, code: i64) -> Result<String, Failure> {
    let xml = domain.to_string_in(&domain.ns);
    let parsed = kvmhost::core::domain::Domain::parse(&xml).map_err(|e| Failure::generic(code, e.to_string()))?;
    agent.host.define(&parsed).await.map_err(|e| Failure::libvirt(&e, code))?;
    Ok(xml)
}

fn random_password() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

async fn alloc(agent: &Arc<Agent>, req: &Request) -> Result<Vec<Element>, Failure> {
    let uuid = uuid::Uuid::new_v4().hyphenated().to_string();
    let name = match req.arg("name") {
        Some(n) if !n.trim().is_empty() => n.trim().to_string(),
        _ => format!("vm-{}", &uuid[..8]),
    };
    if name.len() > 200 || name.chars().any(|c| c.is_control() || c == '/') {
        return Err(Failure::generic(CODE_ALLOC, format!("invalid name {name:?}")));
    }
    let definition = match req.archipel().get_child("domain") {
        Some(d) => {
            let mut d = d.clone();
            set_identity(&mut d, &name, &uuid);
            Some(define_element(agent, &d, CODE_ALLOC).await?)
        }
        None => None,
    };
    let record = VmRecord { name: name.clone(), password: random_password(), definition };
    let vm_jid = agent.vm_jid(&uuid);
    let requester = req.sender().to_string();
    let saved = agent.store.update(|s| {
        s.vms.insert(uuid.clone(), record);
    });
    let started = match saved {
        Ok(()) => match agent.center().set(&vm_jid, &requester, "all", true) {
            Ok(()) => {
                // The events node exists when the requester learns the VM's JID.
                agent.ensure_events_node(&vm_jid).await;
                agent.start_vm(&uuid, Duration::from_secs(15)).await.map_err(|e| Failure::generic(CODE_ALLOC, e))
            }
            Err(f) => Err(f),
        },
        Err(e) => Err(Failure::generic(CODE_ALLOC, e.to_string())),
    };
    if let Err(f) = started {
        // Leave nothing behind: the entity, its record, its grants, its definition.
        agent.stop_vm(&uuid, true).await;
        let _ = agent.store.update(|s| {
            s.vms.remove(&uuid);
            s.permissions.remove(&vm_jid);
        });
        let _ = agent.host.undefine(&DomainId::uuid(&uuid), UndefineOptions::default()).await;
        return Err(f);
    }
    log!("allocated {vm_jid} ({name}) for {requester}");
    agent.push(&crate::agent::Entity::Hypervisor, "hypervisor", "alloc");
    Ok(vec![Element::new("virtualmachine", "").attr("jid", vm_jid)])
}

async fn free(agent: &Arc<Agent>, req: &Request) -> Result<Vec<Element>, Failure> {
    let jid = req.required("jid")?.to_string();
    let uuid = crate::xmpp::Jid::parse(&jid)
        .ok()
        .and_then(|j| j.node)
        .filter(|n| agent.store.read(|s| s.vms.contains_key(n)))
        .ok_or_else(|| Failure::generic(CODE_FREE, format!("no virtual machine {jid} on this hypervisor")))?;
    let id = DomainId::uuid(&uuid);
    if let Ok(state) = agent.host.state(&id).await {
        if state.state.is_active() {
            agent.host.destroy(&id).await.map_err(|e| Failure::libvirt(&e, CODE_FREE))?;
        }
    }
    match agent.host.undefine(&id, UndefineOptions::default()).await {
        Ok(()) | Err(LibvirtError::NoSuchDomain { .. }) => {}
        Err(e) => return Err(Failure::libvirt(&e, CODE_FREE)),
    }
    agent.stop_vm(&uuid, true).await;
    agent.vmcasting.forget_vm(&uuid);
    let vm_jid = agent.vm_jid(&uuid);
    agent
        .store
        .update(|s| {
            s.vms.remove(&uuid);
            s.permissions.remove(&vm_jid);
        })
        .map_err(|e| Failure::generic(CODE_FREE, e.to_string()))?;
    log!("freed {vm_jid} for {}", req.sender());
    agent.push(&crate::agent::Entity::Hypervisor, "hypervisor", "free");
    Ok(vec![Element::new("virtualmachine", "").attr("jid", jid)])
}

async fn roster(agent: &Arc<Agent>) -> Result<Vec<Element>, Failure> {
    let mut items: Vec<(String, Element)> = agent.store.read(|s| {
        s.vms
            .iter()
            .map(|(uuid, vm)| {
                let jid = agent.vm_jid(uuid);
                (jid.clone(), Element::new("item", "").attr("managed", "True").attr("name", vm.name.as_str()).text(jid))
            })
            .collect()
    });
    let domains =
        agent.host.list_domains(DomainFilter::Persistent).await.map_err(|e| Failure::libvirt(&e, CODE_ROSTER))?;
    for d in domains {
        if agent.store.read(|s| s.vms.contains_key(&d.uuid)) {
            continue;
        }
        let jid = agent.vm_jid(&d.uuid);
        items.push((jid.clone(), Element::new("item", "").attr("managed", "False").attr("name", d.name).text(jid)));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(items.into_iter().map(|(_, e)| e).collect())
}
