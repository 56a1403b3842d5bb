//! Platform-level parts: `<sysinfo>`, `<pm>`, `<resource>`, `<perf>` and `<idmap>`.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{
    attr_part, attr_string, child_part_named, children_parts_named, set_attr, set_child_named, set_child_with,
    set_children_named, ElementPath, XmlPart, YesNo,
};
use crate::domain::error::DomainError;
use crate::domain::shared::{merge_text, text_of};
use crate::xml::Element;

/// A sysinfo entry (`<entry name='manufacturer'>Fedora</entry>`, fwcfg `<entry name='opt/x' file='/p'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SysInfoEntry {
    /// `name` (absent in `<oemStrings>`).
    pub name: Option<String>,
    /// `file` (fwcfg).
    pub file: Option<String>,
    /// The value (text).
    pub value: Option<String>,
}

impl SysInfoEntry {
    /// A named entry with a value.
    pub fn new(name: &str, value: &str) -> SysInfoEntry {
        SysInfoEntry { name: Some(name.into()), file: None, value: Some(value.into()) }
    }
}

impl XmlPart for SysInfoEntry {
    const TAG: &'static str = "entry";
    fn decode(el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(SysInfoEntry { name: attr_string(el, "name"), file: attr_string(el, "file"), value: text_of(el) })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "name", self.name.as_deref());
        set_attr(el, "file", self.file.as_deref());
        merge_text(el, self.value.as_deref());
    }
}

/// A block of entries (`<bios>`, `<system>`, `<baseBoard>`, `<chassis>`, `<oemStrings>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SysInfoBlock {
    /// `<entry>` list.
    pub entries: Vec<SysInfoEntry>,
}

impl SysInfoBlock {
    /// The value of the entry named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries.iter().find(|e| e.name.as_deref() == Some(name)).and_then(|e| e.value.as_deref())
    }
}

impl XmlPart for SysInfoBlock {
    const TAG: &'static str = "system";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(SysInfoBlock { entries: children_parts_named(el, "entry", path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_children_named(el, "entry", &self.entries, &["entry"]);
    }
}

const SYSINFO_ORDER: &[&str] =
    &["bios", "system", "baseBoard", "chassis", "processor", "memory", "oemStrings", "entry"];

/// `<sysinfo type='smbios'>` (SMBIOS tables) or `<sysinfo type='fwcfg'>` (firmware config entries).
///
/// ```
/// use kvmhost_core::domain::{Domain, SysInfo};
/// let d = Domain::parse("<domain><sysinfo type='smbios'><system>\
///   <entry name='manufacturer'>ACME</entry><entry name='serial'>42</entry></system></sysinfo></domain>").unwrap();
/// let s = &d.def().unwrap().sysinfo[0];
/// assert_eq!(s.sysinfo_type.as_deref(), Some("smbios"));
/// assert_eq!(s.system.as_ref().unwrap().get("serial"), Some("42"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SysInfo {
    /// `type` (`smbios`, `fwcfg`).
    pub sysinfo_type: Option<String>,
    /// `<bios>`.
    pub bios: Option<SysInfoBlock>,
    /// `<system>`.
    pub system: Option<SysInfoBlock>,
    /// `<baseBoard>` list.
    pub base_boards: Vec<SysInfoBlock>,
    /// `<chassis>`.
    pub chassis: Option<SysInfoBlock>,
    /// `<oemStrings>`.
    pub oem_strings: Option<SysInfoBlock>,
    /// Direct `<entry>` children (fwcfg).
    pub entries: Vec<SysInfoEntry>,
}

impl XmlPart for SysInfo {
    const TAG: &'static str = "sysinfo";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(SysInfo {
            sysinfo_type: attr_string(el, "type"),
            bios: child_part_named(el, "bios", path)?,
            system: child_part_named(el, "system", path)?,
            base_boards: children_parts_named(el, "baseBoard", path)?,
            chassis: child_part_named(el, "chassis", path)?,
            oem_strings: child_part_named(el, "oemStrings", path)?,
            entries: children_parts_named(el, "entry", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        let o = SYSINFO_ORDER;
        set_attr(el, "type", self.sysinfo_type.as_deref());
        set_child_named(el, "bios", self.bios.as_ref(), o);
        set_child_named(el, "system", self.system.as_ref(), o);
        set_children_named(el, "baseBoard", &self.base_boards, o);
        set_child_named(el, "chassis", self.chassis.as_ref(), o);
        set_child_named(el, "oemStrings", self.oem_strings.as_ref(), o);
        set_children_named(el, "entry", &self.entries, o);
    }
}

attr_part! {
    /// `<suspend-to-mem enabled='no'/>` / `<suspend-to-disk …/>`.
    pub struct PmState = "suspend-to-mem" {
        /// `enabled`.
        enabled: YesNo = "enabled",
    }
}

impl PmState {
    /// `enabled='yes'` or `enabled='no'`.
    pub fn enabled(enabled: bool) -> PmState {
        PmState { enabled: Some(if enabled { YesNo::Yes } else { YesNo::No }) }
    }
}

/// `<pm>`: guest power management.
///
/// ```
/// use kvmhost_core::domain::{Pm, PmState, XmlPart};
/// let mut pm = Pm::default();
/// pm.suspend_to_mem = Some(PmState::enabled(false));
/// assert_eq!(pm.to_element().child("suspend-to-mem").unwrap().attr("enabled"), Some("no"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Pm {
    /// `<suspend-to-mem>`.
    pub suspend_to_mem: Option<PmState>,
    /// `<suspend-to-disk>`.
    pub suspend_to_disk: Option<PmState>,
}

impl XmlPart for Pm {
    const TAG: &'static str = "pm";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Pm {
            suspend_to_mem: child_part_named(el, "suspend-to-mem", path)?,
            suspend_to_disk: child_part_named(el, "suspend-to-disk", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        let o = &["suspend-to-mem", "suspend-to-disk"];
        set_child_named(el, "suspend-to-mem", self.suspend_to_mem.as_ref(), o);
        set_child_named(el, "suspend-to-disk", self.suspend_to_disk.as_ref(), o);
    }
}

/// `<resource>`: cgroup partition and fibre channel application id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Resource {
    /// `<partition>`.
    pub partition: Option<String>,
    /// `<fibrechannel appid=…>`.
    pub fibrechannel_appid: Option<String>,
}

impl XmlPart for Resource {
    const TAG: &'static str = "resource";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let fc = path.child("fibrechannel");
        Ok(Resource {
            partition: el.child("partition").map(|p| text_of(p).unwrap_or_default()),
            fibrechannel_appid: el
                .child("fibrechannel")
                .map(|f| crate::domain::codec::required_attr(f, "appid", &fc))
                .transpose()?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        let o = &["partition", "fibrechannel"];
        let p = self.partition.as_deref();
        set_child_with(el, "partition", p.map(|p| move |e: &mut Element| merge_text(e, Some(p))), o);
        let a = self.fibrechannel_appid.as_deref();
        let write = a.map(|a| {
            move |e: &mut Element| {
                let keep = !a.is_empty() || e.attr("appid").is_some();
                set_attr(e, "appid", keep.then_some(a))
            }
        });
        set_child_with(el, "fibrechannel", write, o);
    }
}

attr_part! {
    /// A perf event (`<event name='cmt' enabled='yes'/>`).
    pub struct PerfEvent = "event" {
        /// `name`.
        name: String = "name",
        /// `enabled`.
        enabled: YesNo = "enabled",
    }
}

/// `<perf>`: perf events to collect.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Perf {
    /// `<event>` list.
    pub events: Vec<PerfEvent>,
}

impl XmlPart for Perf {
    const TAG: &'static str = "perf";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Perf { events: children_parts_named(el, "event", path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_children_named(el, "event", &self.events, &["event"]);
    }
}

attr_part! {
    /// An id range mapping (`<uid start='0' target='1000' count='10'/>`).
    pub struct IdMapRange = "uid" {
        /// `start`.
        start: u32 = "start",
        /// `target`.
        target: u32 = "target",
        /// `count`.
        count: u32 = "count",
    }
}

/// `<idmap>`: user namespace id mappings (containers).
///
/// ```
/// use kvmhost_core::domain::{Domain, Idmap};
/// let d = Domain::parse("<domain><idmap><uid start='0' target='1000' count='10'/>\
///   <gid start='0' target='1000' count='10'/></idmap></domain>").unwrap();
/// let m = d.def().unwrap().idmap.unwrap();
/// assert_eq!(m.uids[0].target, Some(1000));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Idmap {
    /// `<uid>` list.
    pub uids: Vec<IdMapRange>,
    /// `<gid>` list.
    pub gids: Vec<IdMapRange>,
}

impl XmlPart for Idmap {
    const TAG: &'static str = "idmap";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Idmap { uids: children_parts_named(el, "uid", path)?, gids: children_parts_named(el, "gid", path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        let o = &["uid", "gid"];
        set_children_named(el, "uid", &self.uids, o);
        set_children_named(el, "gid", &self.gids, o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::codec::test_support::assert_round_trip as round_trip;

    #[test]
    fn platform_round_trips() {
        let s: SysInfo = round_trip(
            "<sysinfo type='smbios'><bios><entry name='vendor'>LENOVO</entry></bios><baseBoard>\
             <entry name='serial'>1</entry></baseBoard><baseBoard><entry name='serial'>2</entry></baseBoard>\
             <oemStrings><entry>x</entry></oemStrings></sysinfo>",
        );
        assert_eq!(s.base_boards[1].get("serial"), Some("2"));
        let f: SysInfo = round_trip("<sysinfo type='fwcfg'><entry name='opt/a' file='/f'/></sysinfo>");
        assert_eq!(f.entries[0].file.as_deref(), Some("/f"));
        let r: Resource = round_trip("<resource><partition>/machine</partition><fibrechannel appid='x'/></resource>");
        assert_eq!(r.partition.as_deref(), Some("/machine"));
        let p: Perf = round_trip("<perf><event name='cmt' enabled='yes'/></perf>");
        assert_eq!(p.events[0].enabled, Some(YesNo::Yes));
        let pm: Pm = round_trip("<pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='yes'/></pm>");
        assert!(pm.suspend_to_disk.is_some());
    }
}
