//! Every kind of response — page, server function (success and refusal), probe, static file,
//! 404, cross-site refusal, oversized body — carries the security headers, and the nonce in a
//! page's Content-Security-Policy is the one on each of its inline scripts.

mod support;

use std::path::PathBuf;

use leptos::prelude::LeptosOptions;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use support::PASSWORD;
use switchboard::Server;
use switchboard::config::Config;
use tokio_util::sync::CancellationToken;

/// An instance serving a static site from a temporary directory (removed on drop).
struct Site {
    url: String,
    site_root: PathBuf,
    shutdown: CancellationToken,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.site_root);
    }
}

impl Site {
    async fn start(name: &str) -> Self {
        let site_root = std::env::temp_dir().join(format!("switchboard-site-{}-{name}", std::process::id()));
        std::fs::create_dir_all(site_root.join("pkg")).expect("site dir");
        std::fs::write(site_root.join("pkg/switchboard.css"), "body { margin: 0 }").expect("css");
        let leptos = LeptosOptions::builder()
            .output_name("switchboard")
            .site_root(site_root.to_string_lossy().into_owned())
            .build();
        let server = Server::build(Config::for_tests(), leptos).await.expect("instance starts");
        let url = format!("http://{}", server.local_addr());
        let shutdown = server.shutdown_token();
        tokio::spawn(async move {
            let _ = server.run().await;
        });
        Self { url, site_root, shutdown }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        client.request(method, format!("{}{path}", self.url))
    }
}

/// Sends `request`, checks its status and security headers; returns the headers and body.
async fn answer(what: &str, request: RequestBuilder, status: u16) -> (HeaderMap, String) {
    let response = request.send().await.expect("an answer");
    assert_eq!(response.status().as_u16(), status, "{what}: status");
    let headers = response.headers().clone();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("referrer-policy"), "same-origin", "{what}");
    let policy = header("content-security-policy");
    for directive in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "connect-src 'self'",
        "'wasm-unsafe-eval'",
    ] {
        assert!(policy.contains(directive), "{what}: {directive} missing from {policy:?}");
    }
    let script_src = policy.split(';').map(str::trim).find(|d| d.starts_with("script-src")).unwrap_or_default();
    assert!(!script_src.contains("'unsafe-inline'"), "{what}: {script_src}");
    (headers, response.text().await.unwrap_or_default())
}

/// The nonce the policy in `headers` allows.
fn policy_nonce(headers: &HeaderMap) -> String {
    let policy = headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let start = policy.find("'nonce-").map(|i| i + "'nonce-".len()).expect("a nonce in the policy");
    policy[start..].split('\'').next().unwrap_or_default().to_owned()
}

/// The `nonce` attribute of every `<script` tag in `html` (`None` for a tag without one).
fn script_nonces(html: &str) -> Vec<Option<String>> {
    html.split("<script")
        .skip(1)
        .map(|tag| {
            let tag = tag.split('>').next().unwrap_or_default();
            tag.split("nonce=\"").nth(1).and_then(|rest| rest.split('"').next()).map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn a_page_s_scripts_carry_the_nonce_of_its_policy() {
    let site = Site::start("nonce").await;
    let (headers, html) = answer("login page", site.request(Method::GET, "/login"), 200).await;
    let nonce = policy_nonce(&headers);
    let nonces = script_nonces(&html);
    assert!(!nonces.is_empty(), "the page has its hydration script");
    assert!(nonces.iter().all(|n| n.as_deref() == Some(nonce.as_str())), "policy {nonce}, scripts {nonces:?}");
    // Each answer gets its own nonce.
    let (again, _) = answer("login page again", site.request(Method::GET, "/login"), 200).await;
    assert_ne!(policy_nonce(&again), nonce);
    // A page rendered as a 404 too.
    let (headers, html) = answer("404 page", site.request(Method::GET, "/no/such/page"), 404).await;
    let nonce = policy_nonce(&headers);
    assert!(script_nonces(&html).iter().all(|n| n.as_deref() == Some(nonce.as_str())));
}

#[tokio::test]
async fn every_kind_of_answer_carries_the_headers() {
    let site = Site::start("kinds").await;
    let form = [("name", "alice"), ("password", PASSWORD)];
    answer("register", site.request(Method::POST, "/api/register").form(&form), 200).await;
    let wrong = [("name", "alice"), ("password", "not the password")];
    answer("refused login", site.request(Method::POST, "/api/login").form(&wrong), 401).await;
    answer("malformed call", site.request(Method::POST, "/api/login").form(&[("name", "alice")]), 400).await;
    let foreign = site.request(Method::POST, "/api/login").header("origin", "https://evil.example").form(&form);
    answer("cross-site call", foreign, 403).await;
    let big = site.request(Method::POST, "/api/login").body(vec![b'x'; 64 * 1024]);
    answer("oversized call", big, 413).await;
    answer("liveness probe", site.request(Method::GET, "/healthz"), 200).await;
    answer("readiness probe", site.request(Method::GET, "/readyz"), 200).await;
    let (_, css) = answer("static file", site.request(Method::GET, "/pkg/switchboard.css"), 200).await;
    assert_eq!(css, "body { margin: 0 }");
    answer("missing static file", site.request(Method::GET, "/pkg/missing.js"), 404).await;
    answer("websocket without a session", site.request(Method::GET, "/ws"), 400).await;
}
