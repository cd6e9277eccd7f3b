//! Room records: who created each private room and who is in it, and the
//! directory of public rooms.
//!
//! Presence says who is *here now*; this says who *may be here*. Public rooms
//! need no record to be joined (a join of a free name creates one), and direct
//! conversations none either (their name says who is in them), so only private
//! rooms have members — kept apart from the broker so the check that guards
//! every path into a room is one small read, and from the accounts because a
//! room's members change together, under one key, in one slot of a cluster.
//! The directory counts, per public room, the users who hold it on their list,
//! so browsing can offer the busiest rooms first.
//!
//! [`memory::MemoryRooms`] serves a single instance without a database, [`redis::RedisRooms`]
//! a cluster without one (`{p}room:{<room>}:owner`, `{p}room:{<room>}:members`, tagged like
//! the room's history; `{p}directory`, a sorted set), and the message store's database
//! ([`crate::store`]) every deployment that has one; all three pass `tests/rooms_contract.rs`.

pub mod memory;
pub mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use protocol::{AccountKey, RoomName};

/// Why the room store failed.
#[derive(Debug, thiserror::Error)]
pub enum RoomStoreError {
    /// The backend could not be reached.
    #[error("room store unavailable: {0}")]
    Unavailable(#[from] ::redis::RedisError),
    /// The database behind the store failed (see [`crate::store`]).
    #[error("room store unavailable: {0}")]
    Store(#[source] crate::store::StoreError),
}

/// Stores private rooms' members and the public directory.
#[async_trait]
pub trait RoomStore: Send + Sync + 'static {
    /// Creates the private room `room` with `owner` as its first member; `Ok(false)` when a
    /// room of that name exists.
    async fn create(&self, room: &RoomName, owner: &AccountKey) -> Result<bool, RoomStoreError>;
    /// The creator of a private room; `None` when there is no such room.
    async fn owner(&self, room: &RoomName) -> Result<Option<AccountKey>, RoomStoreError>;
    /// Whether `key` is a member of the private room `room`.
    async fn is_member(&self, room: &RoomName, key: &AccountKey) -> Result<bool, RoomStoreError>;
    /// Adds a member to an existing private room; `Ok(false)` when the room does not exist.
    async fn add_member(&self, room: &RoomName, key: &AccountKey) -> Result<bool, RoomStoreError>;
    /// Removes a member; whether they were one.
    async fn remove_member(&self, room: &RoomName, key: &AccountKey) -> Result<bool, RoomStoreError>;
    /// The members of a private room, sorted (empty when there is no such room).
    async fn members(&self, room: &RoomName) -> Result<Vec<String>, RoomStoreError>;
    /// Counts one more (`delta` 1) or one fewer (-1) user holding the public room `room`; a
    /// room no one holds leaves the directory.
    async fn count_public(&self, room: &RoomName, delta: i64) -> Result<(), RoomStoreError>;
    /// The public rooms most users hold, at most `limit`, busiest first.
    async fn public_rooms(&self, limit: usize) -> Result<Vec<String>, RoomStoreError>;
}

/// A room store shared by the instance.
pub type SharedRooms = Arc<dyn RoomStore>;
