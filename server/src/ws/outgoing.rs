//! The outgoing side of one websocket: what is waiting to be written, bounded in
//! frames *and* bytes, and the writer that writes it within a deadline.
//!
//! A client that stops reading must cost the server a bounded amount, however
//! it behaves. Frames are encoded when they are queued and counted in bytes:
//! a live room event that would take the socket past `SOCKET_QUEUE_BYTES` (or
//! `SOCKET_QUEUE` frames) closes it with 4008 — the client reconnects and
//! catches up from history — while a reply to the client's own request (history
//! pages) waits until the writer has made room, so a client asking for history
//! again and again only waits on itself. A write that does not complete within
//! `WRITE_TIMEOUT_SECS` (the kernel's send buffer is full because the peer does
//! not read) ends the connection and frees its buffers; the writer is never
//! left detached behind a dead connection.
//!
//! Every way a connection ends goes through one [`Closer`], which sends exactly
//! one close frame with a meaningful code.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::{Sink, SinkExt};
use protocol::{CLOSE_TOO_SLOW, ServerFrame};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tracing::debug;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, Utf8Bytes};

use crate::telemetry::metrics::metrics;
use crate::ws::queue::{FrameQueue, Refused};

/// How long the last frames and the close frame may take once a connection is closing.
const CLOSING_WRITES: Duration = Duration::from_secs(1);

/// The most bytes of queued frames written with one flush: under load the writer takes
/// what has queued up and writes it together, instead of one system call per frame.
const BATCH_BYTES: usize = 64 * 1024;

/// Ends a connection once, with one close frame.
#[derive(Default)]
pub struct Closer {
    token: CancellationToken,
    frame: Mutex<Option<CloseFrame>>,
}

impl Closer {
    /// Asks for the connection to close with `code`; the first reason wins.
    pub fn close(&self, code: u16, reason: &str) {
        let mut frame = self.frame.lock().unwrap_or_else(PoisonError::into_inner);
        if frame.is_none() && !self.token.is_cancelled() {
            *frame = Some(CloseFrame { code: code.into(), reason: reason.into() });
        }
        self.token.cancel();
    }

    /// Closes a client that fell too far behind with 4008 (it reconnects and catches up).
    pub fn cut_slow(&self) {
        if !self.is_closing() {
            metrics().slow_consumers.increment(1);
        }
        self.close(CLOSE_TOO_SLOW, "too slow: reconnect to catch up");
    }

    /// Whether the connection is closing.
    pub fn is_closing(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves when the connection starts closing.
    pub fn closing(&self) -> WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    fn take_frame(&self) -> Option<CloseFrame> {
        self.frame.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The sending end of a socket's queue; cheap to clone (the reader and the socket's rooms hold one).
#[derive(Clone)]
pub struct Outgoing {
    queue: Arc<FrameQueue>,
    closer: Arc<Closer>,
}

/// The writer's end, handed to [`write`]; dropping it closes the queue.
pub struct Writer {
    queue: Arc<FrameQueue>,
    closer: Arc<Closer>,
    deadline: Duration,
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// A socket's queue bounded by `frames` and `budget` bytes, whose writes must finish within `deadline`.
pub fn channel(frames: usize, budget: usize, deadline: Duration, closer: Arc<Closer>) -> (Outgoing, Writer) {
    let queue = Arc::new(FrameQueue::new(frames.max(8), budget.max(1024)));
    let outgoing = Outgoing { queue: queue.clone(), closer: closer.clone() };
    (outgoing, Writer { queue, closer, deadline: deadline.max(Duration::from_millis(100)) })
}

impl Outgoing {
    /// Queues a reply to the client's own request, waiting while the socket is over its byte
    /// budget (an empty queue always takes one frame). `false` when the connection is closing.
    pub async fn reply(&self, frame: &ServerFrame) -> bool {
        let text = Utf8Bytes::from(frame.encode());
        tokio::select! {
            pushed = self.queue.push(text) => pushed.is_ok(),
            () = self.closer.closing() => false,
        }
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

/// Writes queued frames to the client until the connection closes; then the frames already
/// queued (acks, errors) and one close frame, within a short deadline. The sink is a
/// websocket's, or a fallback stream's ([`crate::stream`]), which turns the same messages into
/// server-sent events.
///
/// What an idle writer holds is part of what every connected user costs, and a future keeps
/// room for its largest wait for its whole life: so this is no `async fn` (which would keep its
/// arguments' slots beside its locals), and the waits of a batch and of the close — their
/// deadline timers are the largest — are boxed while they last.
#[expect(clippy::manual_async_fn, reason = "an `async fn` keeps its arguments' slots for the writer's whole life")]
pub fn write<S>(mut sink: S, writer: Writer) -> impl Future<Output = ()> + use<S>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    async move {
        let Writer { queue, closer, deadline } = &writer;
        // Made once: the loop turns for every batch, and a wait made anew registers itself anew.
        let closing = closer.closing();
        tokio::pin!(closing);
        loop {
            let text = tokio::select! {
                biased;
                () = &mut closing => break,
                text = queue.pop() => match text {
                    Some(text) => text,
                    None => break,
                },
            };
            // The frame and whatever else has queued up meanwhile (up to BATCH_BYTES), one flush.
            let write = async {
                let (mut len, mut frames) = (text.len(), 1);
                sink.feed(Message::Text(text)).await?;
                while len < BATCH_BYTES {
                    let Some(next) = queue.try_pop() else { break };
                    (len, frames) = (len + next.len(), frames + 1);
                    sink.feed(Message::Text(next)).await?;
                }
                metrics().frames_out.increment(frames);
                sink.flush().await.map(|()| len)
            };
            let len = match Box::pin(tokio::time::timeout(*deadline, write)).await {
                Ok(Ok(len)) => len,
                Ok(Err(err)) => {
                    debug!(%err, "socket write failed");
                    closer.close(1011, "write failed");
                    return;
                }
                Err(_) => {
                    // The peer stopped reading and the kernel buffer is full: no close frame can
                    // get through either. Dropping the sink (and the reader its half) ends the TCP connection.
                    debug!(
                        deadline_ms = deadline.as_millis() as u64,
                        "socket write timed out: dropping the connection"
                    );
                    metrics().slow_consumers.increment(1);
                    closer.close(CLOSE_TOO_SLOW, "write timed out");
                    return;
                }
            };
            queue.written(len);
        }
        let frame = closer.take_frame();
        let tail = async {
            // Fed, then flushed once by `close`: a client that stopped reading still gets its close
            // queued behind the frames (a fallback stream keeps it for when the client reads again).
            while let Some(text) = queue.try_pop() {
                if sink.feed(Message::Text(text)).await.is_err() {
                    break;
                }
            }
            // After the peer's own close frame this is refused, and `close` flushes the reply the
            // websocket library queued: the peer always sees a clean close.
            let _ = sink.feed(Message::Close(frame)).await;
            let _ = sink.close().await;
        };
        if Box::pin(tokio::time::timeout(CLOSING_WRITES, tail)).await.is_err() {
            debug!("closing writes timed out");
        }
    }
}
