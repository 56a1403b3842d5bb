//! `<os>`: guest type, firmware, boot order and direct kernel boot.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{
    attr_part, attr_string, child_part_named, children_parts_named, set_attr, set_child_named, set_child_text,
    set_children_named, ElementPath, XmlPart, YesNo,
};
use crate::domain::error::DomainError;
use crate::xml::Element;
use crate::xml_enum;

use crate::domain::shared::{merge_text, text_of, TextValue};

xml_enum! {
    /// The firmware autoselection kind (`<os firmware=…>`).
    pub enum FirmwareKind { Bios = "bios", Efi = "efi" }
}

xml_enum! {
    /// The guest OS type (`<type>hvm</type>`).
    pub enum OsKind { Hvm = "hvm", Xen = "xen", Linux = "linux", XenPvh = "xenpvh", Exe = "exe" }
}

xml_enum! {
    /// A boot device (`<boot dev=…>`).
    pub enum BootDev { Hd = "hd", Cdrom = "cdrom", Network = "network", Fd = "fd" }
}

xml_enum! {
    /// How the loader is mapped (`<loader type=…>`).
    pub enum LoaderType { Rom = "rom", Pflash = "pflash" }
}

xml_enum! {
    /// Where SMBIOS data comes from (`<smbios mode=…>`).
    pub enum SmbiosMode { Emulate = "emulate", Host = "host", Sysinfo = "sysinfo" }
}

/// The canonical child order of `<os>`.
pub const OS_ORDER: &[&str] = &[
    "type",
    "firmware",
    "init",
    "initarg",
    "initenv",
    "initdir",
    "inituser",
    "initgroup",
    "loader",
    "nvram",
    "kernel",
    "initrd",
    "cmdline",
    "dtb",
    "root",
    "acpi",
    "boot",
    "bootmenu",
    "smbios",
    "bios",
];

/// `<type arch='x86_64' machine='q35'>hvm</type>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OsType {
    /// The text: `hvm`, `xen`, `linux`, `exe`.
    pub kind: Option<OsKind>,
    /// `arch`.
    pub arch: Option<String>,
    /// `machine`.
    pub machine: Option<String>,
}

impl XmlPart for OsType {
    const TAG: &'static str = "type";
    fn decode(el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(OsType {
            kind: text_of(el).map(|t| OsKind::from(t.as_str())),
            arch: attr_string(el, "arch"),
            machine: attr_string(el, "machine"),
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "arch", self.arch.as_deref());
        set_attr(el, "machine", self.machine.as_deref());
        merge_text(el, self.kind.as_ref().map(OsKind::as_str));
    }
}

attr_part! {
    /// A firmware feature request (`<feature enabled='yes' name='secure-boot'/>`).
    pub struct FirmwareFeature = "feature" {
        /// `enabled`.
        enabled: YesNo = "enabled",
        /// `name` (`secure-boot`, `enrolled-keys`).
        name: String = "name",
    }
}

/// The firmware loader (`<loader readonly='yes' type='pflash'>/path/OVMF_CODE.fd</loader>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Loader {
    /// The path (text).
    pub path: Option<String>,
    /// `readonly`.
    pub readonly: Option<YesNo>,
    /// `secure`.
    pub secure: Option<YesNo>,
    /// `type`.
    pub loader_type: Option<LoaderType>,
    /// `stateless`.
    pub stateless: Option<YesNo>,
    /// `format`.
    pub format: Option<String>,
}

impl XmlPart for Loader {
    const TAG: &'static str = "loader";
    fn decode(el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Loader {
            path: text_of(el),
            readonly: el.attr("readonly").map(Into::into),
            secure: el.attr("secure").map(Into::into),
            loader_type: el.attr("type").map(Into::into),
            stateless: el.attr("stateless").map(Into::into),
            format: attr_string(el, "format"),
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "readonly", self.readonly.as_ref());
        set_attr(el, "secure", self.secure.as_ref());
        set_attr(el, "type", self.loader_type.as_ref());
        set_attr(el, "stateless", self.stateless.as_ref());
        set_attr(el, "format", self.format.as_deref());
        merge_text(el, self.path.as_deref());
    }
}

/// The UEFI variable store (`<nvram template='…'>/var/lib/…_VARS.fd</nvram>`). A network
/// `<source>` inside is preserved untyped.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Nvram {
    /// The path (text).
    pub path: Option<String>,
    /// `template`.
    pub template: Option<String>,
    /// `type` (`file`, `block`, `network`).
    pub nvram_type: Option<String>,
    /// `format`.
    pub format: Option<String>,
}

impl XmlPart for Nvram {
    const TAG: &'static str = "nvram";
    fn decode(el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Nvram {
            path: text_of(el),
            template: attr_string(el, "template"),
            nvram_type: attr_string(el, "type"),
            format: attr_string(el, "format"),
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "template", self.template.as_deref());
        set_attr(el, "type", self.nvram_type.as_deref());
        set_attr(el, "format", self.format.as_deref());
        merge_text(el, self.path.as_deref());
    }
}

attr_part! {
    /// One entry of the boot order (`<boot dev='hd'/>`).
    pub struct OsBoot = "boot" {
        /// `dev`.
        dev: BootDev = "dev",
    }
}

attr_part! {
    /// `<bootmenu enable='yes' timeout='3000'/>`.
    pub struct BootMenu = "bootmenu" {
        /// `enable`.
        enable: YesNo = "enable",
        /// `timeout` in milliseconds.
        timeout: u32 = "timeout",
    }
}

attr_part! {
    /// `<bios useserial='yes' rebootTimeout='0'/>`.
    pub struct OsBios = "bios" {
        /// `useserial`.
        useserial: YesNo = "useserial",
        /// `rebootTimeout` (ms, may be -1).
        reboot_timeout: i64 = "rebootTimeout",
    }
}

/// An environment variable for a container's init (`<initenv name='FOO'>bar</initenv>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InitEnv {
    /// `name`.
    pub name: String,
    /// The value (text).
    pub value: String,
}

impl XmlPart for InitEnv {
    const TAG: &'static str = "initenv";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(InitEnv { name: crate::domain::codec::required_attr(el, "name", path)?, value: el.text() })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "name", Some(&self.name));
        if el.text() != self.value {
            merge_text(el, Some(&self.value));
        }
    }
}

/// An ACPI table (`<table type='slic'>/path/slic.dat</table>` inside `<acpi>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcpiTable {
    /// `type`.
    pub table_type: Option<String>,
    /// The path (text).
    pub path: Option<String>,
}

impl XmlPart for AcpiTable {
    const TAG: &'static str = "table";
    fn decode(el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(AcpiTable { table_type: attr_string(el, "type"), path: text_of(el) })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.table_type.as_deref());
        merge_text(el, self.path.as_deref());
    }
}

/// `<os>`: what the guest boots and how.
///
/// ```
/// use kvmhost_core::domain::{BootDev, Domain, FirmwareKind, Os, OsKind, XmlPart};
/// let d = Domain::parse("<domain><os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type>\
///   <boot dev='hd'/><boot dev='network'/></os></domain>").unwrap();
/// let os = d.os().unwrap().unwrap();
/// assert_eq!(os.firmware, Some(FirmwareKind::Efi));
/// assert_eq!(os.os_type.as_ref().unwrap().kind, Some(OsKind::Hvm));
/// assert_eq!(os.boot_devices(), vec![BootDev::Hd, BootDev::Network]);
/// let os = Os::hvm("x86_64", "q35").with_boot(BootDev::Cdrom);
/// assert_eq!(os.to_element().child("boot").unwrap().attr("dev"), Some("cdrom"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Os {
    /// `firmware` attribute (autoselection).
    pub firmware: Option<FirmwareKind>,
    /// `<type>`.
    pub os_type: Option<OsType>,
    /// `<firmware><feature …/></firmware>`; `None` when there is no `<firmware>` element.
    pub firmware_features: Option<Vec<FirmwareFeature>>,
    /// `<init>` (containers).
    pub init: Option<String>,
    /// `<initarg>` list.
    pub init_args: Vec<String>,
    /// `<initenv>` list.
    pub init_env: Vec<InitEnv>,
    /// `<initdir>`.
    pub init_dir: Option<String>,
    /// `<inituser>`.
    pub init_user: Option<String>,
    /// `<initgroup>`.
    pub init_group: Option<String>,
    /// `<loader>`.
    pub loader: Option<Loader>,
    /// `<nvram>`.
    pub nvram: Option<Nvram>,
    /// `<kernel>`.
    pub kernel: Option<String>,
    /// `<initrd>`.
    pub initrd: Option<String>,
    /// `<cmdline>`.
    pub cmdline: Option<String>,
    /// `<dtb>`.
    pub dtb: Option<String>,
    /// `<root>`.
    pub root: Option<String>,
    /// `<acpi><table …/></acpi>`; `None` when there is no `<acpi>` element.
    pub acpi_tables: Option<Vec<AcpiTable>>,
    /// `<boot dev=…>` list, in boot order.
    pub boot: Vec<OsBoot>,
    /// `<bootmenu>`.
    pub bootmenu: Option<BootMenu>,
    /// `<smbios mode=…>`.
    pub smbios_mode: Option<SmbiosMode>,
    /// `<bios>`.
    pub bios: Option<OsBios>,
}

impl Os {
    /// A fully virtualised guest for `arch` / `machine`.
    pub fn hvm(arch: &str, machine: &str) -> Os {
        Os {
            os_type: Some(OsType {
                kind: Some(OsKind::Hvm),
                arch: Some(arch.to_string()),
                machine: Some(machine.to_string()),
            }),
            ..Os::default()
        }
    }

    /// Appends a boot device to the boot order.
    pub fn with_boot(mut self, dev: BootDev) -> Os {
        self.boot.push(OsBoot { dev: Some(dev) });
        self
    }

    /// The boot devices, in order.
    pub fn boot_devices(&self) -> Vec<BootDev> {
        self.boot.iter().filter_map(|b| b.dev.clone()).collect()
    }
}

fn texts(el: &Element, name: &str) -> Option<String> {
    el.child(name).map(|c| text_of(c).unwrap_or_default())
}

impl XmlPart for Os {
    const TAG: &'static str = "os";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let fw_path = path.child("firmware");
        let acpi_path = path.child("acpi");
        Ok(Os {
            firmware: el.attr("firmware").map(Into::into),
            os_type: child_part_named(el, "type", path)?,
            firmware_features: el
                .child("firmware")
                .map(|f| children_parts_named(f, "feature", &fw_path))
                .transpose()?,
            init: texts(el, "init"),
            init_args: children_parts_named::<TextValue>(el, "initarg", path)?.into_iter().map(|t| t.0).collect(),
            init_env: children_parts_named(el, "initenv", path)?,
            init_dir: texts(el, "initdir"),
            init_user: texts(el, "inituser"),
            init_group: texts(el, "initgroup"),
            loader: child_part_named(el, "loader", path)?,
            nvram: child_part_named(el, "nvram", path)?,
            kernel: texts(el, "kernel"),
            initrd: texts(el, "initrd"),
            cmdline: el.child("cmdline").map(Element::text),
            dtb: texts(el, "dtb"),
            root: texts(el, "root"),
            acpi_tables: el.child("acpi").map(|a| children_parts_named(a, "table", &acpi_path)).transpose()?,
            boot: children_parts_named(el, "boot", path)?,
            bootmenu: child_part_named(el, "bootmenu", path)?,
            smbios_mode: crate::domain::codec::attr_of_child(el, "smbios", "mode", path)?.map(|m| m.as_str().into()),
            bios: child_part_named(el, "bios", path)?,
        })
    }

    fn encode_into(&self, el: &mut Element) {
        let o = OS_ORDER;
        set_attr(el, "firmware", self.firmware.as_ref());
        set_child_named(el, "type", self.os_type.as_ref(), o);
        set_text_opt(el, "init", self.init.as_deref());
        let args: Vec<TextValue> = self.init_args.iter().cloned().map(TextValue).collect();
        set_children_named(el, "initarg", &args, o);
        set_children_named(el, "initenv", &self.init_env, o);
        set_text_opt(el, "initdir", self.init_dir.as_deref());
        set_text_opt(el, "inituser", self.init_user.as_deref());
        set_text_opt(el, "initgroup", self.init_group.as_deref());
        crate::domain::codec::set_child_with(
            el,
            "firmware",
            self.firmware_features.as_ref().map(|fs| |e: &mut Element| set_children_named(e, "feature", fs, &[])),
            o,
        );
        set_child_named(el, "loader", self.loader.as_ref(), o);
        set_child_named(el, "nvram", self.nvram.as_ref(), o);
        set_text_opt(el, "kernel", self.kernel.as_deref());
        set_text_opt(el, "initrd", self.initrd.as_deref());
        if self.cmdline.as_deref() != el.child("cmdline").map(Element::text).as_deref() {
            set_child_text(el, "cmdline", self.cmdline.as_deref(), o);
        }
        set_text_opt(el, "dtb", self.dtb.as_deref());
        set_text_opt(el, "root", self.root.as_deref());
        crate::domain::codec::set_child_with(
            el,
            "acpi",
            self.acpi_tables.as_ref().map(|ts| |e: &mut Element| set_children_named(e, "table", ts, &[])),
            o,
        );
        set_children_named(el, "boot", &self.boot, o);
        set_child_named(el, "bootmenu", self.bootmenu.as_ref(), o);
        crate::domain::codec::set_child_with(
            el,
            "smbios",
            self.smbios_mode.as_ref().map(|m| move |e: &mut Element| set_attr(e, "mode", Some(m))),
            o,
        );
        set_child_named(el, "bios", self.bios.as_ref(), o);
    }
}

/// Sets a text child compared trimmed (so indentation inside it is kept).
fn set_text_opt(el: &mut Element, name: &str, value: Option<&str>) {
    match (el.child_mut(name), value) {
        (Some(c), Some(v)) => merge_text(c, Some(v)),
        _ => set_child_text(el, name, value, OS_ORDER),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    fn round_trip(xml: &str) -> (Os, Element) {
        let d = Document::parse(xml).unwrap();
        let os = Os::decode(&d.root, &ElementPath::root("os")).unwrap();
        let mut el = d.root.clone();
        os.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root), "{el:?}");
        (os, el)
    }

    #[test]
    fn loader_nvram_and_firmware_features() {
        let (os, _) = round_trip(
            "<os firmware='efi'><type>hvm</type><firmware><feature enabled='no' name='secure-boot'/></firmware>\
             <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>\
             <nvram template='/t.fd'>/var/lib/vars.fd</nvram><bootmenu enable='yes' timeout='3000'/>\
             <smbios mode='sysinfo'/><bios useserial='yes' rebootTimeout='-1'/></os>",
        );
        assert_eq!(os.loader.unwrap().path.as_deref(), Some("/usr/share/OVMF/OVMF_CODE.fd"));
        assert_eq!(os.nvram.unwrap().template.as_deref(), Some("/t.fd"));
        assert_eq!(os.firmware_features.unwrap()[0].enabled, Some(YesNo::No));
        assert_eq!(os.bios.unwrap().reboot_timeout, Some(-1));
        assert_eq!(os.smbios_mode, Some(SmbiosMode::Sysinfo));
    }

    #[test]
    fn container_init_and_kernel_boot() {
        let (os, _) = round_trip(
            "<os><type>exe</type><init>/bin/sh</init><initarg>-c</initarg><initarg>x</initarg>\
             <initenv name='A'>b</initenv><kernel>/k</kernel><cmdline> console=ttyS0 </cmdline></os>",
        );
        assert_eq!(os.init_args, vec!["-c".to_string(), "x".to_string()]);
        assert_eq!(os.cmdline.as_deref(), Some(" console=ttyS0 "));
        let mut el = Element::new("os");
        Os { boot: vec![OsBoot { dev: Some(BootDev::Hd) }], ..os }.encode_into(&mut el);
        assert_eq!(el.child("initenv").unwrap().attr("name"), Some("A"));
    }

    #[test]
    fn nvram_source_is_kept() {
        let (_, el) = round_trip("<os><nvram type='network'><source protocol='iscsi' name='x'/></nvram></os>");
        assert!(el.child("nvram").unwrap().child("source").is_some());
    }
}
