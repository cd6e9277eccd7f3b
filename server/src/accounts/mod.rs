//! User accounts: the seam between authentication and storage.
//!
//! An account is the argon2id hash of the password and the display name, kept
//! under the case-folded user name (so `Alice` and `alice` are one account).
//! Names are claimed case-insensitively: a display name can be neither another
//! user's name nor another user's display name, so nobody can pose as someone else.
//! [`memory::MemoryAccounts`] backs a single instance without a database,
//! [`redis::RedisAccounts`] a cluster without one (`{p}user:<name>` hashes, `{p}user:<name>:rooms`
//! and `:blocked` sets), and the message store's database ([`crate::store`]) every deployment
//! that has one, so accounts outlive a Redis that lost its data; all three pass
//! `tests/accounts_contract.rs`. The user's room list lives here, not in the
//! browser, so every tab and device shows the same rooms; its length is capped
//! (`MAX_ROOMS_PER_USER`) in the same atomic step that adds a room.
//!
//! Read positions live here too (how far the user has read each room, per user, not per
//! session, so every device agrees): one value per room that only moves forwards.
//!
//! Blocks live here too (who a user refuses direct messages from): they belong to
//! the user, like the room list, and are read where a direct conversation opens.
//!
//! Device tokens (OWASP's "device cookies") live here too: a browser that once
//! logged in as a user holds a token the store trusts for that user, so its
//! login attempts are counted apart from a stranger's, and an attacker who
//! exhausts the name's budget cannot lock the owner out.

pub mod memory;
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
pub use protocol::AccountKey;
use protocol::MessageId;

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The user name as registered (its case-folded form is the account key). It never
    /// changes: it is the identity the session, messages and presence carry.
    pub name: String,
    /// The name shown in chat: the user name until the user renames.
    pub display: String,
    /// The argon2id hash of the password (PHC string).
    pub password_hash: String,
    /// The session generation: sessions made at an older one are void ("log out everywhere").
    pub generation: u64,
}

/// The outcome of [`AccountStore::rename`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rename {
    /// Renamed; the old display name.
    Done(String),
    /// Another user holds the name.
    Taken,
    /// No such account.
    Unknown,
}

/// The outcome of [`AccountStore::add_room`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomAdd {
    /// The room is new on the list.
    Added,
    /// The room was on the list already.
    Present,
    /// The list is at the cap: not added.
    Full,
}

/// Why the account store failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountStoreError {
    /// The backend could not be reached.
    #[error("account store unavailable: {0}")]
    Unavailable(#[from] ::redis::RedisError),
    /// The database behind the store failed (see [`crate::store`]).
    #[error("account store unavailable: {0}")]
    Store(#[source] crate::store::StoreError),
}

/// Stores accounts by their case-folded user name.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Creates the account unless the key is taken; `Ok(false)` when it is.
    async fn create(&self, key: &AccountKey, account: &Account) -> Result<bool, AccountStoreError>;
    /// The account under `key`, if any.
    async fn find(&self, key: &AccountKey) -> Result<Option<Account>, AccountStoreError>;
    /// The display names of the accounts under `keys`, in order (`None` for unknown keys), in
    /// one round trip.
    async fn displays(&self, keys: &[AccountKey]) -> Result<Vec<Option<String>>, AccountStoreError>;
    /// Changes the user's display name unless another user holds it (as a user name or a
    /// display name); returns the outcome.
    async fn rename(&self, key: &AccountKey, display: &str) -> Result<Rename, AccountStoreError>;
    /// Voids every existing session of the user; returns the new generation.
    async fn bump_generation(&self, key: &AccountKey) -> Result<u64, AccountStoreError>;
    /// The rooms the user has joined, sorted.
    async fn rooms(&self, key: &AccountKey) -> Result<Vec<String>, AccountStoreError>;
    /// Remembers that the user joined `room`, unless they are already in `max` other rooms
    /// (a room already on the list is always accepted).
    async fn add_room(&self, key: &AccountKey, room: &str, max: usize) -> Result<RoomAdd, AccountStoreError>;
    /// Forgets that the user joined `room`; whether it was on the list.
    async fn remove_room(&self, key: &AccountKey, room: &str) -> Result<bool, AccountStoreError>;
    /// Blocks (`blocked`) or unblocks `other` for the user `key`.
    async fn set_blocked(&self, key: &AccountKey, other: &AccountKey, blocked: bool) -> Result<(), AccountStoreError>;
    /// The account keys the user blocks, sorted.
    async fn blocked(&self, key: &AccountKey) -> Result<Vec<String>, AccountStoreError>;
    /// Whether the user `key` blocks `other`.
    async fn blocks(&self, key: &AccountKey, other: &AccountKey) -> Result<bool, AccountStoreError>;
    /// Moves the user's read position in `room` to `id` unless it is there or further already
    /// (one atomic step: two devices racing never move it backwards); the position now.
    async fn mark_read(&self, key: &AccountKey, room: &str, id: MessageId) -> Result<MessageId, AccountStoreError>;
    /// The user's read position in every room they have one in.
    async fn read_positions(&self, key: &AccountKey) -> Result<Vec<(String, MessageId)>, AccountStoreError>;
    /// Trusts the browser holding device token `token` for logging in as `key` (at session
    /// generation `generation`) for `ttl`: its login attempts get their own budget.
    async fn trust_device(
        &self,
        token: &str,
        key: &AccountKey,
        generation: u64,
        ttl: Duration,
    ) -> Result<(), AccountStoreError>;
    /// The account key and generation a device token was trusted for, if it is still trusted.
    async fn device(&self, token: &str) -> Result<Option<(AccountKey, u64)>, AccountStoreError>;
}

/// An account store shared by the instance.
pub type SharedAccounts = Arc<dyn AccountStore>;
