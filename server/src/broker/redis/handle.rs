//! The handle both room listeners give the [`Fanout`] and the broker: orders to
//! a task that owns the pub/sub connection, a flag saying whether it is
//! connected, and a token that stops it. Subscribe and unsubscribe requests
//! travel in order on one channel, so an unsubscribe followed by a subscribe of
//! the same room can never be reordered.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use protocol::RoomName;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::Listener;
use crate::broker::BrokerError;
use crate::broker::fanout::RemoteSubscriptions;

/// An order to the listening task.
pub enum Command {
    /// Subscribe a room; reply once the backend confirmed (or failed).
    Listen(RoomName, oneshot::Sender<Result<(), BrokerError>>),
    /// Unsubscribe a room.
    Unlisten(RoomName),
}

/// The task's side of a [`ListenerHandle`].
pub struct TaskSide {
    /// The orders, in the order they were given.
    pub commands: mpsc::UnboundedReceiver<Command>,
    /// Set while the task's connection is up.
    pub connected: Arc<AtomicBool>,
    /// Cancelled when the broker stops.
    pub stop: CancellationToken,
}

/// What the [`Fanout`](crate::broker::fanout::Fanout) and the broker hold of a listening task.
pub struct ListenerHandle {
    commands: mpsc::UnboundedSender<Command>,
    connected: Arc<AtomicBool>,
    stop: CancellationToken,
}

impl ListenerHandle {
    /// A handle and the side its task keeps.
    pub fn new() -> (Arc<Self>, TaskSide) {
        let (commands, receiver) = mpsc::unbounded_channel();
        let (connected, stop) = (Arc::new(AtomicBool::new(false)), CancellationToken::new());
        let task = TaskSide { commands: receiver, connected: connected.clone(), stop: stop.clone() };
        (Arc::new(Self { commands, connected, stop }), task)
    }
}

impl Listener for ListenerHandle {
    fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    fn stop(&self) {
        self.stop.cancel();
    }
}

impl RemoteSubscriptions for ListenerHandle {
    fn listen(&self, room: &RoomName) -> oneshot::Receiver<Result<(), BrokerError>> {
        let (reply, confirmed) = oneshot::channel();
        // If the task is gone the reply sender is dropped and the caller sees an error.
        let _ = self.commands.send(Command::Listen(room.clone(), reply));
        confirmed
    }

    fn unlisten(&self, room: &RoomName) {
        let _ = self.commands.send(Command::Unlisten(room.clone()));
    }
}
