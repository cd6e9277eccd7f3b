//! What the socket's task waits on besides its rooms, polled as one group.
//!
//! Nearly every time the socket's task wakes it is for a room's live event; the rest —
//! its close, its client's frames, the instance's orders, the session check, the drain —
//! is polled together, and only when one of them woke the task (see
//! [`Woken`](crate::ws::woken::Woken)).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};
use protocol::RoomName;
use tungstenite::Message;

use crate::ws::closer::Closer;
use crate::ws::registry::Order;

/// What the socket's task does next.
pub(super) enum Turn {
    /// Its user was removed from this room.
    Removed(Arc<RoomName>),
    /// Something besides its rooms woke it.
    Woke(Woke),
}

/// What woke the socket's task, besides its rooms.
pub(super) enum Woke {
    /// The connection is closing: the loop ends.
    Closing,
    /// The instance's order to this socket (a logout, notices).
    Order(Order),
    /// Time to check that the session still exists.
    SessionCheck,
    /// The instance is draining: the client moves elsewhere.
    Moving,
    /// A frame from the client, or its end.
    Frame(Option<Result<Message, axum::Error>>),
}

/// The socket's waits that rarely end, polled together in this order (`biased`).
pub(super) struct Waits<'a, C, O, M> {
    pub(super) closing: Pin<&'a mut C>,
    pub(super) order: Pin<&'a mut O>,
    pub(super) moving: Pin<&'a mut M>,
    pub(super) has_session: bool,
}

impl<C, O, M> Waits<'_, C, O, M>
where
    C: Future<Output = ()>,
    O: Future<Output = Order>,
    M: Future<Output = ()>,
{
    pub(super) fn poll<R>(
        &mut self,
        cx: &mut Context<'_>,
        closer: &Closer,
        session_check: &mut tokio::time::Interval,
        stream: &mut R,
    ) -> Poll<Woke>
    where
        R: Stream<Item = Result<Message, axum::Error>> + Unpin,
    {
        if self.closing.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Woke::Closing);
        }
        if let Poll::Ready(frame) = stream.poll_next_unpin(cx) {
            return Poll::Ready(Woke::Frame(frame));
        }
        // Orders and the drain only while open: once closing, the loop waits for `closing` alone.
        let open = !closer.is_closing();
        if open && let Poll::Ready(order) = self.order.as_mut().poll(cx) {
            return Poll::Ready(Woke::Order(order));
        }
        if self.has_session && session_check.poll_tick(cx).is_ready() {
            return Poll::Ready(Woke::SessionCheck);
        }
        if open && self.moving.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Woke::Moving);
        }
        Poll::Pending
    }
}
