//! The background task that applies retention: every few minutes it removes what the
//! configured age or count no longer keeps, on every instance (a removal is idempotent, so
//! instances pruning at once only repeat each other's work). Readers do not wait for it:
//! every read also leaves out what is past the age limit ([`crate::broker::recorded`],
//! [`crate::services::history`]).

use std::time::Duration;

use tracing::{info, warn};

use super::{Retention, SharedStore};
use crate::broker::now_ms;

/// How often retention runs.
pub const PRUNE_EVERY: Duration = Duration::from_secs(300);

/// Applies `retention` to `store` at once and then every [`PRUNE_EVERY`], until `stop` ends.
pub async fn run(store: SharedStore, retention: Retention, stop: impl Future<Output = ()>) {
    if retention.keeps_forever() {
        return;
    }
    let mut stop = std::pin::pin!(stop);
    let mut every = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = every.tick() => {}
        }
        match store.prune(retention, now_ms()).await {
            Ok(0) => {}
            Ok(removed) => info!(removed, "retention removed messages"),
            Err(err) => warn!(%err, "retention could not run; it will try again"),
        }
    }
}
