//! A VM entity's appliance commands (`archipel:virtualmachine:vmcasting`, as Archipel's
//! `vmappliancemanager.py` answers them): `get`, `attach uuid`, `detach`, `package name`. The
//! repository and the differences from Archipel are described in `vmcasting.rs`.

use std::path::PathBuf;
use std::sync::{Arc, PoisonError};

use kvmhost::libvirt::{DomainId, Hypervisor, LibvirtError, XmlView};
use kvmhost::templates::archive::{self, PackRequest, ReadOptions};
use kvmhost::templates::instantiate::{instantiate, InstantiateOptions};
use kvmhost::templates::manifest::{check_file_name, Metadata};

use crate::acp::{Failure, Request};
use crate::agent::{Agent, Entity};
use crate::log;
use crate::vmcasting::{appliance_element, blocking, fail, CODE_ATTACH, CODE_DETACH, CODE_PACKAGE, CODE_VM_GET};
use crate::xml::Element;

/// Archipel's `ARCHIPEL_ERROR_CODE_VM_MIGRATING`.
const CODE_VM_MIGRATING: i64 = -43;

/// Runs one `archipel:virtualmachine:vmcasting` command (the permission was checked).
pub async fn handle(agent: &Arc<Agent>, uuid: &str, req: &Request) -> Result<Vec<Element>, Failure> {
    let repo = &agent.vmcasting;
    if req.action != "get" && agent.migrating.lock().unwrap_or_else(PoisonError::into_inner).contains(uuid) {
        return Err(Failure::generic(
            CODE_VM_MIGRATING,
            "Virtual machine is migrating. Can't perform any snapshoting operation.",
        ));
    }
    match req.action.as_str() {
        "get" => {
            let attached = std::fs::read_to_string(repo.vm_dir(uuid).join("current.package")).unwrap_or_default();
            let r = agent.clone();
            let all = blocking(CODE_VM_GET, move || Ok(r.vmcasting.installed())).await?;
            Ok(all
                .iter()
                .map(|(u, p, n, d)| {
                    appliance_element(p, n, d, u).attr("status", if *u == attached { "installed" } else { "none" })
                })
                .collect())
        }
        "attach" | "package" => {
            if !repo.busy.lock().unwrap_or_else(PoisonError::into_inner).insert(uuid.to_string()) {
                return Err(Failure::generic(
                    if req.action == "attach" { CODE_ATTACH } else { CODE_PACKAGE },
                    "Virtual machine is already installing a package.",
                ));
            }
            let out =
                if req.action == "attach" { attach(agent, uuid, req).await } else { package(agent, uuid, req).await };
            repo.busy.lock().unwrap_or_else(PoisonError::into_inner).remove(uuid);
            out
        }
        "detach" => {
            if repo.busy.lock().unwrap_or_else(PoisonError::into_inner).contains(uuid) {
                return Err(Failure::generic(CODE_DETACH, "Virtual machine is already installing a package."));
            }
            match std::fs::remove_file(repo.vm_dir(uuid).join("current.package")) {
                Ok(()) => {
                    agent.push(&Entity::Vm(uuid.to_string()), "vmcasting", "appliancedetached");
                    Ok(vec![])
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(Failure::generic(CODE_DETACH, "No appliance is attached."))
                }
                Err(e) => Err(Failure::generic(CODE_DETACH, e.to_string())),
            }
        }
        other => Err(Failure::generic(-1, format!("unknown action '{other}'"))),
    }
}

/// Refuses a VM that runs (`code`); `Ok(false)` when it is not defined.
async fn refuse_running(agent: &Agent, uuid: &str, code: i64) -> Result<bool, Failure> {
    match agent.host.state(&DomainId::uuid(uuid)).await {
        Ok(s) if s.state.is_active() => Err(Failure::generic(code, "the virtual machine must be shut off")),
        Ok(_) => Ok(true),
        Err(LibvirtError::NoSuchDomain { .. }) => Ok(false),
        Err(e) => Err(Failure::libvirt(&e, code)),
    }
}

/// `attach`: the appliance unpacked (verified) into `vms/<uuid>/<new dir>`, instantiated there
/// with the VM's name and UUID, and defined.
async fn attach(agent: &Arc<Agent>, uuid: &str, req: &Request) -> Result<Vec<Element>, Failure> {
    let appliance = req.required("uuid").map_err(|f| Failure { code: CODE_ATTACH, ..f })?.to_string();
    let repo = &agent.vmcasting;
    let marker = repo.vm_dir(uuid).join("current.package");
    if marker.exists() {
        return Err(Failure::generic(CODE_ATTACH, "You must detach from already attached template."));
    }
    let (r, a) = (agent.clone(), appliance.clone());
    let (package, _, _) = blocking(CODE_ATTACH, move || {
        r.vmcasting
            .installed_one(&a)
            .ok_or_else(|| Failure::generic(CODE_ATTACH, format!("Cannot find appliance with UUID {a}")))
    })
    .await?;
    refuse_running(agent, uuid, CODE_ATTACH).await?;
    let name = agent.store.read(|s| s.vms.get(uuid).map(|v| v.name.clone())).unwrap_or_else(|| uuid.to_string());
    let vm_uuid = uuid::Uuid::parse_str(uuid).map_err(|e| Failure::generic(CODE_ATTACH, e.to_string()))?;
    std::fs::create_dir_all(repo.vm_dir(uuid)).map_err(|e| Failure::generic(CODE_ATTACH, e.to_string()))?;
    let target = repo.vm_dir(uuid).join(uuid::Uuid::new_v4().simple().to_string());
    agent.send_vm_presence(uuid, "dnd", "Installing from appliance...");
    agent.push(&Entity::Vm(uuid.to_string()), "vmcasting", "applianceinstalling");
    let t = target.clone();
    let made = blocking(CODE_ATTACH, move || {
        let pkg =
            archive::unpack(&package, &t, &ReadOptions::default(), &mut |_| {}).map_err(|e| fail(CODE_ATTACH)(&e))?;
        let mut opts = InstantiateOptions::new(&name);
        opts.uuid = Some(vm_uuid);
        instantiate(&pkg, &t, &opts).map_err(|e| fail(CODE_ATTACH)(&e))
    })
    .await;
    let defined = match made {
        Ok(vm) => match (vm.domain.to_xml(), agent.host.define(&vm.domain).await) {
            (Ok(xml), Ok(_)) => Ok(xml),
            (Err(e), _) => Err(Failure::generic(CODE_ATTACH, e.to_string())),
            (_, Err(e)) => Err(Failure::libvirt(&e, CODE_ATTACH)),
        },
        Err(f) => Err(f),
    };
    let xml = match defined {
        Ok(xml) => xml,
        Err(f) => {
            let _ = std::fs::remove_dir_all(&target);
            let (show, status) = agent.vm_presence(uuid).await;
            agent.send_vm_presence(uuid, show, status);
            agent.push(&Entity::Vm(uuid.to_string()), "vmcasting", "applianceerror");
            return Err(f);
        }
    };
    let saved = agent.store.update(|s| {
        if let Some(vm) = s.vms.get_mut(uuid) {
            vm.definition = Some(xml);
        }
    });
    saved.map_err(|e| Failure::generic(CODE_ATTACH, e.to_string()))?;
    std::fs::write(&marker, &appliance).map_err(|e| Failure::generic(CODE_ATTACH, e.to_string()))?;
    let (show, status) = agent.vm_presence(uuid).await;
    agent.send_vm_presence(uuid, show, status);
    log!("{}: appliance {appliance} attached for {}", agent.vm_jid(uuid), req.sender());
    agent.push(&Entity::Vm(uuid.to_string()), "vmcasting", "applianceinstalled");
    Ok(vec![])
}

/// `package name`: the VM's persistent definition and its file disks (CD-ROMs only with
/// `include_iso`) packed into `own/NAME.vmcast`.
async fn package(agent: &Arc<Agent>, uuid: &str, req: &Request) -> Result<Vec<Element>, Failure> {
    let name = req.required("name").map_err(|f| Failure { code: CODE_PACKAGE, ..f })?.trim().to_string();
    let file = format!("{name}.vmcast");
    if name.is_empty() || check_file_name(&file).is_err() {
        return Err(Failure::generic(CODE_PACKAGE, format!("invalid appliance name {name:?}")));
    }
    let include_iso =
        matches!(req.arg("include_iso").map(str::to_ascii_lowercase).as_deref(), Some("true" | "1" | "y" | "yes"));
    if !refuse_running(agent, uuid, CODE_PACKAGE).await? {
        return Err(Failure::generic(CODE_PACKAGE, "Virtual machine is not defined."));
    }
    let domain = agent
        .host
        .domain_xml(&DomainId::uuid(uuid), XmlView::Inactive)
        .await
        .map_err(|e| Failure::libvirt(&e, CODE_PACKAGE))?;
    let disks: Vec<PathBuf> = domain
        .root()
        .child("devices")
        .into_iter()
        .flat_map(|d| d.elements())
        .filter(|d| d.name == "disk" && d.attr("type") == Some("file"))
        .filter(|d| include_iso || d.attr("device") != Some("cdrom"))
        .filter_map(|d| d.child("source")?.attr("file").map(PathBuf::from))
        .collect();
    let out = agent.vmcasting.own().join(&file);
    let packing = agent.vmcasting.packing.clone();
    agent.send_vm_presence(uuid, "dnd", "Packaging myself...");
    agent.push(&Entity::Vm(uuid.to_string()), "vmcasting", "packaging");
    let o = out.clone();
    let n = name.clone();
    let packed = blocking(CODE_PACKAGE, move || {
        let _one = packing.lock().unwrap_or_else(PoisonError::into_inner);
        if o.exists() {
            return Err(Failure::generic(
                CODE_PACKAGE,
                format!("Appliance with name {n} is already in hypervisor repository."),
            ));
        }
        let mut pack = PackRequest::new(&domain, disks);
        let mut meta = Metadata::named(&n);
        meta.description = format!("packaged from virtual machine {}", domain.name().unwrap_or_default());
        pack.metadata = Some(meta);
        archive::pack(&pack, &o, &mut |_| {}).map(|_| ()).map_err(|e| fail(CODE_PACKAGE)(&e))
    })
    .await;
    let (show, status) = agent.vm_presence(uuid).await;
    agent.send_vm_presence(uuid, show, status);
    let change = if packed.is_ok() { "packaged" } else { "packagingerror" };
    agent.push(&Entity::Vm(uuid.to_string()), "vmcasting", change);
    packed?;
    log!("{}: packaged as {} for {}", agent.vm_jid(uuid), out.display(), req.sender());
    Ok(vec![])
}
