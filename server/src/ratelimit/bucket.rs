//! A token bucket for per-socket frame floods: local, synchronous, no I/O.
//! (Per-user and per-address limits that must agree across instances use the
//! shared [`RateLimiter`](super::RateLimiter) instead.)

use std::sync::LazyLock;
use std::time::Instant;

/// The instant bucket times count from: a bucket keeps 8 bytes of time instead of an
/// `Instant`'s 16 (every socket holds a few buckets, for its whole life).
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Allows `rate` events per second on average, in bursts of up to `burst`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f32,
    burst: f32,
    tokens: f32,
    /// When it was last taken from, in nanoseconds after [`EPOCH`].
    last: u64,
}

/// Nanoseconds from [`EPOCH`] to `now` (0 before it).
fn since_epoch(now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(*EPOCH).as_nanos()).unwrap_or(u64::MAX)
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: u32, burst: u32) -> Self {
        Self::new_at(rate, burst, Instant::now())
    }

    /// A full bucket at `now`.
    pub fn new_at(rate: u32, burst: u32, now: Instant) -> Self {
        let burst = burst.max(1) as f32;
        Self { rate: rate.max(1) as f32, burst, tokens: burst, last: since_epoch(now) }
    }

    /// Takes a token now; false when the bucket is empty.
    pub fn take(&mut self) -> bool {
        self.take_at(Instant::now())
    }

    /// Takes a token at `now`.
    pub fn take_at(&mut self, now: Instant) -> bool {
        let now = since_epoch(now);
        let elapsed = now.saturating_sub(self.last) as f64 / 1e9;
        self.last = self.last.max(now);
        // Counted in f64, kept in f32 (a bucket holds at most its burst, a few thousand).
        let tokens = (f64::from(self.tokens) + elapsed * f64::from(self.rate)).min(f64::from(self.burst));
        let taken = tokens >= 1.0;
        self.tokens = if taken { tokens - 1.0 } else { tokens } as f32;
        taken
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bursts_then_refills_at_the_rate() {
        let start = *EPOCH + Duration::from_secs(1);
        let mut bucket = TokenBucket::new_at(10, 5, start);
        assert_eq!((0..7).filter(|_| bucket.take_at(start)).count(), 5, "a burst of 5");
        assert!(!bucket.take_at(start + Duration::from_millis(50)), "half a token is not a token");
        assert!(bucket.take_at(start + Duration::from_millis(100)));
        assert_eq!(
            (0..20).filter(|_| bucket.take_at(start + Duration::from_secs(60))).count(),
            5,
            "never above the burst"
        );
    }
}
