//! The writer of one connection, driven by the connection's own task.
//!
//! A socket's frames wait in its [`FrameQueue`]; the writer takes what has queued up
//! (up to [`BATCH_BYTES`]), feeds it to the sink and flushes once: one system call
//! per batch, not per frame. A batch that does not complete within the write deadline
//! (the kernel's send buffer is full because the peer does not read) ends the
//! connection and frees its buffers.
//!
//! The writer is no task of its own. A task costs every connected user its header and
//! its future for the connection's whole life (half a KiB each), so the socket's task
//! polls the writer beside everything else it waits on ([`Writer::drive`]) and beside
//! every request it handles ([`Writer::beside`]) — a reply that waits for room in the
//! queue waits on a writer that goes on writing. An idle writer holds its sink, two
//! pointers and no timer: a batch's deadline is allocated while the batch lasts.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Sink, SinkExt};
use protocol::CLOSE_TOO_SLOW;
use tokio::time::Sleep;
use tracing::debug;
use tungstenite::Message;

use crate::telemetry::metrics::metrics;
use crate::ws::closer::Closer;
use crate::ws::queue::FrameQueue;

/// How long the last frames and the close frame may take once a connection is closing.
const CLOSING_WRITES: Duration = Duration::from_secs(1);

/// The most bytes of queued frames written with one flush: under load the writer takes
/// what has queued up and writes it together, instead of one system call per frame.
pub const BATCH_BYTES: usize = 64 * 1024;

/// A batch being written: its deadline, and what it has fed so far.
struct Batch {
    deadline: Pin<Box<Sleep>>,
    bytes: usize,
    frames: u64,
    /// Everything is fed: the batch waits for its flush.
    flushing: bool,
}

/// Writes one connection's queued frames to its transport (a websocket, or a fallback stream's
/// [`EventSink`](crate::stream::buffer::EventSink), which turns the same messages into server-sent
/// events) within a deadline. It owns the transport; the connection reads through [`Writer::io`].
pub struct Writer<S> {
    sink: S,
    queue: Arc<FrameQueue>,
    closer: Arc<Closer>,
    deadline: Duration,
    batch: Option<Batch>,
    /// A write failed or timed out: nothing more can get through.
    failed: bool,
}

impl<S> Drop for Writer<S> {
    fn drop(&mut self) {
        self.queue.close();
    }
}

impl<S> Writer<S>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    /// The writer of `queue` into `sink`, whose every batch must be written within `deadline`.
    pub fn new(sink: S, queue: Arc<FrameQueue>, closer: Arc<Closer>, deadline: Duration) -> Self {
        let deadline = deadline.max(Duration::from_millis(100));
        Self { sink, queue, closer, deadline, batch: None, failed: false }
    }

    /// The transport, for reading the client's frames.
    pub fn io(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Writes what is queued, as far as the sink takes it now; the task is woken when there
    /// is more to do. A failed or late write closes the connection (through the [`Closer`]).
    pub fn drive(&mut self, cx: &mut Context<'_>) {
        while !self.failed {
            if self.batch.is_none() {
                if self.closer.is_closing() || !matches!(self.queue.poll_waiting(cx), Poll::Ready(true)) {
                    return;
                }
                let deadline = Box::pin(tokio::time::sleep(self.deadline));
                self.batch = Some(Batch { deadline, bytes: 0, frames: 0, flushing: false });
            }
            if self.poll_batch(cx).is_pending() {
                return;
            }
        }
    }

    /// Runs `work` (a request the socket's task handles) while driving the writer.
    pub async fn beside<F: Future>(&mut self, work: F) -> F::Output {
        let mut work = std::pin::pin!(work);
        std::future::poll_fn(|cx| {
            let polled = work.as_mut().poll(cx);
            self.drive(cx);
            polled
        })
        .await
    }

    /// Writes the batch in progress to its end: `Ready` once it is written or has failed.
    fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(mut batch) = self.batch.take() else { return Poll::Ready(()) };
        if batch.deadline.as_mut().poll(cx).is_ready() {
            // The peer stopped reading and the kernel buffer is full: no close frame can get
            // through either. Dropping the sink (and the reader its half) ends the TCP connection.
            debug!(deadline_ms = self.deadline.as_millis() as u64, "socket write timed out: dropping the connection");
            metrics().slow_consumers.increment(1);
            return self.fail(CLOSE_TOO_SLOW, "write timed out");
        }
        match self.feed_and_flush(&mut batch, cx) {
            Poll::Pending => {
                self.batch = Some(batch);
                Poll::Pending
            }
            Poll::Ready(Err(err)) => {
                debug!(%err, "socket write failed");
                self.fail(1011, "write failed")
            }
            Poll::Ready(Ok(())) => {
                metrics().frames_out.increment(batch.frames);
                self.queue.written(batch.bytes);
                Poll::Ready(())
            }
        }
    }

    /// Feeds the frames queued so far (up to [`BATCH_BYTES`]) one by one, then flushes once.
    fn feed_and_flush(&mut self, batch: &mut Batch, cx: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        while !batch.flushing {
            std::task::ready!(self.sink.poll_ready_unpin(cx))?;
            let next = if batch.bytes < BATCH_BYTES { self.queue.try_pop() } else { None };
            let Some(text) = next else {
                batch.flushing = true;
                break;
            };
            (batch.bytes, batch.frames) = (batch.bytes + text.len(), batch.frames + 1);
            self.sink.start_send_unpin(Message::Text(text))?;
        }
        self.sink.poll_flush_unpin(cx)
    }

    fn fail(&mut self, code: u16, reason: &str) -> Poll<()> {
        self.closer.close(code, reason);
        self.failed = true;
        // Nothing will be written: a reply waiting for room stops waiting.
        self.queue.close();
        Poll::Ready(())
    }

    /// Once the connection is closing: the batch in progress within its deadline, then the
    /// frames still queued (acks, errors) and one close frame, within a short deadline.
    pub async fn finish(&mut self) {
        std::future::poll_fn(|cx| self.poll_batch(cx)).await;
        if self.failed {
            return;
        }
        let frame = self.closer.take_frame();
        let (sink, queue) = (&mut self.sink, &self.queue);
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
        if tokio::time::timeout(CLOSING_WRITES, tail).await.is_err() {
            debug!("closing writes timed out");
        }
    }
}
