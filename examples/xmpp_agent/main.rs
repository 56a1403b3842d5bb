//! An Archipel-compatible agent: the host and each of its VMs are XMPP entities that any XMPP
//! client manages through an XMPP server, speaking Archipel's protocol (namespaces, actions,
//! error format and permissions as archipel-core / archipel-agent have them).
//!
//! ```sh
//! cargo run --release --example xmpp_agent -- --jid hyp1@example.org --password PW \
//!     [--server HOST:PORT] [--libvirt URI] [--admin JID]... [--state DIR] [--ca-file PEM] [--insecure-tcp]
//!     [--pubsub SERVICE|none] [--migration-libvirt-uri URI] [--migration-address HOST[:PORT]]
//!     [--vmcast-dir DIR]
//! ```
//!
//! - The hypervisor entity (`--jid`) answers `archipel:hypervisor:control` (`alloc`, `free`,
//!   `rostervm`, `capabilities`, `nodeinfo`) and `archipel:permissions`.
//! - Each VM is an entity `<uuid>@<domain>/<hypervisor node>`, its account created by in-band
//!   registration (XEP-0077) and its password kept in `--state DIR`; it answers
//!   `archipel:vm:control`, `archipel:vm:definition` and `archipel:permissions`, and its
//!   presence follows libvirt's lifecycle events (Running, Paused, Off, Crashed, Not defined).
//!   `migrate hypervisorjid=…` moves a VM to another agent: one that is off by `soft_alloc`,
//!   a running one by libvirt live migration to the libvirt URI the destination announces
//!   (`migrationinfo`, from `--migration-libvirt-uri` / `--migration-address`), then
//!   `soft_alloc live='yes'`. The destination accepts both only from hypervisors holding its
//!   `soft_alloc` permission (and `migrationinfo` for a live migration).
//! - VMCasts (`vmcasting.rs`, `appliance.rs`, through kvmhost-templates): the hypervisor answers
//!   `archipel:hypervisor:vmcasting` (`get`, `register url`, `unregister uuid`,
//!   `downloadappliance uuid` in the background and verified, `downloadqueue`, `getappliances`,
//!   `getinstalledappliances`); each VM `archipel:virtualmachine:vmcasting` (`get`,
//!   `attach uuid`, `detach`, `package name`). Permissions `vmcasting_<action>` /
//!   `appliance_<action>`. The repository (registered feeds, downloaded and packaged appliances,
//!   attached disks) is `--vmcast-dir` (default `STATE/vmcasts`).
//! - Every entity publishes Archipel's pushes (`<push xmlns='archipel:push:…' change=… date=…/>`)
//!   on the pubsub node `/archipel/<bare JID>/events` of `--pubsub` (default `pubsub.<domain>`).
//! - Root admins (`--admin`) may do everything; the `alloc` requester gets `all` on its VM;
//!   others only what a permission's default allows (`permission_get`). Grants persist in the
//!   state directory; refusals are logged.
//! - STARTTLS is required and verified against the system roots (or `--ca-file`) unless
//!   `--insecure-tcp`, which only loopback servers are allowed.
//!
//! One line `xmpp_agent: online as JID …` on stderr says it serves; it runs until SIGINT or
//! SIGTERM.

mod acp;
mod agent;
mod appliance;
#[path = "../common/error_chain.rs"]
mod error_chain;
mod hypervisor;
mod migration;
mod permissions;
mod pubsub;
mod state;
mod stream;
mod vm;
mod vmcasting;
mod xml;
mod xmpp;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use kvmhost::libvirt::{DomainId, Hypervisor, LibvirtError, LibvirtHypervisor};

use agent::{Agent, Entity};

#[derive(Parser)]
#[command(name = "xmpp_agent", about = "An Archipel-compatible XMPP agent for one libvirt host")]
struct Cli {
    /// The hypervisor entity's JID (`node@domain[/resource]`, resource `agent` by default); the
    /// account is registered in-band if missing. Clients address the full JID.
    #[arg(long)]
    jid: String,
    /// Its password.
    #[arg(long)]
    password: String,
    /// The XMPP server as HOST:PORT (default: the JID's domain, port 5222).
    #[arg(long)]
    server: Option<String>,
    /// The libvirt connection URI.
    #[arg(long, default_value = "test:///default")]
    libvirt: String,
    /// A root admin's bare JID (every permission); repeat for more.
    #[arg(long = "admin")]
    admins: Vec<String>,
    /// Where VM accounts, definitions and permissions are kept (default: ./xmpp-agent-<node>).
    #[arg(long)]
    state: Option<PathBuf>,
    /// The VMCast repository: registered feeds, downloaded and packaged appliances, attached
    /// disks (default: STATE/vmcasts).
    #[arg(long)]
    vmcast_dir: Option<PathBuf>,
    /// The pubsub service for event pushes (default: pubsub.<domain>; `none`: no pushes).
    #[arg(long)]
    pubsub: Option<String>,
    /// Trust only the CA certificates in this PEM file for STARTTLS.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Plain TCP without TLS: only for a server on loopback that offers no TLS.
    #[arg(long)]
    insecure_tcp: bool,
    /// The libvirt URI other agents open to live-migrate VMs here (default: `--libvirt` with
    /// this host's name put in, as Archipel does; none for the test driver).
    #[arg(long)]
    migration_libvirt_uri: Option<String>,
    /// Where QEMU's migration stream to this host goes: `HOST[:PORT]` or `tcp://HOST[:PORT]`
    /// (default: libvirt's choice, the destination's hostname).
    #[arg(long)]
    migration_address: Option<String>,
}

async fn loopback_only(server: &str) -> Result<(), String> {
    let addrs: Vec<_> =
        tokio::net::lookup_host(server).await.map_err(|e| format!("cannot resolve {server}: {e}"))?.collect();
    if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
        return Err(format!("--insecure-tcp is only allowed for a loopback server ({server} is not)"));
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<(), String> {
    let jid = xmpp::Jid::parse(&cli.jid).map_err(|e| e.to_string())?;
    let node = jid.node.clone().ok_or("--jid needs a local part (node@domain)")?;
    let bare = jid.bare();
    let server = cli.server.clone().unwrap_or_else(|| format!("{}:5222", jid.domain));
    let security = if cli.insecure_tcp {
        loopback_only(&server).await?;
        xmpp::Security::InsecureTcp
    } else {
        xmpp::Security::StartTls { ca_file: cli.ca_file.clone() }
    };
    let mut admins = Vec::new();
    for a in &cli.admins {
        // Servers stamp senders' JIDs normalized; compare lowercase bare JIDs.
        admins.push(xmpp::Jid::parse(a).map_err(|e| format!("--admin: {e}"))?.bare().to_lowercase());
    }
    let state_dir = cli.state.clone().unwrap_or_else(|| PathBuf::from(format!("xmpp-agent-{node}")));
    let store = state::Store::open(&state_dir).map_err(|e| e.to_string())?;
    let vmcast_dir = cli.vmcast_dir.clone().unwrap_or_else(|| state_dir.join("vmcasts"));
    let vmcasting = vmcasting::Repository::open(&vmcast_dir).map_err(|e| format!("{}: {e}", vmcast_dir.display()))?;
    let host = LibvirtHypervisor::connect(&cli.libvirt).await.map_err(|e| format!("libvirt {}: {e}", cli.libvirt))?;

    let agent = Arc::new(Agent {
        host,
        jid: bare.clone(),
        node: node.clone(),
        domain: jid.domain.clone(),
        template: xmpp::ConnectOptions {
            jid: bare.clone(),
            password: cli.password.clone(),
            server: Some(server.clone()),
            security,
            register: true,
            resource: jid.resource.clone().unwrap_or_else(|| "agent".into()),
            limits: xml::Limits::default(),
        },
        store,
        admins,
        vms: Mutex::new(HashMap::new()),
        hypervisor_client: Arc::new(Mutex::new(None)),
        pubsub: match cli.pubsub.as_deref() {
            Some("none") => None,
            Some(service) => Some(service.to_string()),
            None => Some(format!("pubsub.{}", jid.domain)),
        },
        stopping: AtomicBool::new(false),
        cpu_samples: Mutex::new(HashMap::new()),
        migration: migration::MigrationTarget::from_cli(
            &cli.libvirt,
            cli.migration_libvirt_uri.as_deref(),
            cli.migration_address.as_deref(),
        ),
        migrating: Mutex::new(std::collections::HashSet::new()),
        vmcasting,
    });

    // Definitions the host forgot (the test driver forgets everything on exit) come back.
    let records: Vec<(String, Option<String>)> =
        agent.store.read(|s| s.vms.iter().map(|(u, v)| (u.clone(), v.definition.clone())).collect());
    for (uuid, definition) in &records {
        let Some(xml) = definition else { continue };
        if let Err(LibvirtError::NoSuchDomain { .. }) = agent.host.lookup(&DomainId::uuid(uuid)).await {
            let restored = match kvmhost::core::domain::Domain::parse(xml) {
                Ok(d) => agent.host.define(&d).await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match restored {
                Ok(()) => log!("{}: definition restored from the state", agent.vm_jid(uuid)),
                Err(e) => log!("{}: cannot restore its definition: {e}", agent.vm_jid(uuid)),
            }
        }
    }

    tokio::spawn(agent::follow_events(agent.clone()));

    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(agent::run_entity(
        agent.clone(),
        Entity::Hypervisor,
        agent.hypervisor_client.clone(),
        Arc::new(AtomicBool::new(false)),
        Some(tx),
    ));
    rx.await.map_err(|_| "the hypervisor entity ended".to_string())??;
    let mut online = 0;
    for (uuid, _) in &records {
        match agent.start_vm(uuid, Duration::from_secs(15)).await {
            Ok(()) => online += 1,
            Err(e) => log!("{}: {e}", agent.vm_jid(uuid)),
        }
    }
    log!("online as {bare}/{} on {server}, serving {online} VM entities on {}", agent.template.resource, cli.libvirt);

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("SIGTERM handler: {e}"))?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    log!("stopping");
    agent.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    let uuids: Vec<String> = agent.vms.lock().unwrap().keys().cloned().collect();
    for uuid in uuids {
        agent.stop_vm(&uuid, false).await;
    }
    if let Some(c) = agent.hypervisor_client.lock().unwrap().take() {
        c.close();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("xmpp_agent: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xmpp_agent: {e}");
            ExitCode::FAILURE
        }
    }
}
