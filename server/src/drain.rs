//! Graceful drain on SIGTERM, in the order the load balancer needs.
//!
//! 1. `/readyz` turns 503 at once ([`Drain::is_draining`]);
//! 2. after one health-check interval (`DRAIN_GRACE_MS`) the load balancer has
//!    stopped sending new users here, and every socket is told to `move` after
//!    a random delay spread over `DRAIN_SPREAD_MS` — so its users do not all
//!    reconnect to the survivors in the same instant — and closed with 1012;
//! 3. the process exits when every socket is gone or `DRAIN_DEADLINE_SECS` passed.
//!
//! axum's graceful shutdown does not see upgraded websockets (axum#3003), so
//! every socket task holds a [`TaskTrackerToken`]; when [`Drain::sockets`] is
//! cancelled the socket registry tells each socket to move
//! ([`crate::ws::orders::move_on_drain`]).

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tracing::{info, warn};

/// Drain timings.
#[derive(Debug, Clone, Copy)]
pub struct DrainTimings {
    /// How long to keep serving after readiness failed (one health-check interval or more).
    pub grace: Duration,
    /// Sockets are told to move after a random delay up to this.
    pub spread: Duration,
    /// Exit after this even if sockets remain.
    pub deadline: Duration,
}

/// The drain state of one instance; cheap to clone.
#[derive(Clone)]
pub struct Drain {
    requested: CancellationToken,
    sockets: CancellationToken,
    finished: CancellationToken,
    tracker: TaskTracker,
    timings: DrainTimings,
}

impl Drain {
    /// A drain with these timings, not started.
    pub fn new(timings: DrainTimings) -> Self {
        Self {
            requested: CancellationToken::new(),
            sockets: CancellationToken::new(),
            finished: CancellationToken::new(),
            tracker: TaskTracker::new(),
            timings,
        }
    }

    /// Cancelling this token starts the drain.
    pub fn trigger(&self) -> CancellationToken {
        self.requested.clone()
    }

    /// Whether the drain has started (the instance is not ready).
    pub fn is_draining(&self) -> bool {
        self.requested.is_cancelled()
    }

    /// Cancelled when sockets must move away.
    pub fn sockets(&self) -> CancellationToken {
        self.sockets.clone()
    }

    /// The longest `move` delay to hand out.
    pub fn spread(&self) -> Duration {
        self.timings.spread
    }

    /// Registers a socket; the drain waits for it until the token is dropped.
    pub fn track_socket(&self) -> TaskTrackerToken {
        self.tracker.token()
    }

    /// The number of open sockets.
    pub fn open_sockets(&self) -> usize {
        self.tracker.len()
    }

    /// Resolves when the drain is complete and the HTTP server may stop.
    pub async fn finished(&self) {
        self.finished.cancelled().await;
    }

    /// Runs the drain once triggered; spawn it next to the server.
    pub async fn run(self) {
        self.requested.cancelled().await;
        crate::telemetry::metrics::metrics().drains.increment(1);
        info!(sockets = self.open_sockets(), grace_ms = self.timings.grace.as_millis() as u64, "draining: not ready");
        tokio::time::sleep(self.timings.grace).await;
        info!(sockets = self.open_sockets(), "draining: moving sockets");
        self.sockets.cancel();
        self.tracker.close();
        let deadline = self.timings.deadline + self.timings.spread;
        if tokio::time::timeout(deadline, self.tracker.wait()).await.is_err() {
            warn!(sockets = self.open_sockets(), "drain deadline passed with sockets open");
        }
        info!("drained");
        self.finished.cancel();
    }
}
