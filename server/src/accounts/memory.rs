//! Accounts in process memory, for the single-instance mode.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use super::{Account, AccountStore, AccountStoreError, Rename};

/// Accounts kept in a map; they vanish with the process.
#[derive(Default)]
pub struct MemoryAccounts {
    accounts: Mutex<HashMap<String, Account>>,
    rooms: Mutex<HashMap<String, BTreeSet<String>>>,
    /// Case-folded names (user names and display names) → the key of the user holding them.
    claims: Mutex<HashMap<String, String>>,
}

#[async_trait]
impl AccountStore for MemoryAccounts {
    async fn create(&self, key: &str, account: &Account) -> Result<bool, AccountStoreError> {
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut claims = self.claims.lock().unwrap_or_else(PoisonError::into_inner);
        if accounts.contains_key(key) || claims.get(key).is_some_and(|owner| owner != key) {
            return Ok(false);
        }
        accounts.insert(key.to_owned(), account.clone());
        claims.insert(key.to_owned(), key.to_owned());
        Ok(true)
    }

    async fn find(&self, key: &str) -> Result<Option<Account>, AccountStoreError> {
        Ok(self.accounts.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned())
    }

    async fn rename(&self, key: &str, display: &str) -> Result<Rename, AccountStoreError> {
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut claims = self.claims.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(account) = accounts.get_mut(key) else { return Ok(Rename::Unknown) };
        let folded = display.to_ascii_lowercase();
        if claims.get(&folded).is_some_and(|owner| owner != key) {
            return Ok(Rename::Taken);
        }
        let old = std::mem::replace(&mut account.display, display.to_owned());
        let old_folded = old.to_ascii_lowercase();
        if old_folded != key && old_folded != folded {
            claims.remove(&old_folded);
        }
        claims.insert(folded, key.to_owned());
        Ok(Rename::Done(old))
    }

    async fn bump_generation(&self, key: &str) -> Result<u64, AccountStoreError> {
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(accounts
            .get_mut(key)
            .map(|account| {
                account.generation += 1;
                account.generation
            })
            .unwrap_or(0))
    }

    async fn rooms(&self, key: &str) -> Result<Vec<String>, AccountStoreError> {
        let rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(rooms.get(key).map(|set| set.iter().cloned().collect()).unwrap_or_default())
    }

    async fn add_room(&self, key: &str, room: &str) -> Result<(), AccountStoreError> {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        rooms.entry(key.to_owned()).or_default().insert(room.to_owned());
        Ok(())
    }

    async fn remove_room(&self, key: &str, room: &str) -> Result<(), AccountStoreError> {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(set) = rooms.get_mut(key) {
            set.remove(room);
        }
        Ok(())
    }
}
