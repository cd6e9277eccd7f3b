//! The open websockets of this instance, by user.
//!
//! Bounds how many sockets one user may hold on an instance (a script opening
//! thousands of sockets must not exhaust the server), and lets the instance
//! close every socket of a login (logout) or of a user (logout everywhere) at
//! once, when a control order says so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Inner {
    /// user → (socket id, login id, close token)
    by_user: HashMap<String, Vec<(u64, String, CancellationToken)>>,
    next: u64,
}

/// The registry of open sockets; cheap to clone.
#[derive(Clone, Default)]
pub struct SocketRegistry {
    inner: Arc<Mutex<Inner>>,
    limit: usize,
}

/// A registered socket; dropping it unregisters the socket.
pub struct Registration {
    registry: SocketRegistry,
    user: String,
    id: u64,
    /// Cancelled when the instance wants this socket closed.
    pub closed: CancellationToken,
}

impl SocketRegistry {
    /// A registry allowing `limit` sockets per user.
    pub fn new(limit: usize) -> Self {
        Self { inner: Arc::default(), limit: limit.max(1) }
    }

    /// Registers a socket of `user` opened under `login`; `None` when the user already holds the maximum.
    pub fn register(&self, user: &str, login: &str) -> Option<Registration> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.next += 1;
        let id = inner.next;
        let sockets = inner.by_user.entry(user.to_owned()).or_default();
        if sockets.len() >= self.limit {
            return None;
        }
        let closed = CancellationToken::new();
        sockets.push((id, login.to_owned(), closed.clone()));
        Some(Registration { registry: self.clone(), user: user.to_owned(), id, closed })
    }

    /// Closes every socket opened under `login` (a logout); returns how many.
    pub fn close_login(&self, login: &str) -> usize {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let matching = inner.by_user.values().flatten().filter(|(_, l, _)| l == login);
        matching.map(|(_, _, token)| token.cancel()).count()
    }

    /// Closes every socket of `user` (all their sessions ended); returns how many.
    pub fn close_user(&self, user: &str) -> usize {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.by_user.get(user).map(|sockets| sockets.iter().map(|(_, _, token)| token.cancel()).count()).unwrap_or(0)
    }

    /// How many sockets `user` holds here.
    pub fn count(&self, user: &str) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).by_user.get(user).map_or(0, Vec::len)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut inner = self.registry.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sockets) = inner.by_user.get_mut(&self.user) {
            sockets.retain(|(id, _, _)| *id != self.id);
            if sockets.is_empty() {
                inner.by_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_user_and_frees_on_drop() {
        let registry = SocketRegistry::new(2);
        let a = registry.register("alice", "l1");
        let b = registry.register("alice", "l2");
        assert!(a.is_some() && b.is_some());
        assert!(registry.register("alice", "l1").is_none(), "third socket refused");
        assert!(registry.register("bob", "l3").is_some(), "other users unaffected");
        drop(a);
        assert_eq!(registry.count("alice"), 1);
        assert!(registry.register("alice", "l1").is_some());
    }

    #[test]
    fn closes_by_login_and_by_user() {
        let registry = SocketRegistry::new(5);
        let (Some(a1), Some(a2), Some(b)) =
            (registry.register("alice", "one"), registry.register("alice", "two"), registry.register("bob", "three"))
        else {
            panic!("registered");
        };
        assert_eq!(registry.close_login("one"), 1);
        assert!(a1.closed.is_cancelled() && !a2.closed.is_cancelled());
        assert_eq!(registry.close_user("alice"), 2);
        assert!(a2.closed.is_cancelled() && !b.closed.is_cancelled());
    }
}
