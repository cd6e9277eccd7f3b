//! Middleware that guards every request.
//!
//! - [`client_addr`] records who is asking (the peer address, or the load
//!   balancer's `X-Forwarded-For` when `TRUST_FORWARDED_FOR` is set) for the
//!   per-client rate limits. Only the last `X-Forwarded-For` entry counts: every
//!   earlier one may have been written by the client itself ([`forwarded_client`]).
//! - [`same_origin_api`] refuses server-function calls made by another site: a
//!   browser's `Sec-Fetch-Site` must say `same-origin` (or `none`), and an
//!   `Origin`, when present, must be the page's own or an allowed one. SameSite
//!   cookies already keep other sites' requests anonymous; this also stops
//!   login CSRF and form posts from same-site neighbours.
//! - [`unavailable_page`] turns the bare 500 that the session layer answers when
//!   its store (Redis) is unreachable into a 503 with a page that says so.

use std::net::{IpAddr, SocketAddr};

use app::api::ssr::ClientAddr;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::state::AppState;
use crate::ws::origin::OriginPolicy;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// Puts the request's [`ClientAddr`] in its extensions.
pub async fn client_addr(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let forwarded = if state.config.trust_forwarded_for { forwarded_client(request.headers()) } else { None };
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let addr = forwarded.or(peer).map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    request.extensions_mut().insert(ClientAddr(addr));
    next.run(request).await
}

/// The client address the trusted load balancer reported: the last entry of the last
/// `X-Forwarded-For` line. A client may send its own `X-Forwarded-For` lines and entries, and
/// a proxy that appends (HAProxy's `option forwardfor`) keeps them in front of its own, so only
/// the last entry is the proxy's word. `None` when there is none or it is not an IP address.
pub fn forwarded_client(headers: &HeaderMap) -> Option<IpAddr> {
    let last_line = headers.get_all(X_FORWARDED_FOR).iter().next_back()?;
    last_line.to_str().ok()?.rsplit(',').next()?.trim().parse().ok()
}

/// Refuses cross-site calls to `/api/…` (server functions).
pub async fn same_origin_api(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/api/") && cross_site(request.headers(), &state.origins) {
        return (StatusCode::FORBIDDEN, "cross-site requests are refused").into_response();
    }
    next.run(request).await
}

/// Whether a request comes from another site: its `Sec-Fetch-Site` says so, or its `Origin`
/// is neither the page's own nor an allowed one.
pub fn cross_site(headers: &HeaderMap, origins: &OriginPolicy) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let cross_site = matches!(fetch_site, Some(site) if site != "same-origin" && site != "none");
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    cross_site || !origins.admits(origin, host)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_str(line).expect("test header"));
        }
        headers
    }

    fn client(lines: &[&str]) -> Option<String> {
        forwarded_client(&headers(lines)).map(|ip| ip.to_string())
    }

    #[test]
    fn the_proxy_s_own_line_wins_over_a_forged_first_line() {
        // HAProxy's `option forwardfor` appends its line after the one the client sent.
        assert_eq!(client(&["6.6.6.6", "203.0.113.7"]).as_deref(), Some("203.0.113.7"));
        assert_eq!(client(&["1.1.1.1, 2.2.2.2", "3.3.3.3", "198.51.100.1"]).as_deref(), Some("198.51.100.1"));
    }

    #[test]
    fn the_last_entry_of_a_list_counts() {
        assert_eq!(client(&["6.6.6.6, 203.0.113.7"]).as_deref(), Some("203.0.113.7"));
        assert_eq!(client(&[" 203.0.113.7 "]).as_deref(), Some("203.0.113.7"));
        assert_eq!(client(&["6.6.6.6,2001:db8::1"]).as_deref(), Some("2001:db8::1"));
    }

    #[test]
    fn nothing_usable_is_none() {
        assert_eq!(client(&[]), None);
        assert_eq!(client(&[""]), None);
        assert_eq!(client(&["203.0.113.7, "]), None, "an empty last entry is not replaced by a forged one");
        assert_eq!(client(&["203.0.113.7", "not-an-address"]), None);
    }
}
