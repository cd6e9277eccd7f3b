//! Rate-limit counters in Redis, shared by every instance.

use std::time::Duration;

use crate::redis_conn::RedisConn;
use async_trait::async_trait;

use super::{Hits, LimitError, RateLimiter};

const HIT: &str = r#"
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"#;

/// Fixed-window counters under `{p}rl:`.
pub struct RedisLimiter {
    conn: RedisConn,
    prefix: String,
    hit: redis::Script,
}

impl RedisLimiter {
    /// Counters under `prefix` on `conn`.
    pub fn new(conn: RedisConn, prefix: &str) -> Self {
        Self { conn, prefix: format!("{prefix}rl:"), hit: redis::Script::new(HIT) }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn hit(&self, key: &str, window: Duration) -> Result<Hits, LimitError> {
        let mut conn = self.conn.clone();
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let (count, ttl_ms): (u64, i64) =
            self.hit.key(format!("{}{key}", self.prefix)).arg(window_ms).invoke_async(&mut conn).await?;
        Ok(Hits { count, resets_in: Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0)) })
    }

    async fn clear(&self, key: &str) -> Result<(), LimitError> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("DEL").arg(format!("{}{key}", self.prefix)).exec_async(&mut conn).await?)
    }
}
