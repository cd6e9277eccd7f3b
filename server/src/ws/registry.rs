//! The open websockets of this instance, by user.
//!
//! Bounds how many sockets one user may hold on an instance (a script opening
//! thousands of sockets must not exhaust the server), and lets the instance
//! close every socket of a login (logout) or of a user (logout everywhere) at
//! once, when a control order says so — or tell them that a room came onto or
//! went off their user's list ([`Notice`]), so an invitation shows at once and a
//! removal ends the room on every socket of that user.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use protocol::{AccountKey, RoomName};
use tokio::sync::Notify;

/// A change to a user's rooms, for each of their sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The room is on the user's list now, put there by `by`.
    RoomAdded {
        /// The room.
        room: RoomName,
        /// Who put it there.
        by: String,
    },
    /// The user has read the room up to this message (on any device).
    Read {
        /// The room.
        room: RoomName,
        /// The newest message read.
        id: protocol::MessageId,
    },
    /// The user is out of the room.
    RoomRemoved {
        /// The room.
        room: RoomName,
        /// Who took them out (the user themselves when they left).
        by: String,
    },
}

/// What the instance asks of one of its sockets.
#[derive(Debug, PartialEq, Eq)]
pub enum Order {
    /// Changes to the user's rooms, oldest first.
    Notices(Vec<Notice>),
    /// Close: the login (or every login of the user) ended.
    Close,
}

/// What the instance can say to one socket: one place, one wake-up (a socket waits on it for
/// its whole life, so what that wait holds is part of every idle user's cost).
#[derive(Default)]
struct Link {
    closed: AtomicBool,
    notices: Mutex<Vec<Notice>>,
    wake: Notify,
}

impl Link {
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }
}

#[derive(Default)]
struct Inner {
    /// account key → (socket id, login id, link)
    by_user: HashMap<String, Vec<(u64, String, Arc<Link>)>>,
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
    link: Arc<Link>,
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
        let sockets = inner.by_user.entry(AccountKey::of(user).to_string()).or_default();
        if sockets.len() >= self.limit {
            return None;
        }
        let link = Arc::new(Link::default());
        sockets.push((id, login.to_owned(), link.clone()));
        Some(Registration { registry: self.clone(), user: AccountKey::of(user).to_string(), id, link })
    }

    /// Tells every socket of `user` (a user name or account key) here about a change to their
    /// rooms; returns how many.
    pub fn notify(&self, user: &str, notice: &Notice) -> usize {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let sockets = inner.by_user.get(AccountKey::of(user).as_str()).map(Vec::as_slice).unwrap_or_default();
        for (_, _, link) in sockets {
            link.notices.lock().unwrap_or_else(PoisonError::into_inner).push(notice.clone());
            link.wake.notify_one();
        }
        sockets.len()
    }

    /// Closes every socket opened under `login` (a logout); returns how many.
    pub fn close_login(&self, login: &str) -> usize {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let matching = inner.by_user.values().flatten().filter(|(_, l, _)| l == login);
        matching.map(|(_, _, link)| link.close()).count()
    }

    /// Closes every socket of `user` (all their sessions ended); returns how many.
    pub fn close_user(&self, user: &str) -> usize {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let sockets = inner.by_user.get(AccountKey::of(user).as_str()).map(Vec::as_slice).unwrap_or_default();
        sockets.iter().map(|(_, _, link)| link.close()).count()
    }

    /// How many sockets `user` holds here.
    pub fn count(&self, user: &str) -> usize {
        let key = AccountKey::of(user);
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).by_user.get(key.as_str()).map_or(0, Vec::len)
    }
}

impl Registration {
    /// Waits for the instance's next order to this socket: [`Order::Close`] (again and again,
    /// once given) or the notices given since the last call.
    pub async fn next(&self) -> Order {
        loop {
            if self.is_closed() {
                return Order::Close;
            }
            let notices = std::mem::take(&mut *self.link.notices.lock().unwrap_or_else(PoisonError::into_inner));
            if !notices.is_empty() {
                return Order::Notices(notices);
            }
            // `notify_one` keeps a permit when no one waits: an order since the check is not missed.
            self.link.wake.notified().await;
        }
    }

    /// Whether the instance asked this socket to close.
    pub fn is_closed(&self) -> bool {
        self.link.closed.load(Ordering::Acquire)
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
        assert!(registry.register("Alice", "l4").is_none(), "the same account, in another case");
        drop(a);
        assert_eq!(registry.count("alice"), 1);
        assert!(registry.register("alice", "l1").is_some());
    }

    #[tokio::test]
    async fn closes_by_login_and_by_user() {
        let registry = SocketRegistry::new(5);
        let (Some(a1), Some(a2), Some(b)) =
            (registry.register("alice", "one"), registry.register("alice", "two"), registry.register("bob", "three"))
        else {
            panic!("registered");
        };
        assert_eq!(registry.close_login("one"), 1);
        assert!(a1.is_closed() && !a2.is_closed());
        assert_eq!(registry.close_user("alice"), 2);
        assert!(a2.is_closed() && !b.is_closed());
        assert_eq!(a1.next().await, Order::Close, "a closed socket is told so, before any notice");
    }

    #[tokio::test]
    async fn notices_reach_every_socket_of_the_user_only() {
        let registry = SocketRegistry::new(5);
        let (Some(a1), Some(a2), Some(b)) =
            (registry.register("alice", "one"), registry.register("alice", "two"), registry.register("bob", "three"))
        else {
            panic!("registered");
        };
        let room = RoomName::parse("~team~k3j9x2ab7q").expect("valid");
        let notice = Notice::RoomAdded { room: room.clone(), by: "carol".into() };
        assert_eq!(registry.notify("alice", &notice), 2);
        assert_eq!(registry.notify("alice", &Notice::RoomRemoved { room: room.clone(), by: "carol".into() }), 2);
        let removed = Notice::RoomRemoved { room, by: "carol".into() };
        assert_eq!(a1.next().await, Order::Notices(vec![notice.clone(), removed.clone()]), "in order");
        assert_eq!(a2.next().await, Order::Notices(vec![notice, removed]));
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), b.next()).await;
        assert!(waiting.is_err(), "bob was told nothing");
        assert_eq!(
            registry.notify(
                "nobody",
                &Notice::RoomRemoved { room: RoomName::parse("x").expect("valid"), by: String::new() }
            ),
            0
        );
    }
}
