//! The Redis broker: history in capped streams, delivery over pub/sub.
//!
//! A send, and a change to a message, is one Lua script (`scripts`) — dedupe (`SET NX`
//! on the sender's client id), `XADD` to the room's capped stream, `PUBLISH` of the
//! stored message or of the changed message's state — so a message is
//! either stored and published once, or not at all, and the sender is acked only
//! after Redis stored it (and, with [`Durability`], after replicas confirmed it).
//! Live delivery uses one subscription per room with local members: on a single
//! Redis, [`Subscriber`]'s pub/sub connection; on a Redis Cluster,
//! [`ShardedSubscriber`]'s sharded pub/sub on the node owning the room. After a
//! subscription drops and comes back, both fill the hole from the streams, so
//! pub/sub's at-most-once delivery never turns into a silent loss.
//!
//! Key layout (every key under the configured prefix `p`; the room is hash-tagged
//! so all of a room's keys live in one cluster slot):
//! - `{p}room:{<room>}:log` — the stream, trimmed to `cap` entries (in batches of a tenth):
//!   messages, and changes to them (an `op`, a `target`; see [`super::change`]);
//! - `{p}room:{<room>}:rev` — hash: message id → its state after its changes (JSON
//!   [`Revision`]); a deletion also removes the message's entry;
//! - `{p}room:{<room>}:trimmed` — the newest id trimmed away, so a catch-up can say exactly
//!   which range is gone (Redis' own `max-deleted-entry-id` ignores trimming);
//! - `{p}room:{<room>}:seen:<user>:<client id>` — dedupe marker holding the stored id;
//! - `{p}room:{<room>}` — the pub/sub channel (sharded on a cluster, so it shares the slot).

mod entries;
mod handle;
mod relay;
mod scripts;
mod sharded;
mod subscriber;

use std::sync::Arc;
use std::time::Duration;

use super::fanout::{Fanout, Subscription};
use super::{Appended, Broker, BrokerError, Change, Changed, Draft, Durability, Replay, RoomEvent};
use crate::redis_conn::{RedisConn, RedisTarget};
use async_trait::async_trait;
use entries::StreamEntry;
use protocol::{Gap, MessageId, Revision, RoomName};
pub use sharded::ShardedSubscriber;
pub use subscriber::Subscriber;

/// How long a client id is remembered for dedupe: longer than any client retries.
const DEDUPE_TTL_SECS: u64 = 24 * 3600;

/// Key and channel names under a prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Names under `prefix`.
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_owned() }
    }
    /// The stream holding a room's history.
    pub fn log(&self, room: &RoomName) -> String {
        format!("{}room:{{{room}}}:log", self.prefix)
    }
    fn trimmed(&self, room: &RoomName) -> String {
        format!("{}room:{{{room}}}:trimmed", self.prefix)
    }
    fn states(&self, room: &RoomName) -> String {
        format!("{}room:{{{room}}}:rev", self.prefix)
    }
    fn seen(&self, room: &RoomName, user: &str, client_id: &str) -> String {
        format!("{}room:{{{room}}}:seen:{user}:{client_id}", self.prefix)
    }
    /// The pub/sub channel of a room (hash-tagged like its keys: a sharded channel has a slot).
    pub fn channel(&self, room: &RoomName) -> String {
        format!("{}room:{{{room}}}", self.prefix)
    }
    /// The room a channel belongs to, if it is one of ours.
    pub fn room_of(&self, channel: &str) -> Option<RoomName> {
        let tagged = channel.strip_prefix(&self.prefix)?.strip_prefix("room:{")?.strip_suffix('}')?;
        RoomName::parse(tagged).ok()
    }
}

/// Decodes an event as published on a room channel.
pub fn decode_event(payload: &[u8]) -> Result<RoomEvent, BrokerError> {
    let mut event: RoomEvent = serde_json::from_slice(payload)?;
    if let RoomEvent::Message(message) = &mut event {
        message.ts = message.id.millis();
    }
    Ok(event)
}

/// Every retained entry of `room` after `after` and the trimmed range, in one atomic script.
pub async fn replay(
    conn: &mut RedisConn,
    script: &redis::Script,
    keys: &Keys,
    room: &RoomName,
    after: MessageId,
    limit: usize,
) -> Result<Replay, BrokerError> {
    let (entries, trimmed, states): (Vec<StreamEntry>, String, Vec<String>) = script
        .key(keys.log(room))
        .key(keys.trimmed(room))
        .key(keys.states(room))
        .arg(after.to_string())
        .arg(limit.max(1))
        .invoke_async(conn)
        .await?;
    let mut replay = entries::read(room, entries, &states);
    replay.gap = if trimmed == "unknown" {
        Some(Gap::unknown_after(after))
    } else {
        MessageId::parse(&trimmed).ok().filter(|&until| until > after).map(|until| Gap { after, until })
    };
    Ok(replay)
}

/// The script behind [`replay`].
pub fn since_script() -> redis::Script {
    scripts::since()
}

/// What the broker needs of the task that listens to room channels.
pub trait Listener: Send + Sync {
    /// Whether room subscriptions can be made now.
    fn is_connected(&self) -> bool;
    /// Stops the task and closes its connection.
    fn stop(&self);
}

/// A broker on Redis. Cheap to share: clone the `Arc`.
pub struct RedisBroker {
    conn: RedisConn,
    keys: Keys,
    fanout: Fanout,
    listener: Arc<dyn Listener>,
    cap: usize,
    durability: Durability,
    append: redis::Script,
    change: redis::Script,
    since: redis::Script,
    recent: redis::Script,
}

impl RedisBroker {
    /// A broker over `conn` (commands) that listens to rooms on its own connection to `target`.
    pub fn new(target: &RedisTarget, conn: RedisConn, prefix: &str, cap: usize, durability: Durability) -> Self {
        let keys = Keys::new(prefix);
        let (listener, fanout): (Arc<dyn Listener>, Fanout) = match target {
            RedisTarget::Single(client) => {
                let (listener, fanout) = Subscriber::start(client.clone(), conn.clone(), keys.clone(), cap, |remote| {
                    Fanout::with_remote(remote)
                });
                (listener, fanout)
            }
            RedisTarget::Cluster(_) => {
                let (listener, fanout) =
                    ShardedSubscriber::start(target.clone(), conn.clone(), keys.clone(), cap, |remote| {
                        Fanout::with_remote(remote)
                    });
                (listener, fanout)
            }
        };
        Self {
            conn,
            keys,
            fanout,
            listener,
            cap: cap.max(1),
            durability,
            append: scripts::append(),
            change: scripts::change(),
            since: since_script(),
            recent: scripts::recent(),
        }
    }

    /// Waits for the replicas [`Durability`] asks for, if any, to hold what was written to `room`.
    async fn replicated(&self, room: &RoomName) -> Result<(), BrokerError> {
        let wanted = self.durability.replicas;
        if wanted == 0 {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let confirmed = conn.wait_for_replicas(&self.keys.log(room), wanted, self.durability.timeout).await?;
        if confirmed < wanted {
            return Err(BrokerError::NotReplicated { wanted, confirmed });
        }
        Ok(())
    }
}

#[async_trait]
impl Broker for RedisBroker {
    async fn append(&self, room: &RoomName, draft: Draft) -> Result<Appended, BrokerError> {
        let mut conn = self.conn.clone();
        let (stored, id): (i64, String) = self
            .append
            .key(self.keys.seen(room, &draft.user, &draft.client_id))
            .key(self.keys.log(room))
            .key(self.keys.trimmed(room))
            .key(self.keys.states(room))
            .arg(self.cap)
            .arg(&draft.user)
            .arg(&draft.text)
            .arg(&draft.client_id)
            .arg(DEDUPE_TTL_SECS)
            .arg(self.keys.channel(room))
            .arg(room.as_str())
            .arg(&draft.name)
            .arg(conn.room_publish())
            .invoke_async(&mut conn)
            .await?;
        let id = MessageId::parse(&id)?;
        self.replicated(room).await?;
        if stored == 0 {
            return Ok(Appended::Duplicate(id));
        }
        Ok(Appended::Stored(draft.stored(room, id)))
    }

    async fn announce(&self, room: &RoomName, event: RoomEvent) -> Result<(), BrokerError> {
        let payload = serde_json::to_string(&event)?;
        let mut conn = self.conn.clone();
        redis::cmd(conn.room_publish()).arg(self.keys.channel(room)).arg(payload).exec_async(&mut conn).await?;
        Ok(())
    }

    async fn revise(&self, room: &RoomName, change: Change) -> Result<Changed, BrokerError> {
        let mut conn = self.conn.clone();
        let (outcome, id, state): (i64, String, String) = self
            .change
            .key(self.keys.seen(room, &change.user, &change.client_id))
            .key(self.keys.log(room))
            .key(self.keys.trimmed(room))
            .key(self.keys.states(room))
            .arg(self.cap)
            .arg(&change.user)
            .arg(change.op.as_str())
            .arg(change.target.to_string())
            .arg(change.op.argument())
            .arg(&change.client_id)
            .arg(DEDUPE_TTL_SECS)
            .arg(self.keys.channel(room))
            .arg(conn.room_publish())
            .invoke_async(&mut conn)
            .await?;
        match outcome {
            -1 => return Ok(Changed::NoSuchMessage),
            -2 => return Ok(Changed::NotAuthor),
            _ => {}
        }
        let id = MessageId::parse(&id)?;
        self.replicated(room).await?;
        if outcome == 0 {
            return Ok(Changed::Duplicate(id));
        }
        Ok(Changed::Stored { id, revision: serde_json::from_str(&state)? })
    }

    async fn revisions(&self, room: &RoomName, ids: &[MessageId]) -> Result<Vec<Revision>, BrokerError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let fields: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let states: Vec<Option<String>> =
            redis::cmd("HMGET").arg(self.keys.states(room)).arg(fields).query_async(&mut conn).await?;
        Ok(states.iter().flatten().filter_map(|state| entries::revision(room, state)).collect())
    }

    async fn recent(&self, room: &RoomName, limit: usize) -> Result<Replay, BrokerError> {
        let mut conn = self.conn.clone();
        let (mut newest_first, mut states): (Vec<StreamEntry>, Vec<String>) = self
            .recent
            .key(self.keys.log(room))
            .key(self.keys.states(room))
            .arg(limit.max(1))
            .arg(limit.max(1).saturating_mul(2).max(64))
            .invoke_async(&mut conn)
            .await?;
        newest_first.reverse();
        states.resize(newest_first.len(), String::new());
        states.reverse();
        Ok(entries::read(room, newest_first, &states))
    }

    async fn since(&self, room: &RoomName, after: MessageId, limit: usize) -> Result<Replay, BrokerError> {
        replay(&mut self.conn.clone(), &self.since, &self.keys, room, after, limit).await
    }

    async fn subscribe(&self, room: &RoomName) -> Result<Subscription, BrokerError> {
        self.fanout.subscribe(room).await
    }

    async fn is_healthy(&self) -> bool {
        let mut conn = self.conn.clone();
        let answered = tokio::time::timeout(Duration::from_secs(2), conn.ping()).await;
        matches!(answered, Ok(Ok(()))) && self.listener.is_connected()
    }
}

impl Drop for RedisBroker {
    fn drop(&mut self) {
        self.listener.stop();
    }
}
