//! A broker whose every message is kept in the message store before it is acknowledged.
//!
//! The inner broker (Redis, or process memory) stays what carries chat: it assigns ids,
//! deduplicates by client id, publishes, and keeps each room's recent entries. Around it:
//!
//! - **Writes**: a message or a change is stored in the broker, then recorded in the store
//!   ([`MessageStore`]); only then does the send return, so the sender's `ack` means
//!   "committed to the system of record". If the store fails, the sender gets `unavailable`
//!   and its outbox retries with the same client id: the broker answers "duplicate" with the
//!   id it already gave, and the store records it then (recording is idempotent). Members may
//!   see a message live a moment before it is committed; it is never acknowledged before.
//! - **Reads**: a join's history comes from the broker's recent entries when they hold enough,
//!   and from the store for the rest; a catch-up (`since`) the broker cannot serve in full
//!   (its entries were trimmed, or Redis lost them) comes from the store, so a returning
//!   client sees a gap only where retention removed messages.
//! - **Retention**: what the store no longer keeps by age is not handed out from the broker's
//!   recent entries either.

use std::time::Duration;

use async_trait::async_trait;
use protocol::{MessageId, Revision, RoomName};
use tracing::warn;

use super::{Appended, Broker, BrokerError, Change, Changed, Draft, Replay, RoomEvent, SharedBroker, Subscription};
use crate::store::{Retention, SharedStore, StoreError, age_cutoff};

/// How long a write waits for the store before the send is answered "not confirmed" (it may
/// have committed; the retry with the same client id settles it either way).
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// A broker over a cache broker and the message store. See the module documentation.
pub struct RecordedBroker {
    cache: SharedBroker,
    store: SharedStore,
    retention: Retention,
}

impl RecordedBroker {
    /// Records what `cache` stores in `store`; hands out nothing `retention` removed.
    pub fn new(cache: SharedBroker, store: SharedStore, retention: Retention) -> Self {
        Self { cache, store, retention }
    }

    /// Waits for a store write, at most [`STORE_TIMEOUT`].
    async fn committed(&self, write: impl Future<Output = Result<(), StoreError>>) -> Result<(), BrokerError> {
        match tokio::time::timeout(STORE_TIMEOUT, write).await {
            Ok(done) => done.map_err(BrokerError::Store),
            Err(_) => Err(BrokerError::StoreTimeout),
        }
    }

    /// Drops from a cached read the messages retention removed from the store.
    fn retained(&self, mut replay: Replay) -> Replay {
        if let Some(age) = self.retention.max_age {
            let cut = age_cutoff(age, super::now_ms());
            replay.messages.retain(|m| m.id >= cut);
            replay.revisions.retain(|(_, revision)| revision.target >= cut);
        }
        replay
    }

    /// The catch-up after `after` from the store (the cache could not serve it), or the cache's
    /// own answer (with its gap) when the store cannot answer.
    async fn caught_up_from_store(&self, room: &RoomName, after: MessageId, limit: usize, cached: Replay) -> Replay {
        match self.store.catch_up(room, after, limit).await {
            Ok(caught) => {
                // What the cache holds beyond the store's newest (sent this instant, not yet
                // committed) is kept too: the live feed skips everything up to `upto`.
                let (mut messages, mut revisions) = (caught.messages, caught.revisions);
                let stored_until = messages.last().map(|m| m.id);
                messages.extend(cached.messages.into_iter().filter(|m| Some(m.id) > stored_until));
                revisions.extend(cached.revisions);
                let newest_change = revisions.iter().map(|(id, _)| *id).max();
                let upto = messages.last().map(|m| m.id).max(newest_change).max(cached.upto);
                Replay { messages, revisions, upto, gap: caught.gap }
            }
            Err(err) => {
                warn!(%err, %room, "message store unavailable: the catch-up is the cache's, with its gap");
                cached
            }
        }
    }
}

#[async_trait]
impl Broker for RecordedBroker {
    async fn append(&self, room: &RoomName, draft: Draft) -> Result<Appended, BrokerError> {
        let appended = self.cache.append(room, draft.clone()).await?;
        let message = match &appended {
            Appended::Stored(message) => message.clone(),
            // Stored in the cache before; perhaps never committed (the store failed then).
            Appended::Duplicate(id) => draft.stored(room, *id),
        };
        self.committed(self.store.record(message)).await?;
        Ok(appended)
    }

    async fn announce(&self, room: &RoomName, event: RoomEvent) -> Result<(), BrokerError> {
        self.cache.announce(room, event).await
    }

    async fn revise(&self, room: &RoomName, change: Change) -> Result<Changed, BrokerError> {
        let target = change.target;
        let changed = self.cache.revise(room, change).await?;
        match &changed {
            Changed::Stored { id, revision } => self.committed(self.store.revise(room, *id, revision)).await?,
            Changed::Duplicate(id) => {
                let state = self.cache.revisions(room, &[target]).await?;
                if let Some(revision) = state.first() {
                    self.committed(self.store.revise(room, *id, revision)).await?;
                }
            }
            Changed::NoSuchMessage | Changed::NotAuthor => {}
        }
        Ok(changed)
    }

    async fn revisions(&self, room: &RoomName, ids: &[MessageId]) -> Result<Vec<Revision>, BrokerError> {
        self.cache.revisions(room, ids).await
    }

    async fn recent(&self, room: &RoomName, limit: usize) -> Result<Replay, BrokerError> {
        let mut replay = self.retained(self.cache.recent(room, limit).await?);
        let missing = limit.saturating_sub(replay.messages.len());
        if missing == 0 {
            return Ok(replay);
        }
        // The cache holds less than a page: the room is young, or its older entries are only
        // in the store (trimmed, or Redis lost them).
        let oldest = replay.messages.first().map(|m| m.id);
        match self.store.older(room, oldest, missing).await {
            Ok(older) => {
                let mut messages = older.messages;
                messages.append(&mut replay.messages);
                replay.messages = messages;
            }
            Err(err) => warn!(%err, %room, "message store unavailable: the join shows the cached history only"),
        }
        Ok(replay)
    }

    async fn since(&self, room: &RoomName, after: MessageId, limit: usize) -> Result<Replay, BrokerError> {
        let cached = self.retained(self.cache.since(room, after, limit).await?);
        if cached.gap.is_none() {
            return Ok(cached);
        }
        Ok(self.caught_up_from_store(room, after, limit, cached).await)
    }

    async fn subscribe(&self, room: &RoomName) -> Result<Subscription, BrokerError> {
        self.cache.subscribe(room).await
    }

    /// The cache's health only: the database is shared by every instance, so an outage of it
    /// taking every instance out of the load balancer would turn "sends are refused for now"
    /// into "the site is down" (reads, pages and live chat keep working without it).
    async fn is_healthy(&self) -> bool {
        self.cache.is_healthy().await
    }
}
