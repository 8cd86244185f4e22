//! The admin routes over HTTP: a real listener on loopback, `axum::serve`,
//! raw HTTP/1.1 requests.
#![cfg(feature = "admin")]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::Buffer;

use iot_observe::admin::Admin;
use iot_observe::tracing_init::{LogHandle, TracingConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The `message` of every JSON line so far.
fn messages_of(buffer: &Buffer) -> Vec<String> {
    buffer
        .text()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["message"].to_string())
        .collect()
}

/// Serves `router` on 127.0.0.1 (the place for admin routes).
async fn serve(router: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

struct Reply {
    status: u16,
    head: String,
    body: Value,
}

/// One request on a fresh connection; the body as JSON (`null` if empty).
async fn call(addr: SocketAddr, method: &str, path: &str, content_type: &str, body: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    Reply {
        status: head[9..12].parse().unwrap(),
        head: head.to_ascii_lowercase(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

async fn get(addr: SocketAddr, path: &str) -> Reply {
    call(addr, "GET", path, "text/plain", "").await
}

async fn put_text(addr: SocketAddr, path: &str, body: &str) -> Reply {
    call(addr, "PUT", path, "text/plain", body).await
}

async fn put_json(addr: SocketAddr, path: &str, body: &str) -> Reply {
    call(addr, "PUT", path, "application/json", body).await
}

fn reloadable() -> (Buffer, iot_observe::tracing_init::BoxSubscriber, LogHandle) {
    let buffer = Buffer::default();
    let config = TracingConfig::json()
        .filter_env(None::<&'static str>)
        .default_directive("info");
    let (subscriber, handle) = config.build_reloadable(buffer.clone()).unwrap();
    (buffer, subscriber, handle)
}

#[tokio::test]
async fn the_log_filter_is_read_changed_and_reset_over_http() {
    let (buffer, subscriber, log) = reloadable();
    // This thread runs the test and the server (a current-thread runtime).
    let _guard = tracing::subscriber::set_default(subscriber);
    let addr = serve(Admin::new().log_handle(log.clone()).router()).await;

    let reply = get(addr, "/admin/log-level").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.head.contains("content-type: application/json"),
        "{}",
        reply.head
    );
    assert!(
        reply.head.contains("cache-control: no-store"),
        "{}",
        reply.head
    );
    assert_eq!(reply.body, json!({"filter": "info", "initial": "info"}));
    tracing::debug!("m-1");

    // Plain-text directives.
    let reply = put_text(addr, "/admin/log-level", "info,admin=debug").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["filter"], "admin=debug,info");
    tracing::debug!("m-2");
    tracing::trace!("m-3");

    // JSON.
    let reply = put_json(addr, "/admin/log-level", r#"{"filter":"warn"}"#).await;
    assert_eq!(reply.status, 200);
    assert_eq!(log.filter().unwrap(), "warn");
    tracing::info!("m-4");

    // A bad filter is refused; the filter is unchanged.
    let reply = put_text(addr, "/admin/log-level", "info,admin=loud").await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.body["error"].as_str().unwrap().contains("admin=loud"),
        "{}",
        reply.body
    );
    assert_eq!(log.filter().unwrap(), "warn");
    let reply = put_json(addr, "/admin/log-level", r#"{"level":"debug"}"#).await;
    assert_eq!(reply.status, 400);

    // DELETE restores the filter the process started with.
    let reply = call(addr, "DELETE", "/admin/log-level", "text/plain", "").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["filter"], "info");
    tracing::info!("m-5");
    tracing::debug!("m-6");

    let messages = messages_of(&buffer);
    let ours: Vec<&str> = messages
        .iter()
        .map(|m| m.trim_matches('"'))
        .filter(|m| m.starts_with("m-"))
        .collect();
    assert_eq!(ours, ["m-2", "m-5"], "{messages:?}");
    // Every change is logged (at warn, so it shows under the `warn` filter too).
    let audit = messages
        .iter()
        .filter(|m| m.contains("through the admin route"))
        .count();
    assert_eq!(audit, 3, "{messages:?}");

    // A change to `off` is still recorded (under the filter before it).
    assert_eq!(put_text(addr, "/admin/log-level", "off").await.status, 200);
    tracing::error!("m-7");
    let after_off = messages_of(&buffer);
    assert!(
        after_off
            .last()
            .unwrap()
            .contains("through the admin route"),
        "{after_off:?}"
    );
    assert!(
        !after_off.iter().any(|m| m.contains("m-7")),
        "{after_off:?}"
    );
}

#[derive(serde::Serialize)]
struct AppConfig {
    broker: &'static str,
    batch: u32,
}

#[tokio::test]
async fn config_and_breakers_are_read_over_http() {
    let router = Admin::new()
        .config(AppConfig {
            broker: "mqtts://broker:8883",
            batch: 64,
        })
        .breakers(|| {
            vec![
                ("broker".to_owned(), "open".to_owned()),
                ("store".to_owned(), "closed".to_owned()),
            ]
        })
        .router();
    let addr = serve(router).await;

    let reply = get(addr, "/admin/config").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"broker": "mqtts://broker:8883", "batch": 64})
    );

    let reply = get(addr, "/admin/breakers").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!([{"name": "broker", "state": "open"}, {"name": "store", "state": "closed"}])
    );

    // No log handle registered: no log route. Writes to read-only routes: 405.
    assert_eq!(get(addr, "/admin/log-level").await.status, 404);
    assert_eq!(put_json(addr, "/admin/config", "{}").await.status, 405);
}

#[tokio::test]
async fn prefix_and_a_config_that_changes() {
    let batch = Arc::new(Mutex::new(64));
    let current = Arc::clone(&batch);
    let router = Admin::new()
        .with_prefix("/ops/")
        .config_fn(move || json!({ "batch": *current.lock().unwrap() }))
        .router();
    let addr = serve(router).await;
    assert_eq!(get(addr, "/ops/config").await.body, json!({"batch": 64}));
    *batch.lock().unwrap() = 128;
    assert_eq!(get(addr, "/ops/config").await.body, json!({"batch": 128}));
    assert_eq!(get(addr, "/admin/config").await.status, 404);
    assert_eq!(get(addr, "/ops/breakers").await.status, 404);
}

#[cfg(feature = "resilience")]
#[tokio::test]
async fn breakers_of_iot_resilience() {
    use iot_resilience::circuit_breaker::{CircuitBreakerConfig, CircuitBreakerHandle};

    let broker = CircuitBreakerHandle::new(CircuitBreakerConfig::default().name("broker")).unwrap();
    let store = CircuitBreakerHandle::new(CircuitBreakerConfig::default().name("store")).unwrap();
    broker.force_open();
    let addr = serve(Admin::new().breakers(vec![broker, store]).router()).await;
    let reply = get(addr, "/admin/breakers").await;
    assert_eq!(reply.status, 200);
    let states: Vec<(&str, &str)> = reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].as_str().unwrap(), b["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states[0].0, "broker");
    assert_ne!(states[0].1, states[1].1, "{states:?}");
    assert_eq!(states[1], ("store", "closed"));
}
