//! The open websockets of this instance, by user.
//!
//! Bounds how many sockets one user may hold on an instance (a script opening
//! thousands of sockets must not exhaust the server), and lets the instance
//! close every socket of a login (logout) or of a user (logout everywhere) at
//! once, when a control order says so — or tell them that a room came onto or
//! went off their user's list ([`Notice`]), so an invitation shows at once and a
//! removal ends the room on every socket of that user. The instance's own orders
//! go the same way: move elsewhere (the drain, [`SocketRegistry::move_all`]) and
//! close because the session expired (the [`session_sweep`](crate::ws::session_sweep)).
//!
//! Every order to a socket is one [`Link`]: a few flags, the notices, and the socket
//! task's waker. A socket waits on it without a future of its own
//! ([`Registration::poll_order`]), because what an idle socket's task holds is what
//! every connected user costs.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures::task::AtomicWaker;
use protocol::{AccountKey, RoomName};
use tower_sessions::session::Id;

use crate::services::SocketLogin;

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
    /// Move to another instance: this one is draining.
    Move,
    /// Close: the login ended, or its session expired.
    Close(Ended),
}

/// Why a socket's login ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The user logged out (this session, or every session).
    LoggedOut,
    /// The session expired or was deleted.
    Expired,
}

/// [`Link::flags`]: the login was logged out.
const LOGGED_OUT: u8 = 1;
/// [`Link::flags`]: the session expired.
const EXPIRED: u8 = 2;
/// [`Link::flags`]: the socket must move (the instance drains).
const MOVE: u8 = 4;

/// What the instance can say to one socket: one place, one wake-up.
#[derive(Default)]
struct Link {
    flags: AtomicU8,
    notices: Mutex<Vec<Notice>>,
    /// The socket's task, woken when an order is given.
    task: AtomicWaker,
}

impl Link {
    fn order(&self, flag: u8) {
        self.flags.fetch_or(flag, Ordering::AcqRel);
        self.task.wake();
    }
}

/// One registered socket, as the registry keeps it.
struct Entry {
    id: u64,
    login: String,
    session: Option<Id>,
    link: Arc<Link>,
}

#[derive(Default)]
struct Inner {
    /// account key → its sockets here
    by_user: HashMap<String, Vec<Entry>>,
    next: u64,
}

/// The registry of open sockets; cheap to clone.
#[derive(Clone, Default)]
pub struct SocketRegistry {
    inner: Arc<Mutex<Inner>>,
    /// The instance drains: every socket, and every socket registered from now on, moves.
    moving: Arc<AtomicBool>,
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
        Self { inner: Arc::default(), moving: Arc::default(), limit: limit.max(1) }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a socket of `login`; `None` when its user already holds the maximum.
    pub fn register(&self, login: &SocketLogin) -> Option<Registration> {
        let mut inner = self.inner();
        inner.next += 1;
        let id = inner.next;
        let user = AccountKey::of(&login.user).to_string();
        let sockets = inner.by_user.entry(user.clone()).or_default();
        if sockets.len() >= self.limit {
            return None;
        }
        let link = Arc::new(Link::default());
        // Under the lock `move_all` takes: a socket registered during the drain moves too.
        if self.moving.load(Ordering::Acquire) {
            link.flags.store(MOVE, Ordering::Release);
        }
        sockets.push(Entry { id, login: login.login.clone(), session: login.session_id, link: link.clone() });
        Some(Registration { registry: self.clone(), user, id, link })
    }

    /// Tells every socket of `user` (a user name or account key) here about a change to their
    /// rooms; returns how many.
    pub fn notify(&self, user: &str, notice: &Notice) -> usize {
        let inner = self.inner();
        let sockets = inner.by_user.get(AccountKey::of(user).as_str()).map(Vec::as_slice).unwrap_or_default();
        for entry in sockets {
            entry.link.notices.lock().unwrap_or_else(PoisonError::into_inner).push(notice.clone());
            entry.link.task.wake();
        }
        sockets.len()
    }

    /// Closes every socket opened under `login` (a logout); returns how many.
    pub fn close_login(&self, login: &str) -> usize {
        let inner = self.inner();
        let matching = inner.by_user.values().flatten().filter(|entry| entry.login == login);
        matching.map(|entry| entry.link.order(LOGGED_OUT)).count()
    }

    /// Closes every socket of `user` (all their sessions ended); returns how many.
    pub fn close_user(&self, user: &str) -> usize {
        let inner = self.inner();
        let sockets = inner.by_user.get(AccountKey::of(user).as_str()).map(Vec::as_slice).unwrap_or_default();
        sockets.iter().map(|entry| entry.link.order(LOGGED_OUT)).count()
    }

    /// The sessions the sockets here were opened under, each once.
    pub fn sessions(&self) -> Vec<Id> {
        let inner = self.inner();
        let sessions: HashSet<Id> = inner.by_user.values().flatten().filter_map(|entry| entry.session).collect();
        sessions.into_iter().collect()
    }

    /// Closes every socket opened under one of the sessions `gone` (expired or deleted); returns
    /// how many. One pass over the sockets however many sessions are gone (a Redis that lost
    /// its data ends them all at once).
    pub fn expire_sessions(&self, gone: &HashSet<Id>) -> usize {
        let inner = self.inner();
        let matching =
            inner.by_user.values().flatten().filter(|entry| entry.session.is_some_and(|id| gone.contains(&id)));
        matching.map(|entry| entry.link.order(EXPIRED)).count()
    }

    /// Tells every socket here, and every one registered from now on, to move (the drain);
    /// returns how many were told.
    pub fn move_all(&self) -> usize {
        let inner = self.inner();
        self.moving.store(true, Ordering::Release);
        inner.by_user.values().flatten().map(|entry| entry.link.order(MOVE)).count()
    }

    /// How many sockets `user` holds here.
    pub fn count(&self, user: &str) -> usize {
        self.inner().by_user.get(AccountKey::of(user).as_str()).map_or(0, Vec::len)
    }
}

impl Registration {
    /// The instance's next order to this socket, if one was given; otherwise the task is woken
    /// when one is. [`Order::Close`] comes again and again once given; a [`Order::Move`] once;
    /// notices as they were given since the last call, oldest first.
    pub fn poll_order(&self, cx: &Context<'_>) -> Poll<Order> {
        // Registered before looking: an order given after the look wakes the task.
        self.link.task.register(cx.waker());
        let flags = self.link.flags.load(Ordering::Acquire);
        if flags & LOGGED_OUT != 0 {
            return Poll::Ready(Order::Close(Ended::LoggedOut));
        }
        if flags & EXPIRED != 0 {
            return Poll::Ready(Order::Close(Ended::Expired));
        }
        if flags & MOVE != 0 && self.link.flags.fetch_and(!MOVE, Ordering::AcqRel) & MOVE != 0 {
            return Poll::Ready(Order::Move);
        }
        let notices = std::mem::take(&mut *self.link.notices.lock().unwrap_or_else(PoisonError::into_inner));
        if notices.is_empty() { Poll::Pending } else { Poll::Ready(Order::Notices(notices)) }
    }

    /// Waits for the instance's next order to this socket (see [`Self::poll_order`]).
    pub async fn next(&self) -> Order {
        std::future::poll_fn(|cx| self.poll_order(cx)).await
    }

    /// Whether the instance asked this socket to close (the socket itself asks [`Self::poll_order`]).
    #[cfg(test)]
    pub fn is_closed(&self) -> bool {
        self.link.flags.load(Ordering::Acquire) & (LOGGED_OUT | EXPIRED) != 0
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut inner = self.registry.inner();
        if let Some(sockets) = inner.by_user.get_mut(&self.user) {
            sockets.retain(|entry| entry.id != self.id);
            if sockets.is_empty() {
                inner.by_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(user: &str, login: &str) -> SocketLogin {
        SocketLogin { user: user.into(), login: login.into(), session_id: None }
    }

    fn in_session(user: &str, session: i128) -> SocketLogin {
        SocketLogin { user: user.into(), login: format!("login-{session}"), session_id: Some(Id(session)) }
    }

    /// The order given now, if any.
    fn order_now(registration: &Registration) -> Option<Order> {
        let waker = futures::task::noop_waker();
        match registration.poll_order(&Context::from_waker(&waker)) {
            Poll::Ready(order) => Some(order),
            Poll::Pending => None,
        }
    }

    #[test]
    fn limits_per_user_and_frees_on_drop() {
        let registry = SocketRegistry::new(2);
        let a = registry.register(&login("alice", "l1"));
        let b = registry.register(&login("alice", "l2"));
        assert!(a.is_some() && b.is_some());
        assert!(registry.register(&login("alice", "l1")).is_none(), "third socket refused");
        assert!(registry.register(&login("bob", "l3")).is_some(), "other users unaffected");
        assert!(registry.register(&login("Alice", "l4")).is_none(), "the same account, in another case");
        drop(a);
        assert_eq!(registry.count("alice"), 1);
        assert!(registry.register(&login("alice", "l1")).is_some());
    }

    #[tokio::test]
    async fn closes_by_login_and_by_user() {
        let registry = SocketRegistry::new(5);
        let (Some(a1), Some(a2), Some(b)) = (
            registry.register(&login("alice", "one")),
            registry.register(&login("alice", "two")),
            registry.register(&login("bob", "three")),
        ) else {
            panic!("registered");
        };
        assert_eq!(registry.close_login("one"), 1);
        assert!(a1.is_closed() && !a2.is_closed());
        assert_eq!(registry.close_user("alice"), 2);
        assert!(a2.is_closed() && !b.is_closed());
        assert_eq!(a1.next().await, Order::Close(Ended::LoggedOut), "a closed socket is told so, before any notice");
    }

    #[tokio::test]
    async fn notices_reach_every_socket_of_the_user_only() {
        let registry = SocketRegistry::new(5);
        let (Some(a1), Some(a2), Some(b)) = (
            registry.register(&login("alice", "one")),
            registry.register(&login("alice", "two")),
            registry.register(&login("bob", "three")),
        ) else {
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

    #[test]
    fn gone_sessions_close_their_sockets_only() {
        let registry = SocketRegistry::new(5);
        let (Some(a1), Some(a2), Some(b), Some(c), Some(d)) = (
            registry.register(&in_session("alice", 1)),
            registry.register(&in_session("alice", 1)),
            registry.register(&in_session("bob", 2)),
            registry.register(&login("carol", "three")),
            registry.register(&in_session("dave", 4)),
        ) else {
            panic!("registered");
        };
        let mut sessions = registry.sessions();
        sessions.sort_by_key(|id| id.0);
        assert_eq!(sessions, vec![Id(1), Id(2), Id(4)], "each session once; a socket without one is not checked");
        assert_eq!(registry.expire_sessions(&HashSet::from([Id(1), Id(4), Id(9)])), 3, "two sessions gone at once");
        assert_eq!(order_now(&a1), Some(Order::Close(Ended::Expired)));
        assert_eq!(order_now(&a2), Some(Order::Close(Ended::Expired)), "again and again once given");
        assert_eq!(order_now(&a2), Some(Order::Close(Ended::Expired)));
        assert_eq!(order_now(&d), Some(Order::Close(Ended::Expired)));
        assert_eq!((order_now(&b), order_now(&c)), (None, None));
    }

    #[test]
    fn the_drain_moves_every_socket_once_and_those_registered_later() {
        let registry = SocketRegistry::new(5);
        let Some(before) = registry.register(&login("alice", "one")) else { panic!("registered") };
        assert_eq!(order_now(&before), None);
        assert_eq!(registry.move_all(), 1);
        assert_eq!(order_now(&before), Some(Order::Move));
        assert_eq!(order_now(&before), None, "told once");
        let Some(after) = registry.register(&login("bob", "two")) else { panic!("registered") };
        assert_eq!(order_now(&after), Some(Order::Move), "registered during the drain");
    }

    #[tokio::test]
    async fn an_order_wakes_the_waiting_socket() {
        let registry = SocketRegistry::new(5);
        let Some(registration) = registry.register(&login("alice", "one")) else { panic!("registered") };
        let waiting = tokio::spawn(async move { registration.next().await });
        tokio::task::yield_now().await;
        registry.close_login("one");
        let order = tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await;
        assert_eq!(order.expect("woken").expect("joined"), Order::Close(Ended::LoggedOut));
    }
}
