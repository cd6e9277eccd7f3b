//! The presence heartbeat of an instance.
//!
//! Every instance renews its lease (`{p}instance:<id>`) and reaps the entries of
//! instances whose lease expired, announcing their users as gone; when it finds
//! its own lease had lapsed (Redis was away longer than the lease and another
//! instance may have reaped it), it enters its sockets' memberships again. The
//! loop stops with the drain: the lease then expires on its own.

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{LEASE_TTL, LocalMemberships, REAP_EVERY, SharedPresence};
use crate::broker::{RoomEvent, SharedBroker, now_ms};

/// What the heartbeat works with.
pub struct Heartbeat {
    /// Presence across instances.
    pub presence: SharedPresence,
    /// Where departures and re-entries are announced.
    pub broker: SharedBroker,
    /// This instance's id (its lease).
    pub instance: String,
    /// This instance's memberships, entered again after a lapsed lease.
    pub local: LocalMemberships,
}

impl Heartbeat {
    /// Renews the lease and reaps dead instances every [`REAP_EVERY`] until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        let mut first = true;
        loop {
            match self.presence.renew(&self.instance, LEASE_TTL).await {
                Ok(false) if !first => self.reassert().await,
                Ok(_) => {}
                Err(err) => warn!(%err, "could not renew the presence lease"),
            }
            first = false;
            self.reap().await;
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(REAP_EVERY) => {}
            }
        }
    }

    /// Removes the entries of instances whose lease expired and announces their users as gone.
    async fn reap(&self) {
        match self.presence.reap().await {
            Ok(departed) => {
                for gone in departed {
                    info!(room = %gone.room, user = %gone.user, "user of a dead instance left");
                    let event = RoomEvent::Left { user: gone.user, ts: now_ms() };
                    if let Err(err) = self.broker.announce(&gone.room, event).await {
                        warn!(%err, "could not announce a reaped user");
                    }
                }
            }
            Err(err) => warn!(%err, "could not reap dead instances"),
        }
    }

    /// Enters this instance's memberships again after its lease lapsed (they may have been reaped).
    async fn reassert(&self) {
        let memberships = self.local.snapshot();
        warn!(entries = memberships.len(), "presence lease had lapsed: entering memberships again");
        for (room, user, sockets) in memberships {
            match self.presence.restore(&room, &user, &self.instance, sockets).await {
                Ok(true) => {
                    let event = RoomEvent::Joined { user, name: String::new(), ts: now_ms() };
                    if let Err(err) = self.broker.announce(&room, event).await {
                        warn!(%err, "could not announce a re-entered user");
                    }
                }
                Ok(false) => {}
                Err(err) => warn!(%err, "could not re-enter presence"),
            }
        }
    }
}
