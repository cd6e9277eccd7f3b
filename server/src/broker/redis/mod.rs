//! The Redis broker: history in capped streams, delivery over pub/sub.
//!
//! A send is one Lua script — dedupe (`SET NX` on the sender's client id), `XADD`
//! to the room's capped stream, `PUBLISH` of the stored message — so a message is
//! either stored and published once, or not at all, and the sender is acked only
//! after Redis stored it. Live delivery uses one pub/sub connection per instance
//! owned by [`subscriber`](super::redis::Subscriber): it subscribes a room when
//! the room's first local member joins, and after the connection drops it
//! reconnects with backoff and subscribes every room again.
//!
//! Key layout (every key under the configured prefix `p`; the room is hash-tagged
//! so all of a room's keys live in one cluster slot):
//! - `{p}room:{<room>}:log` — the stream, trimmed to about `cap` entries;
//! - `{p}room:{<room>}:seen:<user>:<client id>` — dedupe marker holding the stored id;
//! - `{p}room:<room>` — the pub/sub channel.

mod subscriber;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use protocol::{ChatMessage, RoomName};
use redis::aio::ConnectionManager;

use super::fanout::{Fanout, Subscription};
use super::{id_millis, Appended, Broker, BrokerError, Draft, RoomEvent};
pub use subscriber::Subscriber;

/// How long a client id is remembered for dedupe: longer than any client retries.
const DEDUPE_TTL_SECS: u64 = 24 * 3600;

const APPEND: &str = r#"
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'user', ARGV[2], 'text', ARGV[3], 'cid', ARGV[4])
redis.call('SET', KEYS[1], id, 'EX', ARGV[5])
redis.call('PUBLISH', ARGV[6], cjson.encode({kind = 'message', room = ARGV[7], id = id, user = ARGV[2], text = ARGV[3], client_id = ARGV[4]}))
return {1, id}
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
    fn log(&self, room: &RoomName) -> String {
        format!("{}room:{{{room}}}:log", self.prefix)
    }
    fn seen(&self, room: &RoomName, user: &str, client_id: &str) -> String {
        format!("{}room:{{{room}}}:seen:{user}:{client_id}", self.prefix)
    }
    /// The pub/sub channel of a room.
    pub fn channel(&self, room: &RoomName) -> String {
        format!("{}room:{room}", self.prefix)
    }
    /// The room a channel belongs to, if it is one of ours.
    pub fn room_of(&self, channel: &str) -> Option<RoomName> {
        channel.strip_prefix(&self.prefix)?.strip_prefix("room:").and_then(|r| RoomName::parse(r).ok())
    }
}

/// Decodes an event as published on a room channel.
pub fn decode_event(payload: &[u8]) -> Result<RoomEvent, BrokerError> {
    let mut event: RoomEvent =
        serde_json::from_slice(payload).map_err(|err| BrokerError::Corrupt(err.to_string()))?;
    if let RoomEvent::Message(message) = &mut event {
        message.ts = id_millis(&message.id);
    }
    Ok(event)
}

/// A broker on Redis. Cheap to share: clone the `Arc`.
pub struct RedisBroker {
    conn: ConnectionManager,
    keys: Keys,
    fanout: Fanout,
    subscriber: Arc<Subscriber>,
    cap: usize,
    append: redis::Script,
}

impl RedisBroker {
    /// A broker over `conn` (commands) and `client` (its own pub/sub connection).
    pub fn new(client: redis::Client, conn: ConnectionManager, prefix: &str, cap: usize) -> Self {
        let keys = Keys::new(prefix);
        let (subscriber, fanout) = Subscriber::start(client, keys.clone(), |remote| Fanout::with_remote(remote));
        Self { conn, keys, fanout, subscriber, cap: cap.max(1), append: redis::Script::new(APPEND) }
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
            .arg(self.cap)
            .arg(&draft.user)
            .arg(&draft.text)
            .arg(&draft.client_id)
            .arg(DEDUPE_TTL_SECS)
            .arg(self.keys.channel(room))
            .arg(room.as_str())
            .invoke_async(&mut conn)
            .await?;
        if stored == 0 {
            return Ok(Appended::Duplicate(id));
        }
        Ok(Appended::Stored(ChatMessage {
            room: room.to_string(),
            ts: id_millis(&id),
            id,
            user: draft.user,
            text: draft.text,
            client_id: Some(draft.client_id),
        }))
    }

    async fn announce(&self, room: &RoomName, event: RoomEvent) -> Result<(), BrokerError> {
        let payload = serde_json::to_string(&event).map_err(|err| BrokerError::Corrupt(err.to_string()))?;
        let mut conn = self.conn.clone();
        redis::cmd("PUBLISH").arg(self.keys.channel(room)).arg(payload).exec_async(&mut conn).await?;
        Ok(())
    }

    async fn recent(&self, room: &RoomName, limit: usize) -> Result<Vec<ChatMessage>, BrokerError> {
        let mut conn = self.conn.clone();
        let entries: Vec<(String, HashMap<String, String>)> = redis::cmd("XREVRANGE")
            .arg(self.keys.log(room))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut conn)
            .await?;
        Ok(entries
            .into_iter()
            .rev()
            .map(|(id, mut fields)| ChatMessage {
                room: room.to_string(),
                ts: id_millis(&id),
                id,
                user: fields.remove("user").unwrap_or_default(),
                text: fields.remove("text").unwrap_or_default(),
                client_id: fields.remove("cid"),
            })
            .collect())
    }

    async fn subscribe(&self, room: &RoomName) -> Result<Subscription, BrokerError> {
        self.fanout.subscribe(room).await
    }

    async fn is_healthy(&self) -> bool {
        let mut conn = self.conn.clone();
        let ping = redis::cmd("PING");
        let answered = tokio::time::timeout(Duration::from_secs(2), ping.exec_async(&mut conn)).await;
        matches!(answered, Ok(Ok(()))) && self.subscriber.is_connected()
    }
}

impl Drop for RedisBroker {
    fn drop(&mut self) {
        self.subscriber.stop();
    }
}
