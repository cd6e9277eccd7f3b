//! User accounts: the seam between authentication and storage.
//!
//! An account is the argon2id hash of the password and the display name, kept
//! under the case-folded user name (so `Alice` and `alice` are one account).
//! Names are claimed case-insensitively: a display name can be neither another
//! user's name nor another user's display name, so nobody can pose as someone else.
//! [`memory::MemoryAccounts`] backs the single-instance mode, [`redis::RedisAccounts`]
//! a cluster (`{p}user:<name>` hashes, `{p}user:<name>:rooms` sets); both pass
//! `tests/store_contract.rs`. The user's room list lives here, not in the
//! browser, so every tab and device shows the same rooms.

pub mod memory;
pub mod redis;

use std::sync::Arc;

use async_trait::async_trait;

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The name as the user registered it (shown in chat).
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

/// Why the account store failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountStoreError {
    /// The backend could not be reached.
    #[error("account store unavailable: {0}")]
    Unavailable(String),
}

impl From<::redis::RedisError> for AccountStoreError {
    fn from(err: ::redis::RedisError) -> Self {
        Self::Unavailable(err.to_string())
    }
}

/// Stores accounts by their case-folded user name.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Creates the account unless the key is taken; `Ok(false)` when it is.
    async fn create(&self, key: &str, account: &Account) -> Result<bool, AccountStoreError>;
    /// The account under `key`, if any.
    async fn find(&self, key: &str) -> Result<Option<Account>, AccountStoreError>;
    /// Changes the user's display name unless another user holds it (as a user name or a
    /// display name); returns the outcome.
    async fn rename(&self, key: &str, display: &str) -> Result<Rename, AccountStoreError>;
    /// Voids every existing session of the user; returns the new generation.
    async fn bump_generation(&self, key: &str) -> Result<u64, AccountStoreError>;
    /// The rooms the user has joined, sorted.
    async fn rooms(&self, key: &str) -> Result<Vec<String>, AccountStoreError>;
    /// Remembers that the user joined `room`.
    async fn add_room(&self, key: &str, room: &str) -> Result<(), AccountStoreError>;
    /// Forgets that the user joined `room`.
    async fn remove_room(&self, key: &str, room: &str) -> Result<(), AccountStoreError>;
}

/// An account store shared by the instance.
pub type SharedAccounts = Arc<dyn AccountStore>;
