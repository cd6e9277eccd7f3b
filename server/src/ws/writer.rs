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
//! queue waits on a writer that goes on writing. An idle writer holds its transport, two
//! pointers and no timer: a batch's deadline is armed only when the batch has to wait.
//!
//! Under load the cost of a delivery is the kernel's, not ours: a profile of 1 room × 1,000
//! members at ~190K deliveries/s spent two thirds of the instances' CPU in the write path of
//! the TCP stack, one `write` per frame, because each member got one frame at a time. A busy
//! socket's writes are therefore coalesced (as Centrifugo's `write_delay` does): a batch that
//! would begin less than [`Writer::new`]'s `hold` after the previous one began waits until then,
//! and takes whatever queued meanwhile. A socket that wrote nothing within `hold` — every
//! ordinary chat user — writes at once; a busy one adds at most `hold` to a frame's way out,
//! and none once half its queue is taken (holding must never make a fast client look slow).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Sink, SinkExt};
use protocol::CLOSE_TOO_SLOW;
use tokio::time::{Instant, Sleep};
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

/// A batch being written: when it began, its deadline once it had to wait, and what it has fed so far.
struct Batch {
    began: Instant,
    /// The batch waits, before it takes its first frame, until its `deadline` (armed at once):
    /// the previous batch began less than the writer's `hold` ago.
    holding: bool,
    /// Armed only when the sink makes the batch wait: most batches are written at once, and a
    /// timer armed and disarmed for each would cost two trips to the timer wheel per batch.
    deadline: Option<Pin<Box<Sleep>>>,
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
    /// Milliseconds a batch may take (milliseconds, not a `Duration`: every connected user's
    /// task holds these fields, and two durations would take 32 bytes).
    deadline_ms: u32,
    /// Milliseconds after a batch began that the next one waits (zero: never).
    hold_ms: u32,
    /// When the last batch began.
    last_batch: Option<Instant>,
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
    /// The writer of `queue` into `sink`, whose every batch must be written within `deadline`
    /// and begins no sooner than `hold` after the one before it.
    pub fn new(sink: S, queue: Arc<FrameQueue>, closer: Arc<Closer>, deadline: Duration, hold: Duration) -> Self {
        let millis = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        let (deadline_ms, hold_ms) = (millis(deadline).max(100), millis(hold));
        Self { sink, queue, closer, deadline_ms, hold_ms, last_batch: None, batch: None, failed: false }
    }

    /// The transport, for reading the client's frames.
    pub fn io(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Writes what is queued, as far as the sink takes it now; the task is woken when there
    /// is more to do. A failed or late write closes the connection (through the [`Closer`]).
    ///
    /// Call [`Writer::hold_wakes`] first in the same poll when the task itself may queue frames
    /// before this: they are written here, and need not wake the task again.
    pub fn drive(&mut self, cx: &mut Context<'_>) {
        while !self.failed {
            if self.batch.is_none() {
                if self.closer.is_closing() || !matches!(self.queue.poll_waiting(cx), Poll::Ready(true)) {
                    return;
                }
                self.batch = Some(self.next_batch());
            }
            if self.poll_batch(cx).is_pending() {
                return;
            }
        }
    }

    /// A new batch, holding until `hold` after the previous one began if that is still ahead (a
    /// held batch counts as begun when its hold ends, in [`Self::poll_batch`]).
    fn next_batch(&mut self) -> Batch {
        let now = Instant::now();
        let hold = Duration::from_millis(self.hold_ms.into());
        let until = self.last_batch.map(|last| last + hold).filter(|until| *until > now);
        if until.is_none() {
            self.last_batch = Some(now);
        }
        Batch {
            began: now,
            holding: until.is_some(),
            deadline: until.map(|until| Box::pin(tokio::time::sleep_until(until))),
            bytes: 0,
            frames: 0,
            flushing: false,
        }
    }

    /// Frames queued from now on do not wake the task until [`Writer::drive`] waits again: the
    /// socket's own task queues nearly all of them, in a poll that drives the writer after,
    /// and a wake-up per frame would poll the whole task once more for each.
    pub fn hold_wakes(&self) {
        self.queue.hold_wakes();
    }

    /// Runs `work` (a request the socket's task handles) while driving the writer.
    pub async fn beside<F: Future>(&mut self, work: F) -> F::Output {
        let mut work = std::pin::pin!(work);
        std::future::poll_fn(|cx| {
            self.hold_wakes();
            let polled = work.as_mut().poll(cx);
            self.drive(cx);
            polled
        })
        .await
    }

    /// Writes the batch in progress to its end: `Ready` once it is written or has failed.
    fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(mut batch) = self.batch.take() else { return Poll::Ready(()) };
        if batch.holding {
            if let Some(hold) = batch.deadline.as_mut()
                && !self.queue.is_filling()
                && hold.as_mut().poll(cx).is_pending()
            {
                self.batch = Some(batch);
                return Poll::Pending;
            }
            // The batch begins now (the hold may have ended early): the write deadline and the next
            // hold count from here; the deadline's timer is armed again only if the sink waits.
            let now = Instant::now();
            (batch.holding, batch.deadline, batch.began) = (false, None, now);
            self.last_batch = Some(now);
        }
        match self.feed_and_flush(&mut batch, cx) {
            Poll::Ready(Ok(())) => {
                if batch.bytes >= BATCH_BYTES {
                    // A full batch: the socket is moving a backlog, and the next one need not wait.
                    self.last_batch = None;
                }
                metrics().frames_out.increment(batch.frames);
                self.queue.written(batch.bytes);
                Poll::Ready(())
            }
            Poll::Ready(Err(err)) => {
                debug!(%err, "socket write failed");
                self.fail(1011, "write failed")
            }
            Poll::Pending => {
                let until = batch.began + Duration::from_millis(self.deadline_ms.into());
                let deadline = batch.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
                if deadline.as_mut().poll(cx).is_pending() {
                    self.batch = Some(batch);
                    return Poll::Pending;
                }
                // The peer stopped reading and the kernel buffer is full: no close frame can get
                // through either. Dropping the transport ends the TCP connection.
                let deadline_ms = self.deadline_ms;
                debug!(deadline_ms, "socket write timed out: dropping the connection");
                metrics().slow_consumers.increment(1);
                self.fail(CLOSE_TOO_SLOW, "write timed out")
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::task::noop_waker;
    use tungstenite::Utf8Bytes;

    use super::*;
    use crate::ws::queue::Refused;

    /// What a test sink was given: its items and how many flushes.
    #[derive(Default)]
    struct Seen {
        items: Vec<Message>,
        flushes: usize,
    }

    /// A sink that records, or that never takes anything (a peer that stopped reading).
    struct TestSink {
        seen: Arc<Mutex<Seen>>,
        stalled: bool,
    }

    impl Sink<Message> for TestSink {
        type Error = axum::Error;

        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
            if self.stalled { Poll::Pending } else { Poll::Ready(Ok(())) }
        }

        fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), axum::Error> {
            self.seen.lock().unwrap().items.push(item);
            Ok(())
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
            self.seen.lock().unwrap().flushes += 1;
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
            self.poll_flush(cx)
        }
    }

    type Parts = (Writer<TestSink>, Arc<FrameQueue>, Arc<Closer>, Arc<Mutex<Seen>>);

    fn writer(stalled: bool) -> Parts {
        writer_holding(stalled, Duration::ZERO)
    }

    fn writer_holding(stalled: bool, hold: Duration) -> Parts {
        let (queue, closer, seen) = (Arc::new(FrameQueue::new(8, 1024)), Arc::new(Closer::default()), Arc::default());
        let sink = TestSink { seen: Arc::clone(&seen), stalled };
        (Writer::new(sink, queue.clone(), closer.clone(), Duration::from_millis(100), hold), queue, closer, seen)
    }

    fn text(s: &str) -> Utf8Bytes {
        Utf8Bytes::from(s.to_owned())
    }

    #[test]
    fn what_queued_up_is_written_as_one_batch_with_one_flush() {
        let (mut writer, queue, closer, seen) = writer(false);
        for n in 0..3 {
            queue.try_push(text(&n.to_string())).unwrap();
        }
        let waker = noop_waker();
        writer.drive(&mut Context::from_waker(&waker));
        let seen = seen.lock().unwrap();
        assert_eq!(seen.items, vec![Message::text("0"), Message::text("1"), Message::text("2")]);
        assert_eq!(seen.flushes, 1, "one flush for the batch");
        assert_eq!(queue.try_push(text("x")), Ok(()), "the written bytes left the budget");
        assert!(!closer.is_closing());
    }

    #[tokio::test]
    async fn a_busy_socket_waits_its_hold_then_writes_what_queued_meanwhile_at_once() {
        let (mut writer, queue, _, seen) = writer_holding(false, Duration::from_millis(50));
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        queue.try_push(text("first")).unwrap();
        writer.drive(&mut cx);
        assert_eq!(seen.lock().unwrap().flushes, 1, "a socket that wrote nothing lately writes at once");
        queue.try_push(text("second")).unwrap();
        queue.try_push(text("third")).unwrap();
        writer.drive(&mut cx);
        assert_eq!(seen.lock().unwrap().items.len(), 1, "within the hold nothing more is written");
        tokio::time::sleep(Duration::from_millis(80)).await;
        writer.drive(&mut cx);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.items, vec![Message::text("first"), Message::text("second"), Message::text("third")]);
        assert_eq!(seen.flushes, 2, "what queued during the hold went in one batch");
    }

    #[tokio::test]
    async fn a_hold_ends_once_half_the_queue_is_taken() {
        let (mut writer, queue, closer, seen) = writer_holding(false, Duration::from_secs(60));
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        queue.try_push(text("first")).unwrap();
        writer.drive(&mut cx);
        for n in 0..3 {
            queue.try_push(text(&n.to_string())).unwrap();
            writer.drive(&mut cx);
        }
        assert_eq!(seen.lock().unwrap().items.len(), 1, "three of eight frames: still holding");
        queue.try_push(text("3")).unwrap();
        writer.drive(&mut cx);
        assert_eq!(seen.lock().unwrap().items.len(), 5, "four of eight: written at once, long before the hold ends");
        assert!(!closer.is_closing());
    }

    #[tokio::test]
    async fn a_write_past_its_deadline_closes_with_4008_and_frees_a_waiting_reply() {
        let (mut writer, queue, closer, _) = writer(true);
        queue.try_push(text(&"a".repeat(1024))).unwrap();
        let reply = queue.push(text("the reply"));
        let outcome = writer.beside(reply).await;
        assert_eq!(outcome, Err(Refused::Closed), "the reply stops waiting once nothing can be written");
        assert!(closer.is_closing());
        let frame = closer.take_frame().expect("a close reason");
        assert_eq!(u16::from(frame.code), CLOSE_TOO_SLOW);
    }

    #[tokio::test]
    async fn finishing_writes_what_is_queued_then_the_close_frame() {
        let (mut writer, queue, closer, seen) = writer(false);
        queue.try_push(text("ack")).unwrap();
        closer.close(1000, "bye");
        writer.finish().await;
        let seen = seen.lock().unwrap();
        assert_eq!(seen.items.len(), 2);
        assert_eq!(seen.items[0], Message::text("ack"));
        assert!(matches!(&seen.items[1], Message::Close(Some(frame)) if frame.reason.as_str() == "bye"));
    }
}
