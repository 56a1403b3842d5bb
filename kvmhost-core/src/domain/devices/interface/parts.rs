//! The sub-elements of `<interface>`.

use serde::{Deserialize, Serialize};

use crate::domain::codec::{
    attr_part, attr_string, child_part, children_parts, set_attr, set_child, set_children, ElementPath, XmlPart,
};
use crate::domain::codec::{OnOff, YesNo};
use crate::domain::devices::common::Address;
use crate::domain::devices::shared::SourceReconnect;
use crate::domain::error::DomainError;
use crate::xml::Element;

attr_part! {
    /// `<mac address='52:54:00:..' type='static' check='yes'/>`.
    pub struct InterfaceMac = "mac" {
        /// `address`.
        address: String = "address",
        /// `type` (generated / static).
        mac_type: String = "type",
        /// `check` (yes / no).
        check: YesNo = "check",
    }
}

attr_part! {
    /// `<source>`'s `<local address port/>` (udp type).
    pub struct InterfaceSourceLocal = "local" {
        /// `address`.
        address: String = "address",
        /// `port`.
        port: String = "port",
    }
}

/// `<source>` of an interface; which attributes apply depends on the interface type.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InterfaceSource {
    /// `bridge` (bridge type).
    pub bridge: Option<String>,
    /// `network` (network type).
    pub network: Option<String>,
    /// `portgroup` (network type).
    pub portgroup: Option<String>,
    /// `portid` (network type; vds type).
    pub portid: Option<String>,
    /// `dev` (direct, ethernet).
    pub dev: Option<String>,
    /// `mode` (direct: vepa / bridge / private / passthrough; vhostuser / server / client).
    pub mode: Option<String>,
    /// `type` (vhostuser: unix).
    pub source_type: Option<String>,
    /// `path` (vhostuser, vdpa).
    pub path: Option<String>,
    /// `address` (server / client / mcast / udp).
    pub address: Option<String>,
    /// `port` (server / client / mcast / udp).
    pub port: Option<String>,
    /// `switchid` (vds).
    pub switchid: Option<String>,
    /// `portgroupid` (vds).
    pub portgroupid: Option<String>,
    /// `connectionid` (vds).
    pub connectionid: Option<String>,
    /// `<local>` (udp).
    pub local: Option<InterfaceSourceLocal>,
    /// `<address>` of the host device (hostdev type).
    pub host_address: Option<Address>,
    /// `<reconnect>` (vhostuser client).
    pub reconnect: Option<SourceReconnect>,
}

const SOURCE_ATTRS: &[&str] = &[
    "bridge",
    "network",
    "portgroup",
    "portid",
    "dev",
    "mode",
    "type",
    "path",
    "address",
    "port",
    "switchid",
    "portgroupid",
    "connectionid",
];

const SOURCE_ORDER: &[&str] = &["address", "local", "reconnect"];

impl InterfaceSource {
    fn fields_mut(&mut self) -> [&mut Option<String>; 13] {
        [
            &mut self.bridge,
            &mut self.network,
            &mut self.portgroup,
            &mut self.portid,
            &mut self.dev,
            &mut self.mode,
            &mut self.source_type,
            &mut self.path,
            &mut self.address,
            &mut self.port,
            &mut self.switchid,
            &mut self.portgroupid,
            &mut self.connectionid,
        ]
    }

    fn fields(&self) -> [&Option<String>; 13] {
        [
            &self.bridge,
            &self.network,
            &self.portgroup,
            &self.portid,
            &self.dev,
            &self.mode,
            &self.source_type,
            &self.path,
            &self.address,
            &self.port,
            &self.switchid,
            &self.portgroupid,
            &self.connectionid,
        ]
    }
}

impl XmlPart for InterfaceSource {
    const TAG: &'static str = "source";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let mut s = InterfaceSource {
            local: child_part(el, path)?,
            host_address: child_part(el, path)?,
            reconnect: child_part(el, path)?,
            ..InterfaceSource::default()
        };
        for (name, field) in SOURCE_ATTRS.iter().zip(s.fields_mut()) {
            *field = attr_string(el, name);
        }
        Ok(s)
    }
    fn encode_into(&self, el: &mut Element) {
        for (name, field) in SOURCE_ATTRS.iter().zip(self.fields()) {
            set_attr(el, name, field.as_deref());
        }
        set_child(el, self.host_address.as_ref(), SOURCE_ORDER);
        set_child(el, self.local.as_ref(), SOURCE_ORDER);
        set_child(el, self.reconnect.as_ref(), SOURCE_ORDER);
    }
}

attr_part! {
    /// `<target dev='vnet0' managed='no'/>`: the host-side tap device.
    pub struct InterfaceTarget = "target" {
        /// `dev`.
        dev: String = "dev",
        /// `managed` (yes / no).
        managed: YesNo = "managed",
    }
}

attr_part! {
    /// `<guest dev actual/>`: the guest-side device name (containers).
    pub struct InterfaceGuest = "guest" {
        /// `dev`.
        dev: String = "dev",
        /// `actual`.
        actual: String = "actual",
    }
}

attr_part! {
    /// `<model type='virtio'/>`.
    pub struct InterfaceModel = "model" {
        /// `type` (virtio, e1000, rtl8139, …).
        model_type: String = "type",
    }
}

attr_part! {
    /// `<driver>`'s `<host>` offload switches.
    pub struct InterfaceDriverHost = "host" {
        /// `csum`.
        csum: OnOff = "csum",
        /// `gso`.
        gso: OnOff = "gso",
        /// `tso4`.
        tso4: OnOff = "tso4",
        /// `tso6`.
        tso6: OnOff = "tso6",
        /// `ecn`.
        ecn: OnOff = "ecn",
        /// `ufo`.
        ufo: OnOff = "ufo",
        /// `mrg_rxbuf`.
        mrg_rxbuf: OnOff = "mrg_rxbuf",
    }
}

attr_part! {
    /// `<driver>`'s `<guest>` offload switches.
    pub struct InterfaceDriverGuest = "guest" {
        /// `csum`.
        csum: OnOff = "csum",
        /// `tso4`.
        tso4: OnOff = "tso4",
        /// `tso6`.
        tso6: OnOff = "tso6",
        /// `ecn`.
        ecn: OnOff = "ecn",
        /// `ufo`.
        ufo: OnOff = "ufo",
    }
}

/// `<driver name='vhost' queues='4' .../>` of an interface, with `<host>` / `<guest>` offloads.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InterfaceDriver {
    /// `name` (qemu / vhost / kvm / vfio / xen).
    pub name: Option<String>,
    /// `txmode` (iothread / timer).
    pub txmode: Option<String>,
    /// `ioeventfd` (on / off).
    pub ioeventfd: Option<OnOff>,
    /// `event_idx` (on / off).
    pub event_idx: Option<OnOff>,
    /// `queues`.
    pub queues: Option<u32>,
    /// `rx_queue_size`.
    pub rx_queue_size: Option<u32>,
    /// `tx_queue_size`.
    pub tx_queue_size: Option<u32>,
    /// `rss` (on / off).
    pub rss: Option<OnOff>,
    /// `rss_hash_report` (on / off).
    pub rss_hash_report: Option<OnOff>,
    /// `iommu` (on / off).
    pub iommu: Option<OnOff>,
    /// `ats` (on / off).
    pub ats: Option<OnOff>,
    /// `packed` (on / off).
    pub packed: Option<OnOff>,
    /// `page_per_vq` (on / off).
    pub page_per_vq: Option<OnOff>,
    /// `<host>`.
    pub host: Option<InterfaceDriverHost>,
    /// `<guest>`.
    pub guest: Option<InterfaceDriverGuest>,
}

const DRIVER_ORDER: &[&str] = &["host", "guest"];

impl XmlPart for InterfaceDriver {
    const TAG: &'static str = "driver";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        use crate::domain::codec::{attr_enum as e, attr_parse as n};
        Ok(InterfaceDriver {
            name: attr_string(el, "name"),
            txmode: attr_string(el, "txmode"),
            ioeventfd: e(el, "ioeventfd"),
            event_idx: e(el, "event_idx"),
            queues: n(el, "queues", path)?,
            rx_queue_size: n(el, "rx_queue_size", path)?,
            tx_queue_size: n(el, "tx_queue_size", path)?,
            rss: e(el, "rss"),
            rss_hash_report: e(el, "rss_hash_report"),
            iommu: e(el, "iommu"),
            ats: e(el, "ats"),
            packed: e(el, "packed"),
            page_per_vq: e(el, "page_per_vq"),
            host: child_part(el, path)?,
            guest: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "name", self.name.as_deref());
        set_attr(el, "txmode", self.txmode.as_deref());
        set_attr(el, "ioeventfd", self.ioeventfd.as_ref());
        set_attr(el, "event_idx", self.event_idx.as_ref());
        set_attr(el, "queues", self.queues);
        set_attr(el, "rx_queue_size", self.rx_queue_size);
        set_attr(el, "tx_queue_size", self.tx_queue_size);
        set_attr(el, "rss", self.rss.as_ref());
        set_attr(el, "rss_hash_report", self.rss_hash_report.as_ref());
        set_attr(el, "iommu", self.iommu.as_ref());
        set_attr(el, "ats", self.ats.as_ref());
        set_attr(el, "packed", self.packed.as_ref());
        set_attr(el, "page_per_vq", self.page_per_vq.as_ref());
        set_child(el, self.host.as_ref(), DRIVER_ORDER);
        set_child(el, self.guest.as_ref(), DRIVER_ORDER);
    }
}

attr_part! {
    /// A `<filterref>` `<parameter name='IP' value='10.0.0.1'/>`.
    pub struct FilterParameter = "parameter" {
        /// `name`.
        name: String = "name",
        /// `value`.
        value: String = "value",
    }
}

/// `<filterref filter='clean-traffic'>` with its parameters (libvirt nwfilter).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FilterRef {
    /// `filter`.
    pub filter: Option<String>,
    /// `<parameter>` list.
    pub parameters: Vec<FilterParameter>,
}

impl XmlPart for FilterRef {
    const TAG: &'static str = "filterref";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(FilterRef { filter: attr_string(el, "filter"), parameters: children_parts(el, path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "filter", self.filter.as_deref());
        set_children(el, &self.parameters, &["parameter"]);
    }
}

attr_part! {
    /// `<ip address='192.168.0.2' prefix='24' family='ipv4' peer='…'/>`.
    pub struct InterfaceIp = "ip" {
        /// `address`.
        address: String = "address",
        /// `prefix`.
        prefix: u32 = "prefix",
        /// `family` (ipv4 / ipv6).
        family: String = "family",
        /// `peer`.
        peer: String = "peer",
    }
}

attr_part! {
    /// `<route family address netmask prefix gateway metric/>`.
    pub struct InterfaceRoute = "route" {
        /// `family`.
        family: String = "family",
        /// `address`.
        address: String = "address",
        /// `netmask`.
        netmask: String = "netmask",
        /// `prefix`.
        prefix: u32 = "prefix",
        /// `gateway`.
        gateway: String = "gateway",
        /// `metric`.
        metric: u32 = "metric",
    }
}

attr_part! {
    /// `<backend tap='/dev/net/tun' vhost='/dev/vhost-net'/>`.
    pub struct InterfaceBackend = "backend" {
        /// `type` (default / passt).
        backend_type: String = "type",
        /// `tap`.
        tap: String = "tap",
        /// `vhost`.
        vhost: String = "vhost",
        /// `logFile`.
        log_file: String = "logFile",
    }
}

attr_part! {
    /// `<link state='up'/>`.
    pub struct InterfaceLink = "link" {
        /// `state` (up / down).
        state: String = "state",
    }
}

attr_part! {
    /// `<mtu size='9000'/>`.
    pub struct InterfaceMtu = "mtu" {
        /// `size`.
        size: u32 = "size",
    }
}

attr_part! {
    /// `<rom bar='on' file='…' enabled='yes'/>`: the option ROM of a PCI device.
    pub struct InterfaceRom = "rom" {
        /// `bar` (on / off).
        bar: OnOff = "bar",
        /// `file`.
        file: String = "file",
        /// `enabled` (yes / no).
        enabled: YesNo = "enabled",
    }
}

attr_part! {
    /// `<teaming type='persistent'/>` or `<teaming type='transient' persistent='ua-net0'/>`.
    pub struct InterfaceTeaming = "teaming" {
        /// `type` (persistent / transient).
        teaming_type: String = "type",
        /// `persistent`: alias of the persistent peer.
        persistent: String = "persistent",
    }
}

attr_part! {
    /// `<port isolated='yes'/>`.
    pub struct InterfacePort = "port" {
        /// `isolated` (yes / no).
        isolated: YesNo = "isolated",
    }
}

attr_part! {
    /// A `<portForward>` `<range start end to exclude/>`.
    pub struct PortForwardRange = "range" {
        /// `start`.
        start: u16 = "start",
        /// `end`.
        end: u16 = "end",
        /// `to`.
        to: u16 = "to",
        /// `exclude` (yes / no).
        exclude: YesNo = "exclude",
    }
}

/// `<portForward proto='tcp' address dev>` with `<range>` list (passt backend).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PortForward {
    /// `proto` (tcp / udp).
    pub proto: Option<String>,
    /// `address`.
    pub address: Option<String>,
    /// `dev`.
    pub dev: Option<String>,
    /// `<range>` list.
    pub ranges: Vec<PortForwardRange>,
}

impl XmlPart for PortForward {
    const TAG: &'static str = "portForward";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(PortForward {
            proto: attr_string(el, "proto"),
            address: attr_string(el, "address"),
            dev: attr_string(el, "dev"),
            ranges: children_parts(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "proto", self.proto.as_deref());
        set_attr(el, "address", self.address.as_deref());
        set_attr(el, "dev", self.dev.as_deref());
        set_children(el, &self.ranges, &["range"]);
    }
}

/// `<coalesce><rx><frames max='7'/></rx></coalesce>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InterfaceCoalesce {
    /// `rx/frames/@max`.
    pub rx_frames_max: Option<u32>,
}

impl XmlPart for InterfaceCoalesce {
    const TAG: &'static str = "coalesce";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let rx_frames_max = match el.child("rx").and_then(|rx| rx.child("frames")) {
            Some(f) => crate::domain::codec::attr_parse(f, "max", &path.child("rx").child("frames"))?,
            None => None,
        };
        Ok(InterfaceCoalesce { rx_frames_max })
    }
    fn encode_into(&self, el: &mut Element) {
        use crate::domain::codec::set_child_with;
        let max = self.rx_frames_max;
        let had_rx = el.child("rx").is_some();
        if max.is_none() && !had_rx {
            return;
        }
        set_child_with(
            el,
            "rx",
            Some(|rx: &mut Element| {
                if max.is_some() || rx.child("frames").is_some() {
                    set_child_with(rx, "frames", Some(|f: &mut Element| set_attr(f, "max", max)), &["frames"]);
                }
            }),
            &["rx"],
        );
    }
}

/// `<tune>` of an interface.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InterfaceTune {
    /// `<sndbuf>`: the tap send buffer size in bytes.
    pub sndbuf: Option<u64>,
}

impl XmlPart for InterfaceTune {
    const TAG: &'static str = "tune";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(InterfaceTune { sndbuf: crate::domain::codec::child_parse(el, "sndbuf", path)? })
    }
    fn encode_into(&self, el: &mut Element) {
        crate::domain::codec::set_child_text(el, "sndbuf", self.sndbuf, &["sndbuf"]);
    }
}
