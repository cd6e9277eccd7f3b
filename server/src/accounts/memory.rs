//! Accounts in process memory, for the single-instance mode.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use super::{Account, AccountStore, AccountStoreError};

/// Accounts kept in a map; they vanish with the process.
#[derive(Default)]
pub struct MemoryAccounts {
    accounts: Mutex<HashMap<String, Account>>,
}

#[async_trait]
impl AccountStore for MemoryAccounts {
    async fn create(&self, key: &str, account: &Account) -> Result<bool, AccountStoreError> {
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        if accounts.contains_key(key) {
            return Ok(false);
        }
        accounts.insert(key.to_owned(), account.clone());
        Ok(true)
    }

    async fn find(&self, key: &str) -> Result<Option<Account>, AccountStoreError> {
        Ok(self.accounts.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned())
    }
}
