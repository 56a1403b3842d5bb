//! The less common devices: `<lease>`, `<redirdev>`, `<smartcard>`, `<hub>`, `<panic>`,
//! `<shmem>`, `<memory>` (DIMMs, NVDIMMs, virtio-mem, …), `<iommu>`, `<vsock>`, `<crypto>`.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{
    attr_part, attr_string, child_part, child_part_named, child_text, set_attr, set_child, set_child_named,
    set_child_text, ElementPath, XmlPart,
};
use crate::domain::devices::common::{Address, Alias, DeviceBoot};
use crate::domain::error::DomainError;
use crate::domain::memory::Memory;
use crate::xml::{Element, Node};

/// Alias and address, the device-info tail shared by the devices of this file.
fn set_info(el: &mut Element, alias: Option<&Alias>, address: Option<&Address>, order: &[&str]) {
    set_child(el, alias, order);
    set_child(el, address, order);
}

attr_part! {
    /// The on-disk lease location (`<target path='/var/lib/libvirt/lockd/…' offset='0'/>`).
    pub struct LeaseTarget = "target" {
        /// `path`.
        path: String = "path",
        /// `offset`.
        offset: String = "offset",
    }
}

/// A lock manager lease (`<lease><lockspace>…</lockspace><key>…</key><target …/></lease>`).
///
/// ```
/// use kvmhost_core::domain::{Lease, XmlPart};
/// let mut l = Lease::default();
/// l.key = Some("k".into());
/// assert_eq!(l.to_element().child("key").unwrap().text(), "k");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Lease {
    /// `<lockspace>`.
    pub lockspace: Option<String>,
    /// `<key>`.
    pub key: Option<String>,
    /// `<target>`.
    pub target: Option<LeaseTarget>,
}

impl XmlPart for Lease {
    const TAG: &'static str = "lease";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Lease { lockspace: child_text(el, "lockspace"), key: child_text(el, "key"), target: child_part(el, path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        const O: &[&str] = &["lockspace", "key", "target"];
        set_child_text(el, "lockspace", self.lockspace.as_deref(), O);
        set_child_text(el, "key", self.key.as_deref(), O);
        set_child(el, self.target.as_ref(), O);
    }
}

attr_part! {
    /// A character-device style source (`<source mode='connect' host='…' service='…'/>`), as
    /// used by `<redirdev>` and `<smartcard>`.
    pub struct CharSourceAttrs = "source" {
        /// `mode` (bind / connect).
        mode: String = "mode",
        /// `host`.
        host: String = "host",
        /// `service` (port).
        service: String = "service",
        /// `path` (unix socket, device).
        path: String = "path",
        /// `channel` (spiceport).
        channel: String = "channel",
    }
}

attr_part! {
    /// A wire protocol (`<protocol type='raw'/>`).
    pub struct DeviceProtocol = "protocol" {
        /// `type` (raw / telnet / …).
        protocol_type: String = "type",
    }
}

/// USB redirection (`<redirdev bus='usb' type='spicevmc'/>`).
///
/// ```
/// use kvmhost_core::domain::{Redirdev, XmlPart};
/// let r = Redirdev::spice_usb();
/// assert_eq!(r.to_element().attr("type"), Some("spicevmc"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Redirdev {
    /// `bus` (usb).
    pub bus: Option<String>,
    /// `type` (spicevmc / tcp / …).
    pub redir_type: Option<String>,
    /// `<source>`.
    pub source: Option<CharSourceAttrs>,
    /// `<protocol>`.
    pub protocol: Option<DeviceProtocol>,
    /// `<boot>`.
    pub boot: Option<DeviceBoot>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<address>`.
    pub address: Option<Address>,
}

impl Redirdev {
    /// Canonical child order.
    pub const ORDER: &'static [&'static str] = &["source", "protocol", "boot", "alias", "address"];

    /// A SPICE USB redirection channel.
    pub fn spice_usb() -> Redirdev {
        Redirdev { bus: Some("usb".into()), redir_type: Some("spicevmc".into()), ..Redirdev::default() }
    }
}

impl XmlPart for Redirdev {
    const TAG: &'static str = "redirdev";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Redirdev {
            bus: attr_string(el, "bus"),
            redir_type: attr_string(el, "type"),
            source: child_part(el, path)?,
            protocol: child_part(el, path)?,
            boot: child_part(el, path)?,
            alias: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "bus", self.bus.as_deref());
        set_attr(el, "type", self.redir_type.as_deref());
        let o = Redirdev::ORDER;
        set_child(el, self.source.as_ref(), o);
        set_child(el, self.protocol.as_ref(), o);
        set_child(el, self.boot.as_ref(), o);
        set_info(el, self.alias.as_ref(), self.address.as_ref(), o);
    }
}

/// A smartcard reader (`<smartcard mode='host'/>`, `host-certificates`, `passthrough`).
///
/// ```
/// use kvmhost_core::domain::{Smartcard, XmlPart};
/// let mut s = Smartcard::default();
/// s.mode = Some("host-certificates".into());
/// s.certificates = vec!["a".into(), "b".into()];
/// assert_eq!(s.to_element().children_named("certificate").count(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Smartcard {
    /// `mode`.
    pub mode: Option<String>,
    /// `type` (passthrough: tcp / spicevmc / …).
    pub card_type: Option<String>,
    /// `<certificate>`s (host-certificates).
    pub certificates: Vec<String>,
    /// `<database>` (host-certificates).
    pub database: Option<String>,
    /// `<source>` (passthrough).
    pub source: Option<CharSourceAttrs>,
    /// `<protocol>` (passthrough).
    pub protocol: Option<DeviceProtocol>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<address>`.
    pub address: Option<Address>,
}

impl Smartcard {
    /// Canonical child order.
    pub const ORDER: &'static [&'static str] = &["certificate", "database", "source", "protocol", "alias", "address"];
}

impl XmlPart for Smartcard {
    const TAG: &'static str = "smartcard";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Smartcard {
            mode: attr_string(el, "mode"),
            card_type: attr_string(el, "type"),
            certificates: el.children_named("certificate").map(Element::text).collect(),
            database: child_text(el, "database"),
            source: child_part(el, path)?,
            protocol: child_part(el, path)?,
            alias: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "mode", self.mode.as_deref());
        set_attr(el, "type", self.card_type.as_deref());
        let o = Smartcard::ORDER;
        let certs: Vec<TextPart> = self.certificates.iter().map(|c| TextPart(c.clone())).collect();
        crate::domain::codec::set_children_named(el, "certificate", &certs, o);
        set_child_text(el, "database", self.database.as_deref(), o);
        set_child(el, self.source.as_ref(), o);
        set_child(el, self.protocol.as_ref(), o);
        set_info(el, self.alias.as_ref(), self.address.as_ref(), o);
    }
}

/// A text-only element, for lists of text children.
struct TextPart(String);

impl XmlPart for TextPart {
    const TAG: &'static str = "text";
    fn decode(el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(TextPart(el.text()))
    }
    fn encode_into(&self, el: &mut Element) {
        if el.text() != self.0 {
            el.children.retain(|n| !matches!(n, Node::Text(_)));
            el.set_text(self.0.clone());
        }
    }
}

/// Declares a device with one attribute plus alias and address.
macro_rules! simple_device {
    ($(#[$m:meta])* $name:ident = $tag:literal, $field:ident = $attr:literal, $fdoc:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
        #[non_exhaustive]
        pub struct $name {
            #[doc = $fdoc]
            pub $field: Option<String>,
            /// `<alias>`.
            pub alias: Option<Alias>,
            /// `<address>`.
            pub address: Option<Address>,
        }
        impl XmlPart for $name {
            const TAG: &'static str = $tag;
            fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
                Ok($name {
                    $field: attr_string(el, $attr),
                    alias: child_part(el, path)?,
                    address: child_part(el, path)?,
                })
            }
            fn encode_into(&self, el: &mut Element) {
                set_attr(el, $attr, self.$field.as_deref());
                set_info(el, self.alias.as_ref(), self.address.as_ref(), &["alias", "address"]);
            }
        }
    };
}

simple_device! {
    /// A USB hub (`<hub type='usb'/>`).
    ///
    /// ```
    /// use kvmhost_core::domain::{Hub, XmlPart};
    /// let mut h = Hub::default();
    /// h.hub_type = Some("usb".into());
    /// assert_eq!(h.to_element().attr("type"), Some("usb"));
    /// ```
    Hub = "hub", hub_type = "type", "`type` (usb)."
}

simple_device! {
    /// A panic notifier (`<panic model='pvpanic'/>`).
    ///
    /// ```
    /// use kvmhost_core::domain::{Panic, XmlPart};
    /// let mut p = Panic::default();
    /// p.model = Some("isa".into());
    /// assert_eq!(p.to_element().attr("model"), Some("isa"));
    /// ```
    Panic = "panic", model = "model", "`model` (isa / pseries / hyperv / s390 / pvpanic)."
}

attr_part! {
    /// `<model type='ivshmem-plain'/>` of a shmem device.
    pub struct ShmemModel = "model" {
        /// `type` (ivshmem / ivshmem-plain / ivshmem-doorbell).
        model_type: String = "type",
    }
}

attr_part! {
    /// `<server path='/tmp/socket'/>` of an ivshmem-doorbell device.
    pub struct ShmemServer = "server" {
        /// `path`.
        path: String = "path",
    }
}

attr_part! {
    /// `<msi vectors='32' ioeventfd='on'/>` of an ivshmem-doorbell device.
    pub struct ShmemMsi = "msi" {
        /// `enabled`.
        enabled: String = "enabled",
        /// `vectors`.
        vectors: u32 = "vectors",
        /// `ioeventfd`.
        ioeventfd: String = "ioeventfd",
    }
}

/// Inter-VM shared memory (`<shmem name='my_shmem0'>`).
///
/// ```
/// use kvmhost_core::domain::{Memory, Shmem, XmlPart};
/// let mut s = Shmem::default();
/// s.name = Some("s0".into());
/// s.size = Some(Memory::mib(4));
/// assert_eq!(s.to_element().child("size").unwrap().text(), "4");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Shmem {
    /// `name`.
    pub name: Option<String>,
    /// `role` (master / peer).
    pub role: Option<String>,
    /// `<model>`.
    pub model: Option<ShmemModel>,
    /// `<size>`.
    pub size: Option<Memory>,
    /// `<server>`.
    pub server: Option<ShmemServer>,
    /// `<msi>`.
    pub msi: Option<ShmemMsi>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<address>`.
    pub address: Option<Address>,
}

impl Shmem {
    /// Canonical child order.
    pub const ORDER: &'static [&'static str] = &["model", "size", "server", "msi", "alias", "address"];
}

impl XmlPart for Shmem {
    const TAG: &'static str = "shmem";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Shmem {
            name: attr_string(el, "name"),
            role: attr_string(el, "role"),
            model: child_part(el, path)?,
            size: child_part_named(el, "size", path)?,
            server: child_part(el, path)?,
            msi: child_part(el, path)?,
            alias: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "name", self.name.as_deref());
        set_attr(el, "role", self.role.as_deref());
        let o = Shmem::ORDER;
        set_child(el, self.model.as_ref(), o);
        set_child_named(el, "size", self.size.as_ref(), o);
        set_child(el, self.server.as_ref(), o);
        set_child(el, self.msi.as_ref(), o);
        set_info(el, self.alias.as_ref(), self.address.as_ref(), o);
    }
}

mod memory_device;
pub use memory_device::*;

mod misc;
pub use misc::*;
