//! Memory sizes with every unit libvirt accepts, converted exactly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::codec::{attr_parse, parse_value, set_attr, set_child, set_child_with, ElementPath, XmlPart};
use super::{Domain, DOMAIN_ORDER};
use crate::domain::error::DomainError;
use crate::xml::Element;

/// A memory unit as libvirt spells it (`virScaleInteger`): powers of 1024 for `KiB`, `k`, `M`,
/// …, powers of 1000 for `KB`, `MB`, … Each variant is one spelling, so a document keeps the
/// one it was written with; [`MemoryUnit::bytes_per_unit`] says what it means.
///
/// ```
/// use kvmhost_core::domain::MemoryUnit;
/// let unit: MemoryUnit = "MiB".parse().unwrap();
/// assert_eq!(unit.bytes_per_unit(), 1 << 20);
/// assert_eq!("MB".parse::<MemoryUnit>().unwrap().bytes_per_unit(), 1_000_000);
/// assert!("parsecs".parse::<MemoryUnit>().is_err());
/// let binary = match unit {
///     MemoryUnit::KiB | MemoryUnit::MiB | MemoryUnit::GiB | MemoryUnit::TiB => true,
///     other => other.bytes_per_unit().is_power_of_two(),
/// };
/// assert!(binary);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
#[non_exhaustive]
pub enum MemoryUnit {
    /// `b`: bytes.
    B,
    /// `bytes`.
    Bytes,
    /// `k`: 1024 bytes.
    K,
    /// `KiB`: 1024 bytes, libvirt's default unit.
    KiB,
    /// `KB`: 1000 bytes.
    KB,
    /// `M`: 1024² bytes.
    M,
    /// `MiB`: 1024² bytes.
    MiB,
    /// `MB`: 1000² bytes.
    MB,
    /// `G`: 1024³ bytes.
    G,
    /// `GiB`: 1024³ bytes.
    GiB,
    /// `GB`: 1000³ bytes.
    GB,
    /// `T`: 1024⁴ bytes.
    T,
    /// `TiB`: 1024⁴ bytes.
    TiB,
    /// `TB`: 1000⁴ bytes.
    TB,
    /// `P`: 1024⁵ bytes.
    P,
    /// `PiB`: 1024⁵ bytes.
    PiB,
    /// `PB`: 1000⁵ bytes.
    PB,
    /// `E`: 1024⁶ bytes.
    E,
    /// `EiB`: 1024⁶ bytes.
    EiB,
    /// `EB`: 1000⁶ bytes.
    EB,
}

const SPELLINGS: &[(&str, MemoryUnit, u128)] = &[
    ("b", MemoryUnit::B, 1),
    ("bytes", MemoryUnit::Bytes, 1),
    ("k", MemoryUnit::K, 1 << 10),
    ("KiB", MemoryUnit::KiB, 1 << 10),
    ("KB", MemoryUnit::KB, 1_000),
    ("M", MemoryUnit::M, 1 << 20),
    ("MiB", MemoryUnit::MiB, 1 << 20),
    ("MB", MemoryUnit::MB, 1_000_000),
    ("G", MemoryUnit::G, 1 << 30),
    ("GiB", MemoryUnit::GiB, 1 << 30),
    ("GB", MemoryUnit::GB, 1_000_000_000),
    ("T", MemoryUnit::T, 1 << 40),
    ("TiB", MemoryUnit::TiB, 1 << 40),
    ("TB", MemoryUnit::TB, 1_000_000_000_000),
    ("P", MemoryUnit::P, 1 << 50),
    ("PiB", MemoryUnit::PiB, 1 << 50),
    ("PB", MemoryUnit::PB, 1_000_000_000_000_000),
    ("E", MemoryUnit::E, 1 << 60),
    ("EiB", MemoryUnit::EiB, 1 << 60),
    ("EB", MemoryUnit::EB, 1_000_000_000_000_000_000),
];

impl MemoryUnit {
    /// Bytes (the same as [`MemoryUnit::Bytes`]).
    pub const BYTES: MemoryUnit = MemoryUnit::Bytes;
    /// Kibibytes, libvirt's default unit (the same as [`MemoryUnit::KiB`]).
    pub const KIB: MemoryUnit = MemoryUnit::KiB;
    /// Mebibytes (the same as [`MemoryUnit::MiB`]).
    pub const MIB: MemoryUnit = MemoryUnit::MiB;
    /// Gibibytes (the same as [`MemoryUnit::GiB`]).
    pub const GIB: MemoryUnit = MemoryUnit::GiB;

    fn entry(&self) -> &'static (&'static str, MemoryUnit, u128) {
        SPELLINGS.iter().find(|e| e.1 == *self).expect("every unit is listed")
    }

    /// The unit as written in XML.
    ///
    /// ```
    /// assert_eq!(kvmhost_core::domain::MemoryUnit::MiB.as_str(), "MiB");
    /// ```
    pub fn as_str(&self) -> &'static str {
        self.entry().0
    }

    /// How many bytes one unit is.
    ///
    /// ```
    /// assert_eq!(kvmhost_core::domain::MemoryUnit::KiB.bytes_per_unit(), 1024);
    /// ```
    pub fn bytes_per_unit(&self) -> u128 {
        self.entry().2
    }
}

impl FromStr for MemoryUnit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        // libvirt matches the unit case-insensitively, except that a lone "b" and "k" etc.
        // are the 1024-based short forms.
        SPELLINGS
            .iter()
            .find(|e| e.0 == s)
            .or_else(|| SPELLINGS.iter().find(|e| e.0.eq_ignore_ascii_case(s) && e.0.len() > 1))
            .or_else(|| SPELLINGS.iter().find(|e| e.0.eq_ignore_ascii_case(s)))
            .map(|e| e.1)
            .ok_or_else(|| format!("unknown memory unit {s:?}"))
    }
}

impl fmt::Display for MemoryUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<MemoryUnit> for String {
    fn from(u: MemoryUnit) -> String {
        u.as_str().to_string()
    }
}

impl TryFrom<String> for MemoryUnit {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// A memory amount with its unit as written (`<memory unit='MiB'>512</memory>`); a missing
/// unit means KiB. The same type serves `memory`, `currentMemory`, `maxMemory` and sizes
/// inside devices.
///
/// ```
/// use kvmhost_core::domain::{Memory, MemoryUnit};
/// let m = Memory::gib(2);
/// assert_eq!(m.kib(), Some(2 * 1024 * 1024));
/// assert_eq!(Memory::new(1, MemoryUnit::KIB).bytes(), Some(1024));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Memory {
    /// The number as written.
    pub value: u64,
    /// The unit, `None` when the attribute is absent (KiB).
    pub unit: Option<MemoryUnit>,
    /// `slots` (only on `maxMemory`).
    pub slots: Option<u32>,
    /// `dumpCore` (only on `memory`).
    pub dump_core: Option<super::codec::OnOff>,
}

impl Memory {
    /// `value` in `unit`.
    pub fn new(value: u64, unit: MemoryUnit) -> Memory {
        Memory { value, unit: Some(unit), slots: None, dump_core: None }
    }

    /// `value` mebibytes.
    pub fn mib(value: u64) -> Memory {
        Memory::new(value, MemoryUnit::MIB)
    }

    /// `value` gibibytes.
    pub fn gib(value: u64) -> Memory {
        Memory::new(value, MemoryUnit::GIB)
    }

    /// `value` kibibytes.
    pub fn kib_value(value: u64) -> Memory {
        Memory::new(value, MemoryUnit::KIB)
    }

    /// The exact size in bytes (`None` only if it exceeds 2^128).
    pub fn bytes(&self) -> Option<u128> {
        (self.value as u128).checked_mul(self.unit.unwrap_or(MemoryUnit::KIB).bytes_per_unit())
    }

    /// The size in KiB as libvirt stores it (rounded up, as libvirt does), if it fits in u64.
    pub fn kib(&self) -> Option<u64> {
        self.bytes().and_then(|b| u64::try_from(b.div_ceil(1024)).ok())
    }

    /// Decodes the amount from any element carrying `unit` and a number as text.
    ///
    /// ```
    /// use kvmhost_core::domain::{ElementPath, Memory};
    /// use kvmhost_core::xml::Document;
    /// let d = Document::parse("<memory unit='parsecs'>1</memory>").unwrap();
    /// let e = Memory::decode_any(&d.root, &ElementPath::root("memory")).unwrap_err();
    /// assert!(e.to_string().contains("/memory/@unit"));
    /// let d = Document::parse("<memory>abc</memory>").unwrap();
    /// assert!(Memory::decode_any(&d.root, &ElementPath::root("memory")).is_err());
    /// ```
    pub fn decode_any(el: &Element, path: &ElementPath<'_>) -> Result<Memory, DomainError> {
        let unit = match el.attr("unit") {
            None => None,
            Some(u) => Some(u.trim().parse::<MemoryUnit>().map_err(|_| DomainError::InvalidValue {
                path: path.attribute("unit"),
                value: u.to_string(),
                expected: "memory unit (b, KiB, MiB, GiB, TiB, KB, MB, …)".into(),
            })?),
        };
        let text = el.text();
        let value = parse_value::<u64>(text.trim(), || path.to_string(), "unsigned integer")?;
        Ok(Memory {
            value,
            unit,
            slots: attr_parse(el, "slots", path)?,
            dump_core: el.attr("dumpCore").map(Into::into),
        })
    }

    /// Writes the amount into any element (`unit` attribute and text).
    pub fn encode_any(&self, el: &mut Element) {
        let same = match (Memory::decode_any(el, &ElementPath::root("memory")), self.bytes()) {
            (Ok(old), Some(new)) => old.bytes() == Some(new) && old.unit == self.unit,
            _ => false,
        };
        if !same {
            set_attr(el, "unit", self.unit.map(|u| u.as_str()));
            el.set_text(self.value.to_string());
        }
        set_attr(el, "slots", self.slots);
        set_attr(el, "dumpCore", self.dump_core.as_ref());
    }
}

impl XmlPart for Memory {
    const TAG: &'static str = "memory";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Memory::decode_any(el, path)
    }
    fn encode_into(&self, el: &mut Element) {
        self.encode_any(el)
    }
}

/// Why a memory size (`3GiB`, `512 MiB`, `1048576`) does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MemorySizeError {
    /// No digits before the unit.
    #[error("memory size {input:?} does not start with a number (expected e.g. 4GiB, 512MiB, 1048576KiB)")]
    MissingNumber {
        /// The text given.
        input: String,
    },
    /// The number does not fit in 64 bits.
    #[error("memory size {input:?}: the number does not fit in 64 bits")]
    TooLarge {
        /// The text given.
        input: String,
    },
    /// The unit is not one libvirt knows.
    #[error("memory size {input:?}: unknown unit {unit:?} (expected b, KiB, MiB, GiB, TiB, KB, MB, GB, …)")]
    UnknownUnit {
        /// The text given.
        input: String,
        /// The unit part of it.
        unit: String,
    },
    /// A size of zero.
    #[error("memory size {input:?} is zero")]
    Zero {
        /// The text given.
        input: String,
    },
}

/// Parses a size as people and tools write it: a number, optional spaces, an optional unit in
/// any spelling libvirt accepts (no unit means KiB, as in libvirt's XML). Zero is refused.
///
/// ```
/// use kvmhost_core::domain::{Memory, MemorySizeError, MemoryUnit};
/// let m: Memory = "3GiB".parse().unwrap();
/// assert_eq!((m.value, m.unit), (3, Some(MemoryUnit::GIB)));
/// assert_eq!("512 MiB".parse::<Memory>().unwrap(), Memory::mib(512));
/// assert_eq!("1048576".parse::<Memory>().unwrap().kib(), Some(1048576));
/// assert!(matches!("3 parsecs".parse::<Memory>(), Err(MemorySizeError::UnknownUnit { .. })));
/// assert!(matches!("GiB".parse::<Memory>(), Err(MemorySizeError::MissingNumber { .. })));
/// assert!(matches!("0MiB".parse::<Memory>(), Err(MemorySizeError::Zero { .. })));
/// ```
impl FromStr for Memory {
    type Err = MemorySizeError;
    fn from_str(s: &str) -> Result<Memory, MemorySizeError> {
        let t = s.trim();
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        let input = || s.to_string();
        if digits == 0 {
            return Err(MemorySizeError::MissingNumber { input: input() });
        }
        let value: u64 = t[..digits].parse().map_err(|_| MemorySizeError::TooLarge { input: input() })?;
        let unit = t[digits..].trim_start();
        let unit = match unit {
            "" => None,
            u => Some(
                u.parse::<MemoryUnit>()
                    .map_err(|_| MemorySizeError::UnknownUnit { input: input(), unit: u.to_string() })?,
            ),
        };
        if value == 0 {
            return Err(MemorySizeError::Zero { input: input() });
        }
        Ok(Memory { value, unit, slots: None, dump_core: None })
    }
}

/// Writes the size as [`FromStr`] reads it: `4GiB`, `1048576KiB` (no unit means KiB).
///
/// ```
/// use kvmhost_core::domain::Memory;
/// assert_eq!(Memory::gib(4).to_string(), "4GiB");
/// ```
impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.value, self.unit.unwrap_or(MemoryUnit::KIB))
    }
}

/// Memory edits: `<memory>` is the size the guest is defined with (libvirt's "maximum
/// allocation at boot"), `<currentMemory>` the balloon target it actually boots with (libvirt
/// sets it to `<memory>` when absent or larger). `<maxMemory>` (the hotplug ceiling) is
/// separate: see [`DomainDef::max_memory`](super::DomainDef::max_memory).
impl Domain {
    /// `<memory>`.
    pub fn memory(&self) -> Result<Option<Memory>, DomainError> {
        super::codec::child_part(self.root(), &ElementPath::root("domain"))
    }

    /// Sets the guest's memory as `virt-xml --memory` does: `<memory>` and `<currentMemory>`
    /// both become `m`, so the guest boots with the new size (setting `<memory>` alone would
    /// leave the balloon at the old `<currentMemory>`). `<currentMemory>` is written even when
    /// the document had none, as virt-xml and libvirt itself write it; it takes the amount
    /// only (`slots` and `dumpCore` belong to `<memory>`). `<memory>` keeps its `dumpCore` and
    /// `slots` unless `m` sets them. [`Domain::clear_memory`] removes both.
    ///
    /// To set one of them alone, use [`Domain::set_memory_only`] or
    /// [`Domain::set_current_memory`]. With a `<cpu><numa>` topology libvirt derives
    /// `<memory>` from the cells' sizes, and memory devices (`<memory model='dimm'>`) add to it.
    ///
    /// ```
    /// use kvmhost_core::domain::{Domain, Memory};
    /// let mut d = Domain::parse("<domain>\n  <memory unit='KiB' dumpCore='off'>1048576</memory>\n  \
    ///                            <currentMemory unit='KiB'>524288</currentMemory>\n</domain>").unwrap();
    /// d.set_memory(&Memory::gib(3));
    /// assert_eq!(d.current_memory().unwrap(), Some(Memory::gib(3)));
    /// assert!(d.to_xml().unwrap().contains(
    ///     "<memory unit='GiB' dumpCore='off'>3</memory>\n  <currentMemory unit='GiB'>3</currentMemory>"));
    /// ```
    pub fn set_memory(&mut self, m: &Memory) {
        let mut merged = m.clone();
        if let Ok(Some(old)) = self.memory() {
            merged.slots = merged.slots.or(old.slots);
            merged.dump_core = merged.dump_core.or(old.dump_core);
        }
        self.set_memory_only(&merged);
        self.set_current_memory(&Memory { value: m.value, unit: m.unit, slots: None, dump_core: None });
    }

    /// Removes `<memory>` and `<currentMemory>` (libvirt then refuses the document unless a
    /// NUMA topology gives the size).
    ///
    /// ```
    /// use kvmhost_core::domain::Domain;
    /// let mut d = Domain::parse("<domain><memory>1048576</memory><currentMemory>524288</currentMemory></domain>").unwrap();
    /// d.clear_memory();
    /// assert_eq!(d.to_xml().unwrap(), "<domain/>");
    /// ```
    pub fn clear_memory(&mut self) {
        set_child::<Memory>(self.root_mut(), None, DOMAIN_ORDER);
        self.clear_current_memory();
    }

    /// Sets `<memory>` alone, leaving `<currentMemory>` as it is. libvirt lowers a
    /// `<currentMemory>` larger than the new `<memory>` to it when it parses the document; a
    /// smaller one stays the size the guest boots with.
    ///
    /// ```
    /// use kvmhost_core::domain::{Domain, Memory};
    /// let mut d = Domain::parse("<domain><memory>1048576</memory><currentMemory>524288</currentMemory></domain>").unwrap();
    /// d.set_memory_only(&Memory::gib(2));
    /// assert_eq!(d.memory().unwrap(), Some(Memory::gib(2)));
    /// assert_eq!(d.current_memory().unwrap().unwrap().kib(), Some(524288));
    /// ```
    pub fn set_memory_only(&mut self, m: &Memory) {
        set_child(self.root_mut(), Some(m), DOMAIN_ORDER)
    }

    /// `<currentMemory>`: the memory the guest boots with (its balloon target).
    pub fn current_memory(&self) -> Result<Option<Memory>, DomainError> {
        self.root()
            .child("currentMemory")
            .map(|c| Memory::decode_any(c, &ElementPath::root("domain").child("currentMemory")))
            .transpose()
    }

    /// Sets `<currentMemory>` alone (`virsh setmem --config`): the guest boots with
    /// less than `<memory>` and can be ballooned up to it.
    ///
    /// ```
    /// use kvmhost_core::domain::{Domain, Memory};
    /// let mut d = Domain::parse("<domain><memory unit='GiB'>4</memory></domain>").unwrap();
    /// d.set_current_memory(&Memory::gib(2));
    /// assert_eq!(d.to_xml().unwrap(),
    ///            "<domain><memory unit='GiB'>4</memory><currentMemory unit='GiB'>2</currentMemory></domain>");
    /// ```
    pub fn set_current_memory(&mut self, m: &Memory) {
        set_child_with(self.root_mut(), "currentMemory", Some(|e: &mut Element| m.encode_any(e)), DOMAIN_ORDER);
    }

    /// Removes `<currentMemory>` (libvirt then boots the guest with `<memory>`).
    pub fn clear_current_memory(&mut self) {
        set_child_with(self.root_mut(), "currentMemory", None::<fn(&mut Element)>, DOMAIN_ORDER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_converts_exactly() {
        for (name, _, factor) in SPELLINGS {
            let u: MemoryUnit = name.parse().unwrap();
            assert_eq!(u.as_str(), *name);
            assert_eq!(Memory::new(3, u).bytes(), Some(3 * factor));
        }
        assert_eq!("kib".parse::<MemoryUnit>().unwrap(), MemoryUnit::KIB);
        assert_eq!(Memory::new(1, "EB".parse().unwrap()).kib(), Some(976_562_500_000_000));
        assert_eq!(Memory::new(1, MemoryUnit::BYTES).kib(), Some(1));
    }
}
