//! A source the socket's task polls only after that source woke it.
//!
//! The socket's task waits on many things at once — its rooms' live events, its
//! writer, its client's frames, the instance's orders — and polling each of them every
//! time the task wakes would be pure cost: nearly every wake-up is a live event, and
//! reading the client's socket means running the websocket reader to find nothing,
//! the orders taking their link's lock. [`Woken`] hands the
//! rarely ready sources a waker of its own, remembers whether it fired since they were
//! last all `Pending`, and answers `Pending` at once otherwise, so they are polled
//! when one of them has something to say (the technique `FuturesUnordered` uses for
//! its futures).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures::task::AtomicWaker;

/// Whether the source woke, and the task to wake when it does.
struct Gate {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Gate {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// Polls a group of sources only when one of them woke the task since they were last all
/// `Pending`.
pub struct Woken {
    gate: Arc<Gate>,
    /// The waker handed to the sources: it marks the gate, then wakes the task.
    waker: Waker,
}

impl Default for Woken {
    fn default() -> Self {
        Self::new()
    }
}

impl Woken {
    /// A gate whose first poll polls the sources.
    pub fn new() -> Self {
        let gate = Arc::new(Gate { woken: AtomicBool::new(true), task: AtomicWaker::new() });
        let waker = Waker::from(gate.clone());
        Self { gate, waker }
    }

    /// Runs `poll` (which polls the sources with the context it is given) if a source woke
    /// since the last `Pending`; otherwise answers `Pending` without polling them.
    pub fn poll<T>(&self, cx: &Context<'_>, poll: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
        self.gate.task.register(cx.waker());
        if !self.gate.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let polled = poll(&mut Context::from_waker(&self.waker));
        if polled.is_ready() {
            // A source that had something may have more: the next poll asks them all again.
            self.gate.woken.store(true, Ordering::Release);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::sync::atomic::AtomicUsize;

    use futures::task::noop_waker;
    use futures::{Stream, StreamExt};

    use super::*;

    /// A stream that counts its polls and yields its items, then waits.
    struct Counted {
        polls: Arc<AtomicUsize>,
        items: Vec<u32>,
        waker: Arc<std::sync::Mutex<Option<Waker>>>,
    }

    impl Stream for Counted {
        type Item = u32;

        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u32>> {
            self.polls.fetch_add(1, Ordering::Relaxed);
            match self.items.pop() {
                Some(item) => Poll::Ready(Some(item)),
                None => {
                    *self.waker.lock().unwrap() = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }
    }

    #[test]
    fn polls_the_sources_only_after_their_own_wake_up() {
        let (polls, waker) = (Arc::new(AtomicUsize::new(0)), Arc::new(std::sync::Mutex::new(None)));
        let mut inner = Counted { polls: polls.clone(), items: vec![2, 1], waker: waker.clone() };
        let woken = Woken::new();
        let task = noop_waker();
        let cx = Context::from_waker(&task);
        let mut next = || woken.poll(&cx, |cx| inner.poll_next_unpin(cx));
        assert_eq!(next(), Poll::Ready(Some(1)));
        assert_eq!(next(), Poll::Ready(Some(2)), "ready again: asked again");
        assert_eq!(next(), Poll::Pending);
        for _ in 0..5 {
            assert_eq!(next(), Poll::Pending);
        }
        assert_eq!(polls.load(Ordering::Relaxed), 3, "not polled while it did not wake");
        let stored = waker.lock().unwrap().take().expect("the source kept a waker");
        stored.wake();
        assert_eq!(next(), Poll::Pending);
        assert_eq!(polls.load(Ordering::Relaxed), 4, "polled once after its wake-up");
    }

    #[tokio::test]
    async fn a_wake_up_reaches_the_task() {
        let (tx, mut rx) = tokio::sync::oneshot::channel::<u32>();
        let waiting = tokio::spawn(async move {
            let woken = Woken::new();
            std::future::poll_fn(|cx| woken.poll(cx, |cx| Pin::new(&mut rx).poll(cx))).await
        });
        tokio::task::yield_now().await;
        tx.send(7).unwrap();
        assert_eq!(waiting.await.unwrap(), Ok(7));
    }
}
