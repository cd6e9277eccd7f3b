//! HTTP-level telemetry: a span and an `x-request-id` per request, page-render
//! metrics, and the `/metrics` endpoint.
//!
//! The request id is taken from the client's `x-request-id` only when it is a
//! short token (a proxy's id survives; a forged 10 KB header does not), otherwise
//! a UUID is made; it is echoed in the response and recorded on the request span,
//! so every log line of a request — and of a websocket, whose span is opened
//! inside its upgrade request's — can be found by it.

use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Span;

use super::metrics::{metrics, observe, render};

/// The header carrying the request id.
pub const REQUEST_ID: &str = "x-request-id";

/// Drops a client's `x-request-id` unless it is a plausible one, so the request-id layer makes a
/// fresh UUID instead (that layer keeps any id already present).
pub async fn drop_implausible_request_id(mut request: Request, next: Next) -> Response {
    let keep = request.headers().get(REQUEST_ID).is_none_or(|value| plausible(value.as_bytes()));
    if !keep {
        request.headers_mut().remove(REQUEST_ID);
    }
    next.run(request).await
}

/// A request id worth keeping: 1 to 64 characters of `[A-Za-z0-9._-]`.
fn plausible(id: &[u8]) -> bool {
    (1..=64).contains(&id.len()) && id.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The span of one request: method, path and request id (never the query: it may hold secrets).
pub fn request_span(request: &axum::http::Request<Body>) -> Span {
    let id = request.headers().get(REQUEST_ID).and_then(|value| value.to_str().ok()).unwrap_or("-");
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
}

/// Counts and times server-rendered pages (HTML answers to `GET`).
pub async fn page_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let is_get = request.method() == axum::http::Method::GET;
    let response = next.run(request).await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if is_get && html {
        let metrics = metrics();
        metrics.page_renders.increment(1);
        observe(&metrics.page_seconds, started.elapsed());
    }
    response
}

/// `GET /metrics`: every metric in Prometheus' text format.
pub async fn scrape() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], render()).into_response()
}

#[cfg(test)]
mod tests {
    use super::plausible;

    #[test]
    fn only_short_tokens_are_kept_as_request_ids() {
        assert!(plausible(b"a1b2-c3d4.e_5"));
        assert!(!plausible(b""));
        assert!(!plausible(&[b'a'; 65]));
        assert!(!plausible(b"id with spaces"));
        assert!(!plausible(b"<script>"));
    }
}
