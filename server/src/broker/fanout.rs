//! Local delivery of room events to the sockets of this instance.
//!
//! One `tokio::sync::broadcast` channel per room that has local members. The
//! first [`Subscription`] of a room asks the backend (through a
//! [`RemoteSubscriptions`]) to start listening to the room, the last one to stop,
//! so the number of backend subscriptions is the number of rooms with local
//! members, not the number of sockets. Subscribing waits until the backend has
//! confirmed, so nothing published after `subscribe` returns can be missed.
//!
//! Every local member of a room receives the same [`Delivery`], and the frame an
//! event becomes is the same for all of them: the first member that needs the
//! event's wire form encodes it, the others share those bytes. A message to a
//! thousand local members is encoded once per instance, not a thousand times.

use std::collections::HashMap;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};

use protocol::RoomName;
use tokio::sync::{broadcast, watch};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::{BrokerError, RoomEvent};
use crate::telemetry::metrics::metrics;

/// How many events a local receiver may fall behind before it lags (and its socket is closed
/// with 4008 to catch up from history). A room's ring is allocated whole when the room's first
/// local member joins, whatever the room's size: 256 slots are 8 KiB, where 1,024 were 33 KiB
/// per room (1.1 KiB per socket in rooms of 30). Members take events without waiting (into
/// their socket's queue, itself bounded by `SOCKET_QUEUE`, 256 frames by default), so a ring
/// this size lags only when a member is not scheduled while 256 events arrive.
pub const ROOM_BUFFER: usize = 256;

/// The backend side of a subscription: listening to a room across instances.
pub trait RemoteSubscriptions: Send + Sync + 'static {
    /// Starts listening to `room`; the receiver yields once the backend confirmed (or failed).
    fn listen(&self, room: &RoomName) -> tokio::sync::oneshot::Receiver<Result<(), BrokerError>>;
    /// Stops listening to `room`.
    fn unlisten(&self, room: &RoomName);
}

/// A room event as delivered to this instance's members, with a slot for its wire form.
#[derive(Debug)]
pub struct Delivery {
    event: RoomEvent,
    wire: OnceLock<bytes::Bytes>,
}

impl Delivery {
    /// The event's wire form: encoded by `encode` for the first member that asks, shared by the rest.
    pub fn wire(&self, encode: impl FnOnce(&RoomEvent) -> String) -> bytes::Bytes {
        self.wire.get_or_init(|| bytes::Bytes::from(encode(&self.event))).clone()
    }
}

impl Deref for Delivery {
    type Target = RoomEvent;

    fn deref(&self) -> &RoomEvent {
        &self.event
    }
}

struct Room {
    sender: broadcast::Sender<Arc<Delivery>>,
    members: usize,
    /// `Some(true)` once the backend listens, `Some(false)` while it is being asked.
    ready: watch::Receiver<Option<bool>>,
}

/// The per-instance registry of rooms with local members.
#[derive(Clone)]
pub struct Fanout {
    rooms: Arc<Mutex<HashMap<RoomName, Room>>>,
    remote: Option<Arc<dyn RemoteSubscriptions>>,
}

impl Fanout {
    /// A fanout for a single instance: nothing to ask a backend.
    pub fn local() -> Self {
        Self { rooms: Arc::default(), remote: None }
    }

    /// A fanout whose rooms are also listened to on a backend.
    pub fn with_remote(remote: Arc<dyn RemoteSubscriptions>) -> Self {
        Self { rooms: Arc::default(), remote: Some(remote) }
    }

    /// Delivers an event to this instance's members of `room` (no-op without members).
    pub fn deliver(&self, room: &RoomName, event: RoomEvent) {
        let rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = rooms.get(room) {
            // An error only means no receiver is left; the room is being torn down.
            let _ = entry.sender.send(Arc::new(Delivery { event, wire: OnceLock::new() }));
        }
    }

    /// The rooms that currently have local members.
    pub fn rooms(&self) -> Vec<RoomName> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect()
    }

    /// Adds a local member to `room`, listening on the backend first if it is the first one.
    pub async fn subscribe(&self, room: &RoomName) -> Result<Subscription, BrokerError> {
        let (receiver, mut ready, confirm) = {
            let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
            match rooms.get_mut(room) {
                Some(entry) => {
                    entry.members += 1;
                    (entry.sender.subscribe(), entry.ready.clone(), None)
                }
                None => {
                    let (sender, receiver) = broadcast::channel(ROOM_BUFFER);
                    let initial = if self.remote.is_some() { Some(false) } else { Some(true) };
                    let (ready_tx, ready) = watch::channel(initial);
                    rooms.insert(room.clone(), Room { sender, members: 1, ready: ready.clone() });
                    metrics().rooms_local.set(rooms.len() as f64);
                    let confirm = self.remote.as_ref().map(|remote| (remote.listen(room), ready_tx));
                    (receiver, ready, confirm)
                }
            }
        };
        let subscription =
            Subscription { receiver, membership: Membership { room: room.clone(), fanout: self.clone() } };
        if let Some((confirmed, ready_tx)) = confirm {
            let outcome = confirmed.await.unwrap_or(Err(BrokerError::NotListening));
            // Waiters learn the outcome; `None` tells them it failed.
            let _ = ready_tx.send(if outcome.is_ok() { Some(true) } else { None });
            outcome?;
        } else {
            match ready.wait_for(|state| *state != Some(false)).await {
                Ok(state) if *state == Some(true) => {}
                _ => return Err(BrokerError::NotListening),
            }
        }
        Ok(subscription)
    }

    fn release(&self, room: &RoomName) {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let last = match rooms.get_mut(room) {
            Some(entry) => {
                entry.members = entry.members.saturating_sub(1);
                entry.members == 0
            }
            None => false,
        };
        if last {
            rooms.remove(room);
            metrics().rooms_local.set(rooms.len() as f64);
            if let Some(remote) = &self.remote {
                remote.unlisten(room);
            }
        }
    }
}

/// A local member's view of a room: receives its events until dropped.
pub struct Subscription {
    receiver: broadcast::Receiver<Arc<Delivery>>,
    membership: Membership,
}

impl Subscription {
    /// The room subscribed to.
    pub fn room(&self) -> &RoomName {
        &self.membership.room
    }

    /// The next event. `Err(Lagged(n))` means this member fell `n` events behind and must resync.
    pub async fn recv(&mut self) -> Result<Arc<Delivery>, broadcast::error::RecvError> {
        self.receiver.recv().await
    }

    /// The same events as a [`Stream`], for a task that waits on several rooms at once (a
    /// socket's own task: one task per room would cost each idle member a task).
    pub fn into_stream(self) -> RoomEvents {
        let Self { receiver, membership } = self;
        RoomEvents { events: BroadcastStream::new(receiver), _membership: membership }
    }
}

/// A subscription as a stream of events; `Err(Lagged(n))` when the member fell `n` events behind.
pub struct RoomEvents {
    events: BroadcastStream<Arc<Delivery>>,
    /// Held for its `Drop`: the member's place, given back with the stream.
    _membership: Membership,
}

impl Stream for RoomEvents {
    type Item = Result<Arc<Delivery>, BroadcastStreamRecvError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_next_unpin(cx)
    }
}

/// A local member's place in a room, given back when dropped (the last one stops the backend
/// listening to the room).
struct Membership {
    room: RoomName,
    fanout: Fanout,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.fanout.release(&self.room);
    }
}
