//! Building responses.

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Method, Response, StatusCode};
use http_body_util::Full;

/// Every response: probe and scrape results must never be served from a
/// cache between the prober and the service.
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// A response with `body`, or only its headers for `HEAD` (same status,
/// same `Content-Length`, as RFC 9110 asks).
pub(crate) fn with_body(
    method: &Method,
    status: StatusCode,
    content_type: HeaderValue,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let body = body.into();
    let length = HeaderValue::from(body.len());
    let body = if method == Method::HEAD {
        Bytes::new()
    } else {
        body
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, content_type);
    headers.insert(CONTENT_LENGTH, length);
    headers.insert(CACHE_CONTROL, NO_STORE);
    response
}

/// 404 for unknown paths (and `/metrics` without a source).
pub(crate) fn not_found(method: &Method) -> Response<Full<Bytes>> {
    with_body(method, StatusCode::NOT_FOUND, TEXT, "not found\n")
}

/// 405 with `Allow` for known paths and other methods.
pub(crate) fn method_not_allowed(method: &Method) -> Response<Full<Bytes>> {
    let mut response = with_body(
        method,
        StatusCode::METHOD_NOT_ALLOWED,
        TEXT,
        "method not allowed\n",
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}
