//! Any input: decoding a birth returns an error or a fully iterable table.
#![no_main]

use iot_core::codec::{AliasResolver, AliasTable, Limits, decode_birth};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(birth) = decode_birth(data, &Limits::default()) else {
        return;
    };
    assert_eq!(birth.entries().count(), birth.len());
    if let Ok(table) = AliasTable::from_birth(&birth) {
        for e in birth.entries() {
            assert_eq!(table.name_of(e.alias), Some(e.name));
        }
    }
});
