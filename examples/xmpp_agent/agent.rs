//! The agent: the shared state of one host, each XMPP entity's connection (the hypervisor and
//! one per VM, reconnecting with backoff), command dispatch with permission checks, presence,
//! and libvirt events turned into VM presence.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kvmhost::libvirt::events::{EventKind, ResumedDetail, StartedDetail, StoppedDetail, SuspendedDetail};
use kvmhost::libvirt::{DomainId, DomainState, Hypervisor, LibvirtError, LibvirtHypervisor};
use tokio::sync::{mpsc, oneshot};

use crate::acp::{self, Failure, Request};
use crate::permissions::{Center, Kind, NS_PERMISSIONS};
use crate::state::Store;
use crate::vmcasting;
use crate::xml::Element;
use crate::xmpp::{self, Client, ConnectOptions, NS_CLIENT};

/// `archipel:hypervisor:control`.
pub const NS_HYPERVISOR_CONTROL: &str = "archipel:hypervisor:control";
/// `archipel:vm:control`.
pub const NS_VM_CONTROL: &str = "archipel:vm:control";
/// `archipel:vm:definition`.
pub const NS_VM_DEFINITION: &str = "archipel:vm:definition";
/// `archipel:subscription`.
pub const NS_SUBSCRIPTION: &str = "archipel:subscription";
const NS_PING: &str = "urn:xmpp:ping";

/// Prints one log line on stderr.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        eprintln!("xmpp_agent: {}", format_args!($($arg)*))
    };
}

/// Which entity a connection serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    /// The hypervisor.
    Hypervisor,
    /// The VM with this UUID.
    Vm(String),
}

/// A running VM entity.
pub struct VmEntity {
    /// Its connection while connected.
    pub client: Arc<Mutex<Option<Client>>>,
    /// Set when the VM is freed (the connection loop ends).
    pub stop: Arc<AtomicBool>,
}

/// One host's agent.
pub struct Agent {
    /// libvirt.
    pub host: LibvirtHypervisor,
    /// The hypervisor's bare JID.
    pub jid: String,
    /// Its local part (the VMs' resource).
    pub node: String,
    /// The XMPP domain (VM accounts live there).
    pub domain: String,
    /// Server, security, limits: the template for every entity's connection.
    pub template: ConnectOptions,
    /// The persistent state.
    pub store: Store,
    /// Root admins (bare JIDs).
    pub admins: Vec<String>,
    /// VM entities by UUID.
    pub vms: Mutex<HashMap<String, VmEntity>>,
    /// The hypervisor entity's connection.
    pub hypervisor_client: Arc<Mutex<Option<Client>>>,
    /// The pubsub service for event pushes (`None`: no pushes).
    pub pubsub: Option<String>,
    /// Set when the agent shuts down (no more reconnects).
    pub stopping: AtomicBool,
    /// The previous CPU time sample per VM (for `cpuPrct`).
    pub cpu_samples: Mutex<HashMap<String, (Instant, u64)>>,
    /// The VMCast repository.
    pub vmcasting: crate::vmcasting::Repository,
    /// Where peers migrate running VMs to (`None`: this host's libvirt cannot take them).
    pub migration: Option<crate::migration::MigrationTarget>,
    /// The VMs being migrated away (their libvirt events are not presence meanwhile).
    pub migrating: Mutex<HashSet<String>>,
}

impl Agent {
    /// The permission center.
    pub fn center(&self) -> Center<'_> {
        Center { store: &self.store, admins: &self.admins }
    }

    /// A VM's bare JID.
    pub fn vm_jid(&self, uuid: &str) -> String {
        format!("{uuid}@{}", self.domain)
    }

    fn bare_jid(&self, entity: &Entity) -> String {
        match entity {
            Entity::Hypervisor => self.jid.clone(),
            Entity::Vm(uuid) => self.vm_jid(uuid),
        }
    }

    fn options_for(&self, entity: &Entity) -> Option<ConnectOptions> {
        let mut opts = self.template.clone();
        if let Entity::Vm(uuid) = entity {
            opts.jid = self.vm_jid(uuid);
            opts.password = self.store.read(|s| s.vms.get(uuid).map(|v| v.password.clone()))?;
            opts.resource = self.node.clone();
        }
        Some(opts)
    }

    /// Publishes an Archipel push on the entity's events node (when pubsub is on). Every push
    /// goes through the hypervisor's connection: it creates and owns the nodes of all its
    /// entities, so only the hypervisor account needs the right to create nodes (Prosody gives
    /// it to the pubsub component's admins only; ejabberd to whom `access_createnode` allows).
    pub fn push(&self, entity: &Entity, namespace: &str, change: &str) {
        let Some(service) = &self.pubsub else { return };
        let client = self.hypervisor_client.lock().unwrap().clone();
        if let Some(client) = client {
            crate::pubsub::push(
                &client,
                service,
                &crate::pubsub::events_node(&self.bare_jid(entity)),
                namespace,
                change,
            );
        }
    }

    /// Creates an entity's events node (through the hypervisor's connection) unless it exists;
    /// failures are logged (the entity works without pushes).
    pub async fn ensure_events_node(&self, entity_jid: &str) {
        let hypervisor = self.hypervisor_client.lock().unwrap().clone();
        if let (Some(service), Some(h)) = (&self.pubsub, hypervisor) {
            if let Err(e) = crate::pubsub::ensure_node(&h, service, &crate::pubsub::events_node(entity_jid)).await {
                log!("{entity_jid}: {e} (no event pushes)");
            }
        }
    }

    /// The connection of a VM entity, if connected.
    pub fn vm_client(&self, uuid: &str) -> Option<Client> {
        self.vms.lock().unwrap().get(uuid).and_then(|e| e.client.lock().unwrap().clone())
    }

    /// Starts a VM entity's connection loop and waits (up to `wait`) for it to be online.
    pub async fn start_vm(self: &Arc<Self>, uuid: &str, wait: Duration) -> Result<(), String> {
        let client = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        self.vms.lock().unwrap().insert(uuid.to_string(), VmEntity { client: client.clone(), stop: stop.clone() });
        let (tx, rx) = oneshot::channel();
        tokio::spawn(run_entity(self.clone(), Entity::Vm(uuid.to_string()), client, stop, Some(tx)));
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err("the entity's task ended".into()),
            Err(_) => Err(format!("not online within {wait:?}")),
        }
    }

    /// Stops a VM entity: removes its account (XEP-0077 `<remove/>`) when asked, then closes.
    pub async fn stop_vm(&self, uuid: &str, remove_account: bool) {
        let Some(entity) = self.vms.lock().unwrap().remove(uuid) else { return };
        entity.stop.store(true, Ordering::SeqCst);
        let client = entity.client.lock().unwrap().take();
        if let Some(client) = client {
            if remove_account {
                let hypervisor = self.hypervisor_client.lock().unwrap().clone();
                if let (Some(service), Some(h)) = (&self.pubsub, hypervisor) {
                    crate::pubsub::delete_node(&h, service, &crate::pubsub::events_node(&self.vm_jid(uuid))).await;
                }
                let iq = Element::new("iq", NS_CLIENT)
                    .attr("type", "set")
                    .child(Element::new("query", xmpp::NS_REGISTER).child(Element::new("remove", xmpp::NS_REGISTER)));
                if let Err(e) = client.request(iq, Duration::from_secs(5)).await {
                    log!("{}: account removal: {e}", self.vm_jid(uuid));
                }
            }
            client.close();
        }
    }

    /// The presence (show, status) a VM's libvirt state calls for (Archipel's strings).
    pub async fn vm_presence(&self, uuid: &str) -> (&'static str, &'static str) {
        match self.host.state(&DomainId::uuid(uuid)).await {
            Ok(s) => state_presence(s.state),
            Err(LibvirtError::NoSuchDomain { .. }) => ("xa", "Not defined"),
            Err(e) => {
                log!("{}: state: {e}", self.vm_jid(uuid));
                ("xa", "Error")
            }
        }
    }

    /// Broadcasts a VM entity's presence.
    pub fn send_vm_presence(&self, uuid: &str, show: &str, status: &str) {
        if let Some(client) = self.vm_client(uuid) {
            let _ = client.send(&presence(show, status));
        }
    }
}

/// `<presence>` with an optional `<show>` and a `<status>`.
pub fn presence(show: &str, status: &str) -> Element {
    let mut p = Element::new("presence", NS_CLIENT);
    if !show.is_empty() {
        p = p.child(Element::new("show", NS_CLIENT).text(show));
    }
    p.child(Element::new("status", NS_CLIENT).text(status))
}

/// `set_presence_according_to_libvirt_info`.
pub fn state_presence(state: DomainState) -> (&'static str, &'static str) {
    match state {
        DomainState::Running | DomainState::Blocked => ("", "Running"),
        DomainState::Paused | DomainState::PmSuspended => ("away", "Paused"),
        DomainState::Shutdown => ("", "Shutting down..."),
        DomainState::Crashed => ("xa", "Crashed"),
        _ => ("xa", "Off"),
    }
}

type Presence = Option<(&'static str, &'static str)>;
type Push = (&'static str, &'static str);

/// `on_domain_event`: the presence an event calls for (`None` inside: look at the state) and
/// the push it publishes.
fn event_reaction(kind: &EventKind) -> Option<(Presence, Push)> {
    const CONTROL: &str = "virtualmachine:control";
    const DEFINITION: &str = "virtualmachine:definition";
    Some(match kind {
        EventKind::Started(d) if *d != StartedDetail::Migrated => (Some(("", "Running")), (CONTROL, "created")),
        EventKind::Suspended(d) if *d != SuspendedDetail::Migrated => {
            (Some(("away", "Paused")), (CONTROL, "suspended"))
        }
        EventKind::Resumed(d) if *d != ResumedDetail::Migrated => (Some(("", "Running")), (CONTROL, "resumed")),
        EventKind::Stopped(d) if *d != StoppedDetail::Migrated => (Some(("xa", "Off")), (CONTROL, "shutdown")),
        EventKind::Crashed(_) => (Some(("xa", "Crashed")), (CONTROL, "crashed")),
        EventKind::Undefined(_) => (Some(("xa", "Not defined")), (DEFINITION, "undefined")),
        EventKind::Defined(_) => (None, (DEFINITION, "defined")),
        _ => return None,
    })
}

/// Follows libvirt's lifecycle events and updates the VM entities' presence.
pub async fn follow_events(agent: Arc<Agent>) {
    let mut events = match agent.host.events(None).await {
        Ok(e) => e,
        Err(e) => {
            log!("libvirt events unavailable ({e}): presence follows commands only");
            return;
        }
    };
    while let Some(ev) = events.recv().await {
        // Only VMs whose entity is started: `alloc` defines the domain before it creates the
        // VM's events node and starts the entity (its `Defined` event has nowhere to go yet).
        let started = agent.vms.lock().unwrap().contains_key(&ev.uuid);
        if !started || agent.migrating.lock().unwrap().contains(&ev.uuid) {
            continue;
        }
        let Some((presence, (namespace, change))) = event_reaction(&ev.kind) else { continue };
        let (show, status) = match presence {
            Some(p) => p,
            None => agent.vm_presence(&ev.uuid).await,
        };
        log!("{}: {} -> {status}", agent.vm_jid(&ev.uuid), ev.kind.name());
        agent.send_vm_presence(&ev.uuid, show, status);
        agent.push(&Entity::Vm(ev.uuid.clone()), namespace, change);
    }
}

/// Connects an entity and serves it; reconnects with backoff until `stop`. The first outcome
/// goes to `ready`; a first connection that fails ends the loop.
pub async fn run_entity(
    agent: Arc<Agent>,
    entity: Entity,
    slot: Arc<Mutex<Option<Client>>>,
    stop: Arc<AtomicBool>,
    mut ready: Option<oneshot::Sender<Result<(), String>>>,
) {
    let mut backoff = Duration::from_millis(500);
    let who = agent.bare_jid(&entity);
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(opts) = agent.options_for(&entity) else { return };
        match xmpp::connect(&opts).await {
            Ok((client, incoming)) => {
                let (show, status) = match &entity {
                    Entity::Hypervisor => ("", "Online"),
                    Entity::Vm(uuid) => agent.vm_presence(uuid).await,
                };
                let _ = client.send(&presence(show, status));
                *slot.lock().unwrap() = Some(client.clone());
                // The hypervisor's node before it serves; a VM's in the background (alloc made
                // it already; being online does not wait for the pubsub service).
                match &entity {
                    Entity::Hypervisor => agent.ensure_events_node(&who).await,
                    Entity::Vm(_) => {
                        let (agent, who) = (agent.clone(), who.clone());
                        tokio::spawn(async move { agent.ensure_events_node(&who).await });
                    }
                }
                if let Some(r) = ready.take() {
                    let _ = r.send(Ok(()));
                }
                backoff = Duration::from_millis(500);
                serve(&agent, &entity, client, incoming).await;
                *slot.lock().unwrap() = None;
                if stop.load(Ordering::SeqCst) || agent.stopping.load(Ordering::SeqCst) {
                    return;
                }
                log!("{who}: connection lost; reconnecting");
            }
            Err(e) => {
                if let Some(r) = ready.take() {
                    let _ = r.send(Err(format!("{who}: {e}")));
                    return;
                }
                log!("{who}: reconnect failed: {e}");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

async fn serve(agent: &Arc<Agent>, entity: &Entity, client: Client, mut incoming: mpsc::UnboundedReceiver<Element>) {
    while let Some(stanza) = incoming.recv().await {
        match stanza.name.as_str() {
            "iq" => handle_iq(agent, entity, &client, stanza),
            "presence" => handle_presence(agent, entity, &client, &stanza).await,
            _ => {}
        }
    }
}

fn handled(entity: &Entity, ns: &str) -> bool {
    match entity {
        Entity::Hypervisor => {
            matches!(ns, NS_HYPERVISOR_CONTROL | NS_PERMISSIONS | NS_SUBSCRIPTION | vmcasting::NS_HYPERVISOR_VMCASTING)
        }
        Entity::Vm(_) => {
            matches!(
                ns,
                NS_VM_CONTROL | NS_VM_DEFINITION | NS_PERMISSIONS | NS_SUBSCRIPTION | vmcasting::NS_VM_VMCASTING
            )
        }
    }
}

fn handle_iq(agent: &Arc<Agent>, entity: &Entity, client: &Client, iq: Element) {
    if !matches!(iq.get_attr("type"), Some("get" | "set")) {
        return;
    }
    let Some(child) = iq.elements().next() else {
        let _ = client.send(&acp::xmpp_error(&iq, "modify", "bad-request"));
        return;
    };
    if child.name == "ping" && child.ns == NS_PING {
        let _ = client.send(&acp::empty_result(&iq));
        return;
    }
    if child.name != "query" || !handled(entity, &child.ns) {
        let _ = client.send(&acp::xmpp_error(&iq, "cancel", "service-unavailable"));
        return;
    }
    let req = match acp::parse(&iq) {
        Ok(r) => r,
        Err(reply) => {
            let _ = client.send(&reply);
            return;
        }
    };
    let (agent, entity, client) = (agent.clone(), entity.clone(), client.clone());
    // Each command on its own task: a slow libvirt call does not hold up the others.
    tokio::spawn(async move {
        let reply = dispatch(&agent, &entity, &req).await;
        let _ = client.send(&reply);
    });
}

async fn dispatch(agent: &Arc<Agent>, entity: &Entity, req: &Request) -> Element {
    let kind = match entity {
        Entity::Hypervisor => Kind::Hypervisor,
        Entity::Vm(_) => Kind::Vm,
    };
    let me = agent.bare_jid(entity);
    let center = agent.center();
    let outcome = if req.ns == NS_PERMISSIONS {
        center.handle(kind, &me, req)
    } else if req.ns == NS_SUBSCRIPTION {
        if center.check(kind, &me, req.sender(), &format!("subscription_{}", req.action)) {
            subscription(agent, entity, &me, req)
        } else {
            Err(Failure::permission(&req.action))
        }
    } else if !center.check(kind, &me, req.sender(), &vmcasting::permission(&req.ns, &req.action)) {
        Err(Failure::permission(&req.action))
    } else {
        match entity {
            Entity::Hypervisor if req.ns == vmcasting::NS_HYPERVISOR_VMCASTING => {
                vmcasting::hypervisor(agent, req).await
            }
            Entity::Vm(uuid) if req.ns == vmcasting::NS_VM_VMCASTING => {
                crate::appliance::handle(agent, uuid, req).await
            }
            Entity::Hypervisor => crate::hypervisor::handle(agent, req).await,
            Entity::Vm(uuid) => crate::vm::handle(agent, uuid, req).await,
        }
    };
    match outcome {
        Ok(payload) => acp::result(req, payload),
        Err(failure) => {
            if failure.ns == acp::NS_ERROR_PERMISSION {
                log!("refused: {} may not {} {} on {me}", req.sender(), req.ns, req.action);
            } else {
                log!("{me}: {} {} from {} failed: {}", req.ns, req.action, req.sender(), failure.message);
            }
            acp::error_iq(&req.iq, &failure)
        }
    }
}

/// `archipel:subscription` `add` / `remove` (`iq_add_subscription`): grants (revokes) the JID's
/// `presence` permission and subscribes it to the entity's presence (pre-approved), or ends that.
fn subscription(agent: &Arc<Agent>, entity: &Entity, me: &str, req: &Request) -> Result<Vec<Element>, Failure> {
    let code = if req.action == "add" { -8 } else { -9 };
    let jid = xmpp::Jid::parse(req.required("jid")?).map_err(|e| Failure::generic(code, e.to_string()))?.bare();
    let add = match req.action.as_str() {
        "add" => true,
        "remove" => false,
        other => return Err(Failure::generic(-1, format!("unknown action '{other}'"))),
    };
    agent.center().set(me, &jid, "presence", add).map_err(|f| Failure { code, ..f })?;
    let client = match entity {
        Entity::Hypervisor => agent.hypervisor_client.lock().unwrap().clone(),
        Entity::Vm(uuid) => agent.vm_client(uuid),
    }
    .ok_or_else(|| Failure::generic(code, "the entity is not connected"))?;
    let kinds: &[&str] = if add { &["subscribed", "subscribe"] } else { &["unsubscribed", "unsubscribe"] };
    for kind in kinds {
        let p = Element::new("presence", NS_CLIENT).attr("to", jid.as_str()).attr("type", *kind);
        client.send(&p).map_err(|e| Failure::generic(code, e.to_string()))?;
    }
    agent.push(entity, "permissions", "set");
    Ok(vec![])
}

/// Subscription requests: granted to users with the `presence` permission
/// (`archipelEntity.process_presence`), refused (and logged) otherwise.
async fn handle_presence(agent: &Arc<Agent>, entity: &Entity, client: &Client, p: &Element) {
    let Some(from) = p.get_attr("from") else { return };
    let from = xmpp::bare(from).to_string();
    let answer = |kind: &str| Element::new("presence", NS_CLIENT).attr("to", from.as_str()).attr("type", kind);
    match p.get_attr("type") {
        Some("subscribe") => {
            let kind = if matches!(entity, Entity::Hypervisor) { Kind::Hypervisor } else { Kind::Vm };
            let me = agent.bare_jid(entity);
            if agent.center().check(kind, &me, &from, "presence") {
                let _ = client.send(&answer("subscribed"));
                let (show, status) = match entity {
                    Entity::Hypervisor => ("", "Online"),
                    Entity::Vm(uuid) => agent.vm_presence(uuid).await,
                };
                let _ = client.send(&presence(show, status).attr("to", from.as_str()));
            } else {
                log!("refused: {from} may not subscribe to {me}'s presence");
                let _ = client.send(&answer("unsubscribed"));
            }
        }
        Some("unsubscribe") => {
            let _ = client.send(&answer("unsubscribed"));
        }
        _ => {}
    }
}
