//! Attribute-only elements shared by several device kinds: [`SourceReconnect`] (interface and
//! chardev sources) and [`VirtioDriverOptions`] (rng, input, memballoon).

use crate::domain::codec::attr_part;
use crate::domain::codec::{OnOff, YesNo};

attr_part! {
    /// Reconnect policy of a client socket (`<reconnect enabled='yes' timeout='10'/>`), used by
    /// character device and vhost-user sources.
    pub struct SourceReconnect = "reconnect" {
        /// `enabled` (yes / no).
        enabled: YesNo = "enabled",
        /// `timeout` in seconds.
        timeout: u32 = "timeout",
    }
}

attr_part! {
    /// virtio device options on a `<driver>` element (`<driver iommu='on' ats='on' packed='on'/>`),
    /// used by memballoon, rng, input and other virtio devices.
    pub struct VirtioDriverOptions = "driver" {
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
