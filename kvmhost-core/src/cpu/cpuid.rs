//! Raw CPUID data: libvirt's `<cpudata arch='x86'>` documents and, on x86_64, this machine's
//! `cpuid` instruction walked the way libvirt's `virCPUx86GetHost` walks it.

use super::{CpuError, CpuidData, CpuidLeaf, MsrBits};
use crate::xml::Document;
use std::fmt::Write;

fn num(el: &crate::xml::Element, attr: &str, required: bool) -> Result<u32, CpuError> {
    let Some(v) = el.attr(attr) else {
        return if required { Err(CpuError::InvalidCpu(format!("<{}> without {attr}", el.name))) } else { Ok(0) };
    };
    let v = v.trim();
    let r = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => v.parse(),
    };
    r.map_err(|_| CpuError::InvalidCpu(format!("invalid {attr}='{v}' in <{}>", el.name)))
}

impl CpuidData {
    /// Reads libvirt's `<cpudata arch='x86'>` (`<cpuid eax_in ecx_in eax ebx ecx edx/>` and
    /// `<msr index eax edx/>` children), as in its `cputestdata/x86_64-cpuid-*.xml` files.
    ///
    /// ```
    /// use kvmhost_core::cpu::CpuidData;
    /// let d = CpuidData::parse_cpudata("<cpudata arch='x86'>\
    ///     <cpuid eax_in='0x1' ecx_in='0x0' eax='0x306c3' ebx='0' ecx='0' edx='0x1'/>\
    ///     <msr index='0x10a' eax='0x1' edx='0x0'/></cpudata>").unwrap();
    /// assert_eq!(d.leaf(1, 0).unwrap().eax, 0x306c3);
    /// assert_eq!(d.msr()[0].index, 0x10a);
    /// assert!(CpuidData::parse_cpudata("<cpudata arch='x86'/>").is_err());
    /// ```
    pub fn parse_cpudata(xml: &str) -> Result<CpuidData, CpuError> {
        let doc = Document::parse(xml).map_err(|e| CpuError::InvalidCpu(e.to_string()))?;
        if doc.root.name != "cpudata" {
            return Err(CpuError::InvalidCpu(format!("root element <{}> is not <cpudata>", doc.root.name)));
        }
        if let Some(a) = doc.root.attr("arch") {
            if a != "x86" {
                return Err(CpuError::InvalidCpu(format!("unsupported CPU data arch {a}")));
            }
        }
        let mut d = CpuidData::new();
        let mut n = 0;
        for el in doc.root.elements() {
            match el.name.as_str() {
                "cpuid" => d.add_cpuid(CpuidLeaf {
                    eax_in: num(el, "eax_in", true)?,
                    ecx_in: num(el, "ecx_in", false)?,
                    eax: num(el, "eax", false)?,
                    ebx: num(el, "ebx", false)?,
                    ecx: num(el, "ecx", false)?,
                    edx: num(el, "edx", false)?,
                }),
                "msr" => d.add_msr(MsrBits {
                    index: num(el, "index", true)?,
                    eax: num(el, "eax", true)?,
                    edx: num(el, "edx", true)?,
                }),
                other => return Err(CpuError::InvalidCpu(format!("unexpected <{other}> in <cpudata>"))),
            }
            n += 1;
        }
        if n == 0 {
            return Err(CpuError::InvalidCpu("no x86 CPU data found".into()));
        }
        Ok(d)
    }

    /// Writes the data as libvirt's `<cpudata arch='x86'>` (non-empty entries only).
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuidData, CpuidLeaf};
    /// let mut d = CpuidData::new();
    /// d.add_cpuid(CpuidLeaf { eax_in: 7, ebx: 0x20, ..Default::default() });
    /// assert_eq!(CpuidData::parse_cpudata(&d.to_cpudata()).unwrap(), d);
    /// ```
    pub fn to_cpudata(&self) -> String {
        let mut s = String::from("<cpudata arch='x86'>\n");
        for l in self.cpuid() {
            let _ = writeln!(
                s,
                "  <cpuid eax_in='0x{:08x}' ecx_in='0x{:08x}' eax='0x{:08x}' ebx='0x{:08x}' ecx='0x{:08x}' edx='0x{:08x}'/>",
                l.eax_in, l.ecx_in, l.eax, l.ebx, l.ecx, l.edx
            );
        }
        for m in self.msr() {
            let _ = writeln!(s, "  <msr index='0x{:x}' eax='0x{:08x}' edx='0x{:08x}'/>", m.index, m.eax, m.edx);
        }
        s.push_str("</cpudata>\n");
        s
    }
}

/// Executes `cpuid` for a leaf / sub-leaf on this CPU.
#[cfg(target_arch = "x86_64")]
fn call(eax_in: u32, ecx_in: u32) -> CpuidLeaf {
    // SAFETY: the cpuid instruction is available on every x86_64 CPU and has no side effects
    // (the intrinsic is only `unsafe` on older toolchains).
    #[allow(unused_unsafe)]
    let r = unsafe { core::arch::x86_64::__cpuid_count(eax_in, ecx_in) };
    CpuidLeaf { eax_in, ecx_in, eax: r.eax, ebx: r.ebx, ecx: r.ecx, edx: r.edx }
}

/// Walks the basic (`0x0`) or extended (`0x80000000`) range like libvirt's `cpuidSet`,
/// including the sub-leaves of leaves 4, 7, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14 and 0x17.
#[cfg(target_arch = "x86_64")]
fn walk(base: u32, d: &mut CpuidData) {
    let max = call(base, 0).eax;
    for leaf in base..=max {
        let l0 = call(leaf, 0);
        match leaf {
            0x4 => {
                d.add_cpuid(l0);
                let mut cur = l0;
                while cur.eax & 0x1f != 0 && cur.ecx_in < 64 {
                    cur = call(leaf, cur.ecx_in + 1);
                    d.add_cpuid(cur);
                }
            }
            0x7 | 0x14 => {
                d.add_cpuid(l0);
                for sub in 1..=l0.eax.min(64) {
                    d.add_cpuid(call(leaf, sub));
                }
            }
            0xb => {
                let mut cur = l0;
                while cur.ecx & 0xff00 != 0 && cur.ecx_in < 64 {
                    d.add_cpuid(cur);
                    cur = call(leaf, cur.ecx_in + 1);
                }
            }
            0xd => {
                d.add_cpuid(l0);
                let s1 = call(leaf, 1);
                d.add_cpuid(s1);
                for sub in 2..64u32 {
                    let set = if sub < 32 {
                        l0.eax & (1 << sub) != 0 || s1.ecx & (1 << sub) != 0
                    } else {
                        l0.edx & (1 << (sub - 32)) != 0 || s1.edx & (1 << (sub - 32)) != 0
                    };
                    if set {
                        d.add_cpuid(call(leaf, sub));
                    }
                }
            }
            0xf | 0x10 => {
                d.add_cpuid(l0);
                let res = if leaf == 0xf { l0.edx } else { l0.ebx };
                for sub in (1..32u32).filter(|s| res & (1 << s) != 0) {
                    d.add_cpuid(call(leaf, sub));
                }
            }
            0x12 => {
                if d.leaf(7, 0).is_some_and(|l| l.ebx & (1 << 2) != 0) {
                    d.add_cpuid(l0);
                    d.add_cpuid(call(leaf, 1));
                    let mut sub = 2;
                    let mut cur = call(leaf, sub);
                    while cur.eax & 0xf != 0 && sub < 64 {
                        d.add_cpuid(cur);
                        sub += 1;
                        cur = call(leaf, sub);
                    }
                }
            }
            0x17 => {
                if l0.eax >= 3 {
                    d.add_cpuid(l0);
                    for sub in 1..=l0.eax.min(64) {
                        d.add_cpuid(call(leaf, sub));
                    }
                }
            }
            _ => d.add_cpuid(l0),
        }
    }
}

/// This machine's CPUID data, collected as libvirt does for the host CPU (basic and extended
/// leaves with their sub-leaves; MSRs are not read). Under a hypervisor this is the virtual
/// CPU the hypervisor presents.
///
/// ```
/// # #[cfg(target_arch = "x86_64")] {
/// let d = kvmhost_core::cpu::host_cpuid().unwrap();
/// assert!(d.leaf(0, 0).is_some());
/// # }
/// ```
pub fn host_cpuid() -> Result<CpuidData, CpuError> {
    #[cfg(target_arch = "x86_64")]
    {
        let mut d = CpuidData::new();
        walk(0, &mut d);
        walk(0x8000_0000, &mut d);
        Ok(d)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Err(CpuError::Unsupported("the cpuid instruction needs an x86_64 host".into()))
    }
}
