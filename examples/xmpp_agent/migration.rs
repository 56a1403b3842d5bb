//! Moving a VM entity to another agent (`archipel:vm:control` `migrate hypervisorjid=…`), as
//! Archipel does it:
//!
//! - **A VM that is off** (`migrate_not_running_step1/2`): the source sends the destination
//!   hypervisor `soft_alloc` with the domain's definition whose `<description>` is
//!   `JID::::PASSWORD`; the destination defines it on its host and starts the same VM entity
//!   (same JID, its own resource); the source then stops its entity and forgets the VM (the
//!   account stays). The VM's permission grants travel along (a `<permissions>` child).
//! - **A running VM** (`migrate_running_step1..3`): the source asks the destination hypervisor
//!   for `migrationinfo` (`<migration libvirt_uri=… migration_uri=…/>`), opens that libvirt
//!   URI and live-migrates the domain with kvmhost-libvirt (CPU pre-check on the destination,
//!   persistent there, source definition removed, `VIR_MIGRATE_UNSAFE` as Archipel sets it).
//!   The command is answered once the pre-check passed and the migration runs; the VM entity's
//!   presence says `Migrating - N%` meanwhile. When libvirt is done, the source hands the entity
//!   over with `soft_alloc live='yes'` (the destination adopts the running domain instead of
//!   defining it) and forgets it. A failed migration leaves the VM where it was, its presence
//!   `Can't migrate.` as Archipel's.
//!
//! Differences from Archipel, for safety: `soft_alloc` comes from the source *hypervisor*
//! (not the VM entity) and the destination requires that sender to hold its `soft_alloc`
//! permission (an admin grants it to the hypervisors it trusts; Archipel checks nothing);
//! `migrationinfo` needs its own permission *and* `soft_alloc`, so a migration libvirt
//! performs is never left without its entity on the other side; the description carrying the
//! password is never given to libvirt (Archipel stores it in the domain and reads it back from
//! the `RESUMED_MIGRATED` event); no shared `base_folder` is required (libvirt refuses a
//! migration whose storage the destination cannot reach).

use std::sync::Arc;
use std::time::Duration;

use kvmhost::libvirt::migration::{MigrationJob, MigrationOptions};
use kvmhost::libvirt::{DomainId, DomainState, Hypervisor, LibvirtError, LibvirtHypervisor, UndefineOptions, XmlView};

use crate::acp::{Failure, Request};
use crate::agent::{state_presence, Agent, Entity, NS_HYPERVISOR_CONTROL};
use crate::hypervisor::{define_element, LIBVIRT_XML};
use crate::log;
use crate::permissions::Kind;
use crate::state::VmRecord;
use crate::xml::{self, Element, Node};
use crate::xmpp::{self, Client, NS_CLIENT};

const CODE_MIGRATE: i64 = -1013;
const CODE_SOFT_ALLOC: i64 = -9007;
const CODE_MIGRATION_INFO: i64 = -9016;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// `VIR_DOMAIN_RUNNING_MIGRATED`: the reason of a domain running after an incoming migration.
const RUNNING_MIGRATED: i32 = 2;

/// Where peers migrate this host's running VMs to (`migrationinfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationTarget {
    /// The libvirt URI a source agent opens to reach this host's libvirt.
    pub libvirt_uri: String,
    /// Where QEMU's migration stream goes (`tcp://HOST[:PORT]`); libvirt's choice without it.
    pub migration_uri: Option<String>,
}

impl MigrationTarget {
    /// From the command line: an explicit libvirt URI, or the local one with this host's name
    /// put in (`qemu:///system` → `qemu://HOST/system`, as Archipel's `migration_info`); `None`
    /// for the test driver, which cannot migrate.
    pub fn from_cli(local_uri: &str, explicit: Option<&str>, address: Option<&str>) -> Option<MigrationTarget> {
        let migration_uri = address.map(|a| match a.parse::<std::net::Ipv6Addr>() {
            Ok(v6) => format!("tcp://[{v6}]"),
            Err(_) if a.contains("://") => a.to_string(),
            Err(_) => format!("tcp://{a}"),
        });
        let libvirt_uri = match explicit {
            Some(uri) => uri.to_string(),
            None if local_uri.starts_with("test:") => return None,
            None => {
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
                local_uri.replacen(":///", &format!("://{}/", host.trim()), 1)
            }
        };
        Some(MigrationTarget { libvirt_uri, migration_uri })
    }
}

/// `migration_info` on the destination: answered to hypervisors that may also `soft_alloc` here.
pub fn info(agent: &Agent, req: &Request) -> Result<Vec<Element>, Failure> {
    if !agent.center().check(Kind::Hypervisor, &agent.jid, req.sender(), "soft_alloc") {
        return Err(Failure::permission("soft_alloc"));
    }
    let target = agent.migration.as_ref().ok_or_else(|| {
        Failure::generic(
            CODE_MIGRATION_INFO,
            format!(
                "{} cannot receive running virtual machines: its libvirt ({}) cannot migrate \
                 (give the agent --migration-libvirt-uri)",
                agent.jid,
                agent.host.uri()
            ),
        )
    })?;
    let mut el = Element::new("migration", NS_HYPERVISOR_CONTROL).attr("libvirt_uri", target.libvirt_uri.as_str());
    if let Some(uri) = &target.migration_uri {
        el = el.attr("migration_uri", uri.as_str());
    }
    Ok(vec![el])
}

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
    if state == DomainState::Blocked {
        return Err(fail("Virtual machine is blocked.".into()));
    }
    let guard = Migrating::reserve(agent, uuid).ok_or_else(|| fail("Virtual machine is already migrating.".into()))?;
    let hypervisor = agent.hypervisor_client.lock().unwrap().clone().ok_or_else(|| fail("not connected".into()))?;
    // The definition to hand over, read before anything moves (the source loses it).
    let desc = match agent.host.domain_xml(&id, XmlView::Secure).await {
        Ok(domain) => domain.to_xml().map_err(|e| fail(e.to_string()))?,
        Err(e) => return Err(Failure::libvirt(&e, CODE_MIGRATE)),
    };
    let handover = HandOver::new(agent, uuid, &dest, &desc, req.sender()).map_err(fail)?;
    if state == DomainState::Shutoff {
        handover.send(&hypervisor, false).await.map_err(fail)?;
        // Arrived: answer now, through this entity's connection, before closing it (the answer
        // the dispatcher sends afterwards finds the connection closed and goes nowhere).
        if let Some(client) = agent.vm_client(uuid) {
            let _ = client.send(&crate::acp::result(req, vec![]));
        }
        handover.forget(agent, true).await.map_err(fail)?;
        drop(guard);
        return Ok(vec![]);
    }
    let job = start_live(agent, uuid, &dest, &hypervisor).await.map_err(fail)?;
    let (show, _) = state_presence(state);
    agent.send_vm_presence(uuid, show, "Migrating - 0%");
    log!("{}: live migration to {dest} started for {}", agent.vm_jid(uuid), req.sender());
    tokio::spawn(finish_live(agent.clone(), job, handover, hypervisor, guard));
    Ok(vec![])
}

/// Asks `dest` for its `migrationinfo`, opens its libvirt and starts the migration (the CPU
/// pre-check runs here: a refusal is the command's answer).
async fn start_live(agent: &Arc<Agent>, uuid: &str, dest: &str, hypervisor: &Client) -> Result<MigrationJob, String> {
    let iq = Element::new("iq", NS_CLIENT).attr("type", "get").attr("to", dest).child(
        Element::new("query", NS_HYPERVISOR_CONTROL)
            .child(Element::new("archipel", NS_HYPERVISOR_CONTROL).attr("action", "migrationinfo")),
    );
    let answer = hypervisor.request(iq, REQUEST_TIMEOUT).await.map_err(|e| format!("{dest}: {e}"))?;
    if answer.get_attr("type") != Some("result") {
        return Err(format!("{dest} refused the virtual machine: {}", refusal(&answer)));
    }
    let info = answer.get_child("query").and_then(|q| q.get_child("migration"));
    let libvirt_uri = info
        .and_then(|m| m.get_attr("libvirt_uri"))
        .ok_or_else(|| format!("{dest} sent no libvirt_uri in its migration information"))?;
    check_peer_uri(libvirt_uri)?;
    let migration_uri = info.and_then(|m| m.get_attr("migration_uri"));
    // Over the network only: a peer does not pick a socket on this host for the guest's memory
    // (libvirt would take `unix://` too).
    if let Some(uri) = migration_uri.filter(|u| !u.starts_with("tcp://")) {
        return Err(format!("refusing the migration URI {uri:?} announced by {dest}: only tcp://HOST[:PORT]"));
    }
    let destination = LibvirtHypervisor::connect(libvirt_uri).await.map_err(|e| format!("{libvirt_uri}: {e}"))?;
    let mut options = MigrationOptions::managed().undefine_source(true).allow_unsafe(true);
    if let Some(uri) = migration_uri {
        options = options.migration_uri(uri);
    }
    options.progress_interval_ms = 200;
    agent
        .host
        .migrate(&DomainId::uuid(uuid), &destination, &options)
        .await
        .map_err(|e| format!("cannot migrate to {dest} ({libvirt_uri}): {e}"))
}

/// The libvirt URI a peer announced is hostile input: this agent opens only QEMU's driver over
/// a network transport or a unix socket, never with `command=` (the `ext` transport runs a
/// program on this host, and libvirt takes `command` from the URI).
fn check_peer_uri(uri: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("refusing the libvirt URI {uri:?} announced for migration: {why}"));
    if uri.len() > 1024 || uri.chars().any(char::is_control) {
        return refuse("too long or with control characters");
    }
    let Some((scheme, rest)) = uri.split_once("://") else { return refuse("not a libvirt URI") };
    let (driver, transport) = match scheme.split_once('+') {
        Some((d, t)) => (d, Some(t)),
        None => (scheme, None),
    };
    if driver != "qemu" || !matches!(transport, None | Some("tcp" | "tls" | "ssh" | "libssh" | "libssh2" | "unix")) {
        return refuse("only qemu over tcp, tls, ssh or a unix socket");
    }
    let query = rest.split_once('?').map(|(_, q)| q).unwrap_or_default();
    if query.split('&').any(|kv| kv.split('=').next().unwrap_or_default().eq_ignore_ascii_case("command")) {
        return refuse("a command to run");
    }
    Ok(())
}

/// Follows a live migration: progress as presence, then the hand-over (or `Can't migrate.`).
async fn finish_live(
    agent: Arc<Agent>,
    mut job: MigrationJob,
    handover: HandOver,
    hypervisor: Client,
    guard: Migrating,
) {
    let uuid = handover.uuid.clone();
    let mut shown = 0;
    while let Some(p) = job.next_progress().await {
        let percent = (100.0 * p.fraction().unwrap_or(0.0)) as u32;
        if percent != shown {
            shown = percent;
            agent.send_vm_presence(&uuid, "", &format!("Migrating - {percent}%"));
        }
    }
    let vm_jid = agent.vm_jid(&uuid);
    match job.wait().await {
        Ok(report) => {
            log!("{vm_jid}: migrated to {} in {} ms", handover.dest, report.duration_ms);
            if let Err(e) = handover.send(&hypervisor, true).await {
                // Only a lost connection gets here (`migrationinfo` checked the permission).
                log!("{vm_jid}: runs on {} now, but its entity was not taken over: {e}", handover.dest);
            }
            if let Err(e) = handover.forget(&agent, false).await {
                log!("{vm_jid}: {e}");
            }
        }
        Err(e) => {
            log!("{vm_jid}: cannot migrate to {}: {e}", handover.dest);
            let (show, _) = agent.vm_presence(&uuid).await;
            agent.send_vm_presence(&uuid, show, "Can't migrate.");
        }
    }
    drop(guard);
}

/// Marks a VM as migrating (one migration at a time; its libvirt events are not presence
/// meanwhile) until dropped.
struct Migrating {
    agent: Arc<Agent>,
    uuid: String,
}

impl Migrating {
    fn reserve(agent: &Arc<Agent>, uuid: &str) -> Option<Migrating> {
        agent
            .migrating
            .lock()
            .unwrap()
            .insert(uuid.to_string())
            .then(|| Migrating { agent: agent.clone(), uuid: uuid.into() })
    }
}

impl Drop for Migrating {
    fn drop(&mut self) {
        self.agent.migrating.lock().unwrap().remove(&self.uuid);
    }
}

/// What the destination needs to take a VM entity over: its definition with `JID::::PASSWORD`
/// as description, and its permission grants.
struct HandOver {
    uuid: String,
    dest: String,
    domain: Element,
    grants: Element,
    /// Who asked (for the log).
    requester: String,
}

impl HandOver {
    fn new(agent: &Agent, uuid: &str, dest: &str, definition: &str, requester: &str) -> Result<HandOver, String> {
        let password = agent
            .store
            .read(|s| s.vms.get(uuid).map(|v| v.password.clone()))
            .ok_or_else(|| "unknown virtual machine".to_string())?;
        let mut domain = xml::parse_str(definition, NS_HYPERVISOR_CONTROL, &LIBVIRT_XML).map_err(|e| e.to_string())?;
        let vm_jid = agent.vm_jid(uuid);
        domain.children.retain(|c| !matches!(c, Node::Element(e) if e.name == "description"));
        domain.children.push(Node::Element(
            Element::new("description", NS_HYPERVISOR_CONTROL).text(format!("{vm_jid}::::{password}")),
        ));
        let mut grants = Element::new("permissions", NS_HYPERVISOR_CONTROL);
        let users = agent.store.read(|s| s.permissions.get(&vm_jid).cloned()).unwrap_or_default();
        for (user, perms) in users {
            for p in perms {
                let g = Element::new("permission", NS_HYPERVISOR_CONTROL).attr("user", user.as_str()).attr("name", p);
                grants = grants.child(g);
            }
        }
        Ok(HandOver { uuid: uuid.into(), dest: dest.into(), domain, grants, requester: requester.into() })
    }

    /// `soft_alloc` to the destination hypervisor; `live`: the domain already runs there.
    async fn send(&self, hypervisor: &Client, live: bool) -> Result<(), String> {
        let mut action = Element::new("archipel", NS_HYPERVISOR_CONTROL).attr("action", "soft_alloc");
        if live {
            action = action.attr("live", "yes");
        }
        let action = action.child(self.domain.clone()).child(self.grants.clone());
        let iq = Element::new("iq", NS_CLIENT)
            .attr("type", "set")
            .attr("to", self.dest.as_str())
            .child(Element::new("query", NS_HYPERVISOR_CONTROL).child(action));
        let answer = hypervisor.request(iq, REQUEST_TIMEOUT).await.map_err(|e| format!("{}: {e}", self.dest))?;
        if answer.get_attr("type") != Some("result") {
            return Err(format!("{} refused the virtual machine: {}", self.dest, refusal(&answer)));
        }
        Ok(())
    }

    /// The VM left: stop its entity here and forget it (the account stays; the destination's
    /// entity uses it); `undefine` its definition here (a live migration removed it already).
    async fn forget(&self, agent: &Arc<Agent>, undefine: bool) -> Result<(), String> {
        let (uuid, vm_jid) = (&self.uuid, agent.vm_jid(&self.uuid));
        agent.stop_vm(uuid, false).await;
        if undefine {
            if let Err(e) = agent.host.undefine(&DomainId::uuid(uuid), UndefineOptions::default()).await {
                log!("{vm_jid}: moved to {}, but undefining it here failed: {e}", self.dest);
            }
        }
        agent
            .store
            .update(|s| {
                s.vms.remove(uuid);
                s.permissions.remove(&vm_jid);
            })
            .map_err(|e| e.to_string())?;
        agent.push(&Entity::Hypervisor, "hypervisor", "migrate");
        log!("{vm_jid} moved to {} for {}", self.dest, self.requester);
        Ok(())
    }
}

/// The first line of an error answer's text (or its condition).
fn refusal(answer: &Element) -> String {
    let text = answer.get_child("error").and_then(|e| e.get_child("text")).map(|t| t.text_content());
    let why = text.unwrap_or_else(|| xmpp::error_condition(answer));
    why.lines().next().unwrap_or_default().to_string()
}

/// `soft_alloc` on the destination: takes over a VM entity sent by another agent; with
/// `live='yes'` the domain already runs here (a live migration brought it) and is adopted,
/// otherwise its definition is defined.
pub async fn soft_alloc(agent: &Arc<Agent>, req: &Request) -> Result<Vec<Element>, Failure> {
    let fail = |m: String| Failure::generic(CODE_SOFT_ALLOC, m);
    let live = req.arg("live") == Some("yes");
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
    let definition = if live {
        // Only a domain a migration just brought (running, reason `migrated`): a sender may not
        // take over a guest that was already running here.
        match agent.host.state(&DomainId::uuid(&uuid)).await {
            Ok(s) if s.state == DomainState::Running && s.reason_code == RUNNING_MIGRATED => {}
            Ok(s) => return Err(fail(format!("{} is {s} here, not running after a migration", jid.bare()))),
            Err(e) => return Err(Failure::libvirt(&e, CODE_SOFT_ALLOC)),
        }
        domain.to_string_in(&domain.ns)
    } else {
        define_element(agent, &domain, CODE_SOFT_ALLOC).await?
    };
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
        // A domain a live migration brought stays running: only a definition made here goes.
        if !live {
            let _ = agent.host.undefine(&DomainId::uuid(&uuid), UndefineOptions::default()).await;
        }
        return Err(f);
    }
    agent.push(&Entity::Hypervisor, "hypervisor", "migrate");
    log!("{vm_jid} ({name}) arrived from {}{}", req.sender(), if live { " (live migration)" } else { "" });
    Ok(vec![])
}
