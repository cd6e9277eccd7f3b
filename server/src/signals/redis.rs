//! Orders over Redis pub/sub: `PUBLISH` on `{p}control`, heard by every instance.
//!
//! The channel has its own pub/sub connection, apart from the broker's room
//! subscriptions, so it keeps working unchanged when rooms move to sharded
//! pub/sub on a cluster (a plain `PUBLISH` reaches every node's subscribers).
//! On a Redis Cluster the listening connection is a RESP3 cluster connection (the
//! `redis` crate subscribes it again after a node drops), and a `PUBLISH` on any
//! node reaches it. The connection is re-established with the shared backoff after a drop; what
//! was published meanwhile is not replayed — see the module docs of
//! [`crate::signals`] for why that is safe.

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use protocol::Backoff;
use rand::Rng;
use redis::{PushKind, Value};

use crate::redis_conn::{RedisConn, RedisTarget};
use tokio::sync::broadcast;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::{debug, info, warn};

use super::{BACKLOG, Signal, SignalError, Signals};

/// The reconnect schedule of the listening connection.
const RECONNECT: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));

/// Orders through Redis. Dropping it stops its listening task.
pub struct RedisSignals {
    conn: RedisConn,
    channel: String,
    local: broadcast::Sender<Signal>,
    _listening: DropGuard,
}

impl RedisSignals {
    /// Sends with `conn` and listens on a pub/sub connection of its own to `target`, on `{prefix}control`.
    pub fn new(target: &RedisTarget, conn: RedisConn, prefix: &str) -> Self {
        let channel = format!("{prefix}control");
        let local = broadcast::channel(BACKLOG).0;
        let stop = CancellationToken::new();
        tokio::spawn(listen(target.clone(), channel.clone(), local.clone(), stop.clone()));
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
async fn listen(target: RedisTarget, channel: String, local: broadcast::Sender<Signal>, stop: CancellationToken) {
    let mut backoff = RECONNECT;
    loop {
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            outcome = relay(&target, &channel, &local, &mut backoff) => outcome,
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
    target: &RedisTarget,
    channel: &str,
    local: &broadcast::Sender<Signal>,
    backoff: &mut Backoff,
) -> redis::RedisResult<()> {
    let client = match target {
        RedisTarget::Single(client) => client,
        RedisTarget::Cluster(_) => return relay_cluster(target, channel, local, backoff).await,
    };
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    backoff.reset();
    info!("listening to instance-wide orders");
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        relay_one(local, message.get_payload_bytes());
    }
    Ok(())
}

/// [`relay`] on a cluster: one RESP3 cluster connection, its pushes on a channel. When a node's
/// connection drops, the channel is subscribed again every half second until that succeeds:
/// if the node held the subscription and stays dead, only a new subscribe (which fails, makes
/// the crate refresh its slot map, and then reaches a live node) brings the orders back.
async fn relay_cluster(
    target: &RedisTarget,
    channel: &str,
    local: &broadcast::Sender<Signal>,
    backoff: &mut Backoff,
) -> redis::RedisResult<()> {
    let (pushes_in, mut pushes) = tokio::sync::mpsc::unbounded_channel();
    let Some(client) = target.cluster_pubsub(pushes_in) else { return Ok(()) };
    let mut pubsub = client?.get_async_connection().await?;
    pubsub.subscribe(channel).await?;
    backoff.reset();
    info!("listening to instance-wide orders (cluster)");
    let mut retry = tokio::time::interval(Duration::from_millis(500));
    let mut resubscribing = false;
    loop {
        tokio::select! {
            _ = retry.tick(), if resubscribing => resubscribing = pubsub.subscribe(channel).await.is_err(),
            push = pushes.recv() => match push {
                None => return Ok(()),
                Some(push) if push.kind == PushKind::Disconnection => resubscribing = true,
                Some(push) => {
                    if push.kind == PushKind::Message
                        && let Some(Value::BulkString(payload)) = push.data.get(1)
                    {
                        relay_one(local, payload);
                    }
                }
            },
        }
    }
}

fn relay_one(local: &broadcast::Sender<Signal>, payload: &[u8]) {
    match serde_json::from_slice::<Signal>(payload) {
        // No listener is fine: nothing to close.
        Ok(signal) => drop(local.send(signal)),
        Err(err) => debug!(%err, "dropping an unreadable order"),
    }
}
