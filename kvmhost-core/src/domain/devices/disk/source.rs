//! `<source>` of a disk (and of backing stores / mirrors), with the parts it holds: network
//! `<host>`s, `<auth>`, `<encryption>`, `<reservations>`, `<slices>`, `<cookies>`, …

use serde::{Deserialize, Serialize};

use crate::domain::codec::{
    attr_part, attr_string, child_part, children_parts, set_attr, set_child, set_children, ElementPath, XmlPart,
};
use crate::domain::devices::common::Address;
use crate::domain::error::DomainError;
use crate::domain::seclabel::SecLabel;
use crate::xml::Element;

attr_part! {
    /// A network disk's server (`<host name='example.org' port='6000' transport='tcp'/>`).
    pub struct DiskHost = "host" {
        /// `name` (host name or address).
        name: String = "name",
        /// `port`.
        port: String = "port",
        /// `transport` (tcp / unix / rdma).
        transport: String = "transport",
        /// `socket` (unix transport).
        socket: String = "socket",
    }
}

impl DiskHost {
    /// A TCP host `name` with an optional port.
    pub fn new(name: impl Into<String>, port: Option<u16>) -> DiskHost {
        DiskHost { name: Some(name.into()), port: port.map(|p| p.to_string()), ..DiskHost::default() }
    }
}

attr_part! {
    /// A secret reference (`<secret type='ceph' usage='…' uuid='…'/>`) inside `<auth>` or
    /// `<encryption>`.
    pub struct DiskSecret = "secret" {
        /// `type` (ceph / iscsi / passphrase / volume …).
        secret_type: String = "type",
        /// `usage`.
        usage: String = "usage",
        /// `uuid`.
        uuid: String = "uuid",
    }
}

/// Authentication for a network source (`<auth username='…'><secret …/></auth>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskAuth {
    /// `username`.
    pub username: Option<String>,
    /// `<secret>`.
    pub secret: Option<DiskSecret>,
}

impl XmlPart for DiskAuth {
    const TAG: &'static str = "auth";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(DiskAuth { username: attr_string(el, "username"), secret: child_part(el, path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "username", self.username.as_deref());
        set_child(el, self.secret.as_ref(), &["secret"]);
    }
}

/// Volume encryption (`<encryption format='luks'><secret type='passphrase' uuid='…'/></encryption>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskEncryption {
    /// `format` (luks / luks2 / qcow / default).
    pub format: Option<String>,
    /// `engine` (qemu / librbd).
    pub engine: Option<String>,
    /// `<secret>`s.
    pub secrets: Vec<DiskSecret>,
}

impl XmlPart for DiskEncryption {
    const TAG: &'static str = "encryption";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(DiskEncryption {
            format: attr_string(el, "format"),
            engine: attr_string(el, "engine"),
            secrets: children_parts(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "format", self.format.as_deref());
        set_attr(el, "engine", self.engine.as_deref());
        set_children(el, &self.secrets, &["secret", "cipher", "ivgen"]);
    }
}

attr_part! {
    /// The helper socket of persistent reservations (`<source type='unix' path='…' mode='client'/>`).
    pub struct ReservationsSource = "source" {
        /// `type` (unix).
        source_type: String = "type",
        /// `path`.
        path: String = "path",
        /// `mode` (client / server).
        mode: String = "mode",
    }
}

/// SCSI persistent reservations (`<reservations managed='yes'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskReservations {
    /// `enabled` (yes / no).
    pub enabled: Option<String>,
    /// `managed` (yes / no).
    pub managed: Option<String>,
    /// `<source>` of the helper.
    pub source: Option<ReservationsSource>,
}

impl XmlPart for DiskReservations {
    const TAG: &'static str = "reservations";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(DiskReservations {
            enabled: attr_string(el, "enabled"),
            managed: attr_string(el, "managed"),
            source: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "enabled", self.enabled.as_deref());
        set_attr(el, "managed", self.managed.as_deref());
        set_child(el, self.source.as_ref(), &["source"]);
    }
}

attr_part! {
    /// One slice of a source (`<slice type='storage' offset='…' size='…'/>`).
    pub struct DiskSlice = "slice" {
        /// `type` (storage).
        slice_type: String = "type",
        /// `offset` in bytes.
        offset: u64 = "offset",
        /// `size` in bytes.
        size: u64 = "size",
    }
}

/// `<slices>`: the slices of a source.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskSlices {
    /// `<slice>`s.
    pub slices: Vec<DiskSlice>,
}

impl XmlPart for DiskSlices {
    const TAG: &'static str = "slices";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(DiskSlices { slices: children_parts(el, path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_children(el, &self.slices, &["slice"]);
    }
}

/// One HTTP cookie (`<cookie name='x'>value</cookie>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskCookie {
    /// `name`.
    pub name: Option<String>,
    /// The value (text).
    pub value: String,
}

impl XmlPart for DiskCookie {
    const TAG: &'static str = "cookie";
    fn decode(el: &Element, _path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(DiskCookie { name: attr_string(el, "name"), value: el.text() })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "name", self.name.as_deref());
        if el.text() != self.value {
            el.set_text(self.value.clone());
        }
    }
}

/// `<cookies>` sent with HTTP(S) sources.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskCookies {
    /// `<cookie>`s.
    pub cookies: Vec<DiskCookie>,
}

impl XmlPart for DiskCookies {
    const TAG: &'static str = "cookies";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(DiskCookies { cookies: children_parts(el, path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_children(el, &self.cookies, &["cookie"]);
    }
}

attr_part! {
    /// `<readahead size='…'/>` for curl sources.
    pub struct DiskReadahead = "readahead" {
        /// `size` in bytes.
        size: String = "size",
    }
}

attr_part! {
    /// `<timeout seconds='…'/>` for curl sources.
    pub struct DiskTimeout = "timeout" {
        /// `seconds`.
        seconds: String = "seconds",
    }
}

attr_part! {
    /// `<ssl verify='yes|no'/>` for HTTPS / FTPS sources.
    pub struct DiskSsl = "ssl" {
        /// `verify`.
        verify: String = "verify",
    }
}

attr_part! {
    /// `<config file='/etc/ceph/ceph.conf'/>` for RBD sources.
    pub struct DiskConfig = "config" {
        /// `file`.
        file: String = "file",
    }
}

attr_part! {
    /// `<snapshot name='…'/>` for RBD sources.
    pub struct DiskSourceSnapshot = "snapshot" {
        /// `name`.
        name: String = "name",
    }
}

attr_part! {
    /// `<reconnect delay='…'/>` for NBD / vhost-user sources.
    pub struct DiskReconnect = "reconnect" {
        /// `delay` in seconds.
        delay: String = "delay",
    }
}

/// `<initiator><iqn name='…'/></initiator>` for iSCSI sources.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskInitiator {
    /// `<iqn name>`.
    pub iqn: Option<String>,
}

impl XmlPart for DiskInitiator {
    const TAG: &'static str = "initiator";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let iqn = path.child("iqn");
        Ok(DiskInitiator {
            iqn: el.child("iqn").map(|c| crate::domain::codec::required_attr(c, "name", &iqn)).transpose()?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        crate::domain::codec::set_child_with(
            el,
            "iqn",
            self.iqn.as_ref().map(|n| move |e: &mut Element| set_attr(e, "name", Some(n))),
            &["iqn"],
        );
    }
}

/// A disk's `<source>`: where the data is (file, block device, directory, network volume,
/// storage pool volume, NVMe namespace or vhost-user socket).
///
/// ```
/// use kvmhost_core::domain::{DiskSource, XmlPart};
/// let s = DiskSource::file("/var/lib/libvirt/images/a.qcow2");
/// assert_eq!(s.to_element().attr("file"), Some("/var/lib/libvirt/images/a.qcow2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskSource {
    /// `file` (type file).
    pub file: Option<String>,
    /// `dev` (type block).
    pub dev: Option<String>,
    /// `dir` (type dir).
    pub dir: Option<String>,
    /// `protocol` (type network: nbd, rbd, iscsi, gluster, http, …).
    pub protocol: Option<String>,
    /// `name` (type network: image / volume name).
    pub name: Option<String>,
    /// `query` (http).
    pub query: Option<String>,
    /// `tls` (nbd / vxhs / http).
    pub tls: Option<String>,
    /// `tlsHostname`.
    pub tls_hostname: Option<String>,
    /// `pool` (type volume).
    pub pool: Option<String>,
    /// `volume` (type volume).
    pub volume: Option<String>,
    /// `mode` (type volume: host / direct; vhost-user: client / server).
    pub mode: Option<String>,
    /// `type` (nvme: pci; vhostuser: unix).
    pub source_type: Option<String>,
    /// `path` (vhostuser socket).
    pub path: Option<String>,
    /// `managed` (nvme).
    pub managed: Option<String>,
    /// `namespace` (nvme).
    pub namespace: Option<String>,
    /// `index` (backing chain index).
    pub index: Option<String>,
    /// `startupPolicy` (mandatory / requisite / optional).
    pub startup_policy: Option<String>,
    /// `<host>`s (network).
    pub hosts: Vec<DiskHost>,
    /// `<snapshot name>` (rbd).
    pub snapshot: Option<DiskSourceSnapshot>,
    /// `<config file>` (rbd).
    pub config: Option<DiskConfig>,
    /// `<initiator>` (iscsi).
    pub initiator: Option<DiskInitiator>,
    /// `<ssl verify>`.
    pub ssl: Option<DiskSsl>,
    /// `<cookies>`.
    pub cookies: Option<DiskCookies>,
    /// `<readahead size>`.
    pub readahead: Option<DiskReadahead>,
    /// `<timeout seconds>`.
    pub timeout: Option<DiskTimeout>,
    /// `<reconnect delay>`.
    pub reconnect: Option<DiskReconnect>,
    /// `<address>` (nvme PCI address).
    pub address: Option<Address>,
    /// `<slices>`.
    pub slices: Option<DiskSlices>,
    /// `<seclabel>`s.
    pub seclabels: Vec<SecLabel>,
    /// `<auth>`.
    pub auth: Option<DiskAuth>,
    /// `<encryption>`.
    pub encryption: Option<DiskEncryption>,
    /// `<reservations>`.
    pub reservations: Option<DiskReservations>,
}

const SOURCE_ATTRS: &[&str] = &[
    "file",
    "dev",
    "dir",
    "protocol",
    "name",
    "query",
    "tls",
    "tlsHostname",
    "pool",
    "volume",
    "mode",
    "type",
    "path",
    "managed",
    "namespace",
    "index",
    "startupPolicy",
];

impl DiskSource {
    /// Canonical child order (libvirt's formatter).
    pub const ORDER: &'static [&'static str] = &[
        "host",
        "snapshot",
        "config",
        "initiator",
        "ssl",
        "cookies",
        "readahead",
        "timeout",
        "reconnect",
        "address",
        "slices",
        "seclabel",
        "auth",
        "encryption",
        "reservations",
        "privateData",
        "dataStore",
    ];

    /// A file source.
    pub fn file(path: impl Into<String>) -> DiskSource {
        DiskSource { file: Some(path.into()), ..DiskSource::default() }
    }

    /// A block device source.
    pub fn block(dev: impl Into<String>) -> DiskSource {
        DiskSource { dev: Some(dev.into()), ..DiskSource::default() }
    }

    /// A network source.
    pub fn network(protocol: impl Into<String>, name: impl Into<String>, hosts: Vec<DiskHost>) -> DiskSource {
        DiskSource { protocol: Some(protocol.into()), name: Some(name.into()), hosts, ..DiskSource::default() }
    }

    fn attrs(&self) -> [&Option<String>; 17] {
        [
            &self.file,
            &self.dev,
            &self.dir,
            &self.protocol,
            &self.name,
            &self.query,
            &self.tls,
            &self.tls_hostname,
            &self.pool,
            &self.volume,
            &self.mode,
            &self.source_type,
            &self.path,
            &self.managed,
            &self.namespace,
            &self.index,
            &self.startup_policy,
        ]
    }

    fn attrs_mut(&mut self) -> [&mut Option<String>; 17] {
        [
            &mut self.file,
            &mut self.dev,
            &mut self.dir,
            &mut self.protocol,
            &mut self.name,
            &mut self.query,
            &mut self.tls,
            &mut self.tls_hostname,
            &mut self.pool,
            &mut self.volume,
            &mut self.mode,
            &mut self.source_type,
            &mut self.path,
            &mut self.managed,
            &mut self.namespace,
            &mut self.index,
            &mut self.startup_policy,
        ]
    }
}

impl XmlPart for DiskSource {
    const TAG: &'static str = "source";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let mut s = DiskSource {
            hosts: children_parts(el, path)?,
            snapshot: child_part(el, path)?,
            config: child_part(el, path)?,
            initiator: child_part(el, path)?,
            ssl: child_part(el, path)?,
            cookies: child_part(el, path)?,
            readahead: child_part(el, path)?,
            timeout: child_part(el, path)?,
            reconnect: child_part(el, path)?,
            address: child_part(el, path)?,
            slices: child_part(el, path)?,
            seclabels: children_parts(el, path)?,
            auth: child_part(el, path)?,
            encryption: child_part(el, path)?,
            reservations: child_part(el, path)?,
            ..DiskSource::default()
        };
        for (name, field) in SOURCE_ATTRS.iter().zip(s.attrs_mut()) {
            *field = attr_string(el, name);
        }
        Ok(s)
    }
    fn encode_into(&self, el: &mut Element) {
        for (name, field) in SOURCE_ATTRS.iter().zip(self.attrs()) {
            set_attr(el, name, field.as_deref());
        }
        let o = DiskSource::ORDER;
        set_children(el, &self.hosts, o);
        set_child(el, self.snapshot.as_ref(), o);
        set_child(el, self.config.as_ref(), o);
        set_child(el, self.initiator.as_ref(), o);
        set_child(el, self.ssl.as_ref(), o);
        set_child(el, self.cookies.as_ref(), o);
        set_child(el, self.readahead.as_ref(), o);
        set_child(el, self.timeout.as_ref(), o);
        set_child(el, self.reconnect.as_ref(), o);
        set_child(el, self.address.as_ref(), o);
        set_child(el, self.slices.as_ref(), o);
        set_children(el, &self.seclabels, o);
        set_child(el, self.auth.as_ref(), o);
        set_child(el, self.encryption.as_ref(), o);
        set_child(el, self.reservations.as_ref(), o);
    }
}
