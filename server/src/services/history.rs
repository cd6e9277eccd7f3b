//! Reading a conversation beyond what a join shows: scrolling back, searching, and opening a
//! search result in its context.
//!
//! All of it reads the message store, never the broker's cache: the store holds every
//! retained message. Who may read what is decided by the caller's rooms — a socket scrolls
//! back only in a room it joined (access was checked at the join), and a search covers only
//! the rooms the user may read now ([`RoomAccess::readable`](super::RoomAccess::readable)), so
//! a result never names a room the user could not enter. Retention is applied to every answer,
//! also between two runs of the pruning task.

use protocol::{ChatMessage, ErrorCode, MessageId, RoomName};
use tracing::instrument;

use crate::broker::now_ms;
use crate::ratelimit::{Limit, SharedLimiter, Verdict};
use crate::store::{Older, Retention, SearchError, SearchTerms, SharedStore, StoreError, age_cutoff};

/// Messages in one page of scrollback.
pub const OLDER_PAGE: usize = 50;

/// The most results one search answers with.
pub const SEARCH_RESULTS: usize = 50;

/// Messages on each side of a search result opened in its context.
pub const CONTEXT_EACH_SIDE: usize = 25;

/// Searches one user may run (all sockets, all instances): a search is the costliest read the
/// database answers, and a socket may send 40 frames a second.
pub const SEARCHES: Limit = Limit { max: 20, window: std::time::Duration::from_secs(10) };

/// Why a history read failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// This deployment keeps no message store (Redis alone: only the recent history exists).
    #[error("this server keeps only each room's recent history (it has no message store)")]
    NotKept,
    /// The query cannot be searched as typed.
    #[error("{0}")]
    BadSearch(#[from] SearchError),
    /// The user searches faster than [`SEARCHES`] allows; try again after this long.
    #[error("you are searching too fast; wait {} s", .0.as_secs().max(1))]
    RateLimited(std::time::Duration),
    /// The store could not answer; try again shortly.
    #[error("history is unavailable right now; try again shortly")]
    Unavailable(#[from] StoreError),
}

impl HistoryError {
    /// The protocol error code for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadSearch(_) => ErrorCode::BadSearch,
            Self::RateLimited(_) => ErrorCode::RateLimited,
            Self::NotKept | Self::Unavailable(_) => ErrorCode::Unavailable,
        }
    }
}

/// Scrollback, search and context over the message store.
pub struct History {
    store: Option<SharedStore>,
    retention: Retention,
    limiter: SharedLimiter,
}

impl History {
    /// History over `store` (`None`: a deployment without one), honouring `retention`; searches
    /// are counted in `limiter`.
    pub fn new(store: Option<SharedStore>, retention: Retention, limiter: SharedLimiter) -> Self {
        Self { store, retention, limiter }
    }

    fn store(&self) -> Result<&SharedStore, HistoryError> {
        self.store.as_ref().ok_or(HistoryError::NotKept)
    }

    /// Drops what retention no longer keeps (the pruning task may not have run yet).
    fn retained(&self, messages: &mut Vec<ChatMessage>) {
        if let Some(age) = self.retention.max_age {
            let cut = age_cutoff(age, now_ms());
            messages.retain(|m| m.id >= cut);
        }
    }

    /// The page of `room` right before `before`.
    #[instrument(skip(self), fields(room = %room))]
    pub async fn older(&self, room: &RoomName, before: MessageId) -> Result<Older, HistoryError> {
        let mut page = self.store()?.older(room, Some(before), OLDER_PAGE).await?;
        let held = page.messages.len();
        self.retained(&mut page.messages);
        page.complete |= page.messages.len() < held;
        Ok(page)
    }

    /// The newest messages of `rooms` matching `query`, newest first, for the user `key`.
    #[instrument(skip(self, rooms, query), fields(rooms = rooms.len()))]
    pub async fn search(&self, key: &str, rooms: &[RoomName], query: &str) -> Result<Vec<ChatMessage>, HistoryError> {
        let terms = SearchTerms::parse(query)?;
        if let Verdict::Limited(wait) = SEARCHES.check(&*self.limiter, &format!("search:{key}")).await {
            return Err(HistoryError::RateLimited(wait));
        }
        let mut found = self.store()?.search(rooms, &terms, SEARCH_RESULTS).await?;
        self.retained(&mut found);
        Ok(found)
    }

    /// The messages around `id` in `room`, oldest first.
    #[instrument(skip(self), fields(room = %room))]
    pub async fn around(&self, room: &RoomName, id: MessageId) -> Result<Vec<ChatMessage>, HistoryError> {
        let store = self.store()?;
        let through = MessageId::new(id.millis(), id.seq().saturating_add(1));
        let (before, after) = futures::join!(
            store.older(room, Some(through), CONTEXT_EACH_SIDE + 1),
            store.newer(room, id, CONTEXT_EACH_SIDE)
        );
        let mut messages = before?.messages;
        messages.extend(after?);
        self.retained(&mut messages);
        Ok(messages)
    }
}
