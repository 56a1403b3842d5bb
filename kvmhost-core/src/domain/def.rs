//! [`DomainDef`]: every typed part of a domain at once, and the enumerations of `<domain>`
//! itself.

use serde::{Deserialize, Serialize};

use super::codec::{
    attr_string, child_parse, child_part, child_text, children_parts, set_attr, set_child, set_child_text,
    set_child_with, set_children, ElementPath, XmlPart,
};
use super::*;
use crate::xml::Element;

crate::xml_enum! {
    /// The hypervisor driver of a domain (`<domain type=…>`).
    pub enum DomainType { Kvm = "kvm", Qemu = "qemu", Xen = "xen", Lxc = "lxc", Test = "test", Hvf = "hvf", Vmware = "vmware", Bhyve = "bhyve", Vbox = "vbox" }
}

crate::xml_enum! {
    /// What to do on a lifecycle event (`on_poweroff`, `on_reboot`, `on_crash`).
    pub enum LifecycleAction {
        Destroy = "destroy", Restart = "restart", Preserve = "preserve", RenameRestart = "rename-restart",
        CoredumpDestroy = "coredump-destroy", CoredumpRestart = "coredump-restart"
    }
}

/// The order libvirt writes the children of `<domain>` in.
pub const DOMAIN_ORDER: &[&str] = &[
    "name",
    "uuid",
    "genid",
    "title",
    "description",
    "metadata",
    "maxMemory",
    "memory",
    "currentMemory",
    "blkiotune",
    "memtune",
    "memoryBacking",
    "vcpu",
    "vcpus",
    "iothreads",
    "iothreadids",
    "cputune",
    "numatune",
    "resource",
    "sysinfo",
    "bootloader",
    "bootloader_args",
    "os",
    "idmap",
    "features",
    "cpu",
    "clock",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "pm",
    "perf",
    "devices",
    "seclabel",
    "keywrap",
    "launchSecurity",
];

/// Everything the model types, decoded at once (see [`Domain::def`] and [`Domain::apply`]).
///
/// ```
/// use kvmhost_core::domain::Domain;
/// let d = Domain::parse("<domain type='qemu'><name>t</name><on_crash>destroy</on_crash></domain>").unwrap();
/// let def = d.def().unwrap();
/// assert_eq!(def.name.as_deref(), Some("t"));
/// assert_eq!(serde_json::to_value(&def).unwrap()["on_crash"], "destroy");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DomainDef {
    /// `type` attribute.
    pub domain_type: Option<DomainType>,
    /// `id` attribute (running domains).
    pub id: Option<String>,
    /// `<name>`.
    pub name: Option<String>,
    /// `<uuid>`.
    pub uuid: Option<String>,
    /// `<genid>`.
    pub genid: Option<String>,
    /// `<title>`.
    pub title: Option<String>,
    /// `<description>`.
    pub description: Option<String>,
    /// `<maxMemory>` (with `slots`).
    pub max_memory: Option<Memory>,
    /// `<memory>`.
    pub memory: Option<Memory>,
    /// `<currentMemory>`.
    pub current_memory: Option<Memory>,
    /// `<blkiotune>`.
    pub blkiotune: Option<BlkioTune>,
    /// `<memtune>`.
    pub memtune: Option<MemTune>,
    /// `<memoryBacking>`.
    pub memory_backing: Option<MemoryBacking>,
    /// `<vcpu>`.
    pub vcpu: Option<Vcpu>,
    /// `<vcpus>`.
    pub vcpus: Option<Vcpus>,
    /// `<iothreads>` count.
    pub iothreads: Option<u32>,
    /// `<iothreadids>`.
    pub iothreadids: Option<IothreadIds>,
    /// `<cputune>`.
    pub cputune: Option<CpuTune>,
    /// `<numatune>`.
    pub numatune: Option<NumaTune>,
    /// `<resource>`.
    pub resource: Option<Resource>,
    /// `<sysinfo>` blocks.
    pub sysinfo: Vec<SysInfo>,
    /// `<bootloader>`.
    pub bootloader: Option<String>,
    /// `<bootloader_args>`.
    pub bootloader_args: Option<String>,
    /// `<os>`.
    pub os: Option<Os>,
    /// `<idmap>`.
    pub idmap: Option<Idmap>,
    /// `<features>`.
    pub features: Option<Features>,
    /// `<cpu>`.
    pub cpu: Option<Cpu>,
    /// `<clock>`.
    pub clock: Option<Clock>,
    /// `<on_poweroff>`.
    pub on_poweroff: Option<LifecycleAction>,
    /// `<on_reboot>`.
    pub on_reboot: Option<LifecycleAction>,
    /// `<on_crash>`.
    pub on_crash: Option<LifecycleAction>,
    /// `<pm>`.
    pub pm: Option<Pm>,
    /// `<perf>`.
    pub perf: Option<Perf>,
    /// `<devices>`.
    pub devices: Option<Devices>,
    /// `<seclabel>` entries.
    pub seclabels: Vec<SecLabel>,
}

impl XmlPart for DomainDef {
    const TAG: &'static str = "domain";

    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let mem = |name: &'static str| -> Result<Option<Memory>, DomainError> {
            el.child(name).map(|c| Memory::decode_any(c, &path.child(name))).transpose()
        };
        let action = |name: &str| child_text(el, name).map(|t| LifecycleAction::from(t.trim()));
        Ok(DomainDef {
            domain_type: el.attr("type").map(Into::into),
            id: attr_string(el, "id"),
            name: child_text(el, "name"),
            uuid: child_text(el, "uuid"),
            genid: child_text(el, "genid"),
            title: child_text(el, "title"),
            description: child_text(el, "description"),
            max_memory: mem("maxMemory")?,
            memory: mem("memory")?,
            current_memory: mem("currentMemory")?,
            blkiotune: child_part(el, path)?,
            memtune: child_part(el, path)?,
            memory_backing: child_part(el, path)?,
            vcpu: child_part(el, path)?,
            vcpus: child_part(el, path)?,
            iothreads: child_parse(el, "iothreads", path)?,
            iothreadids: child_part(el, path)?,
            cputune: child_part(el, path)?,
            numatune: child_part(el, path)?,
            resource: child_part(el, path)?,
            sysinfo: children_parts(el, path)?,
            bootloader: child_text(el, "bootloader"),
            bootloader_args: child_text(el, "bootloader_args"),
            os: child_part(el, path)?,
            idmap: child_part(el, path)?,
            features: child_part(el, path)?,
            cpu: child_part(el, path)?,
            clock: child_part(el, path)?,
            on_poweroff: action("on_poweroff"),
            on_reboot: action("on_reboot"),
            on_crash: action("on_crash"),
            pm: child_part(el, path)?,
            perf: child_part(el, path)?,
            devices: child_part(el, path)?,
            seclabels: children_parts(el, path)?,
        })
    }

    fn encode_into(&self, el: &mut Element) {
        let o = DOMAIN_ORDER;
        set_attr(el, "type", self.domain_type.as_ref());
        set_attr(el, "id", self.id.as_deref());
        set_child_text(el, "name", self.name.as_deref(), o);
        set_child_text(el, "uuid", self.uuid.as_deref(), o);
        set_child_text(el, "genid", self.genid.as_deref(), o);
        set_child_text(el, "title", self.title.as_deref(), o);
        set_child_text(el, "description", self.description.as_deref(), o);
        for (name, m) in
            [("maxMemory", &self.max_memory), ("memory", &self.memory), ("currentMemory", &self.current_memory)]
        {
            set_child_with(el, name, m.as_ref().map(|m| |e: &mut Element| m.encode_any(e)), o);
        }
        set_child(el, self.blkiotune.as_ref(), o);
        set_child(el, self.memtune.as_ref(), o);
        set_child(el, self.memory_backing.as_ref(), o);
        set_child(el, self.vcpu.as_ref(), o);
        set_child(el, self.vcpus.as_ref(), o);
        set_child_text(el, "iothreads", self.iothreads, o);
        set_child(el, self.iothreadids.as_ref(), o);
        set_child(el, self.cputune.as_ref(), o);
        set_child(el, self.numatune.as_ref(), o);
        set_child(el, self.resource.as_ref(), o);
        set_children(el, &self.sysinfo, o);
        set_child_text(el, "bootloader", self.bootloader.as_deref(), o);
        set_child_text(el, "bootloader_args", self.bootloader_args.as_deref(), o);
        set_child(el, self.os.as_ref(), o);
        set_child(el, self.idmap.as_ref(), o);
        set_child(el, self.features.as_ref(), o);
        set_child(el, self.cpu.as_ref(), o);
        set_child(el, self.clock.as_ref(), o);
        set_child_text(el, "on_poweroff", self.on_poweroff.as_ref(), o);
        set_child_text(el, "on_reboot", self.on_reboot.as_ref(), o);
        set_child_text(el, "on_crash", self.on_crash.as_ref(), o);
        set_child(el, self.pm.as_ref(), o);
        set_child(el, self.perf.as_ref(), o);
        set_child(el, self.devices.as_ref(), o);
        set_children(el, &self.seclabels, o);
    }
}
