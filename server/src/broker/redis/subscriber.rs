//! The instance's one Redis pub/sub connection.
//!
//! A single task owns the connection. Subscribe and unsubscribe requests from
//! the [`Fanout`] arrive in order on one channel, so an unsubscribe followed by
//! a subscribe of the same room can never be reordered. When the connection
//! drops, the task reconnects with capped exponential backoff and full jitter
//! and subscribes every wanted room again; meanwhile [`Subscriber::is_connected`]
//! is false (the instance reports not-ready) and new subscriptions fail with a
//! clear error instead of waiting forever.
//!
//! Pub/sub loses whatever was published while the connection was down; the
//! [`Relay`] fills that hole from the streams after a reconnect. A room that had
//! no message delivered yet is read from the moment the lost connection was
//! known to be subscribed, taken from Redis' own clock (`TIME`, asked right after
//! subscribing): stream ids come from that clock, so an instance whose clock is
//! off by minutes neither misses messages nor replays old ones.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use protocol::{Backoff, MessageId, RoomName};
use rand::Rng;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Keys;
use super::handle::{Command, ListenerHandle};
use super::relay::Relay;
use crate::broker::BrokerError;
use crate::broker::fanout::Fanout;
use crate::redis_conn::RedisConn;
use crate::telemetry::metrics::metrics;

/// The instance's pub/sub listener on one Redis server.
pub struct Subscriber;

impl Subscriber {
    /// Starts the pub/sub task for `client`, delivering into the fanout built by `fanout_for`.
    pub fn start(
        client: redis::Client,
        conn: RedisConn,
        keys: Keys,
        cap: usize,
        fanout_for: impl FnOnce(Arc<ListenerHandle>) -> Fanout,
    ) -> (Arc<ListenerHandle>, Fanout) {
        let (handle, side) = ListenerHandle::new();
        let fanout = fanout_for(handle.clone());
        let task = Task {
            client,
            commands: side.commands,
            connected: side.connected,
            wanted: HashSet::new(),
            relay: Relay::new(keys, fanout.clone(), conn, cap),
            live_since: None,
            hole_after: None,
        };
        tokio::spawn(task.run(side.stop));
        (handle, fanout)
    }
}

struct Task {
    client: redis::Client,
    commands: mpsc::UnboundedReceiver<Command>,
    connected: Arc<AtomicBool>,
    wanted: HashSet<RoomName>,
    relay: Relay,
    /// Redis' time when the current connection had subscribed every wanted room.
    live_since: Option<MessageId>,
    /// While reconnecting: the time (Redis' clock) after which messages may have been missed.
    hole_after: Option<MessageId>,
}

/// The pub/sub reconnect schedule (the one the browser uses, with other bounds): up to
/// 100 ms, doubling up to 5 s, full jitter.
const PUBSUB_RECONNECT: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));

impl Task {
    async fn run(mut self, stop: CancellationToken) {
        let mut backoff = PUBSUB_RECONNECT;
        loop {
            let session = tokio::select! {
                () = stop.cancelled() => return,
                session = self.connect() => session,
            };
            match session {
                Ok((sink, stream)) => {
                    backoff.reset();
                    if let Some(hole_after) = self.hole_after.take() {
                        metrics().pubsub_reconnects.increment(1);
                        self.fill_hole(hole_after).await;
                    }
                    self.connected.store(true, Ordering::Relaxed);
                    info!(rooms = self.wanted.len(), "redis pub/sub connected");
                    let ended = tokio::select! {
                        () = stop.cancelled() => true,
                        ended = self.serve(sink, stream) => ended,
                    };
                    self.connected.store(false, Ordering::Relaxed);
                    if ended {
                        return;
                    }
                    self.hole_after = self.hole_after.or(self.live_since.take());
                    warn!("redis pub/sub connection lost; reconnecting");
                }
                Err(err) => warn!(%err, attempt = backoff.attempt(), "redis pub/sub connect failed"),
            }
            let pause = tokio::time::sleep(backoff.next_delay(rand::rng().random::<f64>()));
            tokio::pin!(pause);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = &mut pause => break,
                    command = self.commands.recv() => match command {
                        None => return,
                        Some(command) => self.refuse_while_down(command),
                    },
                }
            }
        }
    }

    async fn connect(&mut self) -> redis::RedisResult<(redis::aio::PubSubSink, redis::aio::PubSubStream)> {
        let (mut sink, stream) = self.client.get_async_pubsub().await?.split();
        let channels: Vec<String> = self.wanted.iter().map(|room| self.relay.keys().channel(room)).collect();
        if !channels.is_empty() {
            sink.subscribe(&channels).await?;
        }
        let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(self.relay.conn()).await?;
        self.live_since = Some(MessageId::new(secs.saturating_mul(1000).saturating_add(micros / 1000), 0));
        Ok((sink, stream))
    }

    fn refuse_while_down(&mut self, command: Command) {
        match command {
            Command::Listen(_, reply) => {
                let _ = reply.send(Err(BrokerError::NotListening));
            }
            Command::Unlisten(room) => {
                self.relay.forget(&room);
                self.wanted.remove(&room);
            }
        }
    }

    /// Delivers what every subscribed room received while the connection was down.
    async fn fill_hole(&mut self, hole_after: MessageId) {
        let rooms: Vec<RoomName> = self.wanted.iter().cloned().collect();
        for room in rooms {
            self.relay.refill(&room, hole_after).await;
        }
    }

    /// Serves one connection; returns `true` when the broker is gone, `false` when the connection dropped.
    async fn serve(&mut self, mut sink: redis::aio::PubSubSink, mut stream: redis::aio::PubSubStream) -> bool {
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    None => return true,
                    Some(Command::Listen(room, reply)) => {
                        let outcome = sink.subscribe(self.relay.keys().channel(&room)).await;
                        let failed = outcome.is_err();
                        if !failed {
                            self.wanted.insert(room);
                        }
                        let _ = reply.send(outcome.map_err(BrokerError::from));
                        if failed {
                            return false;
                        }
                    }
                    Some(Command::Unlisten(room)) => {
                        self.relay.forget(&room);
                        self.wanted.remove(&room);
                        if sink.unsubscribe(self.relay.keys().channel(&room)).await.is_err() {
                            return false;
                        }
                    }
                },
                message = stream.next() => match message {
                    None => return false,
                    Some(message) => self.relay.deliver_published(message.get_channel_name(), message.get_payload_bytes()),
                },
            }
        }
    }
}
