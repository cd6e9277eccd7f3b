//! The websocket opening handshake (RFC 6455 §4.2.2), answered by us rather than by axum's
//! `WebSocketUpgrade`.
//!
//! axum's socket keeps tungstenite's stream to itself, and with it the stream's I/O and
//! configuration; owning the stream is what lets [`super::socket`] fragment large frames and
//! [`super::gather`] give the write buffer back, so an idle socket holds no write buffer. The
//! handshake itself is small: check the request's headers, answer 101 with the key's
//! accept value (tungstenite's own function), and take the connection from hyper once the
//! answer is sent. HTTP/1.1 only: HAProxy and browsers open websockets that way.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{FutureExt, TryFutureExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::{Role, WebSocketConfig};

use crate::ws::gather::Gathered;
use crate::ws::socket::Socket;

/// Why a request to `/ws` is no websocket handshake we can answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    /// `Connection: upgrade` and `Upgrade: websocket` are missing.
    #[error("not a websocket handshake: `Connection: upgrade` and `Upgrade: websocket` are required")]
    NotUpgrade,
    /// Another protocol version than 13.
    #[error("websocket version 13 is required")]
    Version,
    /// No `Sec-WebSocket-Key`.
    #[error("`Sec-WebSocket-Key` is missing")]
    NoKey,
    /// The connection cannot be taken over (not HTTP/1.1).
    #[error("this connection cannot be upgraded")]
    NotUpgradable,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = match self {
            Self::NotUpgrade | Self::NoKey => StatusCode::BAD_REQUEST,
            Self::Version | Self::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
        };
        let mut response = (status, self.to_string()).into_response();
        if self == Self::Version {
            // RFC 6455 §4.4: name the version the server speaks.
            response.headers_mut().insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        }
        response
    }
}

/// A valid handshake request, ready to be answered with [`Handshake::accept`].
pub struct Handshake {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|part| part.trim().eq_ignore_ascii_case(token))
}

impl<S: Send + Sync> FromRequestParts<S> for Handshake {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let headers = &parts.headers;
        if !has_token(headers, header::CONNECTION, "upgrade") || !has_token(headers, header::UPGRADE, "websocket") {
            return Err(Refused::NotUpgrade);
        }
        if headers.get(header::SEC_WEBSOCKET_VERSION).is_none_or(|v| v.as_bytes() != b"13") {
            return Err(Refused::Version);
        }
        let key = headers.get(header::SEC_WEBSOCKET_KEY).cloned().ok_or(Refused::NoKey)?;
        let on_upgrade = parts.extensions.remove::<OnUpgrade>().ok_or(Refused::NotUpgradable)?;
        Ok(Self { key, on_upgrade })
    }
}

impl Handshake {
    /// Answers 101 and, once hyper hands the connection over, runs `serve` on the socket in a
    /// task of its own. A connection lost during the switch is only logged.
    pub fn accept<F, Fut>(self, config: WebSocketConfig, serve: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Self { key, on_upgrade } = self;
        // A chain of combinators, not an `async` block: a block keeps what it captured (the
        // config) and the upgrade's result for as long as the socket lives, in every socket's
        // task; each stage of the chain is dropped when the next begins.
        let serving = on_upgrade
            .map_err(|err| tracing::debug!(%err, "websocket upgrade failed"))
            .and_then(move |upgraded| {
                let io = Gathered::new(TokioIo::new(upgraded));
                WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).map(Ok)
            })
            .and_then(move |stream| serve(Socket::new(stream)).map(Ok));
        tokio::spawn(serving.map(|_: Result<(), ()>| ()));
        let accept = derive_accept_key(key.as_bytes());
        let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    async fn handshake(headers: &[(&str, &str)]) -> Result<(), Refused> {
        let mut request = Request::get("/ws");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (mut parts, ()) = request.body(()).expect("a request").into_parts();
        Handshake::from_request_parts(&mut parts, &()).await.map(|_| ())
    }

    const VALID: [(&str, &str); 4] = [
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "WebSocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[tokio::test]
    async fn each_missing_or_wrong_header_is_named() {
        assert_eq!(handshake(&VALID[1..]).await.err(), Some(Refused::NotUpgrade));
        assert_eq!(
            handshake(&[VALID[0], ("upgrade", "h2c"), VALID[2], VALID[3]]).await.err(),
            Some(Refused::NotUpgrade)
        );
        assert_eq!(
            handshake(&[VALID[0], VALID[1], ("sec-websocket-version", "8"), VALID[3]]).await.err(),
            Some(Refused::Version)
        );
        assert_eq!(handshake(&VALID[..3]).await.err(), Some(Refused::NoKey));
        // Valid headers, but no connection hyper could hand over (as for HTTP/2).
        assert_eq!(handshake(&VALID).await.err(), Some(Refused::NotUpgradable));
    }

    #[test]
    fn a_wrong_version_is_answered_with_the_one_spoken() {
        let response = Refused::Version.into_response();
        assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(response.headers().get(header::SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes()), Some(&b"13"[..]));
    }
}
