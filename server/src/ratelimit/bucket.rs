//! A token bucket for per-socket frame floods: local, synchronous, no I/O.
//! (Per-user and per-address limits that must agree across instances use the
//! shared [`RateLimiter`](super::RateLimiter) instead.)

use std::time::Instant;

/// Allows `rate` events per second on average, in bursts of up to `burst`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self { rate: f64::from(rate.max(1)), burst, tokens: burst, last: Instant::now() }
    }

    /// Takes a token now; false when the bucket is empty.
    pub fn take(&mut self) -> bool {
        self.take_at(Instant::now())
    }

    /// Takes a token at `now`.
    pub fn take_at(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bursts_then_refills_at_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket { rate: 10.0, burst: 5.0, tokens: 5.0, last: start };
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
