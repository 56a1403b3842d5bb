//! `<devices>`: every device kind as a typed list, in libvirt's canonical order.

mod chardev;
mod common;
mod controller;
mod disk;
mod filesystem;
mod graphics;
mod hostdev;
mod input;
pub(in crate::domain) mod interface;
mod memballoon;
mod other;
mod rng;
mod shared;
mod sound;
mod tpm;
mod video;
mod watchdog;

pub use chardev::*;
pub use common::*;
pub use controller::*;
pub use disk::*;
pub use filesystem::*;
pub use graphics::*;
pub use hostdev::*;
pub use input::*;
pub use interface::*;
pub use memballoon::*;
pub use other::*;
pub use rng::*;
pub use shared::{SourceReconnect, VirtioDriverOptions};
pub use sound::*;
pub use tpm::*;
pub use video::*;
pub use watchdog::*;

use serde::{Deserialize, Serialize};

use super::codec::{
    child_text, children_parts, children_parts_named, set_child_text, set_children, set_children_named, ElementPath,
    XmlPart,
};
use crate::domain::error::DomainError;
use crate::xml::Element;

/// The order libvirt writes devices in; new devices are inserted after their kind's peers.
pub const DEVICE_ORDER: &[&str] = &[
    "emulator",
    "disk",
    "controller",
    "lease",
    "filesystem",
    "interface",
    "smartcard",
    "serial",
    "parallel",
    "console",
    "channel",
    "input",
    "tpm",
    "graphics",
    "sound",
    "audio",
    "video",
    "hostdev",
    "redirdev",
    "redirfilter",
    "hub",
    "watchdog",
    "memballoon",
    "rng",
    "panic",
    "shmem",
    "memory",
    "iommu",
    "vsock",
    "crypto",
];

/// All devices of a domain, grouped by kind (each list in document order).
///
/// ```
/// use kvmhost_core::domain::Domain;
/// let d = Domain::parse("<domain type='kvm'><name>a</name><devices>\
///   <emulator>/usr/bin/qemu-system-x86_64</emulator><disk type='file' device='disk'/>\
///   <serial type='pty'/><console type='pty'/></devices></domain>").unwrap();
/// let devices = d.devices().unwrap().unwrap();
/// assert_eq!(devices.emulator.as_deref(), Some("/usr/bin/qemu-system-x86_64"));
/// assert_eq!(devices.disks.len(), 1);
/// assert_eq!((devices.serials.len(), devices.consoles.len()), (1, 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Devices {
    /// `<emulator>` path.
    pub emulator: Option<String>,
    /// `<disk>`.
    pub disks: Vec<Disk>,
    /// `<controller>`.
    pub controllers: Vec<Controller>,
    /// `<lease>`.
    pub leases: Vec<Lease>,
    /// `<filesystem>`.
    pub filesystems: Vec<Filesystem>,
    /// `<interface>`.
    pub interfaces: Vec<Interface>,
    /// `<smartcard>`.
    pub smartcards: Vec<Smartcard>,
    /// `<serial>`.
    pub serials: Vec<CharDevice>,
    /// `<parallel>`.
    pub parallels: Vec<CharDevice>,
    /// `<console>`.
    pub consoles: Vec<CharDevice>,
    /// `<channel>`.
    pub channels: Vec<CharDevice>,
    /// `<input>`.
    pub inputs: Vec<Input>,
    /// `<tpm>`.
    pub tpms: Vec<Tpm>,
    /// `<graphics>`.
    pub graphics: Vec<Graphics>,
    /// `<sound>`.
    pub sounds: Vec<Sound>,
    /// `<audio>`.
    pub audios: Vec<Audio>,
    /// `<video>`.
    pub videos: Vec<Video>,
    /// `<hostdev>`.
    pub hostdevs: Vec<Hostdev>,
    /// `<redirdev>`.
    pub redirdevs: Vec<Redirdev>,
    /// `<hub>`.
    pub hubs: Vec<Hub>,
    /// `<watchdog>`.
    pub watchdogs: Vec<Watchdog>,
    /// `<memballoon>`.
    pub memballoons: Vec<MemBalloon>,
    /// `<rng>`.
    pub rngs: Vec<Rng>,
    /// `<panic>`.
    pub panics: Vec<Panic>,
    /// `<shmem>`.
    pub shmems: Vec<Shmem>,
    /// `<memory>` (DIMM / NVDIMM / virtio-mem devices).
    pub memories: Vec<MemoryDevice>,
    /// `<iommu>`.
    pub iommus: Vec<Iommu>,
    /// `<vsock>`.
    pub vsocks: Vec<Vsock>,
    /// `<crypto>`.
    pub cryptos: Vec<Crypto>,
}

impl XmlPart for Devices {
    const TAG: &'static str = "devices";

    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Devices {
            emulator: child_text(el, "emulator"),
            disks: children_parts(el, path)?,
            controllers: children_parts(el, path)?,
            leases: children_parts(el, path)?,
            filesystems: children_parts(el, path)?,
            interfaces: children_parts(el, path)?,
            smartcards: children_parts(el, path)?,
            serials: children_parts_named(el, "serial", path)?,
            parallels: children_parts_named(el, "parallel", path)?,
            consoles: children_parts_named(el, "console", path)?,
            channels: children_parts_named(el, "channel", path)?,
            inputs: children_parts(el, path)?,
            tpms: children_parts(el, path)?,
            graphics: children_parts(el, path)?,
            sounds: children_parts(el, path)?,
            audios: children_parts(el, path)?,
            videos: children_parts(el, path)?,
            hostdevs: children_parts(el, path)?,
            redirdevs: children_parts(el, path)?,
            hubs: children_parts(el, path)?,
            watchdogs: children_parts(el, path)?,
            memballoons: children_parts(el, path)?,
            rngs: children_parts(el, path)?,
            panics: children_parts(el, path)?,
            shmems: children_parts(el, path)?,
            memories: children_parts(el, path)?,
            iommus: children_parts(el, path)?,
            vsocks: children_parts(el, path)?,
            cryptos: children_parts(el, path)?,
        })
    }

    fn encode_into(&self, el: &mut Element) {
        let o = DEVICE_ORDER;
        set_child_text(el, "emulator", self.emulator.as_deref(), o);
        set_children(el, &self.disks, o);
        set_children(el, &self.controllers, o);
        set_children(el, &self.leases, o);
        set_children(el, &self.filesystems, o);
        set_children(el, &self.interfaces, o);
        set_children(el, &self.smartcards, o);
        set_children_named(el, "serial", &self.serials, o);
        set_children_named(el, "parallel", &self.parallels, o);
        set_children_named(el, "console", &self.consoles, o);
        set_children_named(el, "channel", &self.channels, o);
        set_children(el, &self.inputs, o);
        set_children(el, &self.tpms, o);
        set_children(el, &self.graphics, o);
        set_children(el, &self.sounds, o);
        set_children(el, &self.audios, o);
        set_children(el, &self.videos, o);
        set_children(el, &self.hostdevs, o);
        set_children(el, &self.redirdevs, o);
        set_children(el, &self.hubs, o);
        set_children(el, &self.watchdogs, o);
        set_children(el, &self.memballoons, o);
        set_children(el, &self.rngs, o);
        set_children(el, &self.panics, o);
        set_children(el, &self.shmems, o);
        set_children(el, &self.memories, o);
        set_children(el, &self.iommus, o);
        set_children(el, &self.vsocks, o);
        set_children(el, &self.cryptos, o);
    }
}
