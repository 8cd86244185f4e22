//! Any input: SenML CBOR decoding returns records or a typed error.
#![no_main]

use iot_core::codec::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = iot_core::senml::decode_cbor(data, &Limits::default()) {
        assert!(records.len() <= Limits::default().max_readings);
    }
});
