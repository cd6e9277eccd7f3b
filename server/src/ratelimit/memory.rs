//! Rate-limit counters in process memory, for the single-instance mode.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Hits, LimitError, RateLimiter};

/// Above this many keys, expired windows are swept on the next hit (bounded memory).
const SWEEP_ABOVE: usize = 10_000;

/// Fixed-window counters in a map.
#[derive(Default)]
pub struct MemoryLimiter {
    windows: Mutex<HashMap<String, (u64, Instant)>>,
}

#[async_trait]
impl RateLimiter for MemoryLimiter {
    async fn hit(&self, key: &str, window: Duration) -> Result<Hits, LimitError> {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, (_, end)| *end > now);
        }
        let entry = windows.entry(key.to_owned()).or_insert((0, now + window));
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry.0 += 1;
        Ok(Hits { count: entry.0, resets_in: entry.1.saturating_duration_since(now) })
    }

    async fn clear(&self, key: &str) -> Result<(), LimitError> {
        self.windows.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
        Ok(())
    }
}
