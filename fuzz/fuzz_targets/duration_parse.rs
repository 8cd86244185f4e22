//! Any input: the duration parser returns an error whose span lies in the
//! input, or a duration that prints to a canonical text parsing back to
//! exactly it (iot-duration, issue #16).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match iot_duration::parse(text) {
        Ok(d) => {
            let printed = iot_duration::format(d);
            assert_eq!(iot_duration::parse(printed.as_str()), Ok(d), "{text:?}");
            assert_eq!(iot_duration::format(d), printed);
        }
        Err(e) => {
            let span = e.span();
            assert!(span.start <= span.end && span.end <= text.len(), "{text:?}: {e:?}");
            assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
            assert!(text[span].starts_with(e.fragment()), "{text:?}: {e:?}");
            let _ = e.to_string();
        }
    }
});
