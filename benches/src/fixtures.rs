//! The frames every format encodes: the same information in each.
//!
//! * [`reference()`]: the frame the targets are stated for. Device
//!   `dev-4f2a9c01`, a millisecond timestamp, a sequence number and 10
//!   readings: 5 floats, 2 integers (one negative), a bool, a short string
//!   and a 4-byte array. The floats are exactly representable as `f32`
//!   (binary fractions such as 21.5 and 0.125, as sensors with a
//!   power-of-two resolution produce), so iot-core stores each in 4 bytes.
//! * [`reference_f64`]: the same frame with decimal floats such as 21.53
//!   that are *not* `f32`-representable, so every float takes 8 bytes.
//! * [`frame64`]: 64 readings, a gateway's mix of sensors: 40 floats (half of
//!   them decimal), 12 integers, 6 bools, 3 strings, 3 byte arrays; 8 of the
//!   readings carry a time offset (samples taken before the frame).
//!
//! No fixture carries units: units belong in the birth message (iot-core) or
//! the DBIRTH metric properties (Sparkplug B), so the data frames compared
//! here carry none in any format.

use iot_core::codec::{BirthEntry, Channel, FrameHeader, Reading, Value};

/// The device id of every fixture.
pub const DEVICE_ID: &str = "dev-4f2a9c01";
/// The frame timestamp of every fixture (2026-11-22, milliseconds).
pub const TIMESTAMP_MS: u64 = 1_795_349_380_301;
/// The sequence number of every fixture.
pub const SEQ: u64 = 42;

/// How a frame names its channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelMode {
    /// Every reading carries its channel name.
    Named,
    /// Every reading carries the numeric alias its birth message announced.
    Aliased,
}

/// One channel of a fixture: its name, its alias and its reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The channel name.
    pub name: &'static str,
    /// The channel alias (its index in the fixture).
    pub alias: u32,
    /// The value.
    pub value: Value<'static>,
    /// Milliseconds relative to the frame timestamp, if any.
    pub time_offset_ms: Option<i64>,
}

/// A benchmark frame: header and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixture {
    /// Short name used in benchmark ids, e.g. `"reference"`.
    pub label: &'static str,
    /// Device id, sequence number and timestamp.
    pub header: FrameHeader<'static>,
    /// The readings, in order; `samples[i].alias == i`.
    pub samples: Vec<Sample>,
}

impl Fixture {
    /// The readings in iot-core's model, with names or aliases.
    pub fn readings(&self, mode: ChannelMode) -> Vec<Reading<'static>> {
        self.samples
            .iter()
            .map(|s| Reading {
                channel: match mode {
                    ChannelMode::Named => Channel::Name(s.name),
                    ChannelMode::Aliased => Channel::Alias(s.alias),
                },
                value: s.value,
                time_offset_ms: s.time_offset_ms,
                unit: None,
            })
            .collect()
    }

    /// The birth entries that announce this fixture's aliases.
    pub fn birth(&self) -> Vec<BirthEntry<'static>> {
        self.samples
            .iter()
            .map(|s| BirthEntry::new(s.alias, s.name))
            .collect()
    }

    /// How many readings of each kind: (floats, ints, bools, strings, bytes).
    pub fn census(&self) -> (usize, usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0, 0);
        for s in &self.samples {
            match s.value {
                Value::F64(_) | Value::F32(_) => c.0 += 1,
                Value::I64(_) | Value::U64(_) => c.1 += 1,
                Value::Bool(_) => c.2 += 1,
                Value::Str(_) => c.3 += 1,
                Value::Bytes(_) => c.4 += 1,
            }
        }
        c
    }
}

fn fixture(
    label: &'static str,
    samples: &[(&'static str, Value<'static>, Option<i64>)],
) -> Fixture {
    Fixture {
        label,
        header: FrameHeader::new(DEVICE_ID, SEQ, TIMESTAMP_MS),
        samples: samples
            .iter()
            .enumerate()
            .map(|(i, &(name, value, time_offset_ms))| Sample {
                name,
                alias: u32::try_from(i).expect("fixtures are small"),
                value,
                time_offset_ms,
            })
            .collect(),
    }
}

const FAULT_CODE: &[u8] = &[0x01, 0x02, 0xa0, 0xff];

fn reference_with(label: &'static str, floats: [f64; 5]) -> Fixture {
    fixture(
        label,
        &[
            ("temperature", Value::F64(floats[0]), None),
            ("humidity", Value::F64(floats[1]), None),
            ("pressure", Value::F64(floats[2]), None),
            ("battery_v", Value::F64(floats[3]), None),
            ("flow_rate", Value::F64(floats[4]), None),
            ("rssi", Value::I64(-67), None),
            ("pulse_count", Value::U64(123_456), None),
            ("door_open", Value::Bool(true), None),
            ("state", Value::Str("ok"), None),
            ("fault_code", Value::Bytes(FAULT_CODE), None),
        ],
    )
}

/// The reference frame: 10 readings, floats exactly representable as `f32`.
pub fn reference() -> Fixture {
    reference_with("reference", [21.5, 48.25, 1013.25, 3.75, 0.125])
}

/// The reference frame with floats that are not `f32`-representable.
pub fn reference_f64() -> Fixture {
    reference_with("reference_f64", [21.53, 48.27, 1013.19, 3.71, 0.137])
}

const FRAME64_NAMES: [&str; 64] = [
    "zone1/temperature",
    "zone1/humidity",
    "zone2/temperature",
    "zone2/humidity",
    "zone3/temperature",
    "zone3/humidity",
    "zone4/temperature",
    "zone4/humidity",
    "supply_air_temp",
    "return_air_temp",
    "outdoor_temp",
    "dew_point",
    "pressure",
    "co2_ppm",
    "pm2_5",
    "pm10",
    "voc_index",
    "noise_db",
    "lux",
    "uv_index",
    "wind_speed",
    "wind_dir",
    "rain_mm",
    "soil_moisture",
    "tank_level",
    "flow_rate",
    "pump1/current",
    "pump1/voltage",
    "pump1/power_kw",
    "pump2/current",
    "pump2/voltage",
    "pump2/power_kw",
    "vibration_x",
    "vibration_y",
    "vibration_z",
    "motor_temp",
    "battery_v",
    "battery_soc",
    "solar_v",
    "solar_a",
    "rssi",
    "snr",
    "uptime_s",
    "pulse_count",
    "energy_wh",
    "reboots",
    "queue_depth",
    "tx_errors",
    "tilt_deg",
    "occupancy",
    "free_heap",
    "fw_build",
    "door_open",
    "window_open",
    "pump1/running",
    "pump2/running",
    "alarm",
    "maintenance",
    "state",
    "fw_version",
    "last_error",
    "fault_code",
    "mac_suffix",
    "calibration",
];

/// The 64-reading frame.
pub fn frame64() -> Fixture {
    // 40 floats: even indices binary fractions (4 bytes in iot-core), odd
    // indices decimals (8 bytes). 8 of them were sampled earlier.
    let floats: [f64; 40] = [
        21.5, 48.37, 22.25, 51.12, 19.75, 46.08, 20.125, 49.91, 16.5, 23.86, 8.25, 10.43, 1013.25,
        612.4, 12.5, 18.32, 101.0, 41.26, 350.5, 2.13, 3.25, 184.7, 0.5, 33.81, 78.75, 12.47,
        4.125, 229.6, 0.875, 4.37, 230.5, 0.91, 0.0625, 0.031, 0.1875, 61.33, 3.75, 87.4, 18.5,
        1.26,
    ];
    let mut samples: Vec<(&'static str, Value<'static>, Option<i64>)> = Vec::with_capacity(64);
    for (i, &v) in floats.iter().enumerate() {
        // Vibration and power samples taken over the last seconds.
        let offset = match i {
            26..=31 => Some(-(i as i64 - 25) * 250),
            32..=33 => Some(-1_000 - (i as i64) * 10),
            _ => None,
        };
        samples.push((FRAME64_NAMES[i], Value::F64(v), offset));
    }
    let ints = [
        Value::I64(-67),
        Value::I64(-9),
        Value::U64(1_209_600),
        Value::U64(123_456),
        Value::U64(48_211_977),
        Value::U64(3),
        Value::U64(0),
        Value::U64(17),
        Value::I64(-12),
        Value::U64(4),
        Value::U64(182_344),
        Value::U64(20_261_122),
    ];
    for (i, v) in ints.into_iter().enumerate() {
        samples.push((FRAME64_NAMES[40 + i], v, None));
    }
    for (i, b) in [true, false, true, false, false, false]
        .into_iter()
        .enumerate()
    {
        samples.push((FRAME64_NAMES[52 + i], Value::Bool(b), None));
    }
    samples.push((FRAME64_NAMES[58], Value::Str("running"), None));
    samples.push((FRAME64_NAMES[59], Value::Str("1.4.2"), None));
    samples.push((FRAME64_NAMES[60], Value::Str("none"), None));
    samples.push((FRAME64_NAMES[61], Value::Bytes(FAULT_CODE), None));
    samples.push((
        FRAME64_NAMES[62],
        Value::Bytes(&[0x4f, 0x2a, 0x9c, 0x01, 0x7e, 0x33]),
        None,
    ));
    samples.push((
        FRAME64_NAMES[63],
        Value::Bytes(&[0x10, 0x27, 0x00, 0x00, 0xe8, 0x03, 0x00, 0x00]),
        None,
    ));
    fixture("frame64", &samples)
}

/// Every fixture, in table order.
pub fn all() -> Vec<Fixture> {
    vec![reference(), reference_f64(), frame64()]
}

/// Whether an `f64` survives a round trip through `f32` bit for bit (the
/// rule iot-core's encoder uses to store it in 4 bytes).
pub fn fits_f32(v: f64) -> bool {
    !v.is_nan() && f64::from(v as f32).to_bits() == v.to_bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_the_requirement() {
        let r = reference();
        assert_eq!(r.samples.len(), 10);
        assert_eq!(r.census(), (5, 2, 1, 1, 1));
        assert_eq!(reference_f64().census(), (5, 2, 1, 1, 1));
        let f = frame64();
        assert_eq!(f.samples.len(), 64);
        assert_eq!(f.census(), (40, 12, 6, 3, 3));
        for fx in all() {
            for (i, s) in fx.samples.iter().enumerate() {
                assert_eq!(s.alias as usize, i);
            }
        }
    }

    #[test]
    fn float_representability_is_as_documented() {
        let floats = |f: &Fixture| {
            f.samples
                .iter()
                .filter_map(|s| match s.value {
                    Value::F64(v) => Some(v),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        assert!(floats(&reference()).into_iter().all(fits_f32));
        assert!(!floats(&reference_f64()).into_iter().any(fits_f32));
        let f64s = floats(&frame64());
        assert_eq!(f64s.iter().filter(|v| fits_f32(**v)).count(), 20);
    }
}
