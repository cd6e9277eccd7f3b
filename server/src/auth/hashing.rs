//! A bounded pool for password hashing.
//!
//! An argon2id hash or verification takes 19 MiB of memory and tens of
//! milliseconds of one core. Unbounded, forty concurrent logins took 525 MB and
//! starved every other request. The pool runs at most `concurrency` hashes at
//! once on the blocking threads; up to `queue` more requests wait for a turn (at
//! most `wait`), and any request beyond that is answered [`Busy`] at once — the
//! page says "busy, try again" rather than the instance queueing without limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

/// The pool is full: the caller should answer "busy, retry" (nothing was done).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks at once")]
pub struct Busy;

/// Limits how many password hashes run at once. Cheap to clone.
#[derive(Clone)]
pub struct HashPool {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    queue: usize,
    wait: Duration,
}

/// Decrements the waiting count when a waiter stops waiting, however it stops.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashPool {
    /// A pool running `concurrency` hashes at once with up to `queue` waiting, each for at most `wait`.
    pub fn new(concurrency: usize, queue: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            queue,
            wait,
        }
    }

    /// Runs `work` (blocking: a hash) on the blocking pool when a slot is free; [`Busy`] when
    /// the queue is full or no slot came free in time.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(Busy);
                }
                let _waiting = Waiting(&self.waiting);
                match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) | Err(_) => return Err(Busy),
                }
            }
        };
        let result = tokio::task::spawn_blocking(move || {
            let value = work();
            drop(permit);
            value
        })
        .await;
        // A hash that panicked is a bug, not a full pool; the caller treats it like one.
        result.map_err(|_| Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_at_most_the_bound_and_refuses_beyond_the_queue() {
        let pool = HashPool::new(1, 1, Duration::from_secs(5));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(100));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        let mut done = 0;
        let mut busy = 0;
        for task in tasks {
            match task.await {
                Ok(Ok(())) => done += 1,
                Ok(Err(Busy)) => busy += 1,
                Err(err) => panic!("task failed: {err}"),
            }
        }
        assert_eq!(peak.load(Ordering::SeqCst), 1, "one hash at a time");
        assert_eq!(done, 2, "one running and one queued");
        assert_eq!(busy, 4, "the rest are told to come back");
    }

    #[tokio::test]
    async fn a_waiter_gives_up_after_the_wait() {
        let pool = HashPool::new(1, 4, Duration::from_millis(50));
        let slow = pool.clone();
        let first = tokio::spawn(async move { slow.run(|| std::thread::sleep(Duration::from_millis(400))).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(pool.run(|| ()).await, Err(Busy));
        assert!(matches!(first.await, Ok(Ok(()))));
        assert_eq!(pool.run(|| 7).await, Ok(7), "free again");
    }
}
