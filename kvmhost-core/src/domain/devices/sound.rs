//! `<sound>` devices and the `<audio>` backends they (and graphics) play through.

use serde::{Deserialize, Serialize};

use super::common::set_device_info;
use crate::domain::codec::{
    attr_parse, attr_part, attr_string, child_part, children_parts, set_attr, set_child, set_child_with, set_children,
    ElementPath, XmlPart,
};
use crate::domain::devices::common::{AcpiIndex, Address, Alias};
use crate::domain::error::DomainError;
use crate::xml::Element;

attr_part! {
    /// A `<codec type='micro'/>` of an HDA sound device.
    pub struct SoundCodec = "codec" {
        /// `type` (duplex / micro / output).
        codec_type: String = "type",
    }
}

/// A sound device (`<sound model='ich9'/>`).
///
/// ```
/// use kvmhost_core::domain::{Sound, XmlPart};
/// let s = Sound::model("ich9");
/// assert_eq!(s.to_element().attr("model"), Some("ich9"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Sound {
    /// `model` (ich6 / ich7 / ich9 / ac97 / es1370 / sb16 / pcspk / usb / ics0000).
    pub model: Option<String>,
    /// `<codec>` list.
    pub codecs: Vec<SoundCodec>,
    /// `<audio id>`: the `<audio>` backend used.
    pub audio_id: Option<u32>,
    /// `<alias>`.
    pub alias: Option<Alias>,
    /// `<acpi>`.
    pub acpi: Option<AcpiIndex>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// libvirt's order of `<sound>` children.
const SOUND_ORDER: &[&str] = &["codec", "audio", "alias", "acpi", "address"];

impl Sound {
    /// A sound device of `model`.
    pub fn model(model: impl Into<String>) -> Sound {
        Sound { model: Some(model.into()), ..Sound::default() }
    }
}

impl XmlPart for Sound {
    const TAG: &'static str = "sound";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let audio_id = match el.child("audio") {
            Some(a) => attr_parse(a, "id", &path.child("audio"))?,
            None => None,
        };
        Ok(Sound {
            model: attr_string(el, "model"),
            codecs: children_parts(el, path)?,
            audio_id,
            alias: child_part(el, path)?,
            acpi: child_part(el, path)?,
            address: child_part(el, path)?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "model", self.model.as_deref());
        set_children(el, &self.codecs, SOUND_ORDER);
        let id = self.audio_id;
        set_child_with(el, "audio", id.map(|id| move |e: &mut Element| set_attr(e, "id", Some(id))), SOUND_ORDER);
        set_device_info(el, self.alias.as_ref(), self.acpi.as_ref(), self.address.as_ref(), SOUND_ORDER);
    }
}

attr_part! {
    /// `<settings frequency='44100' channels='2' format='s16'/>` of an audio stream.
    pub struct AudioSettings = "settings" {
        /// `frequency` in Hz.
        frequency: u32 = "frequency",
        /// `channels`.
        channels: u32 = "channels",
        /// `format` (s8 / u8 / s16 / u16 / s32 / u32 / f32).
        format: String = "format",
    }
}

/// One direction (`<input>` or `<output>`) of an `<audio>` backend.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AudioStream {
    /// `mixingEngine` (yes / no).
    pub mixing_engine: Option<String>,
    /// `fixedSettings` (yes / no).
    pub fixed_settings: Option<String>,
    /// `voices`.
    pub voices: Option<u32>,
    /// `bufferLength` in microseconds.
    pub buffer_length: Option<u32>,
    /// `bufferCount` (coreaudio / oss / sdl).
    pub buffer_count: Option<u32>,
    /// `dev` (alsa / oss).
    pub dev: Option<String>,
    /// `name` (pulseaudio sink/source; dbus).
    pub name: Option<String>,
    /// `streamName` (pulseaudio).
    pub stream_name: Option<String>,
    /// `latency` (pulseaudio).
    pub latency: Option<u32>,
    /// `tryPoll` (oss, yes / no).
    pub try_poll: Option<String>,
    /// `serverName` (jack).
    pub server_name: Option<String>,
    /// `clientName` (jack).
    pub client_name: Option<String>,
    /// `connectPorts` (jack).
    pub connect_ports: Option<String>,
    /// `exactName` (jack, yes / no).
    pub exact_name: Option<String>,
    /// `<settings>`.
    pub settings: Option<AudioSettings>,
}

impl AudioStream {
    fn decode_from(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        Ok(AudioStream {
            mixing_engine: attr_string(el, "mixingEngine"),
            fixed_settings: attr_string(el, "fixedSettings"),
            voices: attr_parse(el, "voices", path)?,
            buffer_length: attr_parse(el, "bufferLength", path)?,
            buffer_count: attr_parse(el, "bufferCount", path)?,
            dev: attr_string(el, "dev"),
            name: attr_string(el, "name"),
            stream_name: attr_string(el, "streamName"),
            latency: attr_parse(el, "latency", path)?,
            try_poll: attr_string(el, "tryPoll"),
            server_name: attr_string(el, "serverName"),
            client_name: attr_string(el, "clientName"),
            connect_ports: attr_string(el, "connectPorts"),
            exact_name: attr_string(el, "exactName"),
            settings: child_part(el, path)?,
        })
    }

    fn encode_to(&self, el: &mut Element) {
        set_attr(el, "mixingEngine", self.mixing_engine.as_deref());
        set_attr(el, "fixedSettings", self.fixed_settings.as_deref());
        set_attr(el, "voices", self.voices);
        set_attr(el, "bufferLength", self.buffer_length);
        set_attr(el, "bufferCount", self.buffer_count);
        set_attr(el, "dev", self.dev.as_deref());
        set_attr(el, "name", self.name.as_deref());
        set_attr(el, "streamName", self.stream_name.as_deref());
        set_attr(el, "latency", self.latency);
        set_attr(el, "tryPoll", self.try_poll.as_deref());
        set_attr(el, "serverName", self.server_name.as_deref());
        set_attr(el, "clientName", self.client_name.as_deref());
        set_attr(el, "connectPorts", self.connect_ports.as_deref());
        set_attr(el, "exactName", self.exact_name.as_deref());
        set_child(el, self.settings.as_ref(), &["settings"]);
    }
}

/// An audio backend (`<audio id='1' type='pulseaudio' serverName='…'>`).
///
/// ```
/// use kvmhost_core::domain::{Audio, ElementPath, XmlPart};
/// use kvmhost_core::xml::Document;
/// let d = Document::parse("<audio id='1' type='alsa'><input dev='/dev/dsp0'/></audio>").unwrap();
/// let a = Audio::decode(&d.root, &ElementPath::root("audio")).unwrap();
/// assert_eq!(a.id, Some(1));
/// assert_eq!(a.input.unwrap().dev.as_deref(), Some("/dev/dsp0"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Audio {
    /// `id`.
    pub id: Option<u32>,
    /// `type` (none / alsa / coreaudio / dbus / jack / oss / pulseaudio / sdl / spice / file).
    pub audio_type: Option<String>,
    /// `timerPeriod` in microseconds.
    pub timer_period: Option<u32>,
    /// `serverName` (pulseaudio).
    pub server_name: Option<String>,
    /// `path` (file).
    pub path: Option<String>,
    /// `driver` (sdl).
    pub driver: Option<String>,
    /// `dspPolicy` (oss).
    pub dsp_policy: Option<String>,
    /// `exclusive` (oss).
    pub exclusive: Option<String>,
    /// `tryMMap` (oss).
    pub try_mmap: Option<String>,
    /// `<input>`.
    pub input: Option<AudioStream>,
    /// `<output>`.
    pub output: Option<AudioStream>,
}

impl XmlPart for Audio {
    const TAG: &'static str = "audio";
    fn decode(el: &Element, path: &ElementPath<'_>) -> Result<Self, DomainError> {
        let stream = |name: &str| -> Result<Option<AudioStream>, DomainError> {
            el.child(name).map(|c| AudioStream::decode_from(c, &path.child(name))).transpose()
        };
        Ok(Audio {
            id: attr_parse(el, "id", path)?,
            audio_type: attr_string(el, "type"),
            timer_period: attr_parse(el, "timerPeriod", path)?,
            server_name: attr_string(el, "serverName"),
            path: attr_string(el, "path"),
            driver: attr_string(el, "driver"),
            dsp_policy: attr_string(el, "dspPolicy"),
            exclusive: attr_string(el, "exclusive"),
            try_mmap: attr_string(el, "tryMMap"),
            input: stream("input")?,
            output: stream("output")?,
        })
    }
    fn encode_into(&self, el: &mut Element) {
        set_attr(el, "id", self.id);
        set_attr(el, "type", self.audio_type.as_deref());
        set_attr(el, "timerPeriod", self.timer_period);
        set_attr(el, "serverName", self.server_name.as_deref());
        set_attr(el, "path", self.path.as_deref());
        set_attr(el, "driver", self.driver.as_deref());
        set_attr(el, "dspPolicy", self.dsp_policy.as_deref());
        set_attr(el, "exclusive", self.exclusive.as_deref());
        set_attr(el, "tryMMap", self.try_mmap.as_deref());
        let order = &["input", "output"];
        set_child_with(el, "input", self.input.as_ref().map(|s| |e: &mut Element| s.encode_to(e)), order);
        set_child_with(el, "output", self.output.as_ref().map(|s| |e: &mut Element| s.encode_to(e)), order);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn audio_streams_round_trip() {
        let src = "<audio id='1' type='pulseaudio' timerPeriod='50' serverName='acme.example.org'>\
                   <input mixingEngine='yes' fixedSettings='yes' voices='1' bufferLength='100' name='fish' \
                   streamName='food' latency='100'><settings frequency='44100' channels='2' format='s16'/></input>\
                   <output mixingEngine='yes' voices='2'/></audio>";
        let d = Document::parse(src).unwrap();
        let a = Audio::decode(&d.root, &ElementPath::root("audio")).unwrap();
        assert_eq!(a.input.as_ref().unwrap().settings.as_ref().unwrap().frequency, Some(44100));
        let mut el = d.root.clone();
        a.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root));
    }

    #[test]
    fn sound_with_codecs() {
        let src = "<sound model='ich6'><codec type='duplex'/><codec type='micro'/><audio id='1'/></sound>";
        let d = Document::parse(src).unwrap();
        let s = Sound::decode(&d.root, &ElementPath::root("sound")).unwrap();
        assert_eq!(s.codecs.len(), 2);
        assert_eq!(s.audio_id, Some(1));
        let mut el = d.root.clone();
        s.encode_into(&mut el);
        assert!(el.semantically_eq(&d.root));
    }
}
