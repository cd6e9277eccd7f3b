//! Session storage for tower-sessions.
//!
//! The session record holds the logged-in user's name and nothing else: it is
//! written at login (under a fresh id) and deleted at logout, so the HTTP side
//! and the websocket side never race to write one blob. [`SessionBackend`] picks
//! tower-sessions' memory store (single instance) or [`redis::RedisSessionStore`]
//! (a cluster) at start-up; both pass `tests/session_contract.rs`.

pub mod redis;

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::MemoryStore;

pub use self::redis::RedisSessionStore;

/// The session key holding the logged-in user's name.
pub const USER_KEY: &str = "user";

/// The session store chosen at start-up.
#[derive(Debug, Clone)]
pub enum SessionBackend {
    /// Sessions in this process (single-instance mode).
    Memory(MemoryStore),
    /// Sessions in Redis, shared by every instance.
    Redis(RedisSessionStore),
}

#[async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Memory(store) => store.create(record).await,
            Self::Redis(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Memory(store) => store.save(record).await,
            Self::Redis(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Memory(store) => store.load(id).await,
            Self::Redis(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Memory(store) => store.delete(id).await,
            Self::Redis(store) => store.delete(id).await,
        }
    }
}
