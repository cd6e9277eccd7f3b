//! The reconnect schedule: capped exponential backoff with full jitter.
//!
//! Attempt `n` waits a uniformly random time in `[0, min(cap, base·2^n)]`, so
//! a thousand clients cut off by the same restart spread their returns over the
//! whole window instead of arriving together (the thundering herd every
//! un-jittered backoff table suffers). A successful `welcome` resets `n`.
//! Pure arithmetic with the random fraction passed in, so it is tested on the host.

use std::time::Duration;

/// The reconnect schedule of one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Default for Backoff {
    /// 250 ms doubling up to 8 s, as design.md sets.
    fn default() -> Self {
        Self::new(Duration::from_millis(250), Duration::from_secs(8))
    }
}

impl Backoff {
    /// A schedule starting at `base` and never waiting longer than `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self { base, cap, attempt: 0 }
    }

    /// How many attempts have failed since the last success.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The upper bound of the wait before the next attempt.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before the next attempt, for a random `fraction` in `[0, 1]`; counts the attempt.
    pub fn next_delay(&mut self, fraction: f64) -> Duration {
        let delay = self.ceiling().mul_f64(fraction.clamp(0.0, 1.0));
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Back to the first attempt (after a successful connection).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let mut backoff = Backoff::default();
        let ceilings: Vec<u128> = (0..8)
            .map(|_| {
                let c = backoff.ceiling().as_millis();
                backoff.next_delay(0.5);
                c
            })
            .collect();
        assert_eq!(ceilings, [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
    }

    #[test]
    fn delay_is_jittered_within_zero_and_the_ceiling() {
        let mut backoff = Backoff::default();
        for _ in 0..3 {
            backoff.next_delay(0.0);
        }
        let ceiling = backoff.ceiling();
        assert_eq!(backoff.clone().next_delay(0.0), Duration::ZERO);
        assert_eq!(backoff.clone().next_delay(1.0), ceiling);
        assert_eq!(backoff.clone().next_delay(0.25), ceiling / 4);
        assert_eq!(backoff.clone().next_delay(7.0), ceiling, "fraction is clamped");
    }

    #[test]
    fn success_resets_the_schedule() {
        let mut backoff = Backoff::default();
        for _ in 0..40 {
            backoff.next_delay(1.0);
        }
        assert_eq!(backoff.ceiling(), Duration::from_secs(8), "no overflow after many attempts");
        backoff.reset();
        assert_eq!(backoff.attempt(), 0);
        assert_eq!(backoff.ceiling(), Duration::from_millis(250));
    }
}
