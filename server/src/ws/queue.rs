//! The frames waiting for one socket's writer, bounded in frames and in bytes.
//!
//! A socket's queue is empty nearly all of its life, so what an empty queue holds is
//! part of what every idle user costs. A channel keeps its slots for as long as it
//! lives (tokio's bounded `mpsc` allocates a block of 32 slots, its semaphore and its
//! waiter lists up front: about 1.3 KiB per socket); this queue is a `VecDeque` behind
//! a mutex whose buffer is given back each time the writer empties it, so an idle
//! socket's queue holds no heap at all. Everything that pushes or pops runs in the
//! socket's own task (its rooms, its replies, its writer), and locks it for a push or a
//! pop, never across an `await`; the lock keeps the queue safe to share all the same.
//!
//! Bytes count from when a frame is queued until the writer has *written* it (not
//! merely taken it), so a client that does not read keeps its budget used up.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use futures::task::AtomicWaker;
use tungstenite::Utf8Bytes;

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The queue is at its limit of frames or bytes.
    Full,
    /// The writer is gone: nothing will be written any more.
    Closed,
}

/// A socket's outgoing frames.
pub struct FrameQueue {
    state: Mutex<State>,
    max_frames: usize,
    max_bytes: usize,
    /// Woken when a frame is queued or the queue closes: the writer, the one consumer (a
    /// waker slot, not a waiter list: a push wakes it without taking another lock).
    queued: AtomicWaker,
    /// Woken when frames were written or the queue closed: the one reply waiting for room (the
    /// socket's own task queues its replies one at a time).
    written: AtomicWaker,
}

#[derive(Default)]
struct State {
    frames: VecDeque<Utf8Bytes>,
    /// Bytes queued or being written.
    bytes: usize,
    closed: bool,
}

impl FrameQueue {
    /// A queue of at most `max_frames` frames and `max_bytes` bytes (an empty queue always
    /// takes one frame, however large).
    pub fn new(max_frames: usize, max_bytes: usize) -> Self {
        Self {
            state: Mutex::default(),
            max_frames: max_frames.max(1),
            max_bytes,
            queued: AtomicWaker::new(),
            written: AtomicWaker::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `text` if it fits now.
    pub fn try_push(&self, text: Utf8Bytes) -> Result<(), Refused> {
        self.offer(text).map_err(|(refused, _)| refused)
    }

    /// Queues `text`, waiting while the queue is full; `Err` once it is closed. One task waits
    /// here at a time.
    pub async fn push(&self, text: Utf8Bytes) -> Result<(), Refused> {
        let mut text = Some(text);
        std::future::poll_fn(|cx| {
            // Registered before the attempt, so a write between the attempt and the wait is seen.
            self.written.register(cx.waker());
            let Some(next) = text.take() else { return Poll::Ready(Err(Refused::Closed)) };
            match self.offer(next) {
                Ok(()) => Poll::Ready(Ok(())),
                Err((Refused::Closed, _)) => Poll::Ready(Err(Refused::Closed)),
                Err((Refused::Full, next)) => {
                    text = Some(next);
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Queues `text` if it fits now, or gives it back with the reason.
    fn offer(&self, text: Utf8Bytes) -> Result<(), (Refused, Utf8Bytes)> {
        let mut state = self.state();
        if state.closed {
            return Err((Refused::Closed, text));
        }
        let empty = state.bytes == 0 && state.frames.is_empty();
        if !empty && (state.frames.len() >= self.max_frames || state.bytes + text.len() > self.max_bytes) {
            return Err((Refused::Full, text));
        }
        state.bytes += text.len();
        state.frames.push_back(text);
        drop(state);
        self.queued.wake();
        Ok(())
    }

    /// Whether a frame waits (`Ready(true)`) or the queue is closed (`Ready(false)`); `Pending`
    /// while it is empty, and the task polling is woken by the next push or the close. One
    /// task (the socket's, driving its writer) waits here at a time.
    pub fn poll_waiting(&self, cx: &Context<'_>) -> Poll<bool> {
        let state = self.state();
        if !state.frames.is_empty() {
            return Poll::Ready(true);
        }
        if state.closed {
            return Poll::Ready(false);
        }
        // Registered under the lock a push takes first: a push after this check wakes it.
        self.queued.register(cx.waker());
        Poll::Pending
    }

    /// Whether half of the queue's frames or bytes are taken: a writer that holds its next batch
    /// back to gather more writes at once instead, so holding never makes a fast client too slow.
    pub fn is_filling(&self) -> bool {
        let state = self.state();
        state.frames.len() * 2 >= self.max_frames || state.bytes * 2 >= self.max_bytes
    }

    /// Forgets the waiting writer's waker: pushes from now on do not wake it until it waits
    /// again ([`FrameQueue::poll_waiting`]). For a writer about to look at the queue anyway.
    pub fn hold_wakes(&self) {
        drop(self.queued.take());
    }

    /// Takes the next frame if there is one.
    pub fn try_pop(&self) -> Option<Utf8Bytes> {
        Self::front(&mut self.state())
    }

    /// `len` bytes taken earlier were written: they leave the budget, and waiting replies retry.
    pub fn written(&self, len: usize) {
        let mut state = self.state();
        state.bytes = state.bytes.saturating_sub(len);
        drop(state);
        self.written.wake();
    }

    /// Nothing will be written any more: refuses new frames, drops the waiting ones, and wakes
    /// everyone waiting.
    pub fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        state.frames = VecDeque::new();
        state.bytes = 0;
        drop(state);
        self.queued.wake();
        self.written.wake();
    }

    fn front(state: &mut State) -> Option<Utf8Bytes> {
        let text = state.frames.pop_front()?;
        if state.frames.is_empty() {
            // Given back at once: an idle socket's queue holds no buffer.
            state.frames = VecDeque::new();
        }
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn text(s: &str) -> Utf8Bytes {
        Utf8Bytes::from(s.to_owned())
    }

    /// Waits for a frame as the writer does, and takes it.
    async fn pop(queue: &FrameQueue) -> Option<Utf8Bytes> {
        if std::future::poll_fn(|cx| queue.poll_waiting(cx)).await { queue.try_pop() } else { None }
    }

    #[test]
    fn refuses_past_either_limit_but_an_empty_queue_takes_one() {
        let queue = FrameQueue::new(2, 10);
        assert_eq!(queue.try_push(text("0123456789abc")), Ok(()), "an empty queue takes one frame");
        assert_eq!(queue.try_push(text("x")), Err(Refused::Full), "over the bytes");
        assert_eq!(queue.try_pop().as_deref(), Some("0123456789abc"));
        assert_eq!(queue.try_push(text("x")), Err(Refused::Full), "taken is not written: the bytes still count");
        queue.written(13);
        assert_eq!(queue.try_push(text("a")), Ok(()));
        assert_eq!(queue.try_push(text("b")), Ok(()));
        assert_eq!(queue.try_push(text("c")), Err(Refused::Full), "over the frames");
    }

    #[test]
    fn an_emptied_queue_gives_its_buffer_back() {
        let queue = FrameQueue::new(100, 1 << 20);
        for n in 0..50 {
            queue.try_push(text(&n.to_string())).unwrap();
        }
        assert!(queue.state().frames.capacity() >= 50);
        while queue.try_pop().is_some() {}
        assert_eq!(queue.state().frames.capacity(), 0);
    }

    #[test]
    fn a_closed_queue_refuses_and_drops_what_waited() {
        let queue = FrameQueue::new(4, 100);
        queue.try_push(text("a")).unwrap();
        queue.close();
        assert_eq!(queue.try_push(text("b")), Err(Refused::Closed));
        assert_eq!(queue.try_pop(), None);
    }

    #[tokio::test]
    async fn a_waiting_push_goes_in_when_frames_are_written_and_order_is_kept() {
        let queue = Arc::new(FrameQueue::new(1, 100));
        queue.try_push(text("first")).unwrap();
        let pusher = tokio::spawn({
            let queue = queue.clone();
            async move { queue.push(text("second")).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!pusher.is_finished(), "waits while full");
        assert_eq!(pop(&queue).await.as_deref(), Some("first"));
        queue.written(5);
        assert_eq!(pusher.await.unwrap(), Ok(()));
        assert_eq!(pop(&queue).await.as_deref(), Some("second"));
    }

    #[tokio::test]
    async fn close_wakes_the_writer_and_waiting_pushes() {
        let queue = Arc::new(FrameQueue::new(1, 8));
        queue.try_push(text("first")).unwrap();
        let pusher = tokio::spawn({
            let queue = queue.clone();
            async move { queue.push(text("second")).await }
        });
        assert_eq!(pop(&queue).await.as_deref(), Some("first"));
        let popper = tokio::spawn({
            let queue = queue.clone();
            async move { pop(&queue).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        queue.close();
        assert_eq!(pusher.await.unwrap(), Err(Refused::Closed));
        assert_eq!(popper.await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_push_before_the_writer_waits_is_not_missed() {
        let queue = Arc::new(FrameQueue::new(4, 100));
        let popper = tokio::spawn({
            let queue = queue.clone();
            async move { pop(&queue).await }
        });
        queue.try_push(text("x")).unwrap();
        let popped = tokio::time::timeout(Duration::from_secs(5), popper).await;
        assert_eq!(popped.unwrap().unwrap().as_deref(), Some("x"));
    }
}
