//! A small body limit for server functions.
//!
//! Server functions take tiny forms (a name and a password). Left alone, the
//! framework reads up to axum's default 2 MB and reports a bigger body as a
//! server error (500, "length limit exceeded"), after holding it in memory. A
//! body over [`API_BODY_LIMIT`] is the client's mistake, and is answered
//! `413 Payload Too Large`: at once when `Content-Length` says so, or as soon
//! as a chunked body passes the limit. Smaller bodies are read here (they are
//! tiny) and handed on whole.

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::LengthLimitError;

/// The largest request body a server function accepts, in bytes.
pub const API_BODY_LIMIT: usize = 16 * 1024;

/// Refuses `/api/…` request bodies over [`API_BODY_LIMIT`] with 413.
pub async fn limit_api_body(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    // With a Content-Length the size is known before a byte is read.
    if request.body().size_hint().lower() > API_BODY_LIMIT as u64 {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, API_BODY_LIMIT).await {
        Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Err(err) if exceeded_limit(&err) => too_large(),
        Err(err) => (StatusCode::BAD_REQUEST, format!("the request body could not be read: {err}")).into_response(),
    }
}

fn too_large() -> Response {
    let message = format!("the request is too large: at most {API_BODY_LIMIT} bytes");
    (StatusCode::PAYLOAD_TOO_LARGE, message).into_response()
}

/// Whether reading the body failed because it passed the limit (and not, say, because the
/// client went away).
fn exceeded_limit(err: &axum::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if cause.is::<LengthLimitError>() {
            return true;
        }
        source = cause.source();
    }
    false
}
