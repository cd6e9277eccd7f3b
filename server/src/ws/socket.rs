//! One upgraded websocket: tungstenite's stream over our [`Gathered`] write buffer, with
//! large text frames sent as fragments.
//!
//! What an idle socket keeps is what decides how many users an instance holds. tungstenite
//! keeps its write buffer at the capacity of the largest frame it ever formatted, so a join
//! whose history filled a 64 KiB frame would leave 64 KiB behind for as long as the user
//! stays. A text longer than [`FRAGMENT_BYTES`] therefore leaves as one message in several
//! frames (RFC 6455 §5.4: the client sees one message), and tungstenite's buffer never holds
//! more than one fragment. Reads and errors are handed on as they are; errors are wrapped in
//! `axum::Error` like the fallback transport's, so the gateway has one error type.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::{Sink, Stream};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWrite;
use tokio_tungstenite::WebSocketStream;
use tungstenite::Message;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data, OpCode};

use crate::ws::gather::Gathered;

/// The longest frame the server writes: a longer text is sent in fragments of this size.
/// Live events are shorter and leave whole.
pub const FRAGMENT_BYTES: usize = 256;

/// The upgraded connection tungstenite speaks over.
pub type Io = Gathered<TokioIo<Upgraded>>;

/// One websocket, read and written as [`Message`]s.
pub struct Socket {
    inner: WebSocketStream<Io>,
}

impl Socket {
    /// Wraps a stream tungstenite already speaks on.
    pub fn new(inner: WebSocketStream<Io>) -> Self {
        Self { inner }
    }
}

/// The frames a text leaves in: one, or fragments of at most [`FRAGMENT_BYTES`] (a fragment
/// may split a character; only the whole message must be UTF-8).
fn fragments(text: Bytes) -> impl Iterator<Item = Frame> {
    let count = text.len().div_ceil(FRAGMENT_BYTES).max(1);
    (0..count).map(move |index| {
        let start = index * FRAGMENT_BYTES;
        let end = (start + FRAGMENT_BYTES).min(text.len());
        let opcode = if index == 0 { Data::Text } else { Data::Continue };
        Frame::message(text.slice(start..end), OpCode::Data(opcode), index + 1 == count)
    })
}

impl Stream for Socket {
    type Item = Result<Message, axum::Error>;

    /// The next message; once the stream ends, first the last frames tungstenite wrote on its
    /// way out — the answer to the client's close — are flushed.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = ready!(Pin::new(&mut self.inner).poll_next(cx));
        if item.is_none() {
            // Polled again while this is pending, the ended stream answers `None` at once.
            let _ = ready!(self.poll_flush_io(cx));
        }
        Poll::Ready(item.map(|read| read.map_err(axum::Error::new)))
    }
}

impl Sink<Message> for Socket {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner).poll_ready(cx).map_err(axum::Error::new)
    }

    /// Sends a long text as fragments, one after the other (the writer holds the socket's
    /// write half meanwhile, so no other message comes between them; tungstenite takes them
    /// all, since [`Gathered`] takes every write).
    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
        match message {
            Message::Text(text) if text.len() > FRAGMENT_BYTES => {
                for frame in fragments(Bytes::from(text)) {
                    Pin::new(&mut self.inner).start_send(Message::Frame(frame)).map_err(axum::Error::new)?;
                }
                Ok(())
            }
            message => Pin::new(&mut self.inner).start_send(message).map_err(axum::Error::new),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        ready!(Pin::new(&mut self.inner).poll_flush(cx)).map_err(axum::Error::new)?;
        self.poll_flush_io(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let closed = ready!(Pin::new(&mut self.inner).poll_close(cx)).map_err(axum::Error::new);
        ready!(self.poll_flush_io(cx))?;
        Poll::Ready(closed)
    }
}

impl Socket {
    /// Writes what [`Gathered`] holds. tungstenite flushes its stream itself, except on the
    /// way out: once the close handshake is done it writes the last frames (our close, or the
    /// answer to the client's) to the stream and reports the connection closed without a
    /// flush — which for a gathering stream would leave them unsent.
    ///
    /// A no-op when nothing is gathered: after a normal flush tungstenite has flushed it already.
    fn poll_flush_io(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        if self.inner.get_ref().is_empty() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(self.inner.get_mut()).poll_flush(cx).map_err(axum::Error::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> Vec<(Vec<u8>, OpCode, bool)> {
        fragments(Bytes::copy_from_slice(text.as_bytes()))
            .map(|f| (f.payload().to_vec(), f.header().opcode, f.header().is_final))
            .collect()
    }

    #[test]
    fn a_short_text_is_one_final_text_frame() {
        assert_eq!(parts("hi"), vec![(b"hi".to_vec(), OpCode::Data(Data::Text), true)]);
        assert_eq!(parts(""), vec![(Vec::new(), OpCode::Data(Data::Text), true)]);
        let exact = "x".repeat(FRAGMENT_BYTES);
        assert_eq!(parts(&exact).len(), 1);
    }

    #[test]
    fn a_long_text_is_a_text_frame_then_continuations_and_only_the_last_is_final() {
        let text = "é".repeat(FRAGMENT_BYTES); // 2 bytes each: fragments split characters
        let frames = parts(&text);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].1, OpCode::Data(Data::Text));
        assert!(!frames[0].2);
        assert_eq!(frames[1].1, OpCode::Data(Data::Continue));
        assert!(frames[1].2);
        assert!(frames.iter().all(|f| f.0.len() <= FRAGMENT_BYTES));
        let joined: Vec<u8> = frames.into_iter().flat_map(|f| f.0).collect();
        assert_eq!(joined, text.as_bytes());
    }
}
