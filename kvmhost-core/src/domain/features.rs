//! `<features>`: hypervisor features (ACPI, APIC, Hyper-V enlightenments, KVM hints, …).
//!
//! Most features are switches written as an empty element, optionally with `state='on|off'`:
//! they are [`FeatureSwitch`]es, present (`Some`) when the element is there. Features with more
//! attributes have their own types.

mod hyperv;

use serde::{Deserialize, Serialize};

use crate::domain::codec::{
    attr_part, attr_string, child_part_named, set_attr, set_child_named, ElementPath, OnOff, XmlPart, YesNo,
};

use crate::domain::error::DomainError;
use crate::domain::memory::Memory;
use crate::xml::Element;

pub use hyperv::*;

attr_part! {
    /// A feature switch (`<pae/>`, `<pmu state='off'/>`): the element's presence enables the
    /// feature unless `state` says otherwise. Written under many element names.
    ///
    /// ```
    /// use kvmhost_core::domain::{OnOff, FeatureSwitch};
    /// assert!(FeatureSwitch::on().is_enabled());
    /// assert!(FeatureSwitch::default().is_enabled());
    /// assert!(!FeatureSwitch::off().is_enabled());
    /// assert_eq!(FeatureSwitch::off().state, Some(OnOff::Off));
    /// ```
    pub struct FeatureSwitch = "feature" {
        /// `state`.
        state: OnOff = "state",
    }
}

impl FeatureSwitch {
    /// `state='on'`.
    pub fn on() -> FeatureSwitch {
        FeatureSwitch { state: Some(OnOff::On) }
    }

    /// `state='off'`.
    pub fn off() -> FeatureSwitch {
        FeatureSwitch { state: Some(OnOff::Off) }
    }

    /// Whether the switch is on (a missing `state` means on).
    pub fn is_enabled(&self) -> bool {
        self.state.as_ref() != Some(&OnOff::Off)
    }
}

attr_part! {
    /// `<apic eoi='on'/>`.
    pub struct Apic = "apic" {
        /// `eoi`.
        eoi: OnOff = "eoi",
    }
}

/// `<smm state='on'><tseg unit='MiB'>48</tseg></smm>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Smm {
    /// `state`.
    pub state: Option<OnOff>,
    /// `<tseg>` size.
    pub tseg: Option<Memory>,
}

impl XmlPart for Smm {
    const TAG: &'static str = "smm";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Smm { state: el.attr("state").map(Into::into), tseg: child_part_named(el, "tseg", path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "state", self.state.as_ref());
        set_child_named(el, "tseg", self.tseg.as_ref(), &[]);
    }
}

attr_part! {
    /// `<gic version='3'/>`.
    pub struct Gic = "gic" {
        /// `version` (`2`, `3`, `host`).
        version: String = "version",
    }
}

attr_part! {
    /// `<ioapic driver='kvm|qemu'/>`.
    pub struct Ioapic = "ioapic" {
        /// `driver`.
        driver: String = "driver",
    }
}

/// `<hpt resizing='required'><maxpagesize unit='GiB'>1</maxpagesize></hpt>` (ppc64).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Hpt {
    /// `resizing`.
    pub resizing: Option<String>,
    /// `<maxpagesize>`.
    pub max_page_size: Option<Memory>,
}

impl XmlPart for Hpt {
    const TAG: &'static str = "hpt";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Hpt { resizing: attr_string(el, "resizing"), max_page_size: child_part_named(el, "maxpagesize", path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "resizing", self.resizing.as_deref());
        set_child_named(el, "maxpagesize", self.max_page_size.as_ref(), &[]);
    }
}

attr_part! {
    /// A feature with a `value` attribute (`<cfpc value='workaround'/>`, `<sbbc>`, `<ibs>`).
    pub struct ValueFeature = "feature" {
        /// `value`.
        value: String = "value",
    }
}

attr_part! {
    /// `<msrs unknown='ignore|fault'/>`.
    pub struct Msrs = "msrs" {
        /// `unknown`.
        unknown: String = "unknown",
    }
}

attr_part! {
    /// `<async-teardown enabled='yes'/>`.
    pub struct AsyncTeardown = "async-teardown" {
        /// `enabled`.
        enabled: YesNo = "enabled",
    }
}

/// `<tcg><tb-cache unit='MiB'>128</tb-cache></tcg>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Tcg {
    /// `<tb-cache>` size.
    pub tb_cache: Option<Memory>,
}

impl XmlPart for Tcg {
    const TAG: &'static str = "tcg";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Tcg { tb_cache: child_part_named(el, "tb-cache", path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_child_named(el, "tb-cache", self.tb_cache.as_ref(), &[]);
    }
}

/// One capability of an LXC container (`<mknod state='on'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capability {
    /// The element name (`mknod`, `sys_admin`, …).
    pub name: String,
    /// `state`.
    pub state: Option<OnOff>,
}

/// `<capabilities policy='default|allow|deny'>` with one element per capability (LXC).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// `policy`.
    pub policy: Option<String>,
    /// The capabilities, in document order.
    pub capabilities: Vec<Capability>,
}

impl XmlPart for Capabilities {
    const TAG: &'static str = "capabilities";
    fn decode(el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Capabilities {
            policy: attr_string(el, "policy"),
            capabilities: el
                .elements()
                .map(|c| Capability { name: c.name.to_string(), state: c.attr("state").map(Into::into) })
                .collect(),
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "policy", self.policy.as_deref());
        let stale: Vec<String> = el
            .elements()
            .map(|c| c.name.to_string())
            .filter(|n| !self.capabilities.iter().any(|c| &c.name == n))
            .collect();
        for name in stale {
            crate::domain::codec::set_child_with(el, &name, None::<fn(&mut Element)>, &[]);
        }
        for cap in &self.capabilities {
            let write = |e: &mut Element| set_attr(e, "state", cap.state.as_ref());
            crate::domain::codec::set_child_with(el, &cap.name, Some(write), &[]);
        }
    }
}

/// The canonical child order of `<features>` (libvirt's `virDomainFeature` order).
pub const FEATURES_ORDER: &[&str] = &[
    "acpi",
    "apic",
    "pae",
    "hap",
    "viridian",
    "privnet",
    "hyperv",
    "kvm",
    "pvspinlock",
    "capabilities",
    "pmu",
    "vmport",
    "gic",
    "smm",
    "ioapic",
    "hpt",
    "vmcoreinfo",
    "htm",
    "nested-hv",
    "msrs",
    "ccf-assist",
    "xen",
    "cfpc",
    "sbbc",
    "ibs",
    "tcg",
    "async-teardown",
    "ps2",
];

/// `<features>`.
///
/// ```
/// use kvmhost_core::domain::{Domain, Features, FeatureSwitch, XmlPart};
/// let d = Domain::parse("<domain><features><acpi/><apic/><pmu state='off'/>\
///   <hyperv mode='custom'><relaxed state='on'/><spinlocks state='on' retries='8191'/></hyperv>\
///   </features></domain>").unwrap();
/// let f = d.features().unwrap().unwrap();
/// assert!(f.acpi.is_some());
/// assert!(!f.pmu.as_ref().unwrap().is_enabled());
/// assert_eq!(f.hyperv.as_ref().unwrap().spinlocks.as_ref().unwrap().retries, Some(8191));
/// let mut f = Features::default();
/// f.acpi = Some(FeatureSwitch::default());
/// let fresh = f.to_element();
/// assert!(fresh.child("acpi").is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Features {
    /// `<acpi/>`.
    pub acpi: Option<FeatureSwitch>,
    /// `<apic/>`.
    pub apic: Option<Apic>,
    /// `<pae/>`.
    pub pae: Option<FeatureSwitch>,
    /// `<hap/>`.
    pub hap: Option<FeatureSwitch>,
    /// `<viridian/>`.
    pub viridian: Option<FeatureSwitch>,
    /// `<privnet/>`.
    pub privnet: Option<FeatureSwitch>,
    /// `<hyperv>`.
    pub hyperv: Option<HypervFeatures>,
    /// `<kvm>`.
    pub kvm: Option<KvmFeatures>,
    /// `<pvspinlock/>`.
    pub pvspinlock: Option<FeatureSwitch>,
    /// `<capabilities>` (LXC).
    pub capabilities: Option<Capabilities>,
    /// `<pmu/>`.
    pub pmu: Option<FeatureSwitch>,
    /// `<vmport/>`.
    pub vmport: Option<FeatureSwitch>,
    /// `<gic/>`.
    pub gic: Option<Gic>,
    /// `<smm/>`.
    pub smm: Option<Smm>,
    /// `<ioapic/>`.
    pub ioapic: Option<Ioapic>,
    /// `<hpt/>`.
    pub hpt: Option<Hpt>,
    /// `<vmcoreinfo/>`.
    pub vmcoreinfo: Option<FeatureSwitch>,
    /// `<htm/>`.
    pub htm: Option<FeatureSwitch>,
    /// `<nested-hv/>`.
    pub nested_hv: Option<FeatureSwitch>,
    /// `<msrs/>`.
    pub msrs: Option<Msrs>,
    /// `<ccf-assist/>`.
    pub ccf_assist: Option<FeatureSwitch>,
    /// `<xen>`.
    pub xen: Option<XenFeatures>,
    /// `<cfpc value=…/>`.
    pub cfpc: Option<ValueFeature>,
    /// `<sbbc value=…/>`.
    pub sbbc: Option<ValueFeature>,
    /// `<ibs value=…/>`.
    pub ibs: Option<ValueFeature>,
    /// `<tcg>`.
    pub tcg: Option<Tcg>,
    /// `<async-teardown/>`.
    pub async_teardown: Option<AsyncTeardown>,
    /// `<ps2/>`.
    pub ps2: Option<FeatureSwitch>,
}

macro_rules! features_codec {
    ($($field:ident: $name:literal),+ $(,)?) => {
        impl XmlPart for Features {
            const TAG: &'static str = "features";
            fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
                Ok(Features { $($field: child_part_named(el, $name, path)?,)+ })
            }
            fn encode_into(&self, el: &mut Element) {
                $(set_child_named(el, $name, self.$field.as_ref(), FEATURES_ORDER);)+
            }
        }
    };
}

features_codec! {
    acpi: "acpi", apic: "apic", pae: "pae", hap: "hap", viridian: "viridian", privnet: "privnet",
    hyperv: "hyperv", kvm: "kvm", pvspinlock: "pvspinlock", capabilities: "capabilities", pmu: "pmu", vmport: "vmport", gic: "gic",
    smm: "smm", ioapic: "ioapic", hpt: "hpt", vmcoreinfo: "vmcoreinfo", htm: "htm", nested_hv: "nested-hv",
    msrs: "msrs", ccf_assist: "ccf-assist", xen: "xen", cfpc: "cfpc", sbbc: "sbbc", ibs: "ibs", tcg: "tcg",
    async_teardown: "async-teardown", ps2: "ps2",
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn round_trip_keeps_everything() {
        let xml = "<features><acpi/><apic eoi='on'/><kvm><hidden state='on'/><dirty-ring state='on' size='4096'/>\
                   </kvm><smm state='on'><tseg unit='MiB'>48</tseg></smm><gic version='3'/>\
                   <xen><e820_host state='on'/><passthrough state='on' mode='sync_pt'/></xen>\
                   <tcg><tb-cache unit='MiB'>128</tb-cache></tcg><capabilities policy='deny'><mknod state='on'/><sys_boot state='off'/></capabilities></features>";
        let d = Document::parse(xml).unwrap();
        let f = Features::decode(&d.root, &ElementPath::root("features")).unwrap();
        assert_eq!(f.smm.as_ref().unwrap().tseg.as_ref().unwrap().kib(), Some(48 * 1024));
        assert_eq!(f.kvm.as_ref().unwrap().dirty_ring.as_ref().unwrap().size, Some(4096));
        let mut el = d.root.clone();
        f.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root));
        let fresh = f.to_element();
        assert_eq!(fresh.child("xen").unwrap().child("passthrough").unwrap().attr("mode"), Some("sync_pt"));
    }

    #[test]
    fn removing_a_feature_removes_its_element() {
        let d = Document::parse("<features><acpi/><pae/></features>").unwrap();
        let mut f = Features::decode(&d.root, &ElementPath::root("features")).unwrap();
        f.pae = None;
        let mut el = d.root.clone();
        f.encode_into(&mut el);
        assert!(el.child("pae").is_none() && el.child("acpi").is_some());
    }
}
