//! The rate-limiter contract: [`RateLimiter`] in memory and in Redis passes one
//! suite, through the policy the server applies ([`Limit::check`]): a burst up to
//! the limit is allowed and the next hit refused; the allowance comes back when
//! the window ends and not before, however often the client knocks; keys are
//! independent; only the server clears a key.

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{PATIENCE, RedisServer};
use switchboard::ratelimit::memory::MemoryLimiter;
use switchboard::ratelimit::redis::RedisLimiter;
use switchboard::ratelimit::{Limit, RateLimiter, Verdict};
use tokio::time::Instant;

/// A limiter under test, with the Redis server it needs kept alive.
struct Subject {
    limiter: Arc<dyn RateLimiter>,
    _redis: Option<RedisServer>,
}

async fn memory() -> Subject {
    Subject { limiter: Arc::new(MemoryLimiter::default()), _redis: None }
}

async fn redis() -> Subject {
    let server = RedisServer::start().await;
    let conn = support::connect(&server.url()).await;
    Subject { limiter: Arc::new(RedisLimiter::new(conn, "test:")), _redis: Some(server) }
}

async fn cluster() -> Subject {
    let conn = support::connect(&support::shared_cluster().url()).await;
    Subject { limiter: Arc::new(RedisLimiter::new(conn, &support::unique_prefix())), _redis: None }
}

const THREE_PER_HALF_SECOND: Limit = Limit { max: 3, window: Duration::from_millis(500) };

/// Checks `key` `n` times; returns the verdicts.
async fn checks(limiter: &dyn RateLimiter, key: &str, n: usize) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    for _ in 0..n {
        verdicts.push(THREE_PER_HALF_SECOND.check(limiter, key).await);
    }
    verdicts
}

fn refused_for(verdict: Verdict) -> Duration {
    match verdict {
        Verdict::Limited(wait) => wait,
        Verdict::Allowed => panic!("allowed beyond the limit"),
    }
}

async fn a_burst_up_to_the_limit_is_allowed_then_refused(subject: Subject) {
    let limiter = subject.limiter.as_ref();
    assert_eq!(checks(limiter, "login:alice", 3).await, [Verdict::Allowed; 3], "the burst");
    let wait = refused_for(THREE_PER_HALF_SECOND.check(limiter, "login:alice").await);
    assert!(wait > Duration::ZERO && wait <= THREE_PER_HALF_SECOND.window, "retry after {wait:?}");
    let hits = limiter.hit("login:alice", THREE_PER_HALF_SECOND.window).await.expect("hit");
    assert_eq!(hits.count, 5, "every hit is counted, refused ones too");
}

async fn a_refusal_lasts_until_the_window_ends_however_often_the_client_knocks(subject: Subject) {
    let limiter = subject.limiter.as_ref();
    let first_hit = Instant::now();
    assert_eq!(checks(limiter, "auth:10.0.0.1", 3).await, [Verdict::Allowed; 3]);
    let mut last_wait = refused_for(THREE_PER_HALF_SECOND.check(limiter, "auth:10.0.0.1").await);
    // Knocking again and again neither resets nor extends the window: it ends when it ends.
    let allowed_at = loop {
        match THREE_PER_HALF_SECOND.check(limiter, "auth:10.0.0.1").await {
            Verdict::Allowed => break first_hit.elapsed(),
            Verdict::Limited(wait) => {
                assert!(wait <= last_wait, "a refused hit extended the window: {wait:?} after {last_wait:?}");
                last_wait = wait;
            }
        }
        assert!(first_hit.elapsed() < PATIENCE, "the window never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let window = THREE_PER_HALF_SECOND.window;
    assert!(allowed_at >= window - Duration::from_millis(10), "allowed again after {allowed_at:?}, window {window:?}");
    assert!(allowed_at < window + Duration::from_secs(2), "allowed again only after {allowed_at:?}");
    // The new window holds a whole burst again (the hit that got through was its first).
    assert_eq!(checks(limiter, "auth:10.0.0.1", 2).await, [Verdict::Allowed; 2]);
    refused_for(THREE_PER_HALF_SECOND.check(limiter, "auth:10.0.0.1").await);
}

async fn keys_are_independent(subject: Subject) {
    let limiter = subject.limiter.as_ref();
    assert_eq!(checks(limiter, "sends:alice", 3).await, [Verdict::Allowed; 3]);
    refused_for(THREE_PER_HALF_SECOND.check(limiter, "sends:alice").await);
    assert_eq!(checks(limiter, "sends:bob", 3).await, [Verdict::Allowed; 3], "bob has his own budget");
    assert_eq!(checks(limiter, "sends:Alice", 3).await, [Verdict::Allowed; 3], "keys are exact");
    refused_for(THREE_PER_HALF_SECOND.check(limiter, "sends:alice").await);
    let hits = limiter.hit("sends:carol", Duration::from_secs(60)).await.expect("hit");
    assert_eq!(hits.count, 1, "a fresh key starts at one");
    assert!(hits.resets_in > Duration::from_secs(59) && hits.resets_in <= Duration::from_secs(60), "{hits:?}");
}

async fn only_the_server_clears_a_key(subject: Subject) {
    let limiter = subject.limiter.as_ref();
    for key in ["login:alice", "login:bob"] {
        assert_eq!(checks(limiter, key, 3).await, [Verdict::Allowed; 3]);
        refused_for(THREE_PER_HALF_SECOND.check(limiter, key).await);
    }
    limiter.clear("login:alice").await.expect("clear");
    assert_eq!(checks(limiter, "login:alice", 3).await, [Verdict::Allowed; 3], "cleared: a whole budget");
    refused_for(THREE_PER_HALF_SECOND.check(limiter, "login:bob").await);
    limiter.clear("never-hit").await.expect("clearing an unknown key is harmless");
}

contract_tests!([memory, redis, cluster]:
    a_burst_up_to_the_limit_is_allowed_then_refused,
    a_refusal_lasts_until_the_window_ends_however_often_the_client_knocks,
    keys_are_independent,
    only_the_server_clears_a_key,
);
