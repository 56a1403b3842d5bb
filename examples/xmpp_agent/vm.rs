//! A VM entity's commands (`archipelVirtualMachine.py`): `archipel:vm:control` (`info`,
//! `create`, `shutdown`, `destroy`, `reboot`, `suspend`, `resume`, `xmldesc`, `autostart`,
//! `memory`, `setvcpus`) and `archipel:vm:definition` (`define`, `undefine`).

use std::sync::Arc;
use std::time::Instant;

use kvmhost::libvirt::{DomainId, DomainState, Hypervisor, LibvirtError, Scope, UndefineOptions, XmlView};

use crate::acp::{Failure, Request};
use crate::agent::{Agent, NS_VM_DEFINITION};
use crate::hypervisor::{define_element, LIBVIRT_XML};
use crate::xml::{self, Element};

const CODE_CREATE: i64 = -1001;
const CODE_SUSPEND: i64 = -1002;
const CODE_RESUME: i64 = -1003;
const CODE_DESTROY: i64 = -1004;
const CODE_SHUTDOWN: i64 = -1005;
const CODE_REBOOT: i64 = -1006;
const CODE_DEFINE: i64 = -1007;
const CODE_INFO: i64 = -1009;
const CODE_XMLDESC: i64 = -1011;
const CODE_AUTOSTART: i64 = -1015;
const CODE_MEMORY: i64 = -1016;

fn not_defined(code: i64) -> Failure {
    Failure::generic(code, "You need to first define the virtual machine")
}

fn lv(code: i64) -> impl Fn(LibvirtError) -> Failure {
    move |e| match e {
        LibvirtError::NoSuchDomain { .. } => not_defined(code),
        e => Failure::libvirt(&e, code),
    }
}

fn int_arg<T: std::str::FromStr>(req: &Request, code: i64) -> Result<T, Failure> {
    let v = req.required("value").map_err(|f| Failure { code, ..f })?;
    v.trim().parse().map_err(|_| Failure::generic(code, format!("invalid value {v:?}")))
}

/// Runs one VM command (the permission was checked).
pub async fn handle(agent: &Arc<Agent>, uuid: &str, req: &Request) -> Result<Vec<Element>, Failure> {
    let id = DomainId::uuid(uuid);
    let host = &agent.host;
    if req.ns == NS_VM_DEFINITION {
        return match req.action.as_str() {
            "define" => define(agent, uuid, req).await,
            "undefine" => {
                host.undefine(&id, UndefineOptions::default()).await.map_err(lv(CODE_DESTROY))?;
                agent
                    .store
                    .update(|s| {
                        if let Some(vm) = s.vms.get_mut(uuid) {
                            vm.definition = None;
                        }
                    })
                    .map_err(|e| Failure::generic(CODE_DESTROY, e.to_string()))?;
                Ok(vec![])
            }
            other => Err(Failure::generic(-1, format!("unknown action '{other}'"))),
        };
    }
    match req.action.as_str() {
        "info" => info(agent, uuid).await,
        "create" => {
            host.start(&id).await.map_err(lv(CODE_CREATE))?;
            let dom_id = host.lookup(&id).await.ok().and_then(|d| d.id).map(|i| i.to_string()).unwrap_or_default();
            Ok(vec![Element::new("domain", "").attr("id", dom_id)])
        }
        // Archipel asks the guest (ACPI) and returns; the event stream reports the stop.
        "shutdown" => host.request_shutdown(&id).await.map(|_| vec![]).map_err(lv(CODE_SHUTDOWN)),
        "destroy" => {
            let state = host.state(&id).await.map_err(lv(CODE_DESTROY))?;
            if state.state != DomainState::Shutoff {
                host.destroy(&id).await.map_err(lv(CODE_DESTROY))?;
            }
            Ok(vec![])
        }
        "reboot" => host.reboot(&id).await.map(|_| vec![]).map_err(lv(CODE_REBOOT)),
        "suspend" => host.suspend(&id).await.map(|_| vec![]).map_err(lv(CODE_SUSPEND)),
        "resume" => host.resume(&id).await.map(|_| vec![]).map_err(lv(CODE_RESUME)),
        // The secure view, as Archipel asks for the description.
        "xmldesc" => match host.domain_xml(&id, XmlView::Secure).await {
            Ok(domain) => {
                let text = domain.to_xml().map_err(|e| Failure::generic(CODE_XMLDESC, e.to_string()))?;
                let el = xml::parse_str(&text, "", &LIBVIRT_XML)
                    .map_err(|e| Failure::generic(CODE_XMLDESC, e.to_string()))?;
                Ok(vec![el])
            }
            Err(LibvirtError::NoSuchDomain { .. }) => Ok(vec![Element::new("not-defined", "")]),
            Err(e) => Err(Failure::libvirt(&e, CODE_XMLDESC)),
        },
        "autostart" => {
            let v: i64 = int_arg(req, CODE_AUTOSTART)?;
            host.set_autostart(&id, v != 0).await.map(|_| vec![]).map_err(lv(CODE_AUTOSTART))
        }
        "memory" => {
            let kib: u64 = int_arg(req, CODE_MEMORY)?;
            host.set_memory(&id, kib, Scope::Current).await.map(|_| vec![]).map_err(lv(CODE_MEMORY))
        }
        "migrate" => crate::migration::migrate(agent, uuid, req).await,
        "setvcpus" => {
            let n: u32 = int_arg(req, CODE_MEMORY)?;
            host.set_vcpus(&id, n, Scope::Current).await.map(|_| vec![]).map_err(lv(CODE_MEMORY))
        }
        other => Err(Failure::generic(-1, format!("unknown action '{other}'"))),
    }
}

/// `<info state= maxMem= memory= nrVirtCpu= cpuPrct= hypervisor= autostart=/>`; an empty
/// result when the VM is not defined (as Archipel answers `VIR_ERR_NO_DOMAIN`).
async fn info(agent: &Arc<Agent>, uuid: &str) -> Result<Vec<Element>, Failure> {
    let rt = match agent.host.runtime_info(&DomainId::uuid(uuid)).await {
        Ok(v) => v,
        Err(LibvirtError::NoSuchDomain { .. }) => return Ok(vec![]),
        Err(e) => return Err(Failure::libvirt(&e, CODE_INFO)),
    };
    let (state, vcpus, cpu_time) = (rt.state, rt.vcpus, rt.cpu_time_ns);
    // CPU use since the previous sample, over all vCPUs (0 when not running).
    let now = Instant::now();
    let prev = if state == DomainState::Running {
        agent.cpu_samples.lock().unwrap().insert(uuid.to_string(), (now, cpu_time))
    } else {
        agent.cpu_samples.lock().unwrap().remove(uuid);
        None
    };
    let cpu_prct = match prev {
        Some((t, c)) if cpu_time >= c && now > t && vcpus > 0 => {
            let wall = now.duration_since(t).as_nanos() as f64 * f64::from(vcpus);
            ((cpu_time - c) as f64 / wall * 100.0).clamp(0.0, 100.0)
        }
        _ => 0.0,
    };
    Ok(vec![Element::new("info", "")
        .attr("state", state.to_raw().to_string())
        .attr("maxMem", rt.max_memory_kib.to_string())
        .attr("memory", rt.memory_kib.to_string())
        .attr("nrVirtCpu", vcpus.to_string())
        .attr("cpuPrct", format!("{cpu_prct:.0}"))
        .attr("hypervisor", format!("{}/{}", agent.jid, agent.template.resource))
        .attr("autostart", if rt.autostart { "1" } else { "0" })])
}

/// `define`: the `<domain>` child, whose `<uuid>` must be the VM's (its JID's node).
async fn define(agent: &Arc<Agent>, uuid: &str, req: &Request) -> Result<Vec<Element>, Failure> {
    let domain = req
        .archipel()
        .get_child("domain")
        .ok_or_else(|| Failure::generic(CODE_DEFINE, "no <domain> in the command"))?;
    let given = domain.get_child("uuid").map(|u| u.text_content()).unwrap_or_default();
    if !given.trim().eq_ignore_ascii_case(uuid) {
        return Err(Failure::generic(CODE_DEFINE, format!("Given UUID {} doesn't match JID {uuid}", given.trim())));
    }
    let mut domain = domain.clone();
    if domain.get_child("name").is_none() {
        let name = agent.store.read(|s| s.vms.get(uuid).map(|v| v.name.clone())).unwrap_or_else(|| uuid.to_string());
        crate::hypervisor::set_identity(&mut domain, &name, uuid);
    }
    let xml = define_element(agent, &domain, CODE_DEFINE).await?;
    agent
        .store
        .update(|s| {
            if let Some(vm) = s.vms.get_mut(uuid) {
                vm.definition = Some(xml);
            }
        })
        .map_err(|e| Failure::generic(CODE_DEFINE, e.to_string()))?;
    Ok(vec![])
}
