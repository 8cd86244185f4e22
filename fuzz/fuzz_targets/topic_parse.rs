//! Any input: the MQTT topic parser and filter validators return an error
//! or a result that rebuilds the same topic.
#![no_main]

use iot_core::mqtt::{TopicScheme, shared_filter, validate_filter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is the prefix, the rest the topic.
    let (prefix, topic) = text.split_once('\n').unwrap_or(("iot", text));
    let scheme = TopicScheme::new(prefix);
    if scheme.validate().is_ok() {
        if let Ok(parsed) = scheme.parse(topic) {
            let rebuilt = scheme.topic(parsed.device_id, parsed.kind).unwrap();
            assert_eq!(rebuilt, topic);
        }
    }
    if validate_filter(topic).is_ok() {
        let _ = shared_filter(prefix, topic);
    }
});
