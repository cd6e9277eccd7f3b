//! A live event of one of the socket's rooms, as the socket's task handles it.
//!
//! The common case — a message, a join, a typing notice — is queued for the client
//! without waiting and without an allocation of its own (the frame is encoded once per
//! instance and shared, see [`Delivery`](crate::broker::Delivery)); only a removal from the
//! room, which waits to queue its notice, takes the slow path.

use std::sync::Arc;
use std::task::{Context, Poll};

use protocol::{RoomName, ServerFrame};
use tracing::debug;

use super::Connection;
use crate::broker::RoomEvent;
use crate::ws::feeds::{self, FeedItem};

/// The most live events the socket's task queues in one turn before it lets its writer and
/// the rest have theirs (and other tasks the thread): a busy room never starves the socket.
const EVENTS_PER_TURN: usize = 64;

impl Connection {
    /// Queues the live events the socket's rooms hold now (at most [`EVENTS_PER_TURN`]); returns
    /// a room this socket's user was removed from (the caller then calls [`Self::removed`]).
    pub(super) fn take_room_events(&mut self, cx: &mut Context<'_>) -> Option<Arc<RoomName>> {
        for _ in 0..EVENTS_PER_TURN {
            // `None`: no rooms at all (a join wakes the task through its client's frame).
            let Poll::Ready(Some((room, event))) = self.rooms.poll_next(cx) else { return None };
            if let Some(room) = self.on_room_event(room, event) {
                return Some(room);
            }
        }
        // More may be waiting: come back after the others had their turn.
        cx.waker().wake_by_ref();
        None
    }

    /// Queues `room`'s live event for the client; returns the room when the event removed this
    /// socket's user from it (the caller then calls [`Self::removed`]).
    pub(super) fn on_room_event(&mut self, room: Arc<RoomName>, event: FeedItem) -> Option<Arc<RoomName>> {
        let event = match event {
            Ok(event) => event,
            Err(missed) => {
                debug!(missed, %room, "room receiver lagged");
                self.closer.cut_slow();
                return None;
            }
        };
        match &**event {
            RoomEvent::Typing { user } if *user == self.user => return None,
            RoomEvent::Renamed { user, name } if *user == self.user => self.display.clone_from(name),
            RoomEvent::Members { removed: Some(removed), .. } if removed == self.key.as_str() => return Some(room),
            _ => {}
        }
        self.out.event(event.wire(|event| feeds::frame(room.as_str(), event).encode()));
        None
    }

    /// This socket's user was removed from `room`: nothing published after the removal reaches
    /// them, and the client is told.
    pub(super) async fn removed(&mut self, room: Arc<RoomName>) {
        debug!(%room, "removed from the room");
        if self.rooms.remove(&room) {
            self.services.chat.leave_later(&self.user, &room);
        }
        let message = "You were removed from this room.".to_owned();
        self.queue(ServerFrame::RoomRemoved { room: room.to_string(), message }).await;
    }
}
