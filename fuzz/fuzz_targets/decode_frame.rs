//! Any input: decoding returns an error or a view whose readings iterate
//! completely; a decoded frame re-encodes to the same bytes' meaning.
#![no_main]

use iot_core::codec::{Encoder, Limits, decode_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = decode_frame(data, &Limits::default()) else {
        return;
    };
    assert_eq!(frame.readings().count(), frame.len());
    // Re-encode and decode again: same header, bitwise-same readings.
    // A short float holding a NaN is re-encoded as an 8-byte double (the
    // encoder never narrows a NaN), so each reading may grow by 4 bytes.
    let mut buf = vec![0u8; data.len() + 4 * frame.len() + 8];
    let enc = Encoder::new().checksum(frame.has_checksum());
    let n = enc
        .frame_iter(&frame.header(), frame.readings(), &mut buf)
        .expect("a decoded frame re-encodes");
    let again = decode_frame(&buf[..n], &Limits::default()).expect("re-encoded frame decodes");
    assert_eq!(again.header(), frame.header());
    assert!(
        again
            .readings()
            .zip(frame.readings())
            .all(|(a, b)| a.bitwise_eq(&b))
    );
});
