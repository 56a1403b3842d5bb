//! [`CpuidData`]: a set of CPUID leaves and MSR values with feature bits set, and the set
//! algebra libvirt's x86 driver uses on it (union, intersection, difference, subset).

use serde::{Deserialize, Serialize};

/// The bits of one CPUID leaf (`eax_in`/`ecx_in` select it; `eax`..`edx` are the output bits).
///
/// ```
/// use kvmhost_core::cpu::CpuidLeaf;
/// let sse2 = CpuidLeaf { eax_in: 1, ecx_in: 0, eax: 0, ebx: 0, ecx: 0, edx: 1 << 26 };
/// assert!(!sse2.is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct CpuidLeaf {
    /// The leaf (`EAX` input).
    pub eax_in: u32,
    /// The sub-leaf (`ECX` input).
    pub ecx_in: u32,
    /// `EAX` output bits.
    pub eax: u32,
    /// `EBX` output bits.
    pub ebx: u32,
    /// `ECX` output bits.
    pub ecx: u32,
    /// `EDX` output bits.
    pub edx: u32,
}

impl CpuidLeaf {
    /// Whether no output bit is set.
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::CpuidLeaf::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.regs() == [0; 4]
    }
}

/// The bits of one model-specific register (`index`, with its `eax` low and `edx` high halves).
///
/// ```
/// use kvmhost_core::cpu::MsrBits;
/// let rdctl_no = MsrBits { index: 0x10a, eax: 1, edx: 0 };
/// assert!(!rdctl_no.is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct MsrBits {
    /// The MSR index.
    pub index: u32,
    /// Low 32 bits.
    pub eax: u32,
    /// High 32 bits.
    pub edx: u32,
}

impl MsrBits {
    /// Whether no bit is set.
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::MsrBits { index: 0x10a, eax: 0, edx: 0 }.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.eax == 0 && self.edx == 0
    }
}

/// One entry of a [`CpuidData`]: a key plus four registers of bits.
trait Item: Copy {
    type Key: Ord + Copy;
    fn key(&self) -> Self::Key;
    fn regs(&self) -> [u32; 4];
    fn with_regs(&self, regs: [u32; 4]) -> Self;
}

impl Item for CpuidLeaf {
    type Key = (u32, u32);
    fn key(&self) -> (u32, u32) {
        (self.eax_in, self.ecx_in)
    }
    fn regs(&self) -> [u32; 4] {
        [self.eax, self.ebx, self.ecx, self.edx]
    }
    fn with_regs(&self, r: [u32; 4]) -> Self {
        CpuidLeaf { eax: r[0], ebx: r[1], ecx: r[2], edx: r[3], ..*self }
    }
}

impl Item for MsrBits {
    type Key = u32;
    fn key(&self) -> u32 {
        self.index
    }
    fn regs(&self) -> [u32; 4] {
        [self.eax, self.edx, 0, 0]
    }
    fn with_regs(&self, r: [u32; 4]) -> Self {
        MsrBits { eax: r[0], edx: r[1], ..*self }
    }
}

fn find<T: Item>(items: &[T], key: T::Key) -> Result<usize, usize> {
    items.binary_search_by(|i| i.key().cmp(&key))
}

fn add<T: Item>(items: &mut Vec<T>, item: T) {
    if item.regs() == [0; 4] {
        return;
    }
    match find(items, item.key()) {
        Ok(i) => {
            let (a, b) = (items[i].regs(), item.regs());
            items[i] = items[i].with_regs([a[0] | b[0], a[1] | b[1], a[2] | b[2], a[3] | b[3]]);
        }
        Err(i) => items.insert(i, item),
    }
}

fn get<T: Item>(items: &[T], key: T::Key) -> [u32; 4] {
    find(items, key).map(|i| items[i].regs()).unwrap_or([0; 4])
}

fn retain_with<T: Item>(items: &mut Vec<T>, other: &[T], op: impl Fn(u32, u32) -> u32) {
    for item in items.iter_mut() {
        let (a, b) = (item.regs(), get(other, item.key()));
        *item = item.with_regs([op(a[0], b[0]), op(a[1], b[1]), op(a[2], b[2]), op(a[3], b[3])]);
    }
    items.retain(|i| i.regs() != [0; 4]);
}

fn subset<T: Item>(items: &[T], of: &[T]) -> bool {
    items.iter().all(|i| {
        let (a, b) = (i.regs(), get(of, i.key()));
        (0..4).all(|r| a[r] & !b[r] == 0)
    })
}

/// A set of CPU feature bits: CPUID leaves and MSRs (libvirt's `virCPUx86Data`).
///
/// Entries are kept sorted and without empty leaves, so two sets with the same bits compare
/// equal.
///
/// ```
/// use kvmhost_core::cpu::{CpuidData, CpuidLeaf};
/// let mut a = CpuidData::new();
/// a.add_cpuid(CpuidLeaf { eax_in: 1, edx: 1, ..Default::default() });
/// let mut b = a.clone();
/// b.add_cpuid(CpuidLeaf { eax_in: 1, edx: 2, ..Default::default() });
/// assert!(a.is_subset_of(&b) && !b.is_subset_of(&a));
/// b.subtract(&a);
/// assert_eq!(b.cpuid()[0].edx, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CpuidData {
    cpuid: Vec<CpuidLeaf>,
    msr: Vec<MsrBits>,
}

impl CpuidData {
    /// An empty set.
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::CpuidData::new().is_empty());
    /// ```
    pub fn new() -> CpuidData {
        CpuidData::default()
    }

    /// The CPUID leaves with at least one bit set, sorted by `(eax_in, ecx_in)`.
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::CpuidData::new().cpuid().is_empty());
    /// ```
    pub fn cpuid(&self) -> &[CpuidLeaf] {
        &self.cpuid
    }

    /// The MSRs with at least one bit set, sorted by index.
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::CpuidData::new().msr().is_empty());
    /// ```
    pub fn msr(&self) -> &[MsrBits] {
        &self.msr
    }

    /// The leaf selected by `eax_in` / `ecx_in`, if any of its bits is set.
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuidData, CpuidLeaf};
    /// let mut d = CpuidData::new();
    /// d.add_cpuid(CpuidLeaf { eax_in: 7, ebx: 0x20, ..Default::default() });
    /// assert_eq!(d.leaf(7, 0).unwrap().ebx, 0x20);
    /// assert!(d.leaf(7, 1).is_none());
    /// ```
    pub fn leaf(&self, eax_in: u32, ecx_in: u32) -> Option<CpuidLeaf> {
        find(&self.cpuid, (eax_in, ecx_in)).ok().map(|i| self.cpuid[i])
    }

    /// Sets the bits of `leaf` (merging with an existing leaf of the same input).
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuidData, CpuidLeaf};
    /// let mut d = CpuidData::new();
    /// d.add_cpuid(CpuidLeaf { eax_in: 7, ebx: 0x20, ..Default::default() });
    /// assert_eq!(d.cpuid().len(), 1);
    /// ```
    pub fn add_cpuid(&mut self, leaf: CpuidLeaf) {
        add(&mut self.cpuid, leaf);
    }

    /// Sets the bits of `msr` (merging with an existing entry of the same index).
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuidData, MsrBits};
    /// let mut d = CpuidData::new();
    /// d.add_msr(MsrBits { index: 0x10a, eax: 1, edx: 0 });
    /// assert_eq!(d.msr()[0].eax, 1);
    /// ```
    pub fn add_msr(&mut self, msr: MsrBits) {
        add(&mut self.msr, msr);
    }

    /// Whether no bit is set.
    ///
    /// ```
    /// assert!(kvmhost_core::cpu::CpuidData::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.cpuid.is_empty() && self.msr.is_empty()
    }

    /// Adds every bit of `other` (set union, in place).
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuidData, CpuidLeaf};
    /// let mut a = CpuidData::new();
    /// let mut b = CpuidData::new();
    /// b.add_cpuid(CpuidLeaf { eax_in: 1, ecx: 4, ..Default::default() });
    /// a.union_with(&b);
    /// assert_eq!(a, b);
    /// ```
    pub fn union_with(&mut self, other: &CpuidData) {
        other.cpuid.iter().for_each(|l| add(&mut self.cpuid, *l));
        other.msr.iter().for_each(|m| add(&mut self.msr, *m));
    }

    /// Keeps only the bits also set in `other` (set intersection, in place).
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuidData, CpuidLeaf};
    /// let mut a = CpuidData::new();
    /// a.add_cpuid(CpuidLeaf { eax_in: 1, ecx: 6, ..Default::default() });
    /// let mut b = CpuidData::new();
    /// b.add_cpuid(CpuidLeaf { eax_in: 1, ecx: 3, ..Default::default() });
    /// a.intersect_with(&b);
    /// assert_eq!(a.cpuid()[0].ecx, 2);
    /// ```
    pub fn intersect_with(&mut self, other: &CpuidData) {
        retain_with(&mut self.cpuid, &other.cpuid, |a, b| a & b);
        retain_with(&mut self.msr, &other.msr, |a, b| a & b);
    }

    /// Clears every bit set in `other` (set difference, in place).
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuidData, CpuidLeaf};
    /// let mut a = CpuidData::new();
    /// a.add_cpuid(CpuidLeaf { eax_in: 1, ecx: 1, ..Default::default() });
    /// let b = a.clone();
    /// a.subtract(&b);
    /// assert!(a.is_empty());
    /// ```
    pub fn subtract(&mut self, other: &CpuidData) {
        retain_with(&mut self.cpuid, &other.cpuid, |a, b| a & !b);
        retain_with(&mut self.msr, &other.msr, |a, b| a & !b);
    }

    /// Whether every bit set here is also set in `other`.
    ///
    /// ```
    /// use kvmhost_core::cpu::CpuidData;
    /// assert!(CpuidData::new().is_subset_of(&CpuidData::new()));
    /// ```
    pub fn is_subset_of(&self, other: &CpuidData) -> bool {
        subset(&self.cpuid, &other.cpuid) && subset(&self.msr, &other.msr)
    }

    /// Whether this and `other` share at least one bit.
    ///
    /// ```
    /// use kvmhost_core::cpu::{CpuidData, CpuidLeaf};
    /// let mut a = CpuidData::new();
    /// a.add_cpuid(CpuidLeaf { eax_in: 1, ecx: 1, ..Default::default() });
    /// assert!(a.intersects(&a.clone()));
    /// assert!(!a.intersects(&CpuidData::new()));
    /// ```
    pub fn intersects(&self, other: &CpuidData) -> bool {
        let mut both = self.clone();
        both.intersect_with(other);
        !both.is_empty()
    }

    /// Union of two sets, as a new set.
    ///
    /// ```
    /// use kvmhost_core::cpu::CpuidData;
    /// assert!(CpuidData::new().union(&CpuidData::new()).is_empty());
    /// ```
    pub fn union(&self, other: &CpuidData) -> CpuidData {
        let mut out = self.clone();
        out.union_with(other);
        out
    }

    /// Intersection of two sets, as a new set.
    ///
    /// ```
    /// use kvmhost_core::cpu::CpuidData;
    /// assert!(CpuidData::new().intersection(&CpuidData::new()).is_empty());
    /// ```
    pub fn intersection(&self, other: &CpuidData) -> CpuidData {
        let mut out = self.clone();
        out.intersect_with(other);
        out
    }

    /// The bits set here but not in `other`, as a new set.
    ///
    /// ```
    /// use kvmhost_core::cpu::CpuidData;
    /// assert!(CpuidData::new().difference(&CpuidData::new()).is_empty());
    /// ```
    pub fn difference(&self, other: &CpuidData) -> CpuidData {
        let mut out = self.clone();
        out.subtract(other);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(eax_in: u32, ecx_in: u32, ecx: u32) -> CpuidLeaf {
        CpuidLeaf { eax_in, ecx_in, ecx, ..Default::default() }
    }

    #[test]
    fn algebra() {
        let mut a = CpuidData::new();
        a.add_cpuid(leaf(7, 0, 1));
        a.add_cpuid(leaf(1, 0, 3));
        a.add_cpuid(leaf(7, 1, 0)); // empty: ignored
        a.add_msr(MsrBits { index: 0x10a, eax: 4, edx: 1 });
        assert_eq!(a.cpuid().iter().map(|l| l.eax_in).collect::<Vec<_>>(), vec![1, 7]);
        let mut b = CpuidData::new();
        b.add_cpuid(leaf(1, 0, 2));
        b.add_msr(MsrBits { index: 0x10a, eax: 0, edx: 1 });
        assert!(b.is_subset_of(&a));
        assert!(!a.is_subset_of(&b));
        let i = a.intersection(&b);
        assert_eq!(i, b);
        let d = a.difference(&b);
        assert_eq!(d.cpuid(), &[leaf(1, 0, 1), leaf(7, 0, 1)]);
        assert_eq!(d.msr(), &[MsrBits { index: 0x10a, eax: 4, edx: 0 }]);
        assert_eq!(d.union(&b), a);
        assert!(!d.intersects(&b));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<CpuidData>(&json).unwrap(), a);
    }
}
