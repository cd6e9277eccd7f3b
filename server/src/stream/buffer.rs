//! What a fallback stream has written and its client has not confirmed yet.
//!
//! A websocket writes into the kernel and forgets; an event stream cannot, because
//! its HTTP response may end under the client (a proxy timing it out, a network
//! change) while the connection behind it lives on. So the stream's writer puts
//! each server frame here as a numbered event, and whichever HTTP response is
//! attached takes them in order. When the browser reconnects with
//! `Last-Event-ID: <stream>:<n>`, a new response attaches and goes on after event
//! `n` — what was sent after it is sent again, nothing twice.
//!
//! The buffer is bounded both ways: events not yet taken by a response count
//! against [`EventBuffer::new`]'s `limit` (a writer over it waits, and the
//! connection's write deadline closes a client that stopped reading, as on a
//! websocket); events already taken are kept for a resume only up to
//! [`KEEP_BYTES`]. A resume from before what is kept is refused, and the client
//! starts a new stream and catches up from history instead.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Sink;
use futures::task::AtomicWaker;
use tokio::sync::Notify;
use tungstenite::{Message, Utf8Bytes};

/// How many bytes of events already handed to a response are kept for a resume.
pub const KEEP_BYTES: usize = 64 * 1024;

/// One event of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbered {
    /// Its number in the stream (the first is 1).
    pub seq: u64,
    /// `message` for a protocol frame, `close` for the close.
    pub kind: &'static str,
    /// The event's data: a frame's JSON (the encoded frame itself, shared, not copied), or
    /// the close's code and reason.
    pub data: Utf8Bytes,
}

#[derive(Default)]
struct State {
    events: VecDeque<Numbered>,
    /// The newest event handed to the attached response.
    taken: u64,
    /// The number the next event gets, less one.
    last: u64,
    /// Bytes of events after `taken`.
    untaken: usize,
    /// Bytes of events up to `taken` still kept.
    kept: usize,
    /// Which attachment is current: an older response stops when a newer one attaches.
    attachment: u64,
    /// Whether a response is attached, or since when none is.
    detached_since: Option<Instant>,
    /// The writer sent the close event: no more events.
    closed: bool,
}

/// The events of one stream, shared by its writer and its responses.
pub struct EventBuffer {
    state: Mutex<State>,
    /// Wakes responses waiting for events.
    added: Notify,
    /// Wakes the writer waiting for room.
    room: AtomicWaker,
    limit: usize,
}

impl EventBuffer {
    /// An empty buffer whose writer waits while more than `limit` bytes are not taken yet.
    pub fn new(limit: usize) -> Self {
        let state = State { detached_since: Some(Instant::now()), ..State::default() };
        Self { state: Mutex::new(state), added: Notify::new(), room: AtomicWaker::new(), limit: limit.max(1024) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Attaches a response that goes on after event `after`: `Some(attachment)`, or `None`
    /// when events after it are no longer kept (or the stream has closed).
    pub fn attach(&self, after: u64) -> Option<u64> {
        let mut state = self.lock();
        let oldest = state.events.front().map_or(state.last + 1, |event| event.seq);
        if after > state.last || after + 1 < oldest || (state.closed && after == state.last) {
            return None;
        }
        state.attachment += 1;
        state.detached_since = None;
        // What was handed out after `after` is owed again.
        state.taken = after;
        let (kept, untaken) = state.events.iter().fold((0, 0), |(kept, untaken), event| {
            if event.seq <= after { (kept + event.data.len(), untaken) } else { (kept, untaken + event.data.len()) }
        });
        (state.kept, state.untaken) = (kept, untaken);
        let attachment = state.attachment;
        drop(state);
        self.added.notify_waiters();
        Some(attachment)
    }

    /// The response `attachment` is gone (its client went away).
    pub fn detach(&self, attachment: u64) {
        let mut state = self.lock();
        if state.attachment == attachment && state.detached_since.is_none() {
            state.detached_since = Some(Instant::now());
        }
    }

    /// How long no response has been attached (zero while one is).
    pub fn detached_for(&self) -> Duration {
        self.lock().detached_since.map_or(Duration::ZERO, |since| since.elapsed())
    }

    /// The next event for response `attachment`, waiting for one; `None` once the stream has
    /// closed and everything was taken, or a newer response attached.
    pub async fn next(&self, attachment: u64) -> Option<Numbered> {
        loop {
            let added = self.added.notified();
            tokio::pin!(added);
            added.as_mut().enable();
            if let Some(next) = self.take(attachment) {
                return next;
            }
            added.await;
        }
    }

    /// `Some(outcome)` when [`next`](Self::next) has its answer, `None` when it must wait.
    fn take(&self, attachment: u64) -> Option<Option<Numbered>> {
        let mut state = self.lock();
        if state.attachment != attachment {
            return Some(None);
        }
        let taken = state.taken;
        let Some(event) = state.events.iter().find(|event| event.seq > taken).cloned() else {
            return state.closed.then_some(None);
        };
        state.taken = event.seq;
        state.untaken -= event.data.len();
        state.kept += event.data.len();
        while state.kept > KEEP_BYTES {
            let Some(oldest) = state.events.pop_front() else { break };
            state.kept -= oldest.data.len();
        }
        drop(state);
        self.room.wake();
        Some(Some(event))
    }

    /// Adds an event (nothing after the close).
    fn push(&self, kind: &'static str, data: Utf8Bytes) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        state.last += 1;
        state.untaken += data.len();
        let seq = state.last;
        state.events.push_back(Numbered { seq, kind, data });
        state.closed = kind == CLOSE;
        drop(state);
        self.added.notify_waiters();
    }

    /// Ends the stream without a close event (its connection is gone).
    pub fn close(&self) {
        self.lock().closed = true;
        self.added.notify_waiters();
        self.room.wake();
    }
}

/// The event name of the close.
pub const CLOSE: &str = "close";

/// The connection's writer side of a buffer: it takes the messages a websocket would.
pub struct EventSink(pub std::sync::Arc<EventBuffer>);

impl Sink<Message> for EventSink {
    type Error = axum::Error;

    /// Always ready while the stream is open: the wait for room is in [`poll_flush`](Self::poll_flush),
    /// so a close (and the frames before it) always gets into the buffer, over the limit by at
    /// most the writer's one batch, even when the client has stopped taking events.
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let state = self.0.lock();
        if state.closed && state.events.back().is_none_or(|last| last.kind != CLOSE) {
            return Poll::Ready(Err(axum::Error::new("the stream has ended")));
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
        match message {
            Message::Text(text) => self.0.push("message", text),
            Message::Close(frame) => {
                let (code, reason) =
                    frame.map_or((1000, String::new()), |f| (u16::from(f.code), f.reason.as_str().to_owned()));
                self.0.push(CLOSE, serde_json::json!({ "code": code, "reason": reason }).to_string().into());
            }
            Message::Binary(_) | Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
        Ok(())
    }

    /// Waits while more than the limit is not taken by a response.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let buffer = &self.0;
        buffer.room.register(cx.waker());
        let state = buffer.lock();
        if state.untaken <= buffer.limit || state.closed { Poll::Ready(Ok(())) } else { Poll::Pending }
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.close();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(buffer: &EventBuffer, n: u64) {
        buffer.push("message", format!("frame {n}").into());
    }

    #[tokio::test]
    async fn a_resumed_response_gets_what_came_after_its_last_event_once() {
        let buffer = EventBuffer::new(4096);
        let first = buffer.attach(0).expect("a new stream attaches");
        (1..=3).for_each(|n| text(&buffer, n));
        assert_eq!(buffer.next(first).await.map(|e| e.seq), Some(1));
        assert_eq!(buffer.next(first).await.map(|e| e.seq), Some(2));
        // The client saw event 1 only; it reconnects with Last-Event-ID 1.
        let second = buffer.attach(1).expect("kept events resume");
        assert_eq!(buffer.next(first).await, None, "the older response stops");
        assert_eq!(buffer.next(second).await.map(|e| e.data.to_string()), Some("frame 2".to_owned()));
        assert_eq!(buffer.next(second).await.map(|e| e.seq), Some(3));
        assert!(buffer.attach(7).is_none(), "an event never sent");
    }

    #[tokio::test]
    async fn a_resume_from_before_what_is_kept_is_refused() {
        let buffer = EventBuffer::new(1 << 20);
        let attached = buffer.attach(0).expect("attaches");
        let big = "x".repeat(KEEP_BYTES / 2 + 1);
        for _ in 0..4 {
            buffer.push("message", big.as_str().into());
        }
        for _ in 0..4 {
            buffer.next(attached).await;
        }
        assert!(buffer.attach(0).is_none(), "event 1 is no longer kept");
        assert!(buffer.attach(3).is_some());
    }

    #[tokio::test]
    async fn the_close_event_ends_every_response_after_it() {
        let buffer = EventBuffer::new(4096);
        let attached = buffer.attach(0).expect("attaches");
        buffer.push(CLOSE, "{}".into());
        text(&buffer, 9);
        assert_eq!(buffer.next(attached).await.map(|e| e.kind), Some(CLOSE));
        assert_eq!(buffer.next(attached).await, None, "nothing after the close");
        assert!(buffer.attach(1).is_none(), "a closed stream does not resume after its end");
        assert!(buffer.detached_for().is_zero());
        buffer.detach(attached);
        buffer.detach(attached);
        assert!(buffer.detached_for() < Duration::from_secs(1));
    }

    #[test]
    fn the_writer_waits_while_too_much_is_untaken_but_can_always_close() {
        let buffer = std::sync::Arc::new(EventBuffer::new(1024));
        let mut sink = EventSink(buffer.clone());
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut sink).poll_flush(&mut cx).is_ready());
        Pin::new(&mut sink).start_send(Message::Text("y".repeat(2000).into())).expect("taken");
        assert!(Pin::new(&mut sink).poll_flush(&mut cx).is_pending(), "over the limit");
        assert!(Pin::new(&mut sink).poll_ready(&mut cx).is_ready(), "a close can always be queued");
        let attached = buffer.attach(0).expect("attaches");
        assert!(buffer.take(attached).is_some());
        assert!(Pin::new(&mut sink).poll_flush(&mut cx).is_ready(), "taken: room again");
    }
}
