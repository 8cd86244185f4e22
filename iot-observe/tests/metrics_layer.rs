//! MetricsLayer against a DebuggingRecorder: exact values, labels, HELP text,
//! in-flight accounting on completion and cancellation.

use std::collections::HashMap;
use std::convert::Infallible;

use iot_observe::metrics_layer::{MetricsLayer, Outcome, ServerErrorsAsFailures};
use metrics::Unit;
use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tokio::sync::oneshot;
use tower::{Layer, Service, ServiceExt, service_fn};

/// `(kind, name, sorted labels)`.
type SeriesKey = (MetricKind, String, Vec<(String, String)>);

/// Series values from one snapshot (which resets counters and gauges).
#[derive(Debug)]
struct Values {
    values: HashMap<SeriesKey, DebugValue>,
    described: HashMap<String, (Option<Unit>, String)>,
}

fn snapshot(snapshotter: &Snapshotter) -> Values {
    let mut values = HashMap::new();
    let mut described = HashMap::new();
    for (key, unit, help, value) in snapshotter.snapshot().into_vec() {
        let (kind, key) = key.into_parts();
        let name = key.name().to_owned();
        let mut labels: Vec<_> = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        labels.sort();
        if let Some(help) = help {
            described.insert(name.clone(), (unit, help.into_owned()));
        }
        values.insert((kind, name, labels), value);
    }
    Values { values, described }
}

impl Values {
    fn get(&self, kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> &DebugValue {
        let mut labels: Vec<_> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        self.values
            .get(&(kind, name.to_owned(), labels.clone()))
            .unwrap_or_else(|| panic!("no {kind:?} {name} {labels:?} in {:#?}", self.values))
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.get(MetricKind::Counter, name, labels) {
            DebugValue::Counter(v) => *v,
            other => panic!("{other:?}"),
        }
    }

    fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        match self.get(MetricKind::Gauge, name, labels) {
            DebugValue::Gauge(v) => v.into_inner(),
            other => panic!("{other:?}"),
        }
    }

    fn samples(&self, name: &str, labels: &[(&str, &str)]) -> usize {
        match self.get(MetricKind::Histogram, name, labels) {
            DebugValue::Histogram(v) => v.len(),
            other => panic!("{other:?}"),
        }
    }
}

fn even_ok(n: u32) -> Result<u32, &'static str> {
    if n % 2 == 0 { Ok(n) } else { Err("odd") }
}

#[tokio::test]
async fn counts_by_outcome_and_times_every_request() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let layer = metrics::with_local_recorder(&recorder, || MetricsLayer::new("decode"));
    let mut svc = layer.layer(service_fn(|n: u32| async move { even_ok(n) }));
    for n in 0..5 {
        let _ = svc.ready().await.unwrap().call(n).await;
    }

    let v = snapshot(&snapshotter);
    let ok = [("operation", "decode"), ("outcome", "success")];
    let err = [("operation", "decode"), ("outcome", "error")];
    assert_eq!(v.counter("iot_requests_total", &ok), 3);
    assert_eq!(v.counter("iot_requests_total", &err), 2);
    assert_eq!(v.samples("iot_request_duration_seconds", &ok), 3);
    assert_eq!(v.samples("iot_request_duration_seconds", &err), 2);
    assert_eq!(
        v.gauge("iot_requests_in_flight", &[("operation", "decode")]),
        0.0
    );
    assert_eq!(v.values.len(), 5, "exactly the pre-registered series");
}

#[tokio::test]
async fn describes_its_metrics_in_base_units() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _layer = metrics::with_local_recorder(&recorder, || MetricsLayer::new("x"));
    let v = snapshot(&snapshotter);
    let unit = |name: &str| {
        v.described
            .get(name)
            .map(|(u, help)| (*u, !help.is_empty()))
    };
    assert_eq!(unit("iot_requests_total"), Some((Some(Unit::Count), true)));
    assert_eq!(
        unit("iot_request_duration_seconds"),
        Some((Some(Unit::Seconds), true))
    );
    assert_eq!(
        unit("iot_requests_in_flight"),
        Some((Some(Unit::Count), true))
    );
}

#[tokio::test]
async fn durations_are_seconds() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let layer = metrics::with_local_recorder(&recorder, || MetricsLayer::new("sleep"));
    let mut svc = layer.layer(service_fn(|()| async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Ok::<_, Infallible>(())
    }));
    svc.ready().await.unwrap().call(()).await.unwrap();
    let v = snapshot(&snapshotter);
    let key = v.get(
        MetricKind::Histogram,
        "iot_request_duration_seconds",
        &[("operation", "sleep"), ("outcome", "success")],
    );
    let DebugValue::Histogram(samples) = key else {
        panic!("{key:?}")
    };
    let seconds = samples[0].into_inner();
    assert!((0.019..1.0).contains(&seconds), "{seconds}");
}

#[tokio::test]
async fn in_flight_counts_pending_requests() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let layer = metrics::with_local_recorder(&recorder, || MetricsLayer::new("wait"));
    let mut svc = layer.layer(service_fn(|rx: oneshot::Receiver<()>| async move {
        rx.await.map_err(|_| "closed")
    }));
    let (tx1, rx1) = oneshot::channel();
    let (_tx2, rx2) = oneshot::channel();
    let first = tokio::spawn(svc.ready().await.unwrap().call(rx1));
    let _second = svc.ready().await.unwrap().call(rx2);
    tx1.send(()).unwrap();
    first.await.unwrap().unwrap();

    let v = snapshot(&snapshotter);
    assert_eq!(
        v.gauge("iot_requests_in_flight", &[("operation", "wait")]),
        1.0
    );
    let ok = [("operation", "wait"), ("outcome", "success")];
    assert_eq!(v.counter("iot_requests_total", &ok), 1);
}

#[tokio::test]
async fn a_cancelled_request_leaves_flight_uncounted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let layer = metrics::with_local_recorder(&recorder, || MetricsLayer::new("cancel"));
    let mut svc = layer.layer(service_fn(|()| {
        std::future::pending::<Result<(), Infallible>>()
    }));
    let future = svc.ready().await.unwrap().call(());
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(5), future).await;
    assert!(timed_out.is_err());

    let v = snapshot(&snapshotter);
    assert_eq!(
        v.gauge("iot_requests_in_flight", &[("operation", "cancel")]),
        0.0
    );
    for outcome in ["success", "error"] {
        let labels = [("operation", "cancel"), ("outcome", outcome)];
        assert_eq!(v.counter("iot_requests_total", &labels), 0);
        assert_eq!(v.samples("iot_request_duration_seconds", &labels), 0);
    }
}

#[tokio::test]
async fn prefix_and_closure_classifier() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let layer = metrics::with_local_recorder(&recorder, || {
        MetricsLayer::builder("lookup")
            .prefix("registry")
            // A miss (`Ok(None)`) counts as an error for this operation.
            .classifier(|r: &Result<Option<u32>, Infallible>| match r {
                Ok(Some(_)) => Outcome::Success,
                _ => Outcome::Error,
            })
            .build()
    });
    assert_eq!(layer.operation(), "lookup");
    let mut svc = layer.layer(service_fn(|n: u32| async move {
        Ok::<_, Infallible>((n > 0).then_some(n))
    }));
    for n in [0, 1, 2, 0, 0] {
        svc.ready().await.unwrap().call(n).await.unwrap();
    }
    let v = snapshot(&snapshotter);
    let ok = [("operation", "lookup"), ("outcome", "success")];
    let err = [("operation", "lookup"), ("outcome", "error")];
    assert_eq!(v.counter("registry_requests_total", &ok), 2);
    assert_eq!(v.counter("registry_requests_total", &err), 3);
}

#[tokio::test]
async fn http_server_errors_are_failures_client_errors_are_not() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let layer = metrics::with_local_recorder(&recorder, || {
        MetricsLayer::builder("/devices/{id}")
            .classifier(ServerErrorsAsFailures)
            .build()
    });
    let mut svc = layer.layer(service_fn(|status: u16| async move {
        let response = http::Response::builder().status(status).body(()).unwrap();
        Ok::<_, Infallible>(response)
    }));
    for status in [200, 404, 500, 503, 204] {
        svc.ready().await.unwrap().call(status).await.unwrap();
    }
    let v = snapshot(&snapshotter);
    let labels = |outcome| [("operation", "/devices/{id}"), ("outcome", outcome)];
    assert_eq!(v.counter("iot_requests_total", &labels("success")), 3);
    assert_eq!(v.counter("iot_requests_total", &labels("error")), 2);
}

#[tokio::test]
async fn clones_share_the_series() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let layer = metrics::with_local_recorder(&recorder, || MetricsLayer::new("shared"));
    let svc = layer
        .clone()
        .layer(service_fn(|()| async { Ok::<_, Infallible>(()) }));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let svc = svc.clone();
        tasks.push(tokio::spawn(svc.oneshot(())));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let mut other = layer.layer(service_fn(|()| async { Ok::<_, Infallible>(()) }));
    other.ready().await.unwrap().call(()).await.unwrap();
    let v = snapshot(&snapshotter);
    let ok = [("operation", "shared"), ("outcome", "success")];
    assert_eq!(v.counter("iot_requests_total", &ok), 9);
}

#[tokio::test]
async fn without_a_recorder_nothing_breaks() {
    let mut svc = MetricsLayer::new("noop").layer(service_fn(|n: u32| async move { even_ok(n) }));
    assert_eq!(svc.ready().await.unwrap().call(2).await, Ok(2));
    assert_eq!(svc.ready().await.unwrap().call(3).await, Err("odd"));
}
