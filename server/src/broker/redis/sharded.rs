//! Room delivery on a Redis Cluster: sharded pub/sub.
//!
//! Classic pub/sub on a cluster sends every message to every node; sharded
//! pub/sub (`SSUBSCRIBE`/`SPUBLISH`, Redis 7) keeps a room's channel on the node
//! owning the room's slot — the node that also holds its stream, so a send stays
//! one script on one node and delivery scales with the number of masters.
//!
//! One task owns a cluster connection speaking RESP3 whose pushes (messages and
//! subscription confirmations, from every node) arrive on one channel. The
//! `redis` crate keeps the subscriptions: after a node's connection drops or a
//! failover changes the slot map, it subscribes again on the node that now owns
//! each channel, and that confirmation arrives here as an `ssubscribe` push.
//! Every such push for a room already listened to is a possible hole: the task
//! refills the room from its stream through the [`Relay`], after the last id it
//! delivered or, for a room with none yet, after the newest entry the stream held
//! when the room was first subscribed. When a node gives a channel up by itself
//! (its slot migrated: the server sends `sunsubscribe`), the task subscribes again,
//! which reaches the new owner.
//!
//! A node that dies and stays dead is the hard case: the crate only retries its
//! address, and a connection that sends no command never learns the new slot map,
//! so the rooms it held would stay silent forever. So when a node's connection
//! drops (a `disconnection` push), the task subscribes every room again, every
//! [`RESUBSCRIBE_EVERY`], until all succeed: a subscribe routed to the dead node
//! fails, which makes the crate refresh its slot map, and the next one reaches the
//! promoted replica (then the refill above closes the hole).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::time::Duration;

use protocol::{Backoff, MessageId, RoomName};
use rand::Rng;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::Keys;
use super::handle::{Command, ListenerHandle};
use super::relay::Relay;
use crate::broker::BrokerError;
use crate::broker::fanout::Fanout;
use crate::redis_conn::{RedisConn, RedisTarget};

/// The instance's sharded pub/sub listener on a Redis Cluster.
pub struct ShardedSubscriber;

impl ShardedSubscriber {
    /// Starts listening on the cluster `target`, delivering into the fanout built by `fanout_for`.
    pub fn start(
        target: RedisTarget,
        conn: RedisConn,
        keys: Keys,
        cap: usize,
        fanout_for: impl FnOnce(Arc<ListenerHandle>) -> Fanout,
    ) -> (Arc<ListenerHandle>, Fanout) {
        let (handle, side) = ListenerHandle::new();
        let fanout = fanout_for(handle.clone());
        let task = Task {
            commands: side.commands,
            connected: side.connected,
            wanted: HashSet::new(),
            floor: HashMap::new(),
            relay: Relay::new(keys, fanout.clone(), conn, cap),
            resubscribing: false,
        };
        tokio::spawn(task.run(target, side.stop));
        (handle, fanout)
    }
}

/// The schedule of connection attempts until the cluster first answers.
const RECONNECT: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));

struct Task {
    commands: mpsc::UnboundedReceiver<Command>,
    connected: Arc<AtomicBool>,
    wanted: HashSet<RoomName>,
    /// Per room: the newest stream id when it was first subscribed, where a refill starts when
    /// nothing was delivered in the room yet.
    floor: HashMap<RoomName, MessageId>,
    relay: Relay,
    /// A node connection dropped: every room is subscribed again until that succeeds.
    resubscribing: bool,
}

/// How often rooms are subscribed again while a node is lost.
pub const RESUBSCRIBE_EVERY: Duration = Duration::from_millis(500);

impl Task {
    async fn run(mut self, target: RedisTarget, stop: CancellationToken) {
        let (pushes_in, mut pushes) = mpsc::unbounded_channel();
        let Some((mut pubsub, _client)) = self.connect(&target, pushes_in, &stop).await else { return };
        self.connected.store(true, Ordering::Relaxed);
        info!("redis cluster sharded pub/sub connected");
        let mut retry = tokio::time::interval(RESUBSCRIBE_EVERY);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = retry.tick(), if self.resubscribing => self.resubscribe(&pubsub).await,
                command = self.commands.recv() => match command {
                    None => return,
                    Some(Command::Listen(room, reply)) => {
                        let _ = reply.send(self.listen(&mut pubsub, room).await);
                    }
                    Some(Command::Unlisten(room)) => self.unlisten(&mut pubsub, &room).await,
                },
                push = pushes.recv() => match push {
                    None => return,
                    Some(push) => self.on_push(&mut pubsub, push).await,
                },
            }
        }
    }

    /// Connects, retrying with backoff until a seed answers (the cluster client then follows
    /// every node by itself); meanwhile room subscriptions are refused with a clear error.
    async fn connect(
        &mut self,
        target: &RedisTarget,
        pushes: mpsc::UnboundedSender<PushInfo>,
        stop: &CancellationToken,
    ) -> Option<(ClusterConnection, ClusterClient)> {
        let mut backoff = RECONNECT;
        loop {
            let client = match target.cluster_pubsub(pushes.clone())? {
                Ok(client) => client,
                Err(err) => {
                    warn!(%err, "redis cluster pub/sub cannot be configured");
                    return None;
                }
            };
            match client.get_async_connection().await {
                Ok(pubsub) => return Some((pubsub, client)),
                Err(err) => warn!(%err, attempt = backoff.attempt(), "redis cluster pub/sub connect failed"),
            }
            let pause = tokio::time::sleep(backoff.next_delay(rand::rng().random::<f64>()));
            tokio::pin!(pause);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return None,
                    () = &mut pause => break,
                    command = self.commands.recv() => match command? {
                        Command::Listen(_, reply) => drop(reply.send(Err(BrokerError::NotListening))),
                        Command::Unlisten(room) => drop(self.wanted.remove(&room)),
                    },
                }
            }
        }
    }

    async fn listen(&mut self, pubsub: &mut ClusterConnection, room: RoomName) -> Result<(), BrokerError> {
        pubsub.ssubscribe(self.relay.keys().channel(&room)).await?;
        // Subscribed first, then read the top: everything after it reaches us live or by refill.
        match self.stream_top(&room).await {
            Ok(floor) => {
                self.floor.insert(room.clone(), floor);
                self.wanted.insert(room);
                Ok(())
            }
            Err(err) => {
                // Not listened to after all: give the subscription back rather than leak it.
                let _ = pubsub.sunsubscribe(self.relay.keys().channel(&room)).await;
                Err(err)
            }
        }
    }

    /// The id of the newest entry of `room`'s stream (`0-0` when it is empty).
    async fn stream_top(&mut self, room: &RoomName) -> Result<MessageId, BrokerError> {
        let top: Vec<(String, Value)> = redis::cmd("XREVRANGE")
            .arg(self.relay.keys().log(room))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(self.relay.conn())
            .await?;
        Ok(match top.first() {
            Some((id, _)) => MessageId::parse(id)?,
            None => MessageId::new(0, 0),
        })
    }

    async fn unlisten(&mut self, pubsub: &mut ClusterConnection, room: &RoomName) {
        self.relay.forget(room);
        self.floor.remove(room);
        self.wanted.remove(room);
        if let Err(err) = pubsub.sunsubscribe(self.relay.keys().channel(room)).await {
            warn!(%err, %room, "could not unsubscribe a room channel");
        }
    }

    async fn on_push(&mut self, pubsub: &mut ClusterConnection, push: PushInfo) {
        if push.kind == PushKind::Disconnection {
            warn!("a redis node's connection dropped; subscribing every room again until it holds");
            self.resubscribing = true;
            return;
        }
        let mut data = push.data.into_iter();
        let Some(Value::BulkString(channel)) = data.next() else { return };
        let channel = String::from_utf8_lossy(&channel);
        match push.kind {
            PushKind::SMessage => {
                if let Some(Value::BulkString(payload)) = data.next() {
                    self.relay.deliver_published(&channel, &payload);
                }
            }
            PushKind::SSubscribe => {
                let Some(room) = self.wanted_room(&channel) else { return };
                if let Some(&floor) = self.floor.get(&room) {
                    self.relay.refill(&room, floor).await;
                }
            }
            PushKind::SUnsubscribe => {
                let Some(room) = self.wanted_room(&channel) else { return };
                warn!(%room, "a node gave up a room channel (slot moved); subscribing again");
                if let Err(err) = pubsub.ssubscribe(self.relay.keys().channel(&room)).await {
                    warn!(%err, %room, "could not subscribe the room again");
                }
            }
            _ => {}
        }
    }

    /// Subscribes every wanted room again, all at once; stops once every one succeeded.
    async fn resubscribe(&mut self, pubsub: &ClusterConnection) {
        let channels: Vec<String> = self.wanted.iter().map(|room| self.relay.keys().channel(room)).collect();
        let attempts = channels.into_iter().map(|channel| {
            let mut pubsub = pubsub.clone();
            async move { pubsub.ssubscribe(channel).await }
        });
        let failed = futures::future::join_all(attempts).await.into_iter().filter(Result::is_err).count();
        if failed == 0 {
            info!(rooms = self.wanted.len(), "every room subscribed again after a node was lost");
            self.resubscribing = false;
        } else {
            debug!(failed, "rooms not subscribed again yet");
        }
    }

    fn wanted_room(&self, channel: &str) -> Option<RoomName> {
        self.relay.keys().room_of(channel).filter(|room| self.wanted.contains(room))
    }
}
