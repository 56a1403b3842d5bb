//! The libvirt domain XML model: lossless, typed where orchestrators need it.
//!
//! A [`Domain`] owns the whole document as an order-preserving XML tree, so any real document
//! parses and writes back without losing an element, attribute, comment or namespaced
//! extension. Typed access is a view over that tree: getters decode a typed part
//! ([`Memory`], [`Os`], [`Cpu`], [`Disk`], [`Interface`], …) and setters merge it back,
//! changing only what the typed part covers. [`Domain::def`] decodes everything typed at once
//! into a [`DomainDef`]; [`Domain::untyped_paths`] lists what is only preserved.
//!
//! ```
//! use kvmhost_core::domain::{Domain, Memory};
//! let xml = "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
//!   <name>web1</name>
//!   <memory unit='GiB'>2</memory>
//!   <qemu:commandline><qemu:arg value='-no-hpet'/></qemu:commandline>
//! </domain>";
//! let mut d = Domain::parse(xml).unwrap();
//! assert_eq!(d.memory().unwrap().unwrap().kib(), Some(2 * 1024 * 1024));
//! d.set_memory(&Memory::mib(4096));
//! let out = d.to_xml().unwrap();
//! assert!(out.contains("<memory unit='MiB'>4096</memory>"));
//! assert!(out.contains("<qemu:arg value='-no-hpet'/>"));
//! ```

mod builder;
mod clock;
pub mod codec;
mod coverage;
mod cpu;
mod def;
mod devices;
mod error;
mod features;
mod memory;
mod os;
mod platform;
mod seclabel;
mod shared;
mod text;
mod tuning;
mod vcpu;

pub use builder::*;
pub use clock::*;
pub use codec::{ElementPath, OnOff, XmlPart, YesNo};
pub use coverage::Coverage;
pub use cpu::*;
pub use def::*;
pub use devices::*;
pub use error::DomainError;
pub use features::*;
pub use memory::*;
pub use os::*;
pub use platform::*;
pub use seclabel::*;
pub use text::{part_from_str, part_to_string};
pub use tuning::*;
pub use vcpu::*;

use serde::{Deserialize, Serialize};

use crate::xml::{Document, Element, XmlError};
use codec::{child_part, child_text, children_parts, set_attr, set_child, set_child_text, set_children};

/// A libvirt domain document: the lossless tree plus typed access.
///
/// Serialises (serde) as its XML text, so nothing is lost through JSON either.
///
/// ```
/// use kvmhost_core::domain::Domain;
/// let d = Domain::parse("<domain type='kvm'><name>a &amp; b</name></domain>").unwrap();
/// assert_eq!(d.name().as_deref(), Some("a & b"));
/// let json = serde_json::to_string(&d).unwrap();
/// let back: Domain = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, d);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    doc: Document,
}

impl Serialize for Domain {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let xml = self.to_xml().map_err(serde::ser::Error::custom)?;
        s.serialize_str(&xml)
    }
}

impl<'de> Deserialize<'de> for Domain {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let xml = String::deserialize(d)?;
        Domain::parse(&xml).map_err(serde::de::Error::custom)
    }
}

macro_rules! text_accessors {
    ($($(#[$doc:meta])* $get:ident, $set:ident, $tag:literal;)+) => {$(
        $(#[$doc])*
        pub fn $get(&self) -> Option<String> {
            child_text(self.root(), $tag)
        }
        #[doc = concat!("Sets or removes `<", $tag, ">`; text XML cannot carry is refused.")]
        pub fn $set(&mut self, value: Option<&str>) -> Result<(), DomainError> {
            if let Some(v) = value {
                check_text(v, concat!("/domain/", $tag))?;
            }
            set_child_text(self.root_mut(), $tag, value, DOMAIN_ORDER);
            Ok(())
        }
    )+};
}

macro_rules! part_accessors {
    ($($(#[$doc:meta])* $get:ident, $set:ident, $ty:ty;)+) => {$(
        $(#[$doc])*
        pub fn $get(&self) -> Result<Option<$ty>, DomainError> {
            child_part(self.root(), &ElementPath::root("domain"))
        }
        #[doc = concat!("Merges (or removes, with `None`) the `", stringify!($ty), "` part.")]
        pub fn $set(&mut self, value: Option<&$ty>) {
            set_child(self.root_mut(), value, DOMAIN_ORDER)
        }
    )+};
}

fn check_text(v: &str, path: &str) -> Result<(), DomainError> {
    crate::xml::check_xml_chars(v)
        .map_err(|c| DomainError::Xml(XmlError::InvalidCharacter { character: c, context: path.to_string() }))
}

impl Domain {
    /// Parses a domain document.
    ///
    /// ```
    /// use kvmhost_core::domain::{Domain, DomainError};
    /// assert!(matches!(Domain::parse("<network/>"), Err(DomainError::NotADomain { .. })));
    /// let e = Domain::parse("<domain>\n<name>x</nam></domain>").unwrap_err();
    /// assert!(e.to_string().contains("line 2"), "{e}");
    /// ```
    pub fn parse(xml: &str) -> Result<Domain, DomainError> {
        Domain::from_document(Document::parse(xml)?)
    }

    /// Parses a domain document within `limits` (see [`Document::parse_with`]).
    ///
    /// ```
    /// use kvmhost_core::{domain::Domain, xml::Limits};
    /// let deep = format!("<domain><metadata>{}{}</metadata></domain>", "<a>".repeat(300), "</a>".repeat(300));
    /// assert!(Domain::parse(&deep).is_err());
    /// assert!(Domain::parse_with(&deep, &Limits::default().with_max_depth(1000)).is_ok());
    /// ```
    pub fn parse_with(xml: &str, limits: &crate::xml::Limits) -> Result<Domain, DomainError> {
        Domain::from_document(Document::parse_with(xml, limits)?)
    }

    /// Wraps an already parsed document.
    ///
    /// ```
    /// use kvmhost_core::{domain::Domain, xml::{Document, Element}};
    /// assert!(Domain::from_document(Document::new(Element::new("domain"))).is_ok());
    /// ```
    pub fn from_document(doc: Document) -> Result<Domain, DomainError> {
        if doc.root.name != "domain" {
            return Err(DomainError::NotADomain { found: doc.root.name.to_string() });
        }
        Ok(Domain { doc })
    }

    /// Writes the document back as XML text, as it was parsed plus any typed edits.
    ///
    /// ```
    /// use kvmhost_core::domain::Domain;
    /// let src = "<domain type='kvm'><!-- keep --><name>a</name></domain>";
    /// assert_eq!(Domain::parse(src).unwrap().to_xml().unwrap(),
    ///            "<domain type='kvm'><!-- keep --><name>a</name></domain>");
    /// ```
    pub fn to_xml(&self) -> Result<String, DomainError> {
        Ok(self.doc.to_xml()?)
    }

    /// Writes the document indented for reading (see [`Document::to_xml_pretty`]).
    ///
    /// ```
    /// let d = kvmhost_core::domain::DomainBuilder::new("a").build().unwrap();
    /// assert!(d.to_xml_pretty().unwrap().starts_with("<domain type=\"kvm\">\n  <name>a</name>"));
    /// ```
    pub fn to_xml_pretty(&self) -> Result<String, DomainError> {
        Ok(self.doc.to_xml_pretty()?)
    }

    /// The underlying tree.
    pub fn document(&self) -> &Document {
        &self.doc
    }

    /// The underlying tree, for edits the typed model does not cover.
    pub fn document_mut(&mut self) -> &mut Document {
        &mut self.doc
    }

    /// The `<domain>` element.
    pub fn root(&self) -> &Element {
        &self.doc.root
    }

    /// The `<domain>` element, mutably.
    pub fn root_mut(&mut self) -> &mut Element {
        &mut self.doc.root
    }

    /// Every typed part at once.
    ///
    /// ```
    /// use kvmhost_core::domain::Domain;
    /// let d = Domain::parse("<domain><memory>1024</memory></domain>").unwrap();
    /// assert_eq!(d.def().unwrap().memory.unwrap().kib(), Some(1024));
    /// ```
    pub fn def(&self) -> Result<DomainDef, DomainError> {
        DomainDef::decode(self.root(), &ElementPath::root("domain"))
    }

    /// Merges every typed part of `def` into the document: what `def` types is set or removed,
    /// everything else stays. `d.apply(&d.def()?)` leaves the document unchanged.
    ///
    /// ```
    /// use kvmhost_core::domain::{Domain, LifecycleAction};
    /// let mut d = Domain::parse("<domain><name>a</name><x:y xmlns:x='urn:x'/></domain>").unwrap();
    /// let mut def = d.def().unwrap();
    /// def.on_crash = Some(LifecycleAction::Restart);
    /// d.apply(&def);
    /// assert!(d.to_xml().unwrap().contains("<name>a</name><on_crash>restart</on_crash><x:y xmlns:x='urn:x'/>"));
    /// ```
    pub fn apply(&mut self, def: &DomainDef) {
        def.encode_into(self.root_mut())
    }

    /// The hypervisor type (`<domain type=…>`).
    pub fn domain_type(&self) -> Option<DomainType> {
        self.root().attr("type").map(Into::into)
    }

    /// Sets the hypervisor type.
    pub fn set_domain_type(&mut self, t: DomainType) {
        set_attr(self.root_mut(), "type", Some(t));
    }

    text_accessors! {
        /// `<name>`.
        name, set_name, "name";
        /// `<uuid>`.
        uuid, set_uuid, "uuid";
        /// `<title>`.
        title, set_title, "title";
        /// `<description>`.
        description, set_description, "description";
    }

    part_accessors! {
        /// `<vcpu>`.
        vcpu, set_vcpu, Vcpu;
        /// `<os>`.
        os, set_os, Os;
        /// `<features>`.
        features, set_features, Features;
        /// `<cpu>`.
        cpu, set_cpu, Cpu;
        /// `<clock>`.
        clock, set_clock, Clock;
        /// `<devices>`.
        devices, set_devices, Devices;
    }

    /// Decodes every device of kind `T` (`d.device_list::<Disk>()`).
    ///
    /// ```
    /// use kvmhost_core::domain::{Domain, Disk};
    /// let d = Domain::parse("<domain><devices><disk/><disk/></devices></domain>").unwrap();
    /// assert_eq!(d.device_list::<Disk>().unwrap().len(), 2);
    /// ```
    pub fn device_list<T: XmlPart>(&self) -> Result<Vec<T>, DomainError> {
        let root = ElementPath::root("domain");
        match self.root().child("devices") {
            None => Ok(Vec::new()),
            Some(devices) => children_parts(devices, &root.child("devices")),
        }
    }

    /// Merges a list of devices of kind `T`: the i-th value updates the i-th existing device,
    /// extra existing ones are removed, new ones are added after their peers.
    pub fn set_device_list<T: XmlPart>(&mut self, values: &[T]) {
        match self.root_mut().child_mut("devices") {
            Some(devices) => set_children(devices, values, DEVICE_ORDER),
            None if values.is_empty() => {}
            None => {
                let mut devices = Element::new("devices");
                set_children(&mut devices, values, DEVICE_ORDER);
                codec::insert_child(self.root_mut(), devices, DOMAIN_ORDER);
            }
        }
    }

    /// Adds one device after the existing devices of its kind.
    ///
    /// ```
    /// use kvmhost_core::domain::{Domain, Alias, XmlPart};
    /// let mut d = Domain::parse("<domain><name>a</name></domain>").unwrap();
    /// d.add_device(&kvmhost_core::domain::Rng::default());
    /// assert!(d.root().child("devices").unwrap().child("rng").is_some());
    /// ```
    pub fn add_device<T: XmlPart>(&mut self, device: &T) {
        self.add_device_named(T::TAG, device)
    }

    /// Adds one device written under element name `name` (for [`CharDevice`]s, which are
    /// written as `serial`, `console`, `channel` or `parallel`).
    ///
    /// ```
    /// use kvmhost_core::domain::{Domain, CharDevice};
    /// let mut d = Domain::parse("<domain/>").unwrap();
    /// d.add_device_named("console", &CharDevice::default());
    /// assert_eq!(d.devices().unwrap().unwrap().consoles.len(), 1);
    /// ```
    pub fn add_device_named<T: XmlPart>(&mut self, name: &str, device: &T) {
        let mut el = Element::new(name);
        device.encode_into(&mut el);
        match self.root_mut().child_mut("devices") {
            Some(devices) => codec::insert_child(devices, el, DEVICE_ORDER),
            // A new <devices> is inserted with the device inside, so both are laid out at once.
            None => {
                let mut devices = Element::new("devices");
                devices.push_element(el);
                codec::insert_child(self.root_mut(), devices, DOMAIN_ORDER);
            }
        }
    }

    /// The child of `<metadata>` in XML namespace `uri` (as libvirt's `virDomainGetMetadata`).
    ///
    /// ```
    /// use kvmhost_core::domain::Domain;
    /// let d = Domain::parse("<domain><metadata><app:x xmlns:app='urn:app'>1</app:x></metadata></domain>").unwrap();
    /// assert_eq!(d.metadata_entry("urn:app").unwrap().text(), "1");
    /// ```
    pub fn metadata_entry(&self, uri: &str) -> Option<&Element> {
        self.root().child("metadata")?.elements().find(|e| namespace_uri(e) == Some(uri))
    }

    /// Sets (or with `None` removes) the `<metadata>` child in namespace `uri`. `element` must
    /// declare that namespace (`xmlns:prefix='uri'`), as libvirt requires.
    pub fn set_metadata_entry(&mut self, uri: &str, element: Option<Element>) -> Result<(), DomainError> {
        if let Some(e) = &element {
            if namespace_uri(e) != Some(uri) {
                return Err(DomainError::Invalid {
                    path: "/domain/metadata".into(),
                    reason: format!("element <{}> does not declare namespace {uri}", e.name),
                });
            }
        }
        let Some(md) = self.root_mut().child_mut("metadata") else {
            // A new <metadata> is inserted with its entry inside, so both are laid out at once.
            if let Some(e) = element {
                let mut md = Element::new("metadata");
                md.push_element(e);
                codec::insert_child(self.root_mut(), md, DOMAIN_ORDER);
            }
            return Ok(());
        };
        let pos =
            md.children.iter().position(|n| matches!(n, crate::xml::Node::Element(e) if namespace_uri(e) == Some(uri)));
        match (pos, element) {
            (Some(i), Some(e)) => md.children[i] = crate::xml::Node::Element(e),
            (Some(i), None) => codec::remove_node_at(md, i),
            (None, Some(e)) => codec::insert_child(md, e, &[]),
            (None, None) => {}
        }
        Ok(())
    }

    /// How much of the document the typed model covers (see [`Coverage`]).
    pub fn coverage(&self) -> Coverage {
        coverage::measure(self)
    }

    /// Paths of the elements that are preserved but not typed (`/domain/devices/foo`).
    ///
    /// ```
    /// use kvmhost_core::domain::Domain;
    /// let d = Domain::parse("<domain><name>a</name><x:y xmlns:x='urn:x'/></domain>").unwrap();
    /// assert_eq!(d.untyped_paths(), vec!["/domain/x:y".to_string()]);
    /// ```
    pub fn untyped_paths(&self) -> Vec<String> {
        self.coverage().untyped
    }
}

/// The namespace URI an element declares for its own prefix.
fn namespace_uri(e: &Element) -> Option<&str> {
    let prefix = e.name.split_once(':').map(|(p, _)| p);
    let attr = match prefix {
        Some(p) => format!("xmlns:{p}"),
        None => "xmlns".to_string(),
    };
    e.attr(&attr)
}
