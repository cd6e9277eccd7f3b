//! What the socket's task waits on besides its rooms and its writer, polled as one group.
//!
//! Nearly every time the socket's task wakes it is for a room's live event; the rest —
//! its client's frames and the instance's orders (a logout, an expired session, the
//! drain, notices) — is polled together, and only when one of them woke the task (see
//! [`Woken`](crate::ws::woken::Woken)). None of them is a future the task keeps: the
//! frames are the socket's stream, the orders its registration's link.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};
use protocol::RoomName;
use tungstenite::Message;

use crate::ws::registry::{Order, Registration};

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
