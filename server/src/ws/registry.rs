//! The open websockets of this instance, by user.
//!
//! Bounds how many sockets one user may hold on an instance (a script opening
//! thousands of sockets must not exhaust the server), and lets the instance
//! reach every socket of a user at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Inner {
    by_user: HashMap<String, Vec<(u64, CancellationToken)>>,
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

    /// Registers a socket of `user`; `None` when the user already holds the maximum.
    pub fn register(&self, user: &str) -> Option<Registration> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.next += 1;
        let id = inner.next;
        let sockets = inner.by_user.entry(user.to_owned()).or_default();
        if sockets.len() >= self.limit {
            return None;
        }
        let closed = CancellationToken::new();
        sockets.push((id, closed.clone()));
        Some(Registration { registry: self.clone(), user: user.to_owned(), id, closed })
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
            sockets.retain(|(id, _)| *id != self.id);
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
        let a = registry.register("alice");
        let b = registry.register("alice");
        assert!(a.is_some() && b.is_some());
        assert!(registry.register("alice").is_none(), "third socket refused");
        assert!(registry.register("bob").is_some(), "other users unaffected");
        drop(a);
        assert_eq!(registry.count("alice"), 1);
        assert!(registry.register("alice").is_some());
    }
}
