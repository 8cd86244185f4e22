//! Every compared format, with each fixture prepared in that format's input
//! model, so the benchmark times only encoding and decoding.

use iot_core::codec::{FrameHeader, Limits, Reading};

use crate::fixtures::{ChannelMode, Fixture};
use crate::native::SCRATCH_LEN;
use crate::serde_frame::{self, WireFrame};
use crate::sparkplug::{self, Payload, Style};
use crate::{native, senml};

/// A format (and channel mode) in the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// iot-core binary, channel names in every reading.
    IotNamed,
    /// iot-core binary, channel aliases.
    IotAliased,
    /// SenML JSON (names).
    SenmlJson,
    /// SenML CBOR (names).
    SenmlCbor,
    /// Sparkplug B DDATA, a timestamp on every metric (3.0-conformant).
    SparkplugConformant,
    /// Sparkplug B DDATA, metric timestamps only where they differ.
    SparkplugMinimal,
    /// postcard of [`WireFrame`], names.
    PostcardNamed,
    /// postcard of [`WireFrame`], aliases.
    PostcardAliased,
    /// serde_json of [`WireFrame`], names.
    SerdeJsonNamed,
    /// serde_json of [`WireFrame`], aliases.
    SerdeJsonAliased,
}

impl Format {
    /// Every format, in table order.
    pub const ALL: [Format; 10] = [
        Format::IotNamed,
        Format::IotAliased,
        Format::SenmlJson,
        Format::SenmlCbor,
        Format::SparkplugConformant,
        Format::SparkplugMinimal,
        Format::PostcardNamed,
        Format::PostcardAliased,
        Format::SerdeJsonNamed,
        Format::SerdeJsonAliased,
    ];

    /// The benchmark id of the format.
    pub const fn id(self) -> &'static str {
        match self {
            Format::IotNamed => "iot_named",
            Format::IotAliased => "iot_aliased",
            Format::SenmlJson => "senml_json",
            Format::SenmlCbor => "senml_cbor",
            Format::SparkplugConformant => "sparkplug_conformant",
            Format::SparkplugMinimal => "sparkplug_minimal",
            Format::PostcardNamed => "postcard_named",
            Format::PostcardAliased => "postcard_aliased",
            Format::SerdeJsonNamed => "serde_json_named",
            Format::SerdeJsonAliased => "serde_json_aliased",
        }
    }

    /// Whether the format's checksum ([`crate::touch`]) must equal
    /// iot-core's for the same channel mode: true for every format that
    /// carries the frame's information exactly (not SenML, which has no
    /// sequence number, no integers in JSON and a different record shape).
    pub const fn exact(self) -> bool {
        !matches!(self, Format::SenmlJson | Format::SenmlCbor)
    }

    /// The channel mode the format encodes.
    pub const fn mode(self) -> ChannelMode {
        match self {
            Format::IotNamed
            | Format::SenmlJson
            | Format::SenmlCbor
            | Format::PostcardNamed
            | Format::SerdeJsonNamed => ChannelMode::Named,
            _ => ChannelMode::Aliased,
        }
    }
}

/// A fixture in every format's input model.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The fixture.
    pub fixture: Fixture,
    /// Its header.
    pub header: FrameHeader<'static>,
    /// Named readings (iot-core named, SenML).
    pub named: Vec<Reading<'static>>,
    /// Aliased readings (iot-core aliased).
    pub aliased: Vec<Reading<'static>>,
    /// postcard / serde_json input, names.
    pub wire_named: WireFrame<'static>,
    /// postcard / serde_json input, aliases.
    pub wire_aliased: WireFrame<'static>,
    /// Sparkplug B DDATA, 3.0-conformant.
    pub sparkplug_conformant: Payload,
    /// Sparkplug B DDATA, minimal.
    pub sparkplug_minimal: Payload,
    /// The DBIRTH datatypes, indexed by alias.
    pub datatypes: Vec<u32>,
    /// The DDATA topic (carries the device id).
    pub topic: String,
    /// Decoder limits (iot-core's defaults).
    pub limits: Limits,
}

impl Prepared {
    /// Prepares `fixture` for every format.
    pub fn new(fixture: Fixture) -> Self {
        let header = fixture.header;
        let named = fixture.readings(ChannelMode::Named);
        let aliased = fixture.readings(ChannelMode::Aliased);
        Prepared {
            wire_named: WireFrame::new(&header, &named),
            wire_aliased: WireFrame::new(&header, &aliased),
            sparkplug_conformant: sparkplug::payload(&fixture, Style::Conformant),
            sparkplug_minimal: sparkplug::payload(&fixture, Style::Minimal),
            datatypes: sparkplug::datatypes(&fixture),
            topic: sparkplug::topic(header.device_id),
            limits: Limits::default(),
            header,
            named,
            aliased,
            fixture,
        }
    }

    /// The iot-core readings for `mode`.
    pub fn readings(&self, mode: ChannelMode) -> &[Reading<'static>] {
        match mode {
            ChannelMode::Named => &self.named,
            ChannelMode::Aliased => &self.aliased,
        }
    }

    /// The encoding of the fixture in `format`.
    pub fn encoded(&self, format: Format) -> Vec<u8> {
        let mut scratch = vec![0u8; SCRATCH_LEN];
        let mut out = Vec::new();
        match format {
            Format::IotNamed | Format::IotAliased => {
                let n = native::encode(&self.header, self.readings(format.mode()), &mut scratch)
                    .expect("fixtures encode");
                out.extend_from_slice(&scratch[..n]);
            }
            Format::SenmlJson => {
                senml::json_encode(&self.header, &self.named, &mut out).expect("fixtures encode")
            }
            Format::SenmlCbor => {
                senml::cbor_encode(&self.header, &self.named, &mut out).expect("fixtures encode")
            }
            Format::SparkplugConformant => sparkplug::encode(&self.sparkplug_conformant, &mut out),
            Format::SparkplugMinimal => sparkplug::encode(&self.sparkplug_minimal, &mut out),
            Format::PostcardNamed | Format::PostcardAliased => {
                let n = serde_frame::postcard_encode(self.wire(format), &mut scratch)
                    .expect("fixtures encode");
                out.extend_from_slice(&scratch[..n]);
            }
            Format::SerdeJsonNamed | Format::SerdeJsonAliased => {
                serde_frame::json_encode(self.wire(format), &mut out).expect("fixtures encode")
            }
        }
        out
    }

    /// Decodes `bytes` as `format` and returns the checksum of every value.
    pub fn decode_touch(&self, format: Format, bytes: &[u8]) -> Result<u64, String> {
        let e = |e: &dyn std::fmt::Debug| format!("{format:?}: {e:?}");
        match format {
            Format::IotNamed | Format::IotAliased => {
                native::decode_touch(bytes, &self.limits).map_err(|x| e(&x))
            }
            Format::SenmlJson => senml::json_decode_touch(bytes, &self.limits).map_err(|x| e(&x)),
            Format::SenmlCbor => senml::cbor_decode_touch(bytes, &self.limits).map_err(|x| e(&x)),
            Format::SparkplugConformant | Format::SparkplugMinimal => {
                sparkplug::decode_touch(&self.topic, bytes, &self.datatypes).map_err(|x| e(&x))
            }
            Format::PostcardNamed | Format::PostcardAliased => {
                serde_frame::postcard_decode_touch(bytes).map_err(|x| e(&x))
            }
            Format::SerdeJsonNamed | Format::SerdeJsonAliased => {
                serde_frame::json_decode_touch(bytes).map_err(|x| e(&x))
            }
        }
    }

    /// The postcard / serde_json input for the format's channel mode.
    pub fn wire(&self, format: Format) -> &WireFrame<'static> {
        match format.mode() {
            ChannelMode::Named => &self.wire_named,
            ChannelMode::Aliased => &self.wire_aliased,
        }
    }
}
