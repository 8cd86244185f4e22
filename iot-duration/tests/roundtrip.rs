//! Properties of the format: every `Duration` prints to text that parses
//! back to exactly it, in its canonical form; `parse` never panics and
//! accepts nothing outside the grammar's alphabet.

use std::time::Duration;

use proptest::prelude::*;

use iot_testkit::duration::any_duration;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn format_then_parse_is_identity(d in any_duration()) {
        let text = iot_duration::format(d);
        prop_assert!(text.as_str().len() <= 38, "{text}");
        prop_assert_eq!(iot_duration::parse(text.as_str()), Ok(d), "{}", text);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_json_round_trips(d in any_duration()) {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct C {
            #[serde(with = "iot_duration::serde")]
            d: Duration,
            #[serde(with = "iot_duration::serde::option")]
            o: Option<Duration>,
        }
        let c = C { d, o: Some(d) };
        let json = serde_json::to_string(&c).unwrap();
        prop_assert_eq!(serde_json::from_str::<C>(&json).unwrap(), c);
    }

    /// Any decimal fraction of a unit that is a whole number of nanoseconds
    /// parses to exactly that, and prints canonically.
    #[test]
    fn decimal_fractions_are_exact(whole in 0..1_000_000u64, frac in 0..1_000_000_000u32, digits in 1..=9usize) {
        let frac = frac % 10u32.pow(digits as u32);
        let text = format!("{whole}.{frac:0digits$}s");
        let want = Duration::new(whole, frac * 10u32.pow(9 - digits as u32));
        prop_assert_eq!(iot_duration::parse(&text), Ok(want), "{}", text);
    }

    /// Arbitrary text: an error whose span lies in the input, or a value.
    #[test]
    fn never_panics(text in ".{0,300}") {
        match iot_duration::parse(&text) {
            Ok(d) => prop_assert_eq!(iot_duration::parse(iot_duration::format(d).as_str()), Ok(d)),
            Err(e) => {
                prop_assert!(e.span().end <= text.len());
                prop_assert!(text.is_char_boundary(e.span().start));
                prop_assert!(e.fragment().len() <= 32);
                let _ = e.to_string();
            }
        }
    }
}
