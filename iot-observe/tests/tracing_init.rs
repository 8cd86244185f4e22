//! tracing_init: JSON line shape, filtering, human formats, and the error on
//! a second global init.
#![cfg(feature = "tracing-init")]

mod common;

use common::Buffer;
use iot_observe::tracing_init::{self, Format, InitError, LogFilterError, TracingConfig};

/// Runs `f` under the subscriber `config` builds, returning the output.
fn capture(config: TracingConfig, f: impl FnOnce()) -> String {
    let buffer = Buffer::default();
    let config = config.filter_env(None::<&'static str>);
    let subscriber = config.build_subscriber(buffer.clone()).unwrap();
    tracing::subscriber::with_default(subscriber, f);
    buffer.text()
}

#[test]
fn json_lines_have_flat_fields_and_the_current_span() {
    let out = capture(TracingConfig::json(), || {
        let span = tracing::info_span!("ingest", device = "dev-4f2a9c01");
        let _entered = span.enter();
        tracing::info!(readings = 10, "frame decoded");
        tracing::warn!("slow");
    });
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    let first = &lines[0];
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["message"], "frame decoded");
    assert_eq!(first["readings"], 10);
    assert_eq!(first["target"], "tracing_init");
    assert_eq!(first["span"]["name"], "ingest");
    assert_eq!(first["span"]["device"], "dev-4f2a9c01");
    assert!(first["timestamp"].as_str().unwrap().contains('T'));
    assert!(first.get("fields").is_none(), "fields are flattened");
    assert!(first.get("spans").is_none(), "no span list");
    assert_eq!(lines[1]["level"], "WARN");
    assert!(!out.contains('\u{1b}'), "no colour codes in JSON");
}

#[test]
fn default_directive_filters() {
    let config = TracingConfig::json().default_directive("warn,tracing_init=error");
    let out = capture(config, || {
        tracing::warn!("dropped");
        tracing::error!("kept");
        tracing::warn!(target: "other", "kept too");
    });
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains("\"kept\"") && out.contains("kept too"));
}

#[test]
fn human_formats_are_not_json_and_have_no_colours_by_default() {
    for format in [Format::Pretty, Format::Compact] {
        let out = capture(TracingConfig::default().format(format), || {
            tracing::info!(port = 8080, "listening");
        });
        assert!(out.contains("listening") && out.contains("port"), "{out}");
        assert!(serde_json::from_str::<serde_json::Value>(out.trim()).is_err());
        assert!(!out.contains('\u{1b}'), "{out:?}");
    }
    let coloured = capture(TracingConfig::compact().ansi(true), || tracing::info!("hi"));
    assert!(coloured.contains('\u{1b}'));
}

#[test]
fn a_bad_filter_is_an_error_not_a_panic() {
    let err = TracingConfig::json()
        .filter_env(None::<&'static str>)
        .default_directive("tracing_init=loudest")
        .build_subscriber(std::io::sink)
        .err()
        .unwrap();
    assert!(matches!(err, InitError::InvalidFilter { .. }), "{err}");
}

#[test]
fn second_global_init_returns_an_error() {
    let config = TracingConfig::json()
        .filter_env(None::<&'static str>)
        .output(tracing_init::Output::Stderr);
    let log = tracing_init::init(config.clone()).unwrap();
    assert_eq!(log.filter().unwrap(), "info");
    assert_eq!(log.initial_filter(), "info");
    assert!(matches!(
        tracing_init::init(config),
        Err(InitError::SubscriberAlreadySet)
    ));
    assert!(matches!(
        tracing_init::init_json(),
        Err(InitError::SubscriberAlreadySet)
    ));
    assert!(matches!(
        tracing_init::init_pretty(),
        Err(InitError::SubscriberAlreadySet)
    ));
}

#[test]
fn config_deserializes_with_defaults() {
    let config: TracingConfig =
        serde_json::from_str(r#"{"format": "compact", "default_directive": "debug"}"#).unwrap();
    assert_eq!(config.format, Format::Compact);
    assert_eq!(config.default_directive, "debug");
    assert_eq!(config.filter_env.as_deref(), Some("RUST_LOG"));
    assert_eq!(config.output, tracing_init::Output::Stdout);
    assert!(serde_json::from_str::<TracingConfig>(r#"{"format": "xml"}"#).is_err());
}

#[test]
fn a_filter_change_takes_effect_without_a_restart() {
    let buffer = Buffer::default();
    let config = TracingConfig::json()
        .filter_env(None::<&'static str>)
        .default_directive("info");
    let (subscriber, handle) = config.build_reloadable(buffer.clone()).unwrap();
    tracing::subscriber::with_default(subscriber, || {
        tracing::debug!("m-1 filtered out");
        tracing::info!("m-2 kept");

        handle.set_filter("info,tracing_init=debug").unwrap();
        tracing::debug!("m-3 kept after the change");
        tracing::trace!("m-4 filtered out");
        assert_eq!(handle.filter().unwrap(), "tracing_init=debug,info");

        // A bad filter is refused and changes nothing.
        assert!(matches!(
            handle.set_filter("info,tracing_init=loud"),
            Err(LogFilterError::Invalid { directives, .. }) if directives == "info,tracing_init=loud"
        ));
        tracing::debug!("m-5 kept");

        handle.reset().unwrap();
        assert_eq!(handle.filter().unwrap(), "info");
        tracing::debug!("m-6 filtered out after the reset");
        tracing::warn!("m-7 kept");
    });
    let messages: Vec<String> = buffer
        .text()
        .lines()
        .map(|l| {
            let line: serde_json::Value = serde_json::from_str(l).unwrap();
            line["message"].as_str().unwrap()[..3].to_owned()
        })
        .collect();
    assert_eq!(messages, ["m-2", "m-3", "m-5", "m-7"]);

    // The subscriber is gone: the handle says so.
    assert!(matches!(
        handle.set_filter("debug"),
        Err(LogFilterError::SubscriberGone)
    ));
}
