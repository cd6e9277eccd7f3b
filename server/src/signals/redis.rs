//! Orders over Redis pub/sub: `PUBLISH` on `{p}control`, heard by every instance.
//!
//! The channel has its own pub/sub connection, apart from the broker's room
//! subscriptions, so it keeps working unchanged when rooms move to sharded
//! pub/sub on a cluster (a plain `PUBLISH` reaches every node's subscribers).
//! The connection is re-established with the shared backoff after a drop; what
//! was published meanwhile is not replayed — see the module docs of
//! [`crate::signals`] for why that is safe.

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use protocol::Backoff;
use rand::Rng;
use redis::aio::ConnectionManager;
use tokio::sync::broadcast;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::{debug, info, warn};

use super::{BACKLOG, Signal, SignalError, Signals};

/// The reconnect schedule of the listening connection.
const RECONNECT: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));

/// Orders through Redis. Dropping it stops its listening task.
pub struct RedisSignals {
    conn: ConnectionManager,
    channel: String,
    local: broadcast::Sender<Signal>,
    _listening: DropGuard,
}

impl RedisSignals {
    /// Sends with `conn` and listens on a pub/sub connection of `client`, on `{prefix}control`.
    pub fn new(client: redis::Client, conn: ConnectionManager, prefix: &str) -> Self {
        let channel = format!("{prefix}control");
        let local = broadcast::channel(BACKLOG).0;
        let stop = CancellationToken::new();
        tokio::spawn(listen(client, channel.clone(), local.clone(), stop.clone()));
        Self { conn, channel, local, _listening: stop.drop_guard() }
    }
}

#[async_trait]
impl Signals for RedisSignals {
    async fn send(&self, signal: &Signal) -> Result<(), SignalError> {
        let payload = serde_json::to_string(signal)?;
        let mut conn = self.conn.clone();
        redis::cmd("PUBLISH").arg(&self.channel).arg(payload).exec_async(&mut conn).await?;
        Ok(())
    }

    fn receive(&self) -> broadcast::Receiver<Signal> {
        self.local.subscribe()
    }
}

/// Listens on `channel` until `stop`, reconnecting after every drop.
async fn listen(client: redis::Client, channel: String, local: broadcast::Sender<Signal>, stop: CancellationToken) {
    let mut backoff = RECONNECT;
    loop {
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            outcome = relay(&client, &channel, &local, &mut backoff) => outcome,
        };
        match outcome {
            Ok(()) => warn!("signal connection lost; reconnecting"),
            Err(err) => warn!(%err, attempt = backoff.attempt(), "signal connection failed"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff.next_delay(rand::rng().random::<f64>())) => {}
        }
    }
}

/// One connection: subscribes and relays every order to the local listeners until it drops.
async fn relay(
    client: &redis::Client,
    channel: &str,
    local: &broadcast::Sender<Signal>,
    backoff: &mut Backoff,
) -> redis::RedisResult<()> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    backoff.reset();
    info!("listening to instance-wide orders");
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        match serde_json::from_slice::<Signal>(message.get_payload_bytes()) {
            // No listener is fine: nothing to close.
            Ok(signal) => drop(local.send(signal)),
            Err(err) => debug!(%err, "dropping an unreadable order"),
        }
    }
    Ok(())
}
