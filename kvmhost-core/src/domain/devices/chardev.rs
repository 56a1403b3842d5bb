//! Character devices: `<serial>`, `<console>`, `<parallel>` and `<channel>` share one model.

use serde::{Deserialize, Serialize};

use super::common::set_device_info;
use super::shared::SourceReconnect;
use crate::domain::codec::{
    attr_enum, attr_part, attr_string, child_part, children_parts, set_attr, set_child, set_child_with, set_children,
    ElementPath, XmlPart,
};
use crate::domain::codec::{OnOff, YesNo};
use crate::domain::devices::common::{AcpiIndex, Address, Alias};
use crate::domain::error::DomainError;
use crate::xml::Element;
use crate::xml_enum;

xml_enum! {
    /// The host side of a character device (`type=…`).
    pub enum CharDeviceType {
        Pty = "pty", File = "file", Unix = "unix", Tcp = "tcp", Udp = "udp", Dev = "dev", Pipe = "pipe",
        Stdio = "stdio", Null = "null", Vc = "vc", SpiceVmc = "spicevmc", SpicePort = "spiceport",
        Nmdm = "nmdm", QemuVdagent = "qemu-vdagent", Dbus = "dbus"
    }
}

/// A character device `<source>` (udp devices have two: `connect` and `bind`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CharSource {
    /// `mode` (bind / connect).
    pub mode: Option<String>,
    /// `path` (pty / file / unix / dev / pipe).
    pub path: Option<String>,
    /// `host` (tcp / udp).
    pub host: Option<String>,
    /// `service`: the port (tcp / udp).
    pub service: Option<String>,
    /// `channel` (spiceport; dbus).
    pub channel: Option<String>,
    /// `master` (nmdm).
    pub master: Option<String>,
    /// `slave` (nmdm).
    pub slave: Option<String>,
    /// `append` (on / off; file).
    pub append: Option<OnOff>,
    /// `tls` (yes / no; tcp).
    pub tls: Option<YesNo>,
    /// `<reconnect>`.
    pub reconnect: Option<SourceReconnect>,
}

impl XmlPart for CharSource {
    const TAG: &'static str = "source";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(CharSource {
            mode: attr_string(el, "mode"),
            path: attr_string(el, "path"),
            host: attr_string(el, "host"),
            service: attr_string(el, "service"),
            channel: attr_string(el, "channel"),
            master: attr_string(el, "master"),
            slave: attr_string(el, "slave"),
            append: attr_enum(el, "append"),
            tls: attr_enum(el, "tls"),
            reconnect: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "mode", self.mode.as_deref());
        set_attr(el, "path", self.path.as_deref());
        set_attr(el, "host", self.host.as_deref());
        set_attr(el, "service", self.service.as_deref());
        set_attr(el, "channel", self.channel.as_deref());
        set_attr(el, "master", self.master.as_deref());
        set_attr(el, "slave", self.slave.as_deref());
        set_attr(el, "append", self.append.as_ref());
        set_attr(el, "tls", self.tls.as_ref());
        set_child(el, self.reconnect.as_ref(), &["seclabel", "reconnect"]);
    }
}

attr_part! {
    /// `<log file='/var/log/…' append='on'/>`.
    pub struct CharLog = "log" {
        /// `file`.
        file: String = "file",
        /// `append` (on / off).
        append: OnOff = "append",
    }
}

/// The guest side (`<target type='virtio' name='org.qemu.guest_agent.0'/>`, `<target port='0'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CharTarget {
    /// `type` (serial: isa-serial / usb-serial / pci-serial / …; console: serial / virtio / …;
    /// channel: virtio / guestfwd / xen).
    pub target_type: Option<String>,
    /// `port`.
    pub port: Option<String>,
    /// `name` (virtio channel).
    pub name: Option<String>,
    /// `state` (connected / disconnected; virtio channel, written by libvirt).
    pub state: Option<String>,
    /// `address` (guestfwd channel).
    pub address: Option<String>,
    /// `<model name>` (serial).
    pub model: Option<String>,
}

impl XmlPart for CharTarget {
    const TAG: &'static str = "target";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(CharTarget {
            target_type: attr_string(el, "type"),
            port: attr_string(el, "port"),
            name: attr_string(el, "name"),
            state: attr_string(el, "state"),
            address: attr_string(el, "address"),
            model: crate::domain::codec::attr_of_child(el, "model", "name", path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.target_type.as_deref());
        set_attr(el, "port", self.port.as_deref());
        set_attr(el, "name", self.name.as_deref());
        set_attr(el, "state", self.state.as_deref());
        set_attr(el, "address", self.address.as_deref());
        let model = self.model.as_deref();
        set_child_with(el, "model", model.map(|m| move |e: &mut Element| set_attr(e, "name", Some(m))), &["model"]);
    }
}

/// A character device: serial port, console, parallel port or channel (the element name
/// is chosen by the list it is in, see [`Devices`](crate::domain::Devices)).
///
/// ```
/// use kvmhost_core::domain::{CharDevice, CharDeviceType, XmlPart};
/// let ga = CharDevice::unix_channel("/var/lib/libvirt/qemu/vm1.agent", "org.qemu.guest_agent.0");
/// assert_eq!(ga.char_type, Some(CharDeviceType::Unix));
/// let el = ga.to_element();
/// assert_eq!(el.child("target").unwrap().attr("type"), Some("virtio"));
/// assert_eq!(el.child("source").unwrap().attr("mode"), Some("bind"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CharDevice {
    /// `type`.
    pub char_type: Option<CharDeviceType>,
    /// `tty` (pty path, written by libvirt on running domains).
    pub tty: Option<String>,
    /// `<source>` list (two for udp).
    pub sources: Vec<CharSource>,
    /// `<protocol type>` (tcp: raw / telnet / telnets / tls).
    pub protocol: Option<String>,
    /// `<log>`.
    pub log: Option<CharLog>,
    /// `<target>`.
    pub target: Option<CharTarget>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<acpi>`.
    pub acpi: Option<AcpiIndex>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// libvirt's order of character device children.
const ORDER: &[&str] = &["source", "protocol", "log", "target", "alias", "acpi", "address"];

impl CharDevice {
    /// A pty-backed device with target port 0 (a serial port, or a console).
    pub fn pty() -> CharDevice {
        CharDevice {
            char_type: Some(CharDeviceType::Pty),
            target: Some(CharTarget { port: Some("0".into()), ..CharTarget::default() }),
            ..CharDevice::default()
        }
    }

    /// A pty console on the first serial port (`<console type='pty'><target type='serial' port='0'/>`).
    pub fn pty_console() -> CharDevice {
        CharDevice {
            char_type: Some(CharDeviceType::Pty),
            target: Some(CharTarget {
                target_type: Some("serial".into()),
                port: Some("0".into()),
                ..CharTarget::default()
            }),
            ..CharDevice::default()
        }
    }

    /// A virtio channel named `target_name` on a unix socket `path` created by libvirt, such
    /// as the QEMU guest agent channel `org.qemu.guest_agent.0`.
    pub fn unix_channel(path: impl Into<String>, target_name: impl Into<String>) -> CharDevice {
        CharDevice {
            char_type: Some(CharDeviceType::Unix),
            sources: vec![CharSource { mode: Some("bind".into()), path: Some(path.into()), ..CharSource::default() }],
            target: Some(CharTarget {
                target_type: Some("virtio".into()),
                name: Some(target_name.into()),
                ..CharTarget::default()
            }),
            ..CharDevice::default()
        }
    }
}

impl XmlPart for CharDevice {
    const TAG: &'static str = "serial";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(CharDevice {
            char_type: attr_enum(el, "type"),
            tty: attr_string(el, "tty"),
            sources: children_parts(el, path)?,
            protocol: crate::domain::codec::attr_of_child(el, "protocol", "type", path)?,
            log: child_part(el, path)?,
            target: child_part(el, path)?,
            alias: child_part(el, path)?,
            acpi: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.char_type.as_ref());
        set_attr(el, "tty", self.tty.as_deref());
        set_children(el, &self.sources, ORDER);
        let protocol = self.protocol.as_deref();
        set_child_with(el, "protocol", protocol.map(|p| move |e: &mut Element| set_attr(e, "type", Some(p))), ORDER);
        set_child(el, self.log.as_ref(), ORDER);
        set_child(el, self.target.as_ref(), ORDER);
        set_device_info(el, self.alias.as_ref(), self.acpi.as_ref(), self.address.as_ref(), ORDER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn udp_has_two_sources_and_round_trips() {
        let src = "<serial type='udp'><source mode='bind' host='0.0.0.0' service='2445'/>\
                   <source mode='connect' host='0.0.0.0' service='2445'/><target port='0'/></serial>";
        let d = Document::parse(src).unwrap();
        let c = CharDevice::decode(&d.root, &ElementPath::root("serial")).unwrap();
        assert_eq!(c.sources.len(), 2);
        assert_eq!(c.sources[1].mode.as_deref(), Some("connect"));
        let mut el = d.root.clone();
        c.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root));
    }

    #[test]
    fn tcp_with_protocol_reconnect_and_model() {
        let src = "<serial type='tcp'><source mode='connect' host='127.0.0.1' service='9999'>\
                   <reconnect enabled='yes' timeout='10'/></source><protocol type='telnet'/>\
                   <target type='isa-serial' port='0'><model name='isa-serial'/></target></serial>";
        let d = Document::parse(src).unwrap();
        let mut c = CharDevice::decode(&d.root, &ElementPath::root("serial")).unwrap();
        assert_eq!(c.protocol.as_deref(), Some("telnet"));
        assert_eq!(c.sources[0].reconnect.as_ref().unwrap().timeout, Some(10));
        assert_eq!(c.target.as_ref().unwrap().model.as_deref(), Some("isa-serial"));
        let mut el = d.root.clone();
        c.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root));
        c.protocol = Some("raw".into());
        c.encode_into(&mut el);
        assert_eq!(el.child("protocol").unwrap().attr("type"), Some("raw"));
    }
}
