//! Instance-wide orders: "this login ended", "every session of this user ended",
//! "this user is now in (or out of) that room".
//!
//! A user's sockets live on any instance, so a logout served by one instance
//! must close the sockets on all of them at once. That is the only message
//! every instance must hear, and it has its own seam instead of riding on the
//! chat broker: room traffic scales by spreading rooms over Redis nodes
//! (sharded pub/sub), while these orders go to every instance; and their
//! guarantee is different. An order is delivered promptly to the instances
//! listening when it is sent, and one an instance misses (its Redis connection
//! was down) is still enforced: each socket re-checks its session every
//! `SESSION_CHECK_SECS`, and a logged-out session or an older generation fails
//! that check. So the seam is small: send an order, listen to orders.
//!
//! [`memory::MemorySignals`] serves the single-instance mode, [`redis::RedisSignals`] a
//! cluster (the `{p}control` channel, on its own pub/sub connection); both pass
//! `tests/signals_contract.rs`.

pub mod memory;
pub mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// An instance-wide order, delivered to every instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    /// One login (session) ended: close its sockets everywhere.
    EndSession {
        /// The login id stored in the session.
        login: String,
    },
    /// Every session of a user ended: close all their sockets everywhere.
    EndUser {
        /// The user.
        user: String,
    },
    /// A room was put on a user's list (an invitation, a direct conversation): their sockets
    /// show it and join it.
    RoomAdded {
        /// The user (as their sessions name them).
        user: String,
        /// The room.
        room: String,
        /// Who put it there.
        by: String,
    },
    /// A user is out of a room (removed, or they left it elsewhere): their sockets stop
    /// delivering it at once.
    RoomRemoved {
        /// The user (as their sessions name them).
        user: String,
        /// The room.
        room: String,
        /// Who took them out (the user themselves when they left).
        by: String,
    },
    /// Frames a fallback `POST` carried to a stream held by another instance
    /// ([`crate::stream`]); only `instance` acts on them.
    Frames {
        /// The instance holding the stream.
        instance: String,
        /// The stream's id.
        stream: String,
        /// The login the `POST` came with (the holder checks it is the stream's).
        login: String,
        /// The frames, in order.
        frames: Vec<String>,
    },
    /// A user's read position in a room moved: their sockets show it.
    Read {
        /// The user (as their sessions name them).
        user: String,
        /// The room.
        room: String,
        /// The newest message read.
        id: String,
    },
}

impl Signal {
    /// Tells `user`'s sockets (on every instance) that `room` is on their list, put there by `by`.
    pub fn room_added(user: &str, room: &protocol::RoomName, by: &str) -> Self {
        Self::RoomAdded { user: user.to_owned(), room: room.to_string(), by: by.to_owned() }
    }

    /// Tells `user`'s sockets (on every instance) that `by` took them out of `room`.
    pub fn room_removed(user: &str, room: &protocol::RoomName, by: &str) -> Self {
        Self::RoomRemoved { user: user.to_owned(), room: room.to_string(), by: by.to_owned() }
    }
}

/// Why an order could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// Redis did not take the order.
    #[error("could not send the order to the other instances")]
    Unavailable(#[from] ::redis::RedisError),
    /// The order could not be encoded.
    #[error("could not encode the order")]
    Encode(#[from] serde_json::Error),
}

/// Sends orders to every instance and hears theirs.
#[async_trait]
pub trait Signals: Send + Sync + 'static {
    /// Sends `signal` to every instance, this one included.
    async fn send(&self, signal: &Signal) -> Result<(), SignalError>;
    /// Hears the orders sent from now on (by any instance).
    fn receive(&self) -> broadcast::Receiver<Signal>;
}

/// The signals of an instance, shared.
pub type SharedSignals = Arc<dyn Signals>;

/// How many orders a slow listener may fall behind before it is told it missed some.
const BACKLOG: usize = 256;
