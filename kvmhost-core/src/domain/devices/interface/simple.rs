//! A small generator for elements that carry only attributes, shared by the device files of
//! this area (interface, graphics, video, chardev, …), plus such elements used by several of them.

/// Defines a struct for an attribute-only element and its [`XmlPart`](crate::domain::XmlPart)
/// implementation. Every field is optional and written back only when set. Field kinds:
/// `str` (kept verbatim), `enum T` (a tolerant [`xml_enum!`](crate::xml_enum) type), `num T`
/// (parsed with `FromStr`; an invalid number is a decode error naming the attribute).
macro_rules! attr_part {
    (
        $(#[$m:meta])*
        pub struct $name:ident = $tag:literal {
            $( $(#[$fm:meta])* $field:ident : $kind:ident $ty:ty = $attr:literal ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, ::serde::Serialize, ::serde::Deserialize)]
        #[non_exhaustive]
        pub struct $name {
            $( $(#[$fm])* pub $field: Option<$ty>, )*
        }

        impl $crate::domain::XmlPart for $name {
            const TAG: &'static str = $tag;
            #[allow(unused_variables)]
            fn decode(
                el: &$crate::xml::Element,
                path: &$crate::domain::ElementPath<'_>,
            ) -> Result<Self, $crate::domain::DomainError> {
                Ok($name { $( $field: $crate::domain::devices::interface::simple::attr_part!(@dec $kind el path $attr), )* })
            }
            fn encode_into(&self, el: &mut $crate::xml::Element) {
                $( $crate::domain::codec::set_attr(el, $attr, self.$field.as_ref()); )*
            }
        }
    };
    (@dec str $el:ident $p:ident $a:literal) => { $crate::domain::codec::attr_string($el, $a) };
    (@dec enum $el:ident $p:ident $a:literal) => { $crate::domain::codec::attr_enum($el, $a) };
    (@dec num $el:ident $p:ident $a:literal) => { $crate::domain::codec::attr_parse($el, $a, $p)? };
}

pub(in crate::domain::devices) use attr_part;

attr_part! {
    /// Reconnect policy of a client socket (`<reconnect enabled='yes' timeout='10'/>`), used by
    /// character device and vhost-user sources.
    pub struct SourceReconnect = "reconnect" {
        /// `enabled` (yes / no).
        enabled: enum crate::domain::YesNo = "enabled",
        /// `timeout` in seconds.
        timeout: num u32 = "timeout",
    }
}

attr_part! {
    /// virtio device options on a `<driver>` element (`<driver iommu='on' ats='on' packed='on'/>`),
    /// used by memballoon, rng, input and other virtio devices.
    pub struct VirtioDriverOptions = "driver" {
        /// `iommu` (on / off).
        iommu: enum crate::domain::OnOff = "iommu",
        /// `ats` (on / off).
        ats: enum crate::domain::OnOff = "ats",
        /// `packed` (on / off).
        packed: enum crate::domain::OnOff = "packed",
        /// `page_per_vq` (on / off).
        page_per_vq: enum crate::domain::OnOff = "page_per_vq",
    }
}
