//! Property tests of the MQTT topic scheme: building and parsing are
//! inverse, and arbitrary input never panics.
#![cfg(feature = "mqtt")]

use iot_core::mqtt::{TopicError, TopicKind, TopicScheme, shared_filter, validate_filter};
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = TopicKind> {
    prop::sample::select(TopicKind::ALL.to_vec())
}

fn device_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9][A-Za-z0-9._:-]{0,40}",
        "[a-z]{1,3}[äöü€日本]{1,8}",
    ]
}

fn prefix() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("iot".to_owned()),
        "[a-z0-9_-]{1,12}(/[a-z0-9_-]{1,12}){0,3}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn build_then_parse_is_identity(prefix in prefix(), id in device_id(), kind in kind()) {
        let scheme = TopicScheme::new(prefix.clone());
        let topic = scheme.topic(&id, kind).unwrap();
        prop_assert!(topic.starts_with(&prefix));
        let parsed = scheme.parse(&topic).unwrap();
        prop_assert_eq!(parsed.device_id, id.as_str());
        prop_assert_eq!(parsed.kind, kind);
        // The filter of every device matches the topic's shape.
        let filter = scheme.filter(kind, None).unwrap();
        prop_assert!(validate_filter(&filter).is_ok());
        prop_assert!(shared_filter("g", &filter).unwrap().ends_with(&filter));
    }

    #[test]
    fn any_topic_parses_to_itself_or_fails_typed(prefix in prefix(), topic in "\\PC{0,80}") {
        let scheme = TopicScheme::new(prefix);
        match scheme.parse(&topic) {
            Ok(parsed) => {
                let rebuilt = scheme.topic(parsed.device_id, parsed.kind).unwrap();
                prop_assert_eq!(rebuilt, topic);
            }
            Err(e) => {
                // Every error names the offending topic or id.
                let shown = e.to_string();
                prop_assert!(!shown.is_empty());
                prop_assert!(matches!(
                    e,
                    TopicError::OutsidePrefix { .. }
                        | TopicError::WrongShape { .. }
                        | TopicError::UnknownKind { .. }
                        | TopicError::InvalidDeviceId { .. }
                ), "{e:?}");
            }
        }
    }

    #[test]
    fn structured_near_misses_are_rejected(
        id in device_id(),
        kind in kind(),
        junk in "[ #+/\u{0}]",
        at in 0usize..40,
    ) {
        // A wildcard, a NUL, a space or an extra level spliced into a valid
        // topic's device level is never accepted as a device.
        let scheme = TopicScheme::new("iot");
        let mut bad = id.clone();
        let at = (0..=bad.len()).filter(|i| bad.is_char_boundary(*i)).nth(at % (bad.chars().count() + 1)).unwrap_or(0);
        bad.insert_str(at, &junk);
        let topic = format!("iot/{bad}/{}", scheme.level(kind));
        prop_assert!(scheme.parse(&topic).is_err(), "{topic:?}");
    }

    #[test]
    fn filters_never_panic(filter in "\\PC{0,80}", group in "\\PC{0,20}") {
        let _ = validate_filter(&filter);
        if let Ok(shared) = shared_filter(&group, &filter) {
            prop_assert!(shared.starts_with("$share/"));
            prop_assert!(validate_filter(&filter).is_ok());
        }
    }
}
