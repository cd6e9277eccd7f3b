//! Session storage for tower-sessions.
//!
//! The session record holds who is logged in and nothing that changes while
//! they chat: the user name, the login id (which logout closes everywhere) and
//! the account's session generation ("log out everywhere" voids older ones). It
//! is written at login (under a fresh id), renewed by requests and deleted at
//! logout, so the HTTP side and the websocket side never race to write one blob. [`SessionBackend`] picks
//! tower-sessions' memory store (single instance) or [`redis::RedisSessionStore`]
//! (a cluster) at start-up; both pass `tests/session_contract.rs`.

pub mod redis;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tower_sessions::MemoryStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

pub use self::redis::RedisSessionStore;

pub use app::api::ssr::{GEN_KEY, LOGIN_KEY, USER_KEY};

/// The session store chosen at start-up.
#[derive(Debug, Clone)]
pub enum SessionBackend {
    /// Sessions in this process (single-instance mode), with their page-load counters.
    Memory(MemoryStore, Arc<Mutex<HashMap<String, u64>>>),
    /// Sessions in Redis, shared by every instance.
    Redis(RedisSessionStore),
}

impl SessionBackend {
    /// Sessions in process memory.
    pub fn memory() -> Self {
        Self::Memory(MemoryStore::default(), Arc::default())
    }

    /// Counts one page load of session `id` (an atomic increment: concurrent requests never
    /// lose one); returns the count so far.
    pub async fn count_load(&self, id: &str) -> session_store::Result<u64> {
        match self {
            Self::Memory(_, counts) => {
                let mut counts = counts.lock().unwrap_or_else(PoisonError::into_inner);
                let count = counts.entry(id.to_owned()).or_default();
                *count += 1;
                Ok(*count)
            }
            Self::Redis(store) => store.count_load(id).await,
        }
    }
}

#[async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Memory(store, _) => store.create(record).await,
            Self::Redis(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Memory(store, _) => store.save(record).await,
            Self::Redis(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Memory(store, _) => store.load(id).await,
            Self::Redis(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Memory(store, _) => store.delete(id).await,
            Self::Redis(store) => store.delete(id).await,
        }
    }
}
