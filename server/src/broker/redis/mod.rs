//! The Redis broker: history in capped streams, delivery over pub/sub.
//!
//! A send is one Lua script — dedupe (`SET NX` on the sender's client id), `XADD`
//! to the room's capped stream, `PUBLISH` of the stored message — so a message is
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
//! - `{p}room:{<room>}:log` — the stream, trimmed to `cap` entries (in batches of a tenth);
//! - `{p}room:{<room>}:trimmed` — the newest id trimmed away, so a catch-up can say exactly
//!   which range is gone (Redis' own `max-deleted-entry-id` ignores trimming);
//! - `{p}room:{<room>}:seen:<user>:<client id>` — dedupe marker holding the stored id;
//! - `{p}room:{<room>}` — the pub/sub channel (sharded on a cluster, so it shares the slot).

mod handle;
mod relay;
mod sharded;
mod subscriber;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::fanout::{Fanout, Subscription};
use super::{Appended, Broker, BrokerError, Draft, Durability, Replay, RoomEvent};
use crate::redis_conn::{RedisConn, RedisTarget};
use async_trait::async_trait;
use protocol::{ChatMessage, Gap, MessageId, RoomName};
pub use sharded::ShardedSubscriber;
pub use subscriber::Subscriber;

/// How long a client id is remembered for dedupe: longer than any client retries.
const DEDUPE_TTL_SECS: u64 = 24 * 3600;

const APPEND: &str = r#"
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
local id = redis.call('XADD', KEYS[2], '*', 'user', ARGV[2], 'text', ARGV[3], 'cid', ARGV[4], 'name', ARGV[8])
redis.call('SET', KEYS[1], id, 'EX', ARGV[5])
local cap = tonumber(ARGV[1])
local len = redis.call('XLEN', KEYS[2])
if len > cap + math.max(1, math.floor(cap / 10)) then
  local old = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', len - cap + 1)
  redis.call('SET', KEYS[3], old[#old - 1][1])
  redis.call('XTRIM', KEYS[2], 'MINID', old[#old][1])
end
redis.call(ARGV[9], ARGV[6], cjson.encode({kind = 'message', room = ARGV[7], id = id, user = ARGV[2], name = ARGV[8], text = ARGV[3], client_id = ARGV[4]}))
return {1, id}
"#;

const SINCE: &str = r#"
local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
local trimmed = redis.call('GET', KEYS[2]) or '0-0'
return {entries, trimmed}
"#;

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

/// One stream entry as `XRANGE` answers it: the id and the fields.
type StreamEntry = (String, HashMap<String, String>);

/// Messages of a stream entry list (`XRANGE`/`XREVRANGE` answers).
fn messages(room: &RoomName, entries: Vec<StreamEntry>) -> Vec<ChatMessage> {
    entries.into_iter().filter_map(|entry| message(room, entry)).collect()
}

/// The message a stream entry holds; `None` (logged: the stream was written by something else,
/// or damaged) when it lacks the author or the text, rather than a message of empty strings.
fn message(room: &RoomName, (id, mut fields): StreamEntry) -> Option<ChatMessage> {
    let (Ok(id), Some(user), Some(text)) = (MessageId::parse(&id), fields.remove("user"), fields.remove("text")) else {
        tracing::error!(%room, %id, "corrupt stream entry (id, author or text): skipped");
        return None;
    };
    Some(ChatMessage {
        room: room.to_string(),
        ts: id.millis(),
        id,
        user,
        name: fields.remove("name").unwrap_or_default(),
        text,
        client_id: fields.remove("cid"),
    })
}

/// Every retained message of `room` after `after` and the trimmed range, in one atomic script.
pub async fn replay(
    conn: &mut RedisConn,
    script: &redis::Script,
    keys: &Keys,
    room: &RoomName,
    after: MessageId,
    limit: usize,
) -> Result<Replay, BrokerError> {
    let (entries, trimmed): (Vec<StreamEntry>, String) = script
        .key(keys.log(room))
        .key(keys.trimmed(room))
        .arg(after.to_string())
        .arg(limit.max(1))
        .invoke_async(conn)
        .await?;
    // No trim yet reads as an empty string: no gap.
    let gap = MessageId::parse(&trimmed).ok().filter(|&until| until > after).map(|until| Gap { after, until });
    Ok(Replay { messages: messages(room, entries), gap })
}

/// The script behind [`replay`].
pub fn since_script() -> redis::Script {
    redis::Script::new(SINCE)
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
    since: redis::Script,
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
            append: redis::Script::new(APPEND),
            since: since_script(),
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

    async fn recent(&self, room: &RoomName, limit: usize) -> Result<Vec<ChatMessage>, BrokerError> {
        let mut conn = self.conn.clone();
        let entries: Vec<StreamEntry> = redis::cmd("XREVRANGE")
            .arg(self.keys.log(room))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut conn)
            .await?;
        let mut recent = messages(room, entries);
        recent.reverse();
        Ok(recent)
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
