//! What the HTTP surface answers to requests it must refuse, and what it puts on every
//! answer: client mistakes at the server functions are 4xx with a readable message (never a
//! 500), oversized bodies are 413 however they are sent, and every kind of response carries
//! the security headers, with the page's script nonce equal to the one in its policy.

mod support;

use support::{Browser, Instance, PASSWORD, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http client")
}

async fn post(instance: &Instance, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
    let response = client()
        .post(format!("{}{path}", instance.url()))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn a_missing_field_is_a_400_that_names_it() {
    let a = Instance::start(None, "app-a").await;
    let (status, body) = post(&a, "/api/login", FORM, "name=alice").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("missing field") && body.contains("password"), "{body}");
    let (status, body) = post(&a, "/api/register", FORM, "").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("missing field"), "{body}");
}

#[tokio::test]
async fn a_json_body_is_a_400_that_asks_for_a_form() {
    let a = Instance::start(None, "app-a").await;
    let json = r#"{"name":"alice","password":"correct horse battery"}"#;
    let (status, body) = post(&a, "/api/login", "application/json", json).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("expected a form"), "{body}");
}

#[tokio::test]
async fn a_ten_megabyte_body_is_a_413() {
    let a = Instance::start(None, "app-a").await;
    let big = format!("name=alice&password={}", "x".repeat(10 * 1024 * 1024));
    let (status, body) = post(&a, "/api/login", FORM, big).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("too large"), "{body}");
}

/// Sends `head` and `body` on a raw connection and returns the status line of the answer.
async fn raw_status(instance: &Instance, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(instance.addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(body).await.expect("body");
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(PATIENCE, async {
        while !answer.windows(2).any(|w| w == b"\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within {PATIENCE:?}");
    String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_it_is_read() {
    let a = Instance::start(None, "app-a").await;
    // Content-Length announces 10 MB and nothing follows: the answer must not wait for it.
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: {}\r\nContent-Type: {FORM}\r\nContent-Length: 10485760\r\n\r\n",
        a.addr
    );
    assert_eq!(raw_status(&a, &head, b"").await, "HTTP/1.1 413 Payload Too Large");
}

#[tokio::test]
async fn a_chunked_body_is_refused_once_it_passes_the_limit() {
    let a = Instance::start(None, "app-a").await;
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: {}\r\nContent-Type: {FORM}\r\nTransfer-Encoding: chunked\r\n\r\n",
        a.addr
    );
    // 20 KiB in chunks, and the body never ends: the limit, not the end, must trigger the answer.
    let chunk = format!("1000\r\n{}\r\n", "x".repeat(0x1000));
    let body = chunk.repeat(5);
    assert_eq!(raw_status(&a, &head, body.as_bytes()).await, "HTTP/1.1 413 Payload Too Large");
}

#[tokio::test]
async fn proper_forms_still_work() {
    let a = Instance::start(None, "app-a").await;
    let browser = Browser::new();
    assert!(browser.register(&a, "alice", PASSWORD).await.is_success());
    let other = Browser::new();
    assert!(other.login(&a, "alice", PASSWORD).await.is_success());
    assert_eq!(other.login(&a, "alice", "wrong password").await.as_u16(), 401);
    // A chunked form under the limit is read whole.
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: {}\r\nContent-Type: {FORM}\r\nTransfer-Encoding: chunked\r\n\r\n",
        a.addr
    );
    let form = format!("name=alice&password={}", PASSWORD.replace(' ', "+"));
    let body = format!("{:x}\r\n{form}\r\n0\r\n\r\n", form.len());
    let status = raw_status(&a, &head, body.as_bytes()).await;
    assert!(status.starts_with("HTTP/1.1 2") || status.starts_with("HTTP/1.1 3"), "{status}");
}

/// A client that lies about the websocket handshake gets the reason, not a socket: the
/// gateway answers the handshake itself (`ws/handshake.rs`).
#[tokio::test]
async fn a_broken_websocket_handshake_is_refused_with_its_reason() {
    let a = Instance::start(None, "app-a").await;
    let head = |headers: &str| format!("GET /ws HTTP/1.1\r\nhost: {}\r\n{headers}\r\n", a.addr);
    let upgrade = "connection: Upgrade\r\nupgrade: websocket\r\n";
    let key = "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let plain = raw_status(&a, &head(""), b"").await;
    assert!(plain.contains(" 400 "), "{plain}");
    let version = raw_status(&a, &head(&format!("{upgrade}sec-websocket-version: 8\r\n{key}")), b"").await;
    assert!(version.contains(" 426 "), "{version}");
    let keyless = raw_status(&a, &head(&format!("{upgrade}sec-websocket-version: 13\r\n")), b"").await;
    assert!(keyless.contains(" 400 "), "{keyless}");
    // A valid handshake from no session gets past the handshake to the login check.
    let anonymous = raw_status(&a, &head(&format!("{upgrade}sec-websocket-version: 13\r\n{key}")), b"").await;
    assert!(anonymous.contains(" 401 ") || anonymous.contains(" 403 "), "{anonymous}");
}
