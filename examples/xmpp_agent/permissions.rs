//! Archipel's permission center (`archipelPermissionCenter.py`), per entity: named permissions
//! with a default, per-user grants persisted in the agent's state, root admins from the
//! command line, `all` granting everything; and the `archipel:permissions` commands
//! (`list`, `get`, `getown`, `set`, `setown`).

use std::collections::BTreeSet;

use crate::acp::{self, Failure, Request};
use crate::state::Store;
use crate::xml::Element;

/// `archipel:permissions`.
pub const NS_PERMISSIONS: &str = "archipel:permissions";

/// One permission: name, description, granted by default to users without any grant.
pub type Permission = (&'static str, &'static str, bool);

/// Every entity's permissions (`TNArchipelEntity.init_permissions`).
pub const BASE: &[Permission] = &[
    ("all", "All permissions are granted", false),
    ("presence", "Authorizes users to request presences", false),
    ("message", "Authorizes users to send messages", false),
    ("permission_get", "Authorizes users to get all permissions", true),
    ("permission_getown", "Authorizes users to get only own permissions", false),
    ("permission_list", "Authorizes users to list existing", false),
    ("permission_set", "Authorizes users to set all permissions", false),
    ("permission_setown", "Authorizes users to set only own permissions", false),
    ("subscription_add", "Authorizes users add others in entity roster", false),
    ("subscription_remove", "Authorizes users remove others in entity roster", false),
];

/// The hypervisor's own (`TNArchipelHypervisor.init_permissions`, the implemented ones).
pub const HYPERVISOR: &[Permission] = &[
    ("alloc", "Authorizes users to allocate new virtual machines", false),
    ("free", "Authorizes users to free allocated virtual machines", false),
    ("rostervm", "Authorizes users to access the hypervisor's roster", false),
    ("capabilities", "Authorizes users to access the hypervisor capabilities", false),
    ("nodeinfo", "Authorizes users to access the hypervisor Node Information", false),
    ("soft_alloc", "Authorizes (hypervisors) to move virtual machines here", false),
    ("migrationinfo", "Authorizes users to get the migration informations", false),
];

/// A virtual machine's own (`TNArchipelVirtualMachine.init_permissions`, the implemented ones).
pub const VM: &[Permission] = &[
    ("info", "Authorizes users to access virtual machine's information", false),
    ("create", "Authorizes users to create (start) virtual machine", false),
    ("shutdown", "Authorizes users to shutdown virtual machine", false),
    ("destroy", "Authorizes users to destroy virtual machine", false),
    ("reboot", "Authorizes users to reboot virtual machine", false),
    ("suspend", "Authorizes users to suspend virtual machine", false),
    ("resume", "Authorizes users to resume virtual machine", false),
    ("xmldesc", "Authorizes users to access the XML description of the virtual machine", false),
    ("migrate", "Authorizes users to perform live migration", false),
    ("autostart", "Authorizes users to set the virtual machine autostart", false),
    ("memory", "Authorizes users to change memory of virtual machine", false),
    ("setvcpus", "Authorizes users to set number of virtual cpus", false),
    ("define", "Authorizes users to define virtual machine", false),
    ("undefine", "Authorizes users to undefine virtual machine", false),
];

/// The hypervisor's VMCasting permissions (`hypervisorrepomanager.py`, the implemented ones).
pub const HYPERVISOR_VMCASTING: &[Permission] = &[
    ("vmcasting_get", "Authorizes user to get registered VMCast feeds", false),
    ("vmcasting_register", "Authorizes user to register to a VMCast feed", false),
    ("vmcasting_unregister", "Authorizes user to unregister from a VMCast feed", false),
    ("vmcasting_downloadappliance", "Authorizes user to download an appliance from a feed", false),
    ("vmcasting_downloadqueue", "Authorizes user to see the download queue", false),
    ("vmcasting_getappliances", "Authorizes user to get all availables appliances", false),
    ("vmcasting_getinstalledappliances", "Authorizes user to get all installed appliances", false),
];

/// A virtual machine's appliance permissions (`vmappliancemanager.py`).
pub const VM_APPLIANCE: &[Permission] = &[
    ("appliance_get", "Authorizes user to get installed appliances", false),
    ("appliance_attach", "Authorizes user attach appliance to virtual machine", false),
    ("appliance_detach", "Authorizes user to detach appliance_detach from virtual machine", false),
    ("appliance_package", "Authorizes user to package new appliance from virtual machine", false),
];

/// Whether the entity is the hypervisor (else a VM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The hypervisor entity.
    Hypervisor,
    /// A VM entity.
    Vm,
}

fn catalog(kind: Kind) -> impl Iterator<Item = &'static Permission> {
    let (own, plugin) = match kind {
        Kind::Hypervisor => (HYPERVISOR, HYPERVISOR_VMCASTING),
        Kind::Vm => (VM, VM_APPLIANCE),
    };
    BASE.iter().chain(own.iter()).chain(plugin.iter())
}

/// The permission checks of one agent.
pub struct Center<'a> {
    /// The state holding the grants.
    pub store: &'a Store,
    /// Root admins (bare JIDs): everything allowed.
    pub admins: &'a [String],
}

impl Center<'_> {
    /// `check_permission(user, permission)` on `entity` (bare JIDs), as Archipel decides.
    pub fn check(&self, kind: Kind, entity: &str, user: &str, permission: &str) -> bool {
        if self.admins.iter().any(|a| a == user) {
            return true;
        }
        let grants = self.grants(entity, user);
        if grants.as_ref().is_some_and(|g| g.contains("all")) {
            return true;
        }
        let known = catalog(kind).find(|p| p.0 == permission);
        match grants {
            // A user the entity does not know gets what the permission's default allows.
            None => known.is_some_and(|p| p.2),
            Some(g) => known.is_some() && g.contains(permission),
        }
    }

    fn grants(&self, entity: &str, user: &str) -> Option<BTreeSet<String>> {
        self.store.read(|s| s.permissions.get(entity).and_then(|users| users.get(user)).cloned())
    }

    /// Grants or revokes one permission.
    pub fn set(&self, entity: &str, user: &str, permission: &str, granted: bool) -> Result<(), Failure> {
        self.store
            .update(|s| {
                let users = s.permissions.entry(entity.to_string()).or_default();
                let perms = users.entry(user.to_string()).or_default();
                if granted {
                    perms.insert(permission.to_string());
                } else {
                    perms.remove(permission);
                }
            })
            .map_err(|e| Failure::generic(-5, e.to_string()))
    }

    /// Handles an `archipel:permissions` command on `entity`; `log` reports refusals.
    pub fn handle(&self, kind: Kind, entity: &str, req: &Request) -> Result<Vec<Element>, Failure> {
        let user = req.sender();
        if req.action != "getown" && !self.check(kind, entity, user, &format!("permission_{}", req.action)) {
            return Err(Failure::permission(&req.action));
        }
        match req.action.as_str() {
            "list" => Ok(catalog(kind)
                .map(|(name, description, default)| {
                    Element::new("permission", "")
                        .attr("name", *name)
                        .attr("default", if *default { "1" } else { "0" })
                        .attr("description", *description)
                })
                .collect()),
            "get" | "getown" => {
                let target = req.arg("permission_target").unwrap_or_default();
                if req.action == "getown" && target != user {
                    return Err(Failure::generic(-4, "You cannot get permissions of other users."));
                }
                if req.arg("permission_type") != Some("user") {
                    return Ok(Vec::new());
                }
                let grants = self.grants(entity, target).unwrap_or_default();
                Ok(grants.iter().map(|name| Element::new("permission", "").attr("name", name.as_str())).collect())
            }
            "set" | "setown" => {
                let perms: Vec<&Element> = req.archipel().elements().filter(|e| e.name == "permission").collect();
                let mut errors = Vec::new();
                for perm in &perms {
                    let target = perm.get_attr("permission_target").unwrap_or_default();
                    if req.action == "setown" && target != user {
                        return Err(Failure::generic(-5, "You cannot set permissions of other users"));
                    }
                    let name = perm.get_attr("permission_name").unwrap_or_default();
                    let value = perm.get_attr("permission_value").unwrap_or_default().to_ascii_uppercase();
                    let granted = matches!(value.as_str(), "1" | "TRUE" | "YES" | "Y" | "OUI" | "O");
                    if perm.get_attr("permission_type") != Some("user") {
                        errors.push(format!("Cannot set permission {name} on role {target}: roles are not supported"));
                        continue;
                    }
                    if crate::xmpp::Jid::parse(target).is_err() || !catalog(kind).any(|p| p.0 == name) {
                        errors.push(format!("Cannot set permission {name} on user {target}"));
                        continue;
                    }
                    self.set(entity, &crate::xmpp::bare(target).to_lowercase(), name, granted)?;
                }
                if errors.is_empty() {
                    Ok(Vec::new())
                } else {
                    Err(Failure { code: -5, ns: acp::NS_ERROR_PERMISSION, message: format!("{errors:?}") })
                }
            }
            other => Err(Failure::generic(-6, format!("unknown permissions action '{other}'"))),
        }
    }
}
