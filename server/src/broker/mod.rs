//! The broker: how chat moves between users, within and across instances.
//!
//! A [`Broker`] stores a room's messages (history) and delivers room events to
//! every member of the room on every instance. It is the seam between the chat
//! logic and the backend: [`memory::MemoryBroker`] serves a single instance with
//! no Redis (the dev loop), [`redis::RedisBroker`] carries a cluster. Both run
//! the same contract test suite (`tests/broker_contract.rs`).
//!
//! Delivery inside an instance goes through [`fanout::Fanout`]: one broadcast
//! channel per room with local members, so a room is subscribed in Redis once
//! per instance (on its first local member) however many sockets join it, and
//! unsubscribed with the last — never one Redis listener per connection.

pub mod change;
pub mod fanout;
pub mod memory;
pub mod recorded;
pub mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use protocol::{ChatMessage, Gap, MessageId, Revision, RoomName};
use serde::{Deserialize, Serialize};

pub use change::{Change, ChangeOp, Changed};
pub use fanout::{Delivery, RoomEvents, Subscription};

/// A message as a user sent it, before the broker stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The author (from the session, never from the client).
    pub user: String,
    /// The author's display name now.
    pub name: String,
    /// The message text, already validated.
    pub text: String,
    /// The client's id for the message; a second send with the same id (and user) is not stored again.
    pub client_id: String,
}

impl Draft {
    /// The message this draft becomes once stored in `room` under `id`.
    pub fn stored(self, room: &RoomName, id: MessageId) -> ChatMessage {
        ChatMessage {
            room: room.to_string(),
            ts: id.millis(),
            id,
            user: self.user,
            name: self.name,
            text: self.text,
            client_id: Some(self.client_id),
            ..ChatMessage::default()
        }
    }
}

/// What [`Broker::append`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// The message was stored and published.
    Stored(ChatMessage),
    /// A message with this client id was already stored under this id; nothing was published.
    Duplicate(MessageId),
}

impl Appended {
    /// The id the message is stored under, whether new or a duplicate.
    pub fn id(&self) -> MessageId {
        match self {
            Self::Stored(message) => message.id,
            Self::Duplicate(id) => *id,
        }
    }
}

/// What a send waits for before it is acknowledged. Redis replicates asynchronously, so a
/// primary that dies can take writes its replicas never saw; waiting for `replicas` of them
/// (`WAIT`) makes an acknowledged message survive a failover, at the price of one more round
/// trip per send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durability {
    /// Replicas that must confirm a message before its sender is acked; 0: the primary alone.
    pub replicas: u32,
    /// How long to wait for them.
    pub timeout: std::time::Duration,
}

impl Default for Durability {
    fn default() -> Self {
        Self { replicas: 0, timeout: std::time::Duration::from_secs(1) }
    }
}

/// A stretch of a room's history: the recent entries, or those after a given id (for
/// catching up after a reconnect).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Replay {
    /// The messages of the stretch, oldest first, each as it is now (edits and reactions
    /// applied; deleted ones are not there).
    pub messages: Vec<ChatMessage>,
    /// The changes of the stretch, oldest first: each change's id and its message's state now.
    pub revisions: Vec<(MessageId, Revision)>,
    /// The newest entry of the stretch (message or change).
    pub upto: Option<MessageId>,
    /// Messages after the id that were trimmed and are gone.
    pub gap: Option<Gap>,
}

/// Something that happened in a room, delivered to its members on every instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomEvent {
    /// A stored chat message.
    Message(ChatMessage),
    /// A stored message changed (edited, deleted, reacted to).
    Revised {
        /// The change's own history id.
        id: MessageId,
        /// The message's state now.
        revision: Revision,
    },
    /// A user joined the room.
    Joined {
        /// The user.
        user: String,
        /// Their display name.
        #[serde(default)]
        name: String,
        /// Milliseconds since the Unix epoch.
        ts: u64,
    },
    /// A user left the room.
    Left {
        /// The user.
        user: String,
        /// Milliseconds since the Unix epoch.
        ts: u64,
    },
    /// A user changed their display name.
    Renamed {
        /// The user (account).
        user: String,
        /// The new display name.
        name: String,
    },
    /// A user is typing (never stored).
    Typing {
        /// The user.
        user: String,
    },
    /// A private room's members changed. Published on the room itself, so it reaches every
    /// socket in the room in order with its messages: a removed member's sockets stop at it,
    /// and nothing published after it reaches them.
    Members {
        /// The room's creator (account key).
        owner: String,
        /// Every member now (account keys), sorted.
        users: Vec<String>,
        /// The member this change removed, if any (account key).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        removed: Option<String>,
    },
}

/// Why a broker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The backend could not be reached or answered with an error; nothing was stored.
    #[error("chat backend unavailable: {0}")]
    Unavailable(#[source] ::redis::RedisError),
    /// The instance's live connection to the backend is down (it is reconnecting, or the
    /// instance is stopping): a room cannot be subscribed now; try again shortly.
    #[error("chat backend unavailable: the live connection is reconnecting")]
    NotListening,
    /// The backend did not answer in time: the write may or may not have been applied (a
    /// send retried with the same client id resolves to the same message either way).
    #[error("chat backend did not confirm in time")]
    Unconfirmed(#[source] ::redis::RedisError),
    /// The message was stored on its primary, but fewer replicas than required confirmed it in
    /// time: a failover now could lose it, so it is not acknowledged (a retry with the same client
    /// id finds it stored and waits for the replicas again).
    #[error("chat backend stored the message but only {confirmed} of {wanted} replicas confirmed it in time")]
    NotReplicated {
        /// Replicas required.
        wanted: u32,
        /// Replicas that confirmed.
        confirmed: u32,
    },
    /// The message store (the system of record) failed; the message is not acknowledged
    /// (a retry with the same client id records it without storing it twice).
    #[error("{0}")]
    Store(#[source] crate::store::StoreError),
    /// The message store did not confirm in time: the message may be committed or not (a retry
    /// with the same client id settles it).
    #[error("message store did not confirm in time")]
    StoreTimeout,
    /// The backend answered with data the broker cannot read.
    #[error("chat backend returned unreadable data: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The backend answered with a message id that is not one.
    #[error("chat backend returned an unreadable message id: {0}")]
    BadId(#[from] protocol::BadMessageId),
}

impl From<::redis::RedisError> for BrokerError {
    fn from(err: ::redis::RedisError) -> Self {
        if err.is_timeout() { Self::Unconfirmed(err) } else { Self::Unavailable(err) }
    }
}

/// Stores and delivers chat. See the module documentation.
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Stores a message at most once per (user, client id) and publishes it to the room.
    /// Returns only after the message is stored, so the sender can be acked.
    async fn append(&self, room: &RoomName, draft: Draft) -> Result<Appended, BrokerError>;

    /// Publishes a room event that is not stored (join and leave lines).
    async fn announce(&self, room: &RoomName, event: RoomEvent) -> Result<(), BrokerError>;

    /// Applies a change to a stored message at most once per (user, client id), if the user
    /// may make it, and publishes the message's new state to the room.
    async fn revise(&self, room: &RoomName, change: Change) -> Result<Changed, BrokerError>;

    /// The current state of those of `ids` that were ever changed.
    async fn revisions(&self, room: &RoomName, ids: &[MessageId]) -> Result<Vec<Revision>, BrokerError>;

    /// The last `limit` messages of a room, oldest first, with the changes among and after them.
    async fn recent(&self, room: &RoomName, limit: usize) -> Result<Replay, BrokerError>;

    /// Every retained entry after `after` (at most `limit`), and the range trimmed away, if any.
    async fn since(&self, room: &RoomName, after: MessageId, limit: usize) -> Result<Replay, BrokerError>;

    /// Starts receiving a room's events on this instance. Events published after this returns
    /// are delivered to the subscription; dropping it ends the subscription.
    async fn subscribe(&self, room: &RoomName) -> Result<Subscription, BrokerError>;

    /// Whether the backend is reachable now.
    async fn is_healthy(&self) -> bool;
}

/// A broker shared by every part of the instance.
pub type SharedBroker = Arc<dyn Broker>;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
