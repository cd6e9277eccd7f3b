//! The outgoing side of one websocket: what is waiting to be written, bounded in
//! frames *and* bytes.
//!
//! A client that stops reading must cost the server a bounded amount, however
//! it behaves. Frames are encoded when they are queued and counted in bytes:
//! a live room event that would take the socket past `SOCKET_QUEUE_BYTES` (or
//! `SOCKET_QUEUE` frames) closes it with 4008 — the client reconnects and
//! catches up from history — while a reply to the client's own request (history
//! pages) waits until the writer ([`writer`](crate::ws::writer)) has made room, so
//! a client asking for history again and again only waits on itself.

use std::sync::Arc;

use protocol::ServerFrame;
use tracing::debug;
use tungstenite::Utf8Bytes;

use crate::telemetry::metrics::metrics;
use crate::ws::closer::Closer;
use crate::ws::queue::{FrameQueue, Refused};

/// The sending end of a socket's queue, held by the socket's [`Connection`](crate::ws::connection).
pub struct Outgoing {
    queue: Arc<FrameQueue>,
    closer: Arc<Closer>,
}

/// A socket's queue bounded by `frames` and `budget` bytes: its sending end, and the queue
/// itself for the socket's [`Writer`](crate::ws::writer::Writer).
pub fn channel(frames: usize, budget: usize, closer: Arc<Closer>) -> (Outgoing, Arc<FrameQueue>) {
    let queue = Arc::new(FrameQueue::new(frames.max(8), budget.max(1024)));
    (Outgoing { queue: queue.clone(), closer }, queue)
}

impl Outgoing {
    /// Queues a reply to the client's own request, waiting while the socket is over its byte
    /// budget (an empty queue always takes one frame). `false` when the connection is closing.
    ///
    /// The wait ends when the writer has written (it is driven beside the request) or has
    /// failed, which closes the queue: nothing else can close the connection meanwhile.
    pub async fn reply(&self, frame: &ServerFrame) -> bool {
        if self.closer.is_closing() {
            return false;
        }
        self.queue.push(Utf8Bytes::from(frame.encode())).await.is_ok()
    }

    /// Queues a live event, already encoded (the wire form the room's members share), without
    /// waiting; a client too far behind (frames or bytes) is closed with 4008. `false` when the
    /// socket is closed or closing.
    pub fn event(&self, wire: bytes::Bytes) -> bool {
        let text = match Utf8Bytes::try_from(wire) {
            Ok(text) => text,
            Err(err) => {
                debug!(%err, "dropping an event that is not text");
                return true;
            }
        };
        match self.queue.try_push(text) {
            Ok(()) => {
                metrics().deliveries.increment(1);
                true
            }
            Err(Refused::Full) => {
                self.closer.cut_slow();
                false
            }
            Err(Refused::Closed) => false,
        }
    }
}
