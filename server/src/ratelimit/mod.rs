//! Rate limits shared by every instance.
//!
//! A [`RateLimiter`] counts hits per key in fixed windows. The Redis one keeps
//! the counters in Redis (`{p}rl:<key>`, one `INCR` + `PEXPIRE` script), so a
//! brute-force attacker spreading attempts over the instances behind the load
//! balancer meets the same counter everywhere; the memory one serves the
//! single-instance mode. Both pass `tests/ratelimit_contract.rs`.
//!
//! [`Limits`] holds the policy: which key, how many hits, which window.

pub mod bucket;
pub mod memory;
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

/// The outcome of counting a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hits {
    /// Hits in the current window, this one included.
    pub count: u64,
    /// Time until the window ends.
    pub resets_in: Duration,
}

/// Why a limiter could not count.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// The backend is unreachable.
    #[error("rate-limit store unavailable: {0}")]
    Unavailable(#[from] ::redis::RedisError),
}

/// Counts hits per key in fixed windows.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one hit for `key` in a window of `window` that starts with the first hit.
    async fn hit(&self, key: &str, window: Duration) -> Result<Hits, LimitError>;
    /// Forgets the hits of `key` (e.g. after a successful login).
    async fn clear(&self, key: &str) -> Result<(), LimitError>;
}

/// A limiter shared by the instance.
pub type SharedLimiter = Arc<dyn RateLimiter>;

/// One limit: at most `max` hits per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Hits allowed per window.
    pub max: u64,
    /// The window.
    pub window: Duration,
}

/// The outcome of checking a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Under the limit.
    Allowed,
    /// Over the limit; try again after this long.
    Limited(Duration),
}

impl Limit {
    /// Counts a hit on `key` and says whether it is allowed. A limiter that cannot count
    /// allows the hit: an outage of the counters must not lock every user out.
    pub async fn check(&self, limiter: &dyn RateLimiter, key: &str) -> Verdict {
        match limiter.hit(key, self.window).await {
            Ok(hits) if hits.count > self.max => Verdict::Limited(hits.resets_in),
            Ok(_) => Verdict::Allowed,
            Err(err) => {
                tracing::warn!(%err, key, "rate limiter unavailable; allowing");
                Verdict::Allowed
            }
        }
    }
}

/// The instance's rate-limit policy.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Login attempts per user name.
    pub login_per_name: Limit,
    /// Login and registration attempts per client address.
    pub auth_per_client: Limit,
    /// Chat messages per user (all sockets, all instances).
    pub sends_per_user: Limit,
}
