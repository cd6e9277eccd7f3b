//! The message store: the system of record for every room's conversation.
//!
//! The broker (Redis, or process memory) carries chat live and keeps each room's recent
//! entries as a cache of `HISTORY_CAP` entries; the store keeps *every* message, as it is now
//! (edited text, reactions, a deletion's tombstone), for as long as the retention allows.
//! A send is acknowledged only after the store committed it (see [`crate::broker::recorded`]),
//! so an acknowledged message survives losing Redis and every instance at once.
//!
//! One implementation passes one contract suite (`tests/store_contract.rs`) on both of its
//! databases: [`sql::SqlStore`] on PostgreSQL for a cluster (`DATABASE_URL`) and on SQLite for
//! the embedded default (a file under `DATA_DIR`), over sqlx's `Any` driver. Both read by keyset (a room and a message id:
//! no `OFFSET`, so page 1,000 costs what page 1 costs) and search with their own full-text
//! index (PostgreSQL `tsvector` + GIN, SQLite FTS5). No query is ever built from user text:
//! every value is a bind parameter, and search terms are reduced to words first
//! ([`SearchTerms`]).

mod accounts;
pub mod dialect;
pub mod migrations;
pub mod pruning;
mod rooms;
mod row;
pub mod search;
pub mod sql;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use protocol::{ChatMessage, Gap, MessageId, Revision, RoomName};

pub use search::{SearchError, SearchTerms};

/// Why the store could not answer. Cloneable: one failed batch of writes answers every
/// send in it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached, or failed the statement; nothing was written.
    #[error("message store unavailable: {0}")]
    Unavailable(#[source] Arc<sqlx::Error>),
    /// The database answered with a row this version cannot read.
    #[error("message store returned unreadable data: {0}")]
    Corrupt(String),
    /// The database's schema is newer than this build knows: refusing to touch it.
    #[error(
        "the message store's schema is version {found}, newer than this build's {known}: \
         upgrade Switchboard (or restore a backup made before the upgrade)"
    )]
    SchemaTooNew {
        /// The version in the database.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// The data directory or database file could not be opened.
    #[error("cannot open the message store at {path}: {source}")]
    Open {
        /// What was opened.
        path: String,
        /// Why it failed.
        #[source]
        source: Arc<sqlx::Error>,
    },
    /// The instance is stopping: its writer no longer takes writes.
    #[error("message store closed: the instance is stopping")]
    Closed,
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::ColumnNotFound(_) => {
                Self::Corrupt(err.to_string())
            }
            other => Self::Unavailable(Arc::new(other)),
        }
    }
}

/// How long conversation is kept: forever unless an age or a count per room is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Messages older than this are removed (`None`: no age limit).
    pub max_age: Option<Duration>,
    /// Only a room's newest this many messages are kept (`None`: no count limit).
    pub max_messages: Option<u64>,
}

impl Retention {
    /// Whether anything is ever removed.
    pub fn keeps_forever(&self) -> bool {
        self.max_age.is_none() && self.max_messages.is_none()
    }
}

/// A stretch of a room's stored history after a given id, for a catch-up the cache cannot serve.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catchup {
    /// The messages after the id, oldest first, as they are now (deleted ones as tombstones).
    pub messages: Vec<ChatMessage>,
    /// Older messages (at or before the id) changed after it: the id of their last change and
    /// their state now.
    pub revisions: Vec<(MessageId, Revision)>,
    /// Messages after the id that are not replayed: removed by retention, or more than the
    /// catch-up's limit (the newest `limit` are replayed, the range before them is the gap).
    pub gap: Option<Gap>,
}

/// One page of a room's older history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Older {
    /// The messages, oldest first (deleted ones as tombstones).
    pub messages: Vec<ChatMessage>,
    /// There is nothing older: the page reaches the room's first retained message.
    pub complete: bool,
}

/// Keeps every message. See the module documentation.
#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Records a message the broker stored. Recording the same (room, id) again changes nothing,
    /// so a retried send (or a duplicate) is safe.
    async fn record(&self, message: ChatMessage) -> Result<(), StoreError>;

    /// Records a message's state after the change stored under `at`. A change older than the
    /// one recorded last for the message changes nothing (replays are safe).
    async fn revise(&self, room: &RoomName, at: MessageId, revision: &Revision) -> Result<(), StoreError>;

    /// Up to `limit` messages older than `before` (`None`: the newest), oldest first.
    async fn older(&self, room: &RoomName, before: Option<MessageId>, limit: usize) -> Result<Older, StoreError>;

    /// Up to `limit` messages right after `after`, oldest first (reading on from a point).
    async fn newer(&self, room: &RoomName, after: MessageId, limit: usize) -> Result<Vec<ChatMessage>, StoreError>;

    /// Up to `limit` messages after `after`, the changes since to older ones, and what retention removed.
    async fn catch_up(&self, room: &RoomName, after: MessageId, limit: usize) -> Result<Catchup, StoreError>;

    /// The newest `limit` messages of `rooms` matching every term, newest first. Deleted messages
    /// never match (their text is gone from the index too).
    async fn search(
        &self,
        rooms: &[RoomName],
        terms: &SearchTerms,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, StoreError>;

    /// Removes what `retention` no longer keeps, as of `now_ms`; how many messages went.
    async fn prune(&self, retention: Retention, now_ms: u64) -> Result<u64, StoreError>;
}

/// A store shared by every part of the instance.
pub type SharedStore = Arc<dyn MessageStore>;

/// The oldest id a message stored at `now_ms` minus `age` could have: everything below goes.
pub(crate) fn age_cutoff(age: Duration, now_ms: u64) -> MessageId {
    let age_ms = u64::try_from(age.as_millis()).unwrap_or(u64::MAX);
    MessageId::new(now_ms.saturating_sub(age_ms), 0)
}
