//! Accounts in process memory, for the single-instance mode.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use protocol::MessageId;

use super::{Account, AccountKey, AccountStore, AccountStoreError, Rename, RoomAdd};

/// Accounts kept in a map; they vanish with the process.
#[derive(Default)]
pub struct MemoryAccounts {
    accounts: Mutex<HashMap<AccountKey, Account>>,
    rooms: Mutex<HashMap<AccountKey, BTreeSet<String>>>,
    blocked: Mutex<HashMap<AccountKey, BTreeSet<String>>>,
    read: Mutex<HashMap<AccountKey, HashMap<String, MessageId>>>,
    /// Case-folded names (user names and display names) → the key of the user holding them.
    claims: Mutex<HashMap<AccountKey, AccountKey>>,
    /// Device token → (account key, generation, trusted until).
    devices: Mutex<HashMap<String, (AccountKey, u64, Instant)>>,
}

#[async_trait]
impl AccountStore for MemoryAccounts {
    async fn create(&self, key: &AccountKey, account: &Account) -> Result<bool, AccountStoreError> {
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut claims = self.claims.lock().unwrap_or_else(PoisonError::into_inner);
        if accounts.contains_key(key) || claims.get(key).is_some_and(|owner| owner != key) {
            return Ok(false);
        }
        accounts.insert(key.clone(), account.clone());
        claims.insert(key.clone(), key.clone());
        Ok(true)
    }

    async fn find(&self, key: &AccountKey) -> Result<Option<Account>, AccountStoreError> {
        Ok(self.accounts.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned())
    }

    async fn displays(&self, keys: &[AccountKey]) -> Result<Vec<Option<String>>, AccountStoreError> {
        let accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(keys.iter().map(|key| accounts.get(key).map(|account| account.display.clone())).collect())
    }

    async fn rename(&self, key: &AccountKey, display: &str) -> Result<Rename, AccountStoreError> {
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut claims = self.claims.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(account) = accounts.get_mut(key) else {
            return Ok(Rename::Unknown);
        };
        let folded = AccountKey::of(display);
        if claims.get(&folded).is_some_and(|owner| owner != key) {
            return Ok(Rename::Taken);
        }
        let old = std::mem::replace(&mut account.display, display.to_owned());
        let old_folded = AccountKey::of(&old);
        if old_folded != *key && old_folded != folded {
            claims.remove(&old_folded);
        }
        claims.insert(folded, key.clone());
        Ok(Rename::Done(old))
    }

    async fn bump_generation(&self, key: &AccountKey) -> Result<u64, AccountStoreError> {
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(accounts
            .get_mut(key)
            .map(|account| {
                account.generation += 1;
                account.generation
            })
            .unwrap_or(0))
    }

    async fn rooms(&self, key: &AccountKey) -> Result<Vec<String>, AccountStoreError> {
        let rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(rooms.get(key).map(|set| set.iter().cloned().collect()).unwrap_or_default())
    }

    async fn add_room(&self, key: &AccountKey, room: &str, max: usize) -> Result<RoomAdd, AccountStoreError> {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let set = rooms.entry(key.clone()).or_default();
        Ok(if set.contains(room) {
            RoomAdd::Present
        } else if set.len() >= max {
            RoomAdd::Full
        } else {
            set.insert(room.to_owned());
            RoomAdd::Added
        })
    }

    async fn set_blocked(&self, key: &AccountKey, other: &AccountKey, blocked: bool) -> Result<(), AccountStoreError> {
        let mut lists = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        let list = lists.entry(key.clone()).or_default();
        if blocked {
            list.insert(other.to_string());
        } else {
            list.remove(other.as_str());
        }
        Ok(())
    }

    async fn blocked(&self, key: &AccountKey) -> Result<Vec<String>, AccountStoreError> {
        let lists = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(lists.get(key).map(|list| list.iter().cloned().collect()).unwrap_or_default())
    }

    async fn blocks(&self, key: &AccountKey, other: &AccountKey) -> Result<bool, AccountStoreError> {
        let lists = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(lists.get(key).is_some_and(|list| list.contains(other.as_str())))
    }

    async fn remove_room(&self, key: &AccountKey, room: &str) -> Result<bool, AccountStoreError> {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(rooms.get_mut(key).is_some_and(|set| set.remove(room)))
    }

    async fn mark_read(&self, key: &AccountKey, room: &str, id: MessageId) -> Result<MessageId, AccountStoreError> {
        let mut read = self.read.lock().unwrap_or_else(PoisonError::into_inner);
        let position = read.entry(key.clone()).or_default().entry(room.to_owned()).or_default();
        *position = (*position).max(id);
        Ok(*position)
    }

    async fn read_positions(&self, key: &AccountKey) -> Result<Vec<(String, MessageId)>, AccountStoreError> {
        let read = self.read.lock().unwrap_or_else(PoisonError::into_inner);
        let mut positions: Vec<_> =
            read.get(key).map(|rooms| rooms.iter().map(|(room, id)| (room.clone(), *id)).collect()).unwrap_or_default();
        positions.sort();
        Ok(positions)
    }

    async fn trust_device(
        &self,
        token: &str,
        key: &AccountKey,
        generation: u64,
        ttl: Duration,
    ) -> Result<(), AccountStoreError> {
        let mut devices = self.devices.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        devices.retain(|_, (_, _, until)| *until > now);
        devices.insert(token.to_owned(), (key.clone(), generation, now + ttl));
        Ok(())
    }

    async fn device(&self, token: &str) -> Result<Option<(AccountKey, u64)>, AccountStoreError> {
        let devices = self.devices.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        Ok(devices
            .get(token)
            .filter(|(_, _, until)| *until > now)
            .map(|(key, generation, _)| (key.clone(), *generation)))
    }
}
