//! `<video>`: the guest's video adapter.

use serde::{Deserialize, Serialize};

use super::common::set_device_info;
use crate::domain::codec::{attr_enum, attr_parse, attr_part, child_part, set_attr, set_child, ElementPath, XmlPart};
use crate::domain::codec::{OnOff, YesNo};
use crate::domain::devices::common::{AcpiIndex, Address, Alias};
use crate::domain::error::DomainError;
use crate::xml::Element;
use crate::xml_enum;

xml_enum! {
    /// The video adapter model (`<model type=…>`).
    pub enum VideoModelType {
        Vga = "vga", Cirrus = "cirrus", Vmvga = "vmvga", Xen = "xen", Vbox = "vbox", Qxl = "qxl",
        Virtio = "virtio", Gop = "gop", Bochs = "bochs", Ramfb = "ramfb", None = "none", Parallels = "parallels"
    }
}

attr_part! {
    /// `<acceleration accel3d='yes' accel2d='no' rendernode='…'/>`.
    pub struct VideoAcceleration = "acceleration" {
        /// `accel3d` (yes / no).
        accel3d: YesNo = "accel3d",
        /// `accel2d` (yes / no).
        accel2d: YesNo = "accel2d",
        /// `rendernode`.
        rendernode: String = "rendernode",
    }
}

attr_part! {
    /// `<resolution x='1920' y='1080'/>`.
    pub struct VideoResolution = "resolution" {
        /// `x`.
        x: u32 = "x",
        /// `y`.
        y: u32 = "y",
    }
}

attr_part! {
    /// `<driver name='vhostuser' vgaconf='io' iommu='on' …/>` of a video device.
    pub struct VideoDriver = "driver" {
        /// `name` (qemu / vhostuser).
        name: String = "name",
        /// `vgaconf` (io / on / off; bhyve).
        vgaconf: String = "vgaconf",
        /// `iommu` (on / off).
        iommu: OnOff = "iommu",
        /// `ats` (on / off).
        ats: OnOff = "ats",
        /// `packed` (on / off).
        packed: OnOff = "packed",
        /// `page_per_vq` (on / off).
        page_per_vq: OnOff = "page_per_vq",
    }
}

/// `<model type='qxl' ram='65536' vram='65536' vgamem='16384' heads='1' primary='yes'>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VideoModel {
    /// `type`.
    pub model_type: Option<VideoModelType>,
    /// `vram` in KiB.
    pub vram: Option<u64>,
    /// `vram64` in KiB (qxl).
    pub vram64: Option<u64>,
    /// `ram` in KiB (qxl).
    pub ram: Option<u64>,
    /// `vgamem` in KiB (qxl).
    pub vgamem: Option<u64>,
    /// `heads`.
    pub heads: Option<u32>,
    /// `primary` (yes / no).
    pub primary: Option<YesNo>,
    /// `blob` (on / off; virtio).
    pub blob: Option<OnOff>,
    /// `<acceleration>`.
    pub acceleration: Option<VideoAcceleration>,
    /// `<resolution>`.
    pub resolution: Option<VideoResolution>,
}

impl XmlPart for VideoModel {
    const TAG: &'static str = "model";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(VideoModel {
            model_type: attr_enum(el, "type"),
            vram: attr_parse(el, "vram", path)?,
            vram64: attr_parse(el, "vram64", path)?,
            ram: attr_parse(el, "ram", path)?,
            vgamem: attr_parse(el, "vgamem", path)?,
            heads: attr_parse(el, "heads", path)?,
            primary: attr_enum(el, "primary"),
            blob: attr_enum(el, "blob"),
            acceleration: child_part(el, path)?,
            resolution: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "type", self.model_type.as_ref());
        set_attr(el, "vram", self.vram);
        set_attr(el, "vram64", self.vram64);
        set_attr(el, "ram", self.ram);
        set_attr(el, "vgamem", self.vgamem);
        set_attr(el, "heads", self.heads);
        set_attr(el, "primary", self.primary.as_ref());
        set_attr(el, "blob", self.blob.as_ref());
        let order = &["acceleration", "resolution"];
        set_child(el, self.acceleration.as_ref(), order);
        set_child(el, self.resolution.as_ref(), order);
    }
}

/// A video device (`<video><model type='virtio' heads='1' primary='yes'/></video>`).
///
/// ```
/// use kvmhost_core::domain::{Video, VideoModelType, XmlPart};
/// let v = Video::model(VideoModelType::Virtio);
/// assert_eq!(v.to_element().child("model").unwrap().attr("type"), Some("virtio"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Video {
    /// `<driver>`.
    pub driver: Option<VideoDriver>,
    /// `<model>`.
    pub model: Option<VideoModel>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<acpi>`.
    pub acpi: Option<AcpiIndex>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// libvirt's order of `<video>` children.
const ORDER: &[&str] = &["driver", "model", "alias", "acpi", "address"];

impl Video {
    /// A single-head primary video device of model `t`.
    pub fn model(t: VideoModelType) -> Video {
        Video {
            model: Some(VideoModel {
                model_type: Some(t),
                heads: Some(1),
                primary: Some(YesNo::Yes),
                ..VideoModel::default()
            }),
            ..Video::default()
        }
    }
}

impl XmlPart for Video {
    const TAG: &'static str = "video";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(Video {
            driver: child_part(el, path)?,
            model: child_part(el, path)?,
            alias: child_part(el, path)?,
            acpi: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_child(el, self.driver.as_ref(), ORDER);
        set_child(el, self.model.as_ref(), ORDER);
        set_device_info(el, self.alias.as_ref(), self.acpi.as_ref(), self.address.as_ref(), ORDER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn qxl_with_acceleration() {
        let src = "<video><model type='qxl' ram='65536' vram='65536' vgamem='16384' heads='1' primary='yes'>\
                   <acceleration accel3d='yes' rendernode='/dev/dri/foo'/></model>\
                   <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></video>";
        let d = Document::parse(src).unwrap();
        let v = Video::decode(&d.root, &ElementPath::root("video")).unwrap();
        let m = v.model.as_ref().unwrap();
        assert_eq!(m.vram, Some(65536));
        assert_eq!(m.acceleration.as_ref().unwrap().accel3d, Some(YesNo::Yes));
        let mut el = d.root.clone();
        v.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root));
    }
}
