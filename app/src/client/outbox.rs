//! The outbox: messages the user sent that the server has not acknowledged.
//!
//! Kept in `localStorage` (per user), so a message typed while offline survives
//! a page reload as well as a reconnect; every entry is resent with its original
//! client id until acked, and the server stores each id once.
//!
//! The page writes an entry the moment the user submits it — not when the
//! connection task gets round to it, which may be seconds later while the task
//! waits for a load-balancer re-pin, or never if the page reloads first. So the
//! page and its connection task share one [`Outbox`] (a handle to the same
//! list, written through to storage on every change), and [`Outbox::push`] is
//! idempotent: whoever pushes second changes nothing.
//!
//! Only the storage is the browser's: elsewhere (the server's render, host tests)
//! an outbox lives in memory, so [`Pending`] and the outbox rules compile and are
//! tested everywhere.

use std::cell::RefCell;
use std::rc::Rc;

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

/// The outbox of one user in one page: a cheap handle; clones share the same entries.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    inner: Rc<RefCell<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The storage key, per user (read by the browser's storage only).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    key: String,
    entries: Vec<Pending>,
}

#[cfg(feature = "hydrate")]
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

impl Outbox {
    /// Loads the outbox of `user` from browser storage (empty when there is none or it is
    /// unreadable; without storage the outbox still works for the life of the page).
    pub fn load(user: &str) -> Self {
        let key = format!("switchboard.outbox.{user}");
        #[cfg(feature = "hydrate")]
        let entries = storage()
            .and_then(|s| s.get_item(&key).ok().flatten())
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default();
        #[cfg(not(feature = "hydrate"))]
        let entries = Vec::new();
        Self { inner: Rc::new(RefCell::new(Inner { key, entries })) }
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> Vec<Pending> {
        self.inner.borrow().entries.clone()
    }

    /// The entry with this client id.
    pub fn get(&self, client_id: &str) -> Option<Pending> {
        self.inner.borrow().entries.iter().find(|p| p.client_id == client_id).cloned()
    }

    /// Adds an entry and stores the outbox at once; an entry with the same client id is
    /// kept as it is. Returns whether the entry was new.
    pub fn push(&self, pending: Pending) -> bool {
        let mut inner = self.inner.borrow_mut();
        if inner.entries.iter().any(|p| p.client_id == pending.client_id) {
            return false;
        }
        inner.entries.push(pending);
        inner.store();
        true
    }

    /// Removes the entry with this client id (acked or refused).
    pub fn remove(&self, client_id: &str) {
        let mut inner = self.inner.borrow_mut();
        let before = inner.entries.len();
        inner.entries.retain(|p| p.client_id != client_id);
        if inner.entries.len() != before {
            inner.store();
        }
    }
}

impl Inner {
    #[cfg(feature = "hydrate")]
    fn store(&self) {
        if let Some(storage) = storage() {
            let _ = match self.entries.is_empty() {
                true => storage.remove_item(&self.key),
                false => storage.set_item(&self.key, &serde_json::to_string(&self.entries).unwrap_or_default()),
            };
        }
    }

    /// Off the browser the outbox lives in memory only: nothing to write.
    #[cfg(not(feature = "hydrate"))]
    fn store(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(client_id: &str, text: &str) -> Pending {
        Pending { client_id: client_id.into(), room: "general".into(), text: text.into() }
    }

    #[test]
    fn a_client_id_is_kept_once_whoever_pushes_first() {
        let page = Outbox::load("alice");
        let task = page.clone();
        assert!(page.push(pending("c1", "hello")));
        assert!(!task.push(pending("c1", "hello again")), "the second push changes nothing");
        assert_eq!(task.entries(), [pending("c1", "hello")]);
    }

    #[test]
    fn entries_keep_their_order_and_leave_by_client_id() {
        let outbox = Outbox::load("alice");
        outbox.push(pending("c1", "one"));
        outbox.push(pending("c2", "two"));
        outbox.push(pending("c3", "three"));
        outbox.remove("c2");
        outbox.remove("unknown");
        assert_eq!(outbox.entries(), [pending("c1", "one"), pending("c3", "three")]);
        assert_eq!(outbox.get("c3"), Some(pending("c3", "three")));
        assert_eq!(outbox.get("c2"), None);
    }
}
