//! The one reconnect schedule of Switchboard: capped exponential backoff with full jitter.
//!
//! Both ends of the system reconnect after losing a connection — the browser its
//! websocket, every server instance its Redis pub/sub connection — and both must
//! not come back in lockstep: when one instance restarts, a thousand browsers lose
//! their sockets at the same moment, and when Redis restarts, every instance loses
//! its subscription at once. So attempt `n` waits a uniformly random time in
//! `[0, min(cap, base·2ⁿ)]` ("full jitter"): the returns spread over the whole
//! window instead of arriving together, as they would with any un-jittered table.
//! A success starts the schedule over.
//!
//! It lives here, once, because this crate is the one both ends share and it has
//! no I/O: the random fraction is passed in (the browser draws it from
//! `Math.random`, the server from `rand`), so the schedule is plain arithmetic,
//! the same on wasm and on the host, and unit-tested on the host.

use std::time::Duration;

/// A reconnect schedule: how long to wait before each attempt since the last success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    /// A schedule whose first wait is at most `base`, doubling with every failed attempt,
    /// and never waiting longer than `cap`.
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Self { base, cap, attempt: 0 }
    }

    /// How many attempts have failed since the last success.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The longest wait before the next attempt: `min(cap, base·2ⁿ)`.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before the next attempt, for a random `fraction` in `[0, 1]` (anything
    /// outside is clamped, NaN counts as 0), and counts the attempt.
    pub fn next_delay(&mut self, fraction: f64) -> Duration {
        let ceiling = self.ceiling();
        let fraction = if fraction.is_nan() { 0.0 } else { fraction.clamp(0.0, 1.0) };
        let delay = Duration::try_from_secs_f64(ceiling.as_secs_f64() * fraction).map_or(ceiling, |d| d.min(ceiling));
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Starts the schedule over (after a successful connection).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Backoff {
        Backoff::new(Duration::from_millis(250), Duration::from_secs(8))
    }

    fn ceilings(mut backoff: Backoff, count: usize) -> Vec<u128> {
        (0..count)
            .map(|_| {
                let ceiling = backoff.ceiling().as_millis();
                backoff.next_delay(0.5);
                ceiling
            })
            .collect()
    }

    #[test]
    fn the_ceiling_doubles_up_to_the_cap() {
        assert_eq!(ceilings(client(), 8), [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
        let pubsub = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(ceilings(pubsub, 8), [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    }

    #[test]
    fn the_delay_is_the_fraction_of_the_ceiling() {
        let mut backoff = client();
        for _ in 0..3 {
            backoff.next_delay(0.0);
        }
        let ceiling = backoff.ceiling();
        assert_eq!(ceiling, Duration::from_secs(2));
        assert_eq!(backoff.clone().next_delay(0.0), Duration::ZERO);
        assert_eq!(backoff.clone().next_delay(1.0), ceiling);
        assert_eq!(backoff.clone().next_delay(0.25), ceiling / 4);
    }

    #[test]
    fn fractions_outside_zero_to_one_are_clamped() {
        let backoff = client();
        let ceiling = backoff.ceiling();
        for (fraction, expected) in [
            (7.0, ceiling),
            (f64::INFINITY, ceiling),
            (-0.5, Duration::ZERO),
            (f64::NEG_INFINITY, Duration::ZERO),
            (f64::NAN, Duration::ZERO),
        ] {
            assert_eq!(backoff.clone().next_delay(fraction), expected, "fraction {fraction}");
        }
    }

    #[test]
    fn every_delay_counts_an_attempt_and_success_starts_over() {
        let mut backoff = client();
        for _ in 0..40 {
            backoff.next_delay(1.0);
        }
        assert_eq!(backoff.attempt(), 40);
        assert_eq!(backoff.ceiling(), Duration::from_secs(8), "no overflow after many attempts");
        backoff.reset();
        assert_eq!(backoff.attempt(), 0);
        assert_eq!(backoff.ceiling(), Duration::from_millis(250));
    }

    #[test]
    fn huge_schedules_saturate_instead_of_panicking() {
        let mut backoff = Backoff::new(Duration::MAX, Duration::MAX);
        for _ in 0..70 {
            assert!(backoff.next_delay(1.0) <= Duration::MAX);
        }
        assert_eq!(backoff.ceiling(), Duration::MAX);
    }
}
