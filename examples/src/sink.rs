//! Where frames end up: an in-memory aggregator of the latest value per
//! device and channel (default), or an HTTP POST of each frame as SenML
//! JSON; both behind optional fault injection (failure rate, latency).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use iot_core::codec::{AliasTable, Channel, NoAliases, Reading, Value};
use iot_core::mqtt::ReceivedFrame;
use iot_resilience::{Hint, RetryHint};
use tower::Service;

/// One frame on its way to the sink.
#[derive(Debug)]
pub struct SinkRequest {
    /// The device (interned, also the rate limiter's key).
    pub device: Arc<str>,
    /// The frame as received.
    pub frame: ReceivedFrame,
    /// The device's alias table when the frame itself arrived before it.
    pub aliases: Option<Arc<AliasTable>>,
}

impl SinkRequest {
    /// The alias table to resolve channel names with, if any.
    pub fn alias_table(&self) -> Option<&AliasTable> {
        self.frame.aliases().or(self.aliases.as_deref())
    }
}

/// Why the sink refused a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkError {
    /// Failed on purpose (`--sink-fail-rate`).
    Injected,
    /// The HTTP request failed (connection refused, reset...).
    Http(String),
    /// The HTTP endpoint answered with this status.
    Status(u16),
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkError::Injected => f.write_str("injected sink failure"),
            SinkError::Http(e) => write!(f, "HTTP sink: {e}"),
            SinkError::Status(s) => write!(f, "HTTP sink answered {s}"),
        }
    }
}

impl std::error::Error for SinkError {}

impl RetryHint for SinkError {
    /// A 4xx answer will not change on retry; everything else may.
    fn retry_hint(&self) -> Hint {
        match self {
            SinkError::Status(s) if (400..500).contains(s) && *s != 429 => Hint::DoNotRetry,
            _ => Hint::None,
        }
    }
}

/// A value as stored by the aggregator.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredValue {
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Text(String),
    /// Opaque data, by length.
    Bytes(usize),
}

impl fmt::Display for StoredValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoredValue::Number(v) => write!(f, "{v}"),
            StoredValue::Bool(v) => write!(f, "{v}"),
            StoredValue::Text(v) => write!(f, "{v:?}"),
            StoredValue::Bytes(n) => write!(f, "<{n} bytes>"),
        }
    }
}

/// The latest readings of one device.
#[derive(Debug, Default, Clone)]
pub struct DeviceLatest {
    /// Sequence number of the newest frame stored.
    pub seq: u64,
    /// Its timestamp (ms since the epoch).
    pub timestamp_ms: u64,
    /// Frames stored.
    pub frames: u64,
    /// Latest value per channel name.
    pub channels: HashMap<String, StoredValue>,
}

/// The in-memory aggregator: latest value per device and channel.
#[derive(Debug, Clone, Default)]
pub struct Aggregator {
    devices: Arc<Mutex<HashMap<Arc<str>, DeviceLatest>>>,
}

impl Aggregator {
    /// Stores a frame's readings (older frames do not overwrite newer ones).
    pub fn store(&self, req: &SinkRequest) {
        let view = req.frame.view();
        let aliases = req.alias_table();
        let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        if !devices.contains_key(&*req.device) {
            devices.insert(req.device.clone(), DeviceLatest::default());
        }
        let Some(entry) = devices.get_mut(&*req.device) else {
            return;
        };
        entry.frames += 1;
        if view.seq() < entry.seq {
            return;
        }
        entry.seq = view.seq();
        entry.timestamp_ms = view.timestamp_ms();
        for r in view.readings() {
            let alias_name: String;
            let name: &str = match (r.channel, aliases) {
                (Channel::Name(n), _) => n,
                (Channel::Alias(a), Some(t)) => match r.channel.name(t) {
                    Some(n) => n,
                    None => {
                        alias_name = format!("#{a}");
                        &alias_name
                    }
                },
                (Channel::Alias(a), None) => {
                    alias_name = format!("#{a}");
                    &alias_name
                }
            };
            let value = match r.value {
                Value::Bool(b) => StoredValue::Bool(b),
                Value::Str(s) => StoredValue::Text(s.to_string()),
                Value::Bytes(b) => StoredValue::Bytes(b.len()),
                other => StoredValue::Number(other.as_f64().unwrap_or(f64::NAN)),
            };
            match entry.channels.get_mut(name) {
                Some(slot) => *slot = value,
                None => {
                    entry.channels.insert(name.to_string(), value);
                }
            }
        }
    }

    /// Devices with stored frames.
    pub fn device_count(&self) -> usize {
        self.devices.lock().map(|d| d.len()).unwrap_or(0)
    }

    /// A copy of one device's latest readings.
    pub fn get(&self, device: &str) -> Option<DeviceLatest> {
        self.devices.lock().ok()?.get(device).cloned()
    }
}

/// Fault injection of the sink.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Share of calls that fail (0..=1).
    pub fail_rate: f64,
    /// Added to every call.
    pub latency: Duration,
}

#[derive(Clone)]
enum Target {
    Memory(Aggregator),
    Http {
        client: Client<HttpConnector, Full<Bytes>>,
        url: http::Uri,
    },
}

/// Counters of the sink.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Calls (attempts, retries included).
    pub attempts: AtomicU64,
    /// Calls that stored the frame.
    pub stored: AtomicU64,
    /// Failures injected.
    pub injected: AtomicU64,
    /// Other failures.
    pub errors: AtomicU64,
}

/// The sink service: `Service<Arc<SinkRequest>>`, cheap to clone.
#[derive(Clone)]
pub struct Sink {
    target: Target,
    faults: Faults,
    stats: Arc<SinkStats>,
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sink")
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl Sink {
    /// A sink storing into `aggregator`.
    pub fn memory(aggregator: Aggregator, faults: Faults) -> Self {
        Self {
            target: Target::Memory(aggregator),
            faults,
            stats: Arc::default(),
        }
    }

    /// A sink POSTing each frame as SenML JSON to `url` (plain HTTP only:
    /// the demo builds no TLS stack).
    pub fn http(url: &str, faults: Faults) -> Result<Self, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("--sink-url {url}: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                    "--sink-url {url}: https is not supported by the demo's HTTP sink (it builds \
                     no TLS stack); use http://, e.g. through a local TLS-terminating proxy"
                ));
            }
            _ => return Err(format!("--sink-url {url}: expected an http:// URL")),
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            target: Target::Http { client, url: uri },
            faults,
            stats: Arc::default(),
        })
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<SinkStats> {
        &self.stats
    }
}

impl Service<Arc<SinkRequest>> for Sink {
    type Response = ();
    type Error = SinkError;
    type Future = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), SinkError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Arc<SinkRequest>) -> Self::Future {
        let stats = self.stats.clone();
        stats.attempts.fetch_add(1, Relaxed);
        let faults = self.faults;
        let fail = faults.fail_rate > 0.0 && fastrand::f64() < faults.fail_rate;
        let target = self.target.clone();
        Box::pin(async move {
            if !faults.latency.is_zero() {
                tokio::time::sleep(faults.latency).await;
            }
            if fail {
                stats.injected.fetch_add(1, Relaxed);
                return Err(SinkError::Injected);
            }
            let result = match target {
                Target::Memory(agg) => {
                    agg.store(&req);
                    Ok(())
                }
                Target::Http { client, url } => post(&client, url, &req).await,
            };
            match &result {
                Ok(()) => stats.stored.fetch_add(1, Relaxed),
                Err(_) => stats.errors.fetch_add(1, Relaxed),
            };
            result
        })
    }
}

async fn post(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: http::Uri,
    req: &SinkRequest,
) -> Result<(), SinkError> {
    let body = senml_json(req).map_err(SinkError::Http)?;
    let request = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/senml+json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| SinkError::Http(e.to_string()))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| SinkError::Http(e.to_string()))?;
    let status = response.status();
    // The body is not needed; dropping it lets the connection be reused
    // only when it was fully read, which is fine for short answers.
    drop(response);
    if status.is_success() {
        Ok(())
    } else {
        Err(SinkError::Status(status.as_u16()))
    }
}

/// The frame as a SenML (RFC 8428) JSON pack.
pub fn senml_json(req: &SinkRequest) -> Result<Vec<u8>, String> {
    let view = req.frame.view();
    let readings: Vec<Reading<'_>> = view.readings().collect();
    let mut out = Vec::with_capacity(64 + readings.len() * 32);
    let result = match req.alias_table() {
        Some(t) => iot_core::senml::encode_json(&view.header(), &readings, t, &mut out),
        None => iot_core::senml::encode_json(&view.header(), &readings, &NoAliases, &mut out),
    };
    result.map_err(|e| e.to_string())?;
    Ok(out)
}
