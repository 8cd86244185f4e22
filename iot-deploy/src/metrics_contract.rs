//! The contract with the services of the iot-rs family: probe paths, the
//! metrics path, the non-root user, and every metric name the generated
//! alerts and dashboards query.
//!
//! This is the **one place** to update when a crate of the family renames a
//! metric or a path: generators only use these constants, and a test checks
//! that every metric named in the generated rules and dashboard is listed in
//! [`ALL_METRICS`].

/// Liveness probe path served by `iot-observe`.
pub const LIVENESS_PATH: &str = "/health/live";
/// Readiness probe path served by `iot-observe`.
pub const READINESS_PATH: &str = "/health/ready";
/// Startup probe path served by `iot-observe`.
pub const STARTUP_PATH: &str = "/health/startup";
/// Prometheus exposition path served by `iot-observe`.
pub const METRICS_PATH: &str = "/metrics";
/// The numeric non-root user and group (distroless `nonroot`).
pub const NONROOT_UID: u32 = 65532;
/// The subcommand the service binary must provide for container health
/// checks: exit 0 when its own readiness endpoint answers.
pub const HEALTHCHECK_SUBCOMMAND: &str = "healthcheck";
/// The largest MQTT packet the generated Mosquitto config lets through:
/// iot-core's default `MqttConfig::max_packet_size`. A broker that passes
/// larger packets than a consumer accepts makes a QoS 1 message
/// undeliverable to it (`docs/mqtt.md`, "Known limits").
pub const MQTT_MAX_PACKET_SIZE: u32 = 256 * 1024;

/// Requests by `operation` and `outcome` (counter; iot-observe `MetricsLayer`).
pub const REQUESTS_TOTAL: &str = "iot_requests_total";
/// Request latency histogram, seconds (iot-observe `MetricsLayer`).
pub const REQUEST_DURATION_SECONDS: &str = "iot_request_duration_seconds";
/// Requests being served (gauge; iot-observe `MetricsLayer`).
pub const REQUESTS_IN_FLIGHT: &str = "iot_requests_in_flight";
/// Health check status by `check`: 1 passing, 0 failing (iot-observe).
pub const HEALTH_CHECK_STATUS: &str = "health_check_status";
/// Circuit breakers by `name` and `state` (gauge; iot-resilience).
pub const CIRCUIT_BREAKER_STATE: &str = "resilience_circuit_breaker_state";
/// Calls through circuit breakers by `name` and `outcome` (iot-resilience).
pub const CIRCUIT_BREAKER_CALLS_TOTAL: &str = "resilience_circuit_breaker_calls_total";
/// Rate limiter decisions by `name` and `decision` (iot-resilience).
pub const RATE_LIMIT_DECISIONS_TOTAL: &str = "resilience_rate_limit_decisions_total";
/// Calls through the retry layer by `name` and `outcome` (iot-resilience).
pub const RETRY_CALLS_TOTAL: &str = "resilience_retry_calls_total";
/// MQTT frames that failed to decode (MQTT transport).
pub const MQTT_DECODE_ERRORS_TOTAL: &str = "iot_mqtt_frames_decode_errors_total";
/// MQTT frames delivered by the consumers, after deduplication (MQTT transport).
pub const MQTT_FRAMES_RECEIVED_TOTAL: &str = "iot_mqtt_frames_received_total";
/// Devices currently online (gauge; MQTT transport).
pub const DEVICES_ONLINE: &str = "iot_devices_online";

/// The pod label Argo Rollouts puts on a Rollout's pods, as a series label
/// (prometheus-operator copies it with `podTargetLabels`).
pub const POD_TEMPLATE_HASH_LABEL: &str = "rollouts-pod-template-hash";

/// `outcome` label value of a failed request in [`REQUESTS_TOTAL`] (the other is `success`).
pub const FAILED_OUTCOME: &str = "error";
/// `state` label value of an open breaker.
pub const BREAKER_OPEN_STATE: &str = "open";
/// `decision` label value of a rejected request.
pub const RATE_LIMIT_REJECTED: &str = "rejected";

/// Every metric the generated rules and dashboards may name (histograms by
/// their base name; `_bucket`, `_sum` and `_count` series are implied).
pub const ALL_METRICS: [&str; 11] = [
    REQUESTS_TOTAL,
    REQUEST_DURATION_SECONDS,
    REQUESTS_IN_FLIGHT,
    HEALTH_CHECK_STATUS,
    CIRCUIT_BREAKER_STATE,
    CIRCUIT_BREAKER_CALLS_TOTAL,
    RATE_LIMIT_DECISIONS_TOTAL,
    RETRY_CALLS_TOTAL,
    MQTT_DECODE_ERRORS_TOTAL,
    MQTT_FRAMES_RECEIVED_TOTAL,
    DEVICES_ONLINE,
];

/// Metrics from Kubernetes itself (kube-state-metrics) used by the restart alert.
pub const KUBE_RESTARTS_TOTAL: &str = "kube_pod_container_status_restarts_total";
