//! Opening an authenticated websocket that has joined a room, on either stack.
//!
//! The handshake is done here, before a socket is handed to a [`crate::pool`], so that a
//! scenario only measures sockets that are fully set up (session checked, room joined).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::{SinkExt, StreamExt};
use reqwest::header::HeaderValue;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::ours;
use crate::wire::Proto;

/// A websocket to one instance.
pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a connect + join may take before it counts as failed.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// Small buffers: the generator holds up to ~20,000 sockets and its memory is not measured,
/// but 256 KiB of default buffers each would be 5 GB.
fn config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(8 * 1024).write_buffer_size(0)
}

/// Connects to instance `base` with session `cookie`, completes the stack's handshake and
/// joins `room`.
pub async fn open_joined(proto: Proto, base: &str, cookie: &HeaderValue, room: &str) -> Result<Socket> {
    Ok(rejoin(proto, base, cookie, room, None).await?.0)
}

/// Like [`open_joined`], joining with `since` (the last message id seen); also returns the
/// frame that confirmed the join (Switchboard's holds the messages caught up).
pub async fn rejoin(
    proto: Proto,
    base: &str,
    cookie: &HeaderValue,
    room: &str,
    since: Option<&str>,
) -> Result<(Socket, Utf8Bytes)> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, open_inner(proto, base, cookie, room, since))
        .await
        .context("websocket handshake timed out")?
}

async fn open_inner(
    proto: Proto,
    base: &str,
    cookie: &HeaderValue,
    room: &str,
    since: Option<&str>,
) -> Result<(Socket, Utf8Bytes)> {
    let mut request = proto.ws_url(base).into_client_request()?;
    request.headers_mut().insert("cookie", cookie.clone());
    request.headers_mut().insert("origin", base.parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config()), true).await?;
    match proto {
        Proto::Ours => {
            next_text(&mut socket, ours::is_welcome).await.context("no welcome")?;
        }
        Proto::Peer => {
            next_text(&mut socket, |f| f.starts_with('0')).await.context("no engine.io open")?;
            socket.send(Message::text("40")).await?;
            let connected = next_text(&mut socket, |f| f.starts_with("40") || f.starts_with("44")).await?;
            if connected.starts_with("44") {
                bail!("socket.io connect refused: {connected}");
            }
        }
    }
    socket.send(Message::text(proto.join(room, since))).await?;
    let confirmation = next_text(&mut socket, |f| proto.is_join_done(f, room)).await.context("join not confirmed")?;
    Ok((socket, confirmation))
}

/// Reads until a text frame satisfies `wanted` (answering engine.io pings on the way).
async fn next_text(socket: &mut Socket, wanted: impl Fn(&str) -> bool) -> Result<Utf8Bytes> {
    while let Some(frame) = socket.next().await {
        if let Message::Text(text) = frame? {
            if wanted(text.as_str()) {
                return Ok(text);
            }
            if text.as_str() == "2" {
                socket.send(Message::text("3")).await?;
            }
        }
    }
    bail!("socket closed during the handshake")
}
