//! The outbox: messages the user sent that the server has not acknowledged.
//!
//! Kept in `localStorage` (per user), so a message typed while offline survives
//! a page reload as well as a reconnect; every entry is resent with its original
//! client id until acked, and the server stores each id once.

use serde::{Deserialize, Serialize};

/// One unacknowledged message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The client id (the dedupe key on the server).
    pub client_id: String,
    /// The room it was sent to.
    pub room: String,
    /// The text.
    pub text: String,
}

/// The outbox of one user in one browser.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    key: String,
    entries: Vec<Pending>,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

impl Outbox {
    /// Loads the outbox of `user` from browser storage.
    pub fn load(user: &str) -> Self {
        let key = format!("switchboard.outbox.{user}");
        let entries = storage()
            .and_then(|s| s.get_item(&key).ok().flatten())
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default();
        Self { key, entries }
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[Pending] {
        &self.entries
    }

    /// The entry with this client id.
    pub fn get(&self, client_id: &str) -> Option<&Pending> {
        self.entries.iter().find(|p| p.client_id == client_id)
    }

    /// Adds an entry.
    pub fn push(&mut self, pending: Pending) {
        self.entries.push(pending);
        self.store();
    }

    /// Removes the entry with this client id (acked or refused).
    pub fn remove(&mut self, client_id: &str) {
        let before = self.entries.len();
        self.entries.retain(|p| p.client_id != client_id);
        if self.entries.len() != before {
            self.store();
        }
    }

    fn store(&self) {
        if let Some(storage) = storage() {
            let _ = match self.entries.is_empty() {
                true => storage.remove_item(&self.key),
                false => storage.set_item(&self.key, &serde_json::to_string(&self.entries).unwrap_or_default()),
            };
        }
    }
}
