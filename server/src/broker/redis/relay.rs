//! What both pub/sub listeners share: delivering a room's events into the local
//! [`Fanout`] at most once, and filling a hole from the room's stream.
//!
//! Pub/sub is at-most-once: whatever is published while a subscription is down
//! (a dropped connection, a failover, a slot moving to another node) is lost to
//! it. The relay remembers the last history id (message or change) it delivered per room; after a
//! subscription comes back, the listener asks it to read the stream after that
//! id and deliver what was missed. Ids at or below the last delivered one are
//! dropped, so the overlap between a refill and the live messages is never
//! delivered twice. (Within a room, ids and publications have the same order:
//! both happen in one Lua script.)

use std::collections::HashMap;

use protocol::{MessageId, RoomName};
use tracing::{debug, info, warn};

use super::{Keys, decode_event, replay, since_script};
use crate::broker::RoomEvent;
use crate::broker::fanout::Fanout;
use crate::redis_conn::RedisConn;
use crate::telemetry::metrics::metrics;

/// Delivers one instance's room events, once each, and refills holes.
pub struct Relay {
    keys: Keys,
    fanout: Fanout,
    conn: RedisConn,
    cap: usize,
    since: redis::Script,
    /// The last message id delivered per room.
    last: HashMap<RoomName, MessageId>,
}

impl Relay {
    /// A relay into `fanout`, reading streams over `conn` (at most `cap` messages per refill).
    pub fn new(keys: Keys, fanout: Fanout, conn: RedisConn, cap: usize) -> Self {
        Self { keys, fanout, conn, cap, since: since_script(), last: HashMap::new() }
    }

    /// The key and channel names.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The command connection.
    pub fn conn(&mut self) -> &mut RedisConn {
        &mut self.conn
    }

    /// The last id delivered in `room`, if any.
    pub fn last(&self, room: &RoomName) -> Option<MessageId> {
        self.last.get(room).copied()
    }

    /// Forgets `room` (no longer listened to).
    pub fn forget(&mut self, room: &RoomName) {
        self.last.remove(room);
    }

    /// Decodes and delivers a payload published on `channel`; anything else is ignored.
    pub fn deliver_published(&mut self, channel: &str, payload: &[u8]) {
        let Some(room) = self.keys.room_of(channel) else {
            return;
        };
        match decode_event(payload) {
            Ok(event) => self.deliver(&room, event),
            Err(err) => debug!(%err, %room, "dropping unreadable room event"),
        }
    }

    /// Delivers an event locally, dropping messages at or below the last delivered id.
    pub fn deliver(&mut self, room: &RoomName, event: RoomEvent) {
        let stored = match &event {
            RoomEvent::Message(message) => Some(message.id),
            RoomEvent::Revised { id, .. } => Some(*id),
            _ => None,
        };
        if let Some(id) = stored {
            if self.last.get(room).is_some_and(|&last| id <= last) {
                return;
            }
            self.last.insert(room.clone(), id);
        }
        self.fanout.deliver(room, event);
    }

    /// Delivers what `room` received after `after` (or after the last delivered id, if later).
    pub async fn refill(&mut self, room: &RoomName, after: MessageId) {
        let after = self.last(room).map_or(after, |last| last.max(after));
        match replay(&mut self.conn, &self.since, &self.keys, room, after, self.cap).await {
            Ok(missed) => {
                metrics().pubsub_refills.increment(1);
                if let Some(gap) = &missed.gap {
                    warn!(%room, after = %gap.after, until = %gap.until, "history trimmed during the outage");
                }
                if !missed.messages.is_empty() {
                    info!(%room, missed = missed.messages.len(), "filled a pub/sub hole from the stream");
                }
                // Messages and changes, back in the order they were stored.
                let mut events: Vec<(MessageId, RoomEvent)> =
                    missed.messages.into_iter().map(|m| (m.id, RoomEvent::Message(m))).collect();
                events.extend(
                    missed.revisions.into_iter().map(|(id, revision)| (id, RoomEvent::Revised { id, revision })),
                );
                events.sort_by_key(|(id, _)| *id);
                for (_, event) in events {
                    self.deliver(room, event);
                }
            }
            Err(err) => warn!(%room, %err, "could not fill the pub/sub hole"),
        }
    }
}
