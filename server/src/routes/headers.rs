//! Security headers on every response, and the per-request script nonce.
//!
//! The page must not run script an attacker slipped into it, must not be framed
//! by another site (clickjacking), and must not be reinterpreted by a browser's
//! content sniffing. So every response — pages, server functions, probes,
//! static files, error pages — carries:
//!
//! - a Content-Security-Policy: scripts only from this origin or inline ones that
//!   carry this response's nonce (Leptos' hydration bootstrap and its resource
//!   scripts are inline; there is no `'unsafe-inline'` for scripts), plus
//!   `'wasm-unsafe-eval'` so the client's wasm can be compiled; connections
//!   (the websocket) only to this origin; `frame-ancestors 'none'`;
//!   `object-src 'none'`; `base-uri 'none'`. Inline `style` attributes stay
//!   allowed (`style-src 'unsafe-inline'`; the 503 page uses them);
//! - `X-Frame-Options: DENY` for browsers that predate `frame-ancestors`;
//! - `X-Content-Type-Options: nosniff`;
//! - `Referrer-Policy: same-origin` (room names in URLs stay on this site).
//!
//! The nonce is made here, put in the request's extensions and handed to
//! Leptos by the router's context ([`provide_request_nonce`]), so the header
//! and the page's `<script nonce>` always agree. Under `cargo leptos watch`
//! the page also opens a live-reload socket to Leptos' reload port, which the
//! policy then allows ([`Policy::for_site`]).

use axum::extract::{Request, State};
use axum::http::header::{
    CONTENT_SECURITY_POLICY, HeaderName, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use leptos::config::{LeptosOptions, ReloadWSProtocol};
use leptos::nonce::Nonce;
use leptos::prelude::provide_context;

/// What the Content-Security-Policy allows beyond the fixed rules.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Extra `connect-src` sources (the live-reload socket under `cargo leptos watch`).
    connect_extra: String,
}

impl Policy {
    /// The policy for this site: Leptos renders its live-reload script only when `LEPTOS_WATCH`
    /// is set (by `cargo leptos watch`), and that script connects to the reload port.
    pub fn for_site(leptos: &LeptosOptions) -> Self {
        if std::env::var_os("LEPTOS_WATCH").is_none() {
            return Self::default();
        }
        let port = leptos.reload_external_port.unwrap_or(leptos.reload_port);
        let scheme = match leptos.reload_ws_protocol {
            ReloadWSProtocol::WS => "ws",
            ReloadWSProtocol::WSS => "wss",
        };
        Self { connect_extra: format!(" {scheme}://*:{port}") }
    }

    /// The Content-Security-Policy for a response whose inline scripts carry `nonce`.
    pub fn header(&self, nonce: &str) -> String {
        let connect_extra = &self.connect_extra;
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'{connect_extra}; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        )
    }
}

/// Makes the request's nonce and adds the security headers to its response.
pub async fn security_headers(State(policy): State<Policy>, mut request: Request, next: Next) -> Response {
    let nonce = Nonce::new();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    insert_headers(response.headers_mut(), &policy, &nonce);
    response
}

fn insert_headers(headers: &mut HeaderMap, policy: &Policy, nonce: &Nonce) {
    // The nonce is URL-safe base64, so the policy is always a valid header value.
    match HeaderValue::from_str(&policy.header(nonce)) {
        Ok(policy) => {
            headers.insert(CONTENT_SECURITY_POLICY, policy);
        }
        Err(err) => tracing::error!(%err, "content security policy is not a header value"),
    }
    let fixed: [(HeaderName, &'static str); 3] =
        [(X_FRAME_OPTIONS, "DENY"), (X_CONTENT_TYPE_OPTIONS, "nosniff"), (REFERRER_POLICY, "same-origin")];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// Gives Leptos this request's nonce (call it in the render context): the hydration scripts
/// then carry the nonce that the response's policy names.
pub fn provide_request_nonce() {
    let nonce = leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Nonce>().cloned());
    if let Some(nonce) = nonce {
        provide_context(nonce);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_nonce_and_forbids_framing_and_inline_script() {
        let policy = Policy::default().header("abc_-123");
        let script = policy.split(';').map(str::trim).find(|d| d.starts_with("script-src")).unwrap_or_default();
        assert_eq!(script, "script-src 'self' 'nonce-abc_-123' 'wasm-unsafe-eval'");
        for directive in ["frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'", "connect-src 'self'"] {
            assert!(policy.contains(directive), "{directive} missing from {policy}");
        }
    }

    #[test]
    fn the_live_reload_socket_is_allowed_only_when_asked_for() {
        let watching = Policy { connect_extra: " ws://*:3001".into() }.header("n");
        assert!(watching.contains("connect-src 'self' ws://*:3001;"), "{watching}");
        assert!(Policy::default().header("n").contains("connect-src 'self';"));
    }
}
