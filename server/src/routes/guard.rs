//! Middleware that guards every request.
//!
//! - [`client_addr`] records who is asking (the peer address, or the load
//!   balancer's `X-Forwarded-For` when `TRUST_FORWARDED_FOR` is set) for the
//!   per-client rate limits.
//! - [`same_origin_api`] refuses server-function calls made by another site: a
//!   browser's `Sec-Fetch-Site` must say `same-origin` (or `none`), and an
//!   `Origin`, when present, must be the page's own or an allowed one. SameSite
//!   cookies already keep other sites' requests anonymous; this also stops
//!   login CSRF and form posts from same-site neighbours.
//! - [`unavailable_page`] turns the bare 500 that the session layer answers when
//!   its store (Redis) is unreachable into a 503 with a page that says so.

use std::net::SocketAddr;

use app::api::ssr::ClientAddr;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::state::AppState;

/// Puts the request's [`ClientAddr`] in its extensions.
pub async fn client_addr(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let forwarded = state
        .config
        .trust_forwarded_for
        .then(|| request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()))
        .flatten()
        .and_then(|list| list.split(',').next_back())
        .map(|addr| addr.trim().to_owned());
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let addr = forwarded.or(peer).unwrap_or_else(|| "unknown".to_owned());
    request.extensions_mut().insert(ClientAddr(addr));
    next.run(request).await
}

/// Refuses cross-site calls to `/api/…` (server functions).
pub async fn same_origin_api(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/api/") {
        let headers = request.headers();
        let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        let cross_site = matches!(fetch_site, Some(site) if site != "same-origin" && site != "none");
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        if cross_site || !state.origins.admits(origin, host) {
            return (StatusCode::FORBIDDEN, "cross-site requests are refused").into_response();
        }
    }
    next.run(request).await
}

const UNAVAILABLE: &str = r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Switchboard is unavailable</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="refresh" content="5"></head>
<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem">
<h1>Switchboard is briefly unavailable</h1>
<p>The chat cannot reach its storage right now. Nothing you sent before this page was lost.</p>
<p>This page tries again every few seconds.</p></body></html>"#;

/// Replaces an empty 500 (the session store failed) with a clear 503 page.
pub async fn unavailable_page(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let empty = response.headers().get(header::CONTENT_TYPE).is_none();
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR && empty {
        let mut page = (StatusCode::SERVICE_UNAVAILABLE, Html(UNAVAILABLE)).into_response();
        page.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return page;
    }
    response
}
