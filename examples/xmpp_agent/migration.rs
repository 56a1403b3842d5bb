//! Moving a VM entity to another agent (`archipel:vm:control` `migrate hypervisorjid=…`), as
//! Archipel moves a VM that is not running (`migrate_not_running_step1/2`): the source sends the
//! destination hypervisor `soft_alloc` with the domain's definition whose `<description>` is
//! `JID::::PASSWORD`; the destination defines it on its host and starts the same VM entity
//! (same JID, its own resource); the source then stops its entity and forgets the VM (the
//! account stays). The VM's permission grants travel along (a `<permissions>` child).
//!
//! Differences from Archipel, for safety: `soft_alloc` comes from the source *hypervisor*
//! (not the VM entity) and the destination requires that sender to hold its `soft_alloc`
//! permission (an admin grants it to the hypervisors it trusts; Archipel checks nothing), and
//! the description carrying the password is removed before the domain is defined.
//! Live migration of a running VM (libvirt migration between two hosts) is not implemented.

use std::sync::Arc;
use std::time::Duration;

use kvmhost::libvirt::{DomainId, DomainState, Hypervisor, LibvirtError, UndefineOptions};

use crate::acp::{Failure, Request};
use crate::agent::{Agent, Entity, NS_HYPERVISOR_CONTROL};
use crate::hypervisor::{define_element, LIBVIRT_XML};
use crate::log;
use crate::state::VmRecord;
use crate::xml::{self, Element, Node};
use crate::xmpp::{self, NS_CLIENT};

const CODE_MIGRATE: i64 = -1013;
const CODE_SOFT_ALLOC: i64 = -9007;

/// `migrate` on the source: the VM `uuid` goes to `hypervisorjid`.
pub async fn migrate(agent: &Arc<Agent>, uuid: &str, req: &Request) -> Result<Vec<Element>, Failure> {
    let fail = |m: String| Failure::generic(CODE_MIGRATE, m);
    let dest = req.required("hypervisorjid").map_err(|f| Failure { code: CODE_MIGRATE, ..f })?.to_string();
    let dest_jid = xmpp::Jid::parse(&dest).map_err(|e| fail(e.to_string()))?;
    if dest_jid.bare().eq_ignore_ascii_case(&agent.jid) {
        return Err(fail(format!("Virtual machine is already running on {}", agent.jid)));
    }
    let id = DomainId::uuid(uuid);
    let state = match agent.host.state(&id).await {
        Ok(s) => s.state,
        Err(LibvirtError::NoSuchDomain { .. }) => return Err(fail("Virtual machine must be defined.".into())),
        Err(e) => return Err(Failure::libvirt(&e, CODE_MIGRATE)),
    };
    if state != DomainState::Shutoff {
        return Err(fail(
            "live migration of a running virtual machine is not implemented: shut it off to move it".into(),
        ));
    }
    let (password, name) = agent
        .store
        .read(|s| s.vms.get(uuid).map(|v| (v.password.clone(), v.name.clone())))
        .ok_or_else(|| fail("unknown virtual machine".into()))?;
    let u = uuid.to_string();
    let desc = agent
        .host
        .connection()
        .call(move |c| Ok(c.lookup_domain_by_uuid_string(&u)?.xml_desc(1)?))
        .await
        .map_err(|e| Failure::libvirt(&e, CODE_MIGRATE))?;
    let mut domain = xml::parse_str(&desc, NS_HYPERVISOR_CONTROL, &LIBVIRT_XML).map_err(|e| fail(e.to_string()))?;
    let vm_jid = agent.vm_jid(uuid);
    domain.children.retain(|c| !matches!(c, Node::Element(e) if e.name == "description"));
    domain.children.push(Node::Element(
        Element::new("description", NS_HYPERVISOR_CONTROL).text(format!("{vm_jid}::::{password}")),
    ));
    let mut grants = Element::new("permissions", NS_HYPERVISOR_CONTROL);
    let users = agent.store.read(|s| s.permissions.get(&vm_jid).cloned()).unwrap_or_default();
    for (user, perms) in users {
        for p in perms {
            grants = grants
                .child(Element::new("permission", NS_HYPERVISOR_CONTROL).attr("user", user.as_str()).attr("name", p));
        }
    }
    let iq = Element::new("iq", NS_CLIENT).attr("type", "set").attr("to", dest.as_str()).child(
        Element::new("query", NS_HYPERVISOR_CONTROL).child(
            Element::new("archipel", NS_HYPERVISOR_CONTROL).attr("action", "soft_alloc").child(domain).child(grants),
        ),
    );
    let hypervisor = agent.hypervisor_client.lock().unwrap().clone().ok_or_else(|| fail("not connected".into()))?;
    let answer = hypervisor.request(iq, Duration::from_secs(30)).await.map_err(|e| fail(format!("{dest}: {e}")))?;
    if answer.get_attr("type") != Some("result") {
        let text = answer.get_child("error").and_then(|e| e.get_child("text")).map(|t| t.text_content());
        let why = text.unwrap_or_else(|| xmpp::error_condition(&answer));
        return Err(fail(format!("{dest} refused the virtual machine: {}", why.lines().next().unwrap_or_default())));
    }
    // Arrived: answer now, through this entity's connection, before closing it (the answer
    // the dispatcher sends afterwards finds the connection closed and goes nowhere).
    if let Some(client) = agent.vm_client(uuid) {
        let _ = client.send(&crate::acp::result(req, vec![]));
    }
    // Forget it here (the account stays; the destination's entity uses it).
    agent.stop_vm(uuid, false).await;
    if let Err(e) = agent.host.undefine(&id, UndefineOptions::default()).await {
        log!("{vm_jid}: moved to {dest}, but undefining it here failed: {e}");
    }
    agent
        .store
        .update(|s| {
            s.vms.remove(uuid);
            s.permissions.remove(&vm_jid);
        })
        .map_err(|e| fail(e.to_string()))?;
    agent.push(&Entity::Hypervisor, "hypervisor", "migrate");
    log!("{vm_jid} ({name}) moved to {dest} for {}", req.sender());
    Ok(vec![])
}

/// `soft_alloc` on the destination: takes over a VM entity sent by another agent.
pub async fn soft_alloc(agent: &Arc<Agent>, req: &Request) -> Result<Vec<Element>, Failure> {
    let fail = |m: String| Failure::generic(CODE_SOFT_ALLOC, m);
    let mut domain = req.archipel().get_child("domain").cloned().ok_or_else(|| fail("no <domain>".into()))?;
    let description = domain.get_child("description").map(|d| d.text_content()).unwrap_or_default();
    let (jid, password) =
        description.split_once("::::").ok_or_else(|| fail("no JID::::PASSWORD description".into()))?;
    let jid = xmpp::Jid::parse(jid).map_err(|e| fail(e.to_string()))?;
    let uuid = jid.node.clone().unwrap_or_default().to_lowercase();
    let domain_uuid = domain.get_child("uuid").map(|u| u.text_content().trim().to_lowercase()).unwrap_or_default();
    if uuid.is_empty() || uuid != domain_uuid || !jid.domain.eq_ignore_ascii_case(&agent.domain) {
        return Err(fail(format!("{} does not match the domain's UUID {domain_uuid}", jid.bare())));
    }
    if agent.store.read(|s| s.vms.contains_key(&uuid)) {
        return Err(fail(format!("{} is already here", jid.bare())));
    }
    let name = domain.get_child("name").map(|n| n.text_content()).unwrap_or_else(|| uuid.clone());
    // The password travels in the description; libvirt does not get to keep it.
    domain.children.retain(|c| !matches!(c, Node::Element(e) if e.name == "description"));
    let definition = define_element(agent, &domain, CODE_SOFT_ALLOC).await?;
    let vm_jid = agent.vm_jid(&uuid);
    let grants: Vec<(String, String)> = req
        .archipel()
        .get_child("permissions")
        .map(|p| {
            p.elements()
                .filter_map(|g| Some((g.get_attr("user")?.to_lowercase(), g.get_attr("name")?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let record = VmRecord { name: name.clone(), password: password.to_string(), definition: Some(definition) };
    let saved = agent.store.update(|s| {
        s.vms.insert(uuid.clone(), record);
        let users = s.permissions.entry(vm_jid.clone()).or_default();
        for (user, perm) in grants {
            users.entry(user).or_default().insert(perm);
        }
    });
    let started = match saved {
        Ok(()) => {
            agent.ensure_events_node(&vm_jid).await;
            agent.start_vm(&uuid, Duration::from_secs(15)).await.map_err(fail)
        }
        Err(e) => Err(fail(e.to_string())),
    };
    if let Err(f) = started {
        agent.stop_vm(&uuid, false).await;
        let _ = agent.store.update(|s| {
            s.vms.remove(&uuid);
            s.permissions.remove(&vm_jid);
        });
        let _ = agent.host.undefine(&DomainId::uuid(&uuid), UndefineOptions::default()).await;
        return Err(f);
    }
    agent.push(&Entity::Hypervisor, "hypervisor", "migrate");
    log!("{vm_jid} ({name}) arrived from {}", req.sender());
    Ok(vec![])
}
