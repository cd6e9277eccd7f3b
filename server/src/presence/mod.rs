//! Who is in a room, across every instance.
//!
//! Presence counts sockets per (room, user, instance). A user is *present* in a
//! room while any of their sockets on any instance is in it. Joins and leaves
//! are announced only when that changes, and a socket's exit is applied after a
//! short grace period, so a reconnect (same or another instance) is neither a
//! leave nor a join.
//!
//! An instance that dies without a word cannot apply its exits. Each instance
//! therefore holds a lease (`{p}instance:<id>`, a key with a short TTL that it
//! refreshes); a reaper on every instance removes the entries of instances
//! whose lease expired and announces their users as gone — within
//! `LEASE_TTL + REAP_EVERY` (13 s).
//!
//! [`memory::MemoryPresence`] serves the single-instance mode,
//! [`redis::RedisPresence`] a cluster; both pass `tests/presence_contract.rs`.

pub mod memory;
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use protocol::RoomName;

/// How long an instance's lease lives without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How often an instance renews its lease and reaps dead instances.
pub const REAP_EVERY: Duration = Duration::from_secs(3);

/// Why a presence operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PresenceError {
    /// The backend is unreachable.
    #[error("presence store unavailable: {0}")]
    Unavailable(String),
}

impl From<::redis::RedisError> for PresenceError {
    fn from(err: ::redis::RedisError) -> Self {
        Self::Unavailable(err.to_string())
    }
}

/// A user no longer present in a room because their instance died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departed {
    /// The room.
    pub room: RoomName,
    /// The user.
    pub user: String,
}

/// Room membership across instances. See the module documentation.
#[async_trait]
pub trait Presence: Send + Sync + 'static {
    /// A socket of `user` on `instance` entered `room`; `true` if the user was absent before.
    async fn enter(&self, room: &RoomName, user: &str, instance: &str) -> Result<bool, PresenceError>;
    /// A socket of `user` on `instance` left `room`; `true` if the user is now absent.
    async fn exit(&self, room: &RoomName, user: &str, instance: &str) -> Result<bool, PresenceError>;
    /// The users present in `room`, sorted.
    async fn members(&self, room: &RoomName) -> Result<Vec<String>, PresenceError>;
    /// Renews `instance`'s lease for `ttl`.
    async fn renew(&self, instance: &str, ttl: Duration) -> Result<(), PresenceError>;
    /// Removes the entries of instances whose lease expired; returns who is now gone.
    async fn reap(&self) -> Result<Vec<Departed>, PresenceError>;
}

/// Presence shared by the instance.
pub type SharedPresence = Arc<dyn Presence>;
