//! A room's live events, moved into one socket's queue.
//!
//! One forwarder task per joined room reads the room's local broadcast (the
//! instance subscribes the room in Redis once, however many sockets join it),
//! skips what the join's history already held and the user's own typing
//! notices, and queues the event's frame — encoded once for all the room's
//! members on this instance ([`Delivery`](crate::broker::Delivery)) — without
//! waiting: a client that cannot keep up is closed with 4008 and
//! catches up from history, instead of silently losing events.
//!
//! A private room's member change comes down the same stream as its messages;
//! when it removes this socket's user, the forwarder says so to the client and
//! ends there, so nothing published after the removal reaches them.

use std::sync::{Arc, Mutex, PoisonError};

use protocol::ServerFrame;
use tracing::debug;

use crate::broker::RoomEvent;
use crate::chat::Joined;
use crate::ws::outgoing::Outgoing;

/// Where a room's events go: this socket's queue.
pub struct Route {
    /// The socket's user (their own typing notices are not echoed).
    pub me: String,
    /// The socket's display name, updated when the user renames in another tab.
    pub display: Arc<Mutex<String>>,
    /// The newest history entry (message or change) already sent with the join's history.
    pub newest: Option<protocol::MessageId>,
    /// The socket's queue.
    pub out: Outgoing,
}

/// Moves a room's events into the socket's queue; closes the socket with 4008 if the client cannot keep up.
pub async fn forward(mut joined: Joined, route: Route) {
    let Route { me, display, newest, out } = route;
    let my_key = protocol::AccountKey::of(&me);
    let room = joined.subscription.room().to_string();
    loop {
        let event = match joined.subscription.recv().await {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                debug!(missed, "room receiver lagged");
                return out.closer().cut_slow();
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let skip = match &**event {
            // Already sent as part of the join's history (a change was folded into it).
            RoomEvent::Message(message) => newest.is_some_and(|newest| message.id <= newest),
            RoomEvent::Revised { id, .. } => newest.is_some_and(|newest| *id <= newest),
            RoomEvent::Renamed { user, name } => {
                if *user == me {
                    *display.lock().unwrap_or_else(PoisonError::into_inner) = name.clone();
                }
                false
            }
            RoomEvent::Typing { user } => *user == me,
            RoomEvent::Members { removed: Some(removed), .. } if removed == my_key.as_str() => {
                debug!("removed from the room");
                let message = "You were removed from this room.".to_owned();
                out.reply(&ServerFrame::RoomRemoved { room, message }).await;
                return;
            }
            RoomEvent::Joined { .. } | RoomEvent::Left { .. } | RoomEvent::Members { .. } => false,
        };
        if !skip && !out.event(event.wire(|event| frame(&room, event).encode())) {
            return;
        }
    }
}

/// The frame a room event becomes: the same for every member of the room.
fn frame(room: &str, event: &RoomEvent) -> ServerFrame {
    let room = room.to_owned();
    match event {
        RoomEvent::Message(message) => ServerFrame::Message(message.clone()),
        RoomEvent::Revised { id, revision } => {
            ServerFrame::Revised { room, id: Some(*id), revisions: vec![revision.clone()] }
        }
        RoomEvent::Joined { user, name, ts } => {
            ServerFrame::Joined { room, user: user.clone(), name: name.clone(), ts: *ts }
        }
        RoomEvent::Renamed { user, name } => ServerFrame::Renamed { user: user.clone(), name: name.clone() },
        RoomEvent::Left { user, ts } => ServerFrame::Left { room, user: user.clone(), ts: *ts },
        RoomEvent::Typing { user } => ServerFrame::Typing { room, user: user.clone() },
        RoomEvent::Members { owner, users, .. } => {
            ServerFrame::Members { room, owner: owner.clone(), users: users.clone() }
        }
    }
}
