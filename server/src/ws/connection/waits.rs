//! What the socket's task waits on besides its rooms and its writer, polled as one group.
//!
//! Nearly every time the socket's task wakes it is for a room's live event; the rest —
//! its client's frames and the instance's orders (a logout, an expired session, the
//! drain, notices) — is polled together, and only when one of them woke the task (see
//! [`Woken`](crate::ws::woken::Woken)). None of them is a future the task keeps: the
//! frames are the socket's stream, the orders its registration's link.
//!
//! What a turn asks for is decided here without waiting ([`Connection::on_turn`]) and
//! comes back as boxed [`Work`]: the loop keeps nothing of the turn while the work runs.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use protocol::{CLOSE_POLICY_VIOLATION, CLOSE_UNSUPPORTED_DATA, RoomName};
use tungstenite::Message;

use super::Connection;
use crate::telemetry::metrics::{Limited, metrics};
use crate::ws::read_error::on_read_error;
use crate::ws::registry::{Order, Registration};

/// A request the socket's task handles, boxed (see the module's docs).
pub(super) type Work<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// What the socket's task does next.
pub(super) enum Turn {
    /// The connection is closing: the loop ends.
    Closing,
    /// Its user was removed from this room.
    Removed(Arc<RoomName>),
    /// Something besides its rooms woke it.
    Woke(Woke),
}

/// What woke the socket's task, besides its rooms.
pub(super) enum Woke {
    /// The instance's order to this socket.
    Order(Order),
    /// A frame from the client, or its end.
    Frame(Option<Result<Message, axum::Error>>),
}

/// Polls the client's frames, then the instance's orders: `biased`, the client first.
pub(super) fn poll<R>(cx: &mut Context<'_>, registration: &Registration, stream: &mut R) -> Poll<Woke>
where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    if let Poll::Ready(frame) = stream.poll_next_unpin(cx) {
        return Poll::Ready(Woke::Frame(frame));
    }
    registration.poll_order(cx).map(Woke::Order)
}

impl Connection {
    /// What to do about a turn (not [`Turn::Closing`], which ends the loop); `None` when it
    /// was done at once.
    pub(super) fn on_turn(&mut self, turn: Turn, spread: Duration) -> Option<Work<'_>> {
        match turn {
            Turn::Closing => None,
            Turn::Removed(room) => Some(Box::pin(self.removed(room))),
            Turn::Woke(Woke::Order(order)) => Some(Box::pin(self.on_order(order, spread))),
            Turn::Woke(Woke::Frame(frame)) => self.on_frame(frame),
        }
    }

    /// A frame from the client, or its end.
    fn on_frame(&mut self, frame: Option<Result<Message, axum::Error>>) -> Option<Work<'_>> {
        if frame.is_some() {
            metrics().frames_in.increment(1);
        }
        match frame {
            Some(Ok(_)) if !self.flood.take() => {
                metrics().rate_limited(Limited::Frames);
                self.closer.close(CLOSE_POLICY_VIOLATION, "too many frames: slow down");
            }
            Some(Ok(Message::Text(text))) => return Some(Box::pin(self.on_text(text))),
            Some(Ok(Message::Binary(_))) => {
                self.closer.close(CLOSE_UNSUPPORTED_DATA, "binary frames are not supported")
            }
            Some(Ok(Message::Close(_))) | None => self.closer.close(1000, "bye"),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
            Some(Err(err)) => on_read_error(&self.closer, &err),
        }
        None
    }
}
