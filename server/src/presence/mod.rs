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
//! If Redis itself is away longer than the lease, other instances may reap a live
//! instance's entries; the instance notices the lapsed lease when it renews it and
//! enters its sockets' memberships ([`LocalMemberships`]) again.
//!
//! [`memory::MemoryPresence`] serves the single-instance mode,
//! [`redis::RedisPresence`] a cluster; both pass `tests/presence_contract.rs`.

pub mod heartbeat;
pub mod memory;
pub mod redis;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
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
    Unavailable(#[from] ::redis::RedisError),
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
    /// Sets the number of `user`'s sockets in `room` on `instance` (idempotent: for entering memberships
    /// again after a lapsed lease); `true` if the user was absent before.
    async fn restore(&self, room: &RoomName, user: &str, instance: &str, sockets: usize)
    -> Result<bool, PresenceError>;
    /// A socket of `user` on `instance` left `room`; `true` if the user is now absent.
    async fn exit(&self, room: &RoomName, user: &str, instance: &str) -> Result<bool, PresenceError>;
    /// The users present in `room`, sorted.
    async fn members(&self, room: &RoomName) -> Result<Vec<String>, PresenceError>;
    /// Renews `instance`'s lease for `ttl`; `false` when the lease had lapsed (the instance's
    /// entries may have been reaped meanwhile and must be entered again).
    async fn renew(&self, instance: &str, ttl: Duration) -> Result<bool, PresenceError>;
    /// Removes the entries of instances whose lease expired; returns who is now gone.
    async fn reap(&self) -> Result<Vec<Departed>, PresenceError>;
}

/// Presence shared by the instance.
pub type SharedPresence = Arc<dyn Presence>;

/// This instance's own memberships (room, user) → open sockets, mirrored locally so they can be
/// entered again if a long Redis outage let another instance reap them.
#[derive(Clone, Default)]
pub struct LocalMemberships {
    entries: Arc<Mutex<HashMap<(RoomName, String), usize>>>,
}

impl LocalMemberships {
    /// A socket of `user` entered `room` here.
    pub fn add(&self, room: &RoomName, user: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        *entries.entry((room.clone(), user.to_owned())).or_default() += 1;
    }

    /// A socket of `user` left `room` here.
    pub fn remove(&self, room: &RoomName, user: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (room.clone(), user.to_owned());
        if let Some(count) = entries.get_mut(&key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                entries.remove(&key);
            }
        }
    }

    /// Every (room, user, sockets) held here.
    pub fn snapshot(&self) -> Vec<(RoomName, String, usize)> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.iter().map(|((room, user), count)| (room.clone(), user.clone(), *count)).collect()
    }
}
