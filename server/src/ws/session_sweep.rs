//! The sessions of this instance's sockets, checked together.
//!
//! An open socket must end when its session does (it expired, or was deleted
//! behind its back), and a session in use must not expire under an active chat.
//! Each socket used to check its own session on a timer of its own: a timer in
//! every idle socket's task, and as many store reads as sockets. One sweep per
//! instance reads each session once — tabs of one login share it — with a bounded
//! number of reads in flight, renews what is due (as a page load does) and closes
//! the sockets of a session that is gone.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tower_sessions::session::Id;
use tracing::{Instrument, debug, info_span};

use crate::services::Services;
use crate::ws::registry::SocketRegistry;

/// How many session reads one sweep keeps in flight.
const READS_IN_FLIGHT: usize = 32;

/// Checks the sessions of `registry`'s sockets every `period`, until `stop` resolves.
pub async fn run(registry: SocketRegistry, services: Arc<Services>, period: Duration, stop: impl Future<Output = ()>) {
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    let sweeps = async {
        loop {
            every.tick().await;
            let ids = registry.sessions();
            let span = info_span!("session_sweep", sessions = ids.len());
            sweep(&registry, &services, ids).instrument(span).await;
        }
    };
    tokio::select! {
        () = stop => {}
        () = sweeps => {}
    }
}

/// Checks each session once; closes the sockets of those that are gone. A session the store
/// cannot read now is left alone until the next sweep.
async fn sweep(registry: &SocketRegistry, services: &Services, ids: Vec<Id>) {
    let sessions = &services.sessions;
    let checks = futures::stream::iter(ids).map(|id| async move { (id, sessions.renew(&id).await) });
    let mut checks = checks.buffer_unordered(READS_IN_FLIGHT);
    let mut gone = HashSet::new();
    while let Some((id, alive)) = checks.next().await {
        match alive {
            Ok(true) => {}
            Ok(false) => {
                gone.insert(id);
            }
            Err(err) => debug!(%err, "could not check a socket's session"),
        }
    }
    if !gone.is_empty() {
        let closed = registry.expire_sessions(&gone);
        debug!(sessions = gone.len(), closed, "sessions gone: their sockets closed");
    }
}
