//! The nested feature groups of `<features>`: `<hyperv>`, `<kvm>` and `<xen>`.

use serde::{Deserialize, Serialize};

use super::FeatureSwitch;
use crate::domain::codec::{attr_part, child_part_named, set_attr, set_child_named, ElementPath, OnOff, XmlPart};

use crate::domain::error::DomainError;
use crate::xml::Element;
use crate::xml_enum;

xml_enum! {
    /// How Hyper-V enlightenments are chosen (`<hyperv mode=…>`).
    pub enum HypervMode { Custom = "custom", Passthrough = "passthrough" }
}

attr_part! {
    /// `<spinlocks state='on' retries='8191'/>`.
    pub struct HypervSpinlocks = "spinlocks" {
        /// `state`.
        state: OnOff = "state",
        /// `retries`.
        retries: u32 = "retries",
    }
}

attr_part! {
    /// `<vendor_id state='on' value='KVM Hv'/>`.
    pub struct HypervVendorId = "vendor_id" {
        /// `state`.
        state: OnOff = "state",
        /// `value`.
        value: String = "value",
    }
}

/// A switch with nested switches (`<stimer state='on'><direct state='on'/></stimer>`,
/// `<tlbflush state='on'><direct/><extended/></tlbflush>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HypervNestedSwitch {
    /// `state`.
    pub state: Option<OnOff>,
    /// `<direct>`.
    pub direct: Option<FeatureSwitch>,
    /// `<extended>` (tlbflush).
    pub extended: Option<FeatureSwitch>,
}

impl XmlPart for HypervNestedSwitch {
    const TAG: &'static str = "stimer";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(HypervNestedSwitch {
            state: el.attr("state").map(Into::into),
            direct: child_part_named(el, "direct", path)?,
            extended: child_part_named(el, "extended", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "state", self.state.as_ref());
        set_child_named(el, "direct", self.direct.as_ref(), &["direct", "extended"]);
        set_child_named(el, "extended", self.extended.as_ref(), &["direct", "extended"]);
    }
}

/// The canonical child order of `<hyperv>`.
pub const HYPERV_ORDER: &[&str] = &[
    "relaxed",
    "vapic",
    "spinlocks",
    "vpindex",
    "runtime",
    "synic",
    "stimer",
    "reset",
    "vendor_id",
    "frequencies",
    "reenlightenment",
    "tlbflush",
    "ipi",
    "evmcs",
    "avic",
    "emsr_bitmap",
    "xmm_input",
];

/// Hyper-V enlightenments (`<hyperv mode='custom'>…</hyperv>`).
///
/// ```
/// use kvmhost_core::domain::{HypervFeatures, HypervMode, FeatureSwitch, XmlPart};
/// let mut h = HypervFeatures::default();
/// h.mode = Some(HypervMode::Custom);
/// h.relaxed = Some(FeatureSwitch::on());
/// assert_eq!(h.to_element().child("relaxed").unwrap().attr("state"), Some("on"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HypervFeatures {
    /// `mode`.
    pub mode: Option<HypervMode>,
    /// `<relaxed>`.
    pub relaxed: Option<FeatureSwitch>,
    /// `<vapic>`.
    pub vapic: Option<FeatureSwitch>,
    /// `<spinlocks>`.
    pub spinlocks: Option<HypervSpinlocks>,
    /// `<vpindex>`.
    pub vpindex: Option<FeatureSwitch>,
    /// `<runtime>`.
    pub runtime: Option<FeatureSwitch>,
    /// `<synic>`.
    pub synic: Option<FeatureSwitch>,
    /// `<stimer>` (with `<direct>`).
    pub stimer: Option<HypervNestedSwitch>,
    /// `<reset>`.
    pub reset: Option<FeatureSwitch>,
    /// `<vendor_id>`.
    pub vendor_id: Option<HypervVendorId>,
    /// `<frequencies>`.
    pub frequencies: Option<FeatureSwitch>,
    /// `<reenlightenment>`.
    pub reenlightenment: Option<FeatureSwitch>,
    /// `<tlbflush>`.
    pub tlbflush: Option<HypervNestedSwitch>,
    /// `<ipi>`.
    pub ipi: Option<FeatureSwitch>,
    /// `<evmcs>`.
    pub evmcs: Option<FeatureSwitch>,
    /// `<avic>`.
    pub avic: Option<FeatureSwitch>,
    /// `<emsr_bitmap>`.
    pub emsr_bitmap: Option<FeatureSwitch>,
    /// `<xmm_input>`.
    pub xmm_input: Option<FeatureSwitch>,
}

impl XmlPart for HypervFeatures {
    const TAG: &'static str = "hyperv";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(HypervFeatures {
            mode: el.attr("mode").map(Into::into),
            relaxed: child_part_named(el, "relaxed", path)?,
            vapic: child_part_named(el, "vapic", path)?,
            spinlocks: child_part_named(el, "spinlocks", path)?,
            vpindex: child_part_named(el, "vpindex", path)?,
            runtime: child_part_named(el, "runtime", path)?,
            synic: child_part_named(el, "synic", path)?,
            stimer: child_part_named(el, "stimer", path)?,
            reset: child_part_named(el, "reset", path)?,
            vendor_id: child_part_named(el, "vendor_id", path)?,
            frequencies: child_part_named(el, "frequencies", path)?,
            reenlightenment: child_part_named(el, "reenlightenment", path)?,
            tlbflush: child_part_named(el, "tlbflush", path)?,
            ipi: child_part_named(el, "ipi", path)?,
            evmcs: child_part_named(el, "evmcs", path)?,
            avic: child_part_named(el, "avic", path)?,
            emsr_bitmap: child_part_named(el, "emsr_bitmap", path)?,
            xmm_input: child_part_named(el, "xmm_input", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        let o = HYPERV_ORDER;
        set_attr(el, "mode", self.mode.as_ref());
        set_child_named(el, "relaxed", self.relaxed.as_ref(), o);
        set_child_named(el, "vapic", self.vapic.as_ref(), o);
        set_child_named(el, "spinlocks", self.spinlocks.as_ref(), o);
        set_child_named(el, "vpindex", self.vpindex.as_ref(), o);
        set_child_named(el, "runtime", self.runtime.as_ref(), o);
        set_child_named(el, "synic", self.synic.as_ref(), o);
        set_child_named(el, "stimer", self.stimer.as_ref(), o);
        set_child_named(el, "reset", self.reset.as_ref(), o);
        set_child_named(el, "vendor_id", self.vendor_id.as_ref(), o);
        set_child_named(el, "frequencies", self.frequencies.as_ref(), o);
        set_child_named(el, "reenlightenment", self.reenlightenment.as_ref(), o);
        set_child_named(el, "tlbflush", self.tlbflush.as_ref(), o);
        set_child_named(el, "ipi", self.ipi.as_ref(), o);
        set_child_named(el, "evmcs", self.evmcs.as_ref(), o);
        set_child_named(el, "avic", self.avic.as_ref(), o);
        set_child_named(el, "emsr_bitmap", self.emsr_bitmap.as_ref(), o);
        set_child_named(el, "xmm_input", self.xmm_input.as_ref(), o);
    }
}

attr_part! {
    /// `<dirty-ring state='on' size='4096'/>`.
    pub struct KvmDirtyRing = "dirty-ring" {
        /// `state`.
        state: OnOff = "state",
        /// `size` (entries).
        size: u32 = "size",
    }
}

const KVM_ORDER: &[&str] = &["hidden", "hint-dedicated", "poll-control", "pv-ipi", "dirty-ring"];

/// KVM-specific features (`<kvm><hidden state='on'/></kvm>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KvmFeatures {
    /// `<hidden>`: hide the KVM signature.
    pub hidden: Option<FeatureSwitch>,
    /// `<hint-dedicated>`.
    pub hint_dedicated: Option<FeatureSwitch>,
    /// `<poll-control>`.
    pub poll_control: Option<FeatureSwitch>,
    /// `<pv-ipi>`.
    pub pv_ipi: Option<FeatureSwitch>,
    /// `<dirty-ring>`.
    pub dirty_ring: Option<KvmDirtyRing>,
}

impl XmlPart for KvmFeatures {
    const TAG: &'static str = "kvm";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(KvmFeatures {
            hidden: child_part_named(el, "hidden", path)?,
            hint_dedicated: child_part_named(el, "hint-dedicated", path)?,
            poll_control: child_part_named(el, "poll-control", path)?,
            pv_ipi: child_part_named(el, "pv-ipi", path)?,
            dirty_ring: child_part_named(el, "dirty-ring", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_child_named(el, "hidden", self.hidden.as_ref(), KVM_ORDER);
        set_child_named(el, "hint-dedicated", self.hint_dedicated.as_ref(), KVM_ORDER);
        set_child_named(el, "poll-control", self.poll_control.as_ref(), KVM_ORDER);
        set_child_named(el, "pv-ipi", self.pv_ipi.as_ref(), KVM_ORDER);
        set_child_named(el, "dirty-ring", self.dirty_ring.as_ref(), KVM_ORDER);
    }
}

attr_part! {
    /// `<passthrough state='on' mode='sync_pt'/>` (Xen).
    pub struct XenPassthrough = "passthrough" {
        /// `state`.
        state: OnOff = "state",
        /// `mode`.
        mode: String = "mode",
    }
}

/// Xen-specific features (`<xen><e820_host state='on'/></xen>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct XenFeatures {
    /// `<e820_host>`.
    pub e820_host: Option<FeatureSwitch>,
    /// `<passthrough>`.
    pub passthrough: Option<XenPassthrough>,
}

impl XmlPart for XenFeatures {
    const TAG: &'static str = "xen";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(XenFeatures {
            e820_host: child_part_named(el, "e820_host", path)?,
            passthrough: child_part_named(el, "passthrough", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        let o = &["e820_host", "passthrough"];
        set_child_named(el, "e820_host", self.e820_host.as_ref(), o);
        set_child_named(el, "passthrough", self.passthrough.as_ref(), o);
    }
}
