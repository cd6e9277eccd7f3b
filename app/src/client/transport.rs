//! The two ways a page reaches the server, behind one shape: a stream of what the
//! server says ([`Incoming`]) and a way to say something ([`Outgoing`]).
//!
//! A websocket is both halves at once. The fallback, for networks that break
//! websockets, is an `EventSource` on `/stream` (each protocol frame is a `message`
//! event; `close` carries the code and reason a websocket close would) and one
//! `POST /stream/{id}` at a time carrying the frames queued meanwhile, one per line,
//! so they arrive in the order sent. The browser resumes a dropped event stream by
//! itself (`Last-Event-ID`); when it cannot — the instance is gone — the stream
//! errors and the page reconnects as after a lost socket. A `POST` that is not taken
//! ends the connection the same way: everything unanswered is sent again after the
//! next `welcome`, so a lost `POST` loses nothing.

use std::time::Duration;

use futures::channel::mpsc::{self, UnboundedSender};
use futures::stream::{LocalBoxStream, SplitSink};
use futures::{SinkExt, StreamExt};
use gloo_net::eventsource::futures::EventSource;
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, WebSocketError};
use leptos::task::spawn_local;

/// What the server said.
pub(super) enum Incoming {
    /// A protocol frame.
    Text(String),
    /// The server closed the connection with a code and a reason.
    Closed {
        /// The close code (the protocol's `CLOSE_…`).
        code: u16,
        /// Why, for the user.
        reason: String,
    },
    /// The connection failed or ended without a word.
    Ended,
}

/// A connection to the server.
pub(super) struct Channel {
    /// What the server says.
    pub incoming: LocalBoxStream<'static, Incoming>,
    /// How to say something.
    pub outgoing: Outgoing,
    /// The fallback's event source, closed when the channel is dropped.
    _source: Option<EventSource>,
}

/// The sending half of a [`Channel`].
pub(super) enum Outgoing {
    /// A websocket's.
    Socket(SplitSink<WebSocket, Message>),
    /// The fallback's queue of frames for the `POST`s.
    Posts(UnboundedSender<String>),
}

impl Outgoing {
    /// Sends a frame's text; `false` when the connection is gone.
    pub async fn send(&mut self, text: String) -> bool {
        match self {
            Self::Socket(sink) => sink.send(Message::Text(text)).await.is_ok(),
            Self::Posts(queue) => queue.unbounded_send(text).is_ok(),
        }
    }
}

/// Opens a websocket to `url`.
pub(super) fn websocket(url: &str) -> Option<Channel> {
    let (sink, stream) = WebSocket::open(url).ok()?.split();
    let incoming = stream.map(|frame| match frame {
        Ok(Message::Text(text)) => Incoming::Text(text),
        Ok(Message::Bytes(_)) => Incoming::Text(String::new()),
        Err(WebSocketError::ConnectionClose(close)) => Incoming::Closed { code: close.code, reason: close.reason },
        Err(_) => Incoming::Ended,
    });
    Some(Channel { incoming: incoming.boxed_local(), outgoing: Outgoing::Socket(sink), _source: None })
}

/// How long the fallback waits for its stream to name itself.
const OPENING: Duration = Duration::from_secs(10);

/// The most bytes of frames one `POST` carries (a larger frame goes alone).
const POST_BYTES: usize = 32 * 1024;

/// Opens the fallback: `None` when the stream does not open within [`OPENING`].
pub(super) async fn fallback() -> Option<Channel> {
    let mut source = EventSource::new("/stream").ok()?;
    let mut named = source.subscribe("stream").ok()?;
    let messages = source.subscribe("message").ok()?;
    let closes = source.subscribe("close").ok()?;
    let first = futures::future::select(named.next(), Box::pin(gloo_timers::future::sleep(OPENING))).await;
    let id = match first {
        futures::future::Either::Left((Some(Ok((_, event))), _)) => event.data().as_string()?,
        _ => return None,
    };
    let (queue, frames) = mpsc::unbounded();
    let (failed, failures) = mpsc::unbounded();
    spawn_local(post_frames(id, frames, failed));
    let messages = messages.map(|event| match event {
        Ok((_, event)) => Incoming::Text(event.data().as_string().unwrap_or_default()),
        Err(_) => Incoming::Ended,
    });
    let closes = closes.map(|event| match event {
        Ok((_, event)) => closed(&event.data().as_string().unwrap_or_default()),
        Err(_) => Incoming::Ended,
    });
    let incoming = futures::stream::select(futures::stream::select(messages, closes), failures);
    Some(Channel { incoming: incoming.boxed_local(), outgoing: Outgoing::Posts(queue), _source: Some(source) })
}

/// The close event's `{code, reason}`.
fn closed(data: &str) -> Incoming {
    #[derive(serde::Deserialize)]
    struct Close {
        code: u16,
        #[serde(default)]
        reason: String,
    }
    match serde_json::from_str::<Close>(data) {
        Ok(Close { code, reason }) => Incoming::Closed { code, reason },
        Err(_) => Incoming::Ended,
    }
}

/// Posts queued frames to stream `id`, one request at a time, each with every frame queued
/// meanwhile (up to [`POST_BYTES`]); says [`Incoming::Ended`] on `failed` when one is refused.
async fn post_frames(id: String, mut frames: mpsc::UnboundedReceiver<String>, failed: UnboundedSender<Incoming>) {
    let url = format!("/stream/{id}");
    while let Some(first) = frames.next().await {
        let mut body = first;
        while body.len() < POST_BYTES {
            match frames.try_recv() {
                Ok(next) => {
                    body.push('\n');
                    body.push_str(&next);
                }
                Err(_) => break,
            }
        }
        let sent = match gloo_net::http::Request::post(&url).body(body) {
            Ok(request) => request.send().await.is_ok_and(|response| response.ok()),
            Err(_) => false,
        };
        if !sent {
            let _ = failed.unbounded_send(Incoming::Ended);
            return;
        }
    }
}

/// Tries a websocket to `url` from the fallback: whether the server's `welcome` comes
/// through it within [`OPENING`] (a proxy that lets the upgrade through and then cuts the
/// socket fails here). The probe's socket is closed either way.
pub(super) async fn probe(url: &str) -> bool {
    let Some(mut channel) = websocket(url) else { return false };
    let welcomed = async move {
        match channel.incoming.next().await {
            Some(Incoming::Text(text)) => {
                matches!(protocol::ServerFrame::decode(&text), Ok(protocol::ServerFrame::Welcome { .. }))
            }
            _ => false,
        }
    };
    let timeout = gloo_timers::future::sleep(OPENING);
    matches!(
        futures::future::select(Box::pin(welcomed), Box::pin(timeout)).await,
        futures::future::Either::Left((true, _))
    )
}
