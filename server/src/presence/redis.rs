//! Presence in Redis, shared by every instance.
//!
//! Layout (under the prefix `p`; braces are Redis Cluster hash tags):
//! - `{p}presence:{<room>}` — hash, field `<user>|<instance>` → open sockets (on a cluster it
//!   shares the room's slot, beside the room's stream);
//! - `{p}instance:{<id>}` — the instance's lease (a key with a TTL);
//! - `{p}instances` — set of instances holding presence entries;
//! - `{p}instance:{<id>}:rooms` — set of rooms where the instance holds entries (a room leaves
//!   it with the instance's last entry there, so it never outgrows what the reaper must visit).
//!
//! "Was the user present before / is the user still present" is decided by one Lua
//! script on the room's hash, the one key it touches, so it holds even when
//! instances race, and each departure of a dead instance's user is reported by
//! exactly one reaper (room by room). The instance's own bookkeeping (the two sets)
//! lives on other slots, so it is written by separate commands: added before the
//! room's entry, removed after the instance's last entry there, under a lock per
//! room stripe so one instance's enter and exit of a room cannot interleave and
//! leave an entry the reaper would never visit.

use std::time::Duration;

use crate::redis_conn::RedisConn;
use async_trait::async_trait;
use protocol::RoomName;

use super::{Departed, Presence, PresenceError};

/// Helper shared by the scripts: does `user` hold any entry in hash `key`?
const PRESENT: &str = r#"
local function present(key, user)
  local prefix = user .. '|'
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if string.sub(field, 1, #prefix) == prefix then return true end
  end
  return false
end
"#;

const ENTER: &str = r#"
local before = present(KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 1)
if before then return 0 else return 1 end
"#;

const RESTORE: &str = r#"
local before = present(KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], ARGV[3])
if before then return 0 else return 1 end
"#;

/// Returns {left, held}: whether the user is gone from the room, and whether the instance still
/// holds any entry there.
const EXIT: &str = r#"
local field = ARGV[1] .. '|' .. ARGV[2]
local held = 1
if redis.call('HEXISTS', KEYS[1], field) == 0 then return {0, held} end
if redis.call('HINCRBY', KEYS[1], field, -1) <= 0 then
  redis.call('HDEL', KEYS[1], field)
  local suffix = '|' .. ARGV[2]
  held = 0
  for _, other in ipairs(redis.call('HKEYS', KEYS[1])) do
    if #other > #suffix and string.sub(other, -#suffix) == suffix then held = 1; break end
  end
end
if present(KEYS[1], ARGV[1]) then return {0, held} else return {1, held} end
"#;

/// Lock stripes serialising one instance's bookkeeping per room.
const STRIPES: usize = 64;

const REAP_ROOM: &str = r#"
local gone = {}
local suffix = '|' .. ARGV[1]
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if #field > #suffix and string.sub(field, -#suffix) == suffix then
    redis.call('HDEL', KEYS[1], field)
    local user = string.sub(field, 1, #field - #suffix)
    if not present(KEYS[1], user) then table.insert(gone, user) end
  end
end
return gone
"#;

/// Presence under a key prefix.
pub struct RedisPresence {
    conn: RedisConn,
    prefix: String,
    enter: redis::Script,
    restore: redis::Script,
    exit: redis::Script,
    reap: redis::Script,
    stripes: Box<[tokio::sync::Mutex<()>]>,
}

impl RedisPresence {
    /// Presence under `prefix` on `conn`.
    pub fn new(conn: RedisConn, prefix: &str) -> Self {
        let script = |body: &str| redis::Script::new(&format!("{PRESENT}{body}"));
        Self {
            conn,
            prefix: prefix.to_owned(),
            enter: script(ENTER),
            restore: script(RESTORE),
            exit: script(EXIT),
            reap: script(REAP_ROOM),
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    /// The lock of `room`'s stripe.
    fn stripe(&self, room: &RoomName) -> &tokio::sync::Mutex<()> {
        let hash = room.as_str().bytes().fold(0usize, |hash, byte| hash.wrapping_mul(31).wrapping_add(byte.into()));
        &self.stripes[hash % STRIPES]
    }

    /// Runs the enter or restore script; `true` if the user was absent before.
    async fn membership(
        &self,
        script: &redis::Script,
        room: &RoomName,
        user: &str,
        instance: &str,
        sockets: Option<usize>,
    ) -> Result<bool, PresenceError> {
        let mut conn = self.conn.clone();
        let _bookkeeping = self.stripe(room).lock().await;
        // First the instance's bookkeeping, so a crash right after never leaves an entry the
        // reaper cannot find.
        // (Two commands, not a pipeline: on a cluster the two sets live in different slots.)
        redis::cmd("SADD").arg(self.instances()).arg(instance).exec_async(&mut conn).await?;
        redis::cmd("SADD").arg(self.instance_rooms(instance)).arg(room.as_str()).exec_async(&mut conn).await?;
        let mut invocation = script.key(self.room(room));
        invocation.arg(user).arg(instance);
        if let Some(sockets) = sockets {
            invocation.arg(sockets);
        }
        let joined: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(joined == 1)
    }

    fn room(&self, room: &RoomName) -> String {
        format!("{}presence:{{{room}}}", self.prefix)
    }
    fn lease(&self, instance: &str) -> String {
        format!("{}instance:{{{instance}}}", self.prefix)
    }
    fn instance_rooms(&self, instance: &str) -> String {
        format!("{}instance:{{{instance}}}:rooms", self.prefix)
    }
    fn instances(&self) -> String {
        format!("{}instances", self.prefix)
    }
}

#[async_trait]
impl Presence for RedisPresence {
    async fn enter(&self, room: &RoomName, user: &str, instance: &str) -> Result<bool, PresenceError> {
        self.membership(&self.enter, room, user, instance, None).await
    }

    async fn restore(
        &self,
        room: &RoomName,
        user: &str,
        instance: &str,
        sockets: usize,
    ) -> Result<bool, PresenceError> {
        self.membership(&self.restore, room, user, instance, Some(sockets)).await
    }

    async fn exit(&self, room: &RoomName, user: &str, instance: &str) -> Result<bool, PresenceError> {
        let mut conn = self.conn.clone();
        let _bookkeeping = self.stripe(room).lock().await;
        let (left, held): (i64, i64) =
            self.exit.key(self.room(room)).arg(user).arg(instance).invoke_async(&mut conn).await?;
        if held == 0 {
            redis::cmd("SREM").arg(self.instance_rooms(instance)).arg(room.as_str()).exec_async(&mut conn).await?;
        }
        Ok(left == 1)
    }

    async fn members(&self, room: &RoomName) -> Result<Vec<String>, PresenceError> {
        let mut conn = self.conn.clone();
        let fields: Vec<String> = redis::cmd("HKEYS").arg(self.room(room)).query_async(&mut conn).await?;
        let mut users: Vec<String> =
            fields.into_iter().filter_map(|f| f.split_once('|').map(|(user, _)| user.to_owned())).collect();
        users.sort();
        users.dedup();
        Ok(users)
    }

    async fn renew(&self, instance: &str, ttl: Duration) -> Result<bool, PresenceError> {
        let mut conn = self.conn.clone();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let previous: Option<String> = redis::cmd("SET")
            .arg(self.lease(instance))
            .arg(1)
            .arg("PX")
            .arg(ttl_ms)
            .arg("GET")
            .query_async(&mut conn)
            .await?;
        Ok(previous.is_some())
    }

    async fn reap(&self) -> Result<Vec<Departed>, PresenceError> {
        let mut conn = self.conn.clone();
        let instances: Vec<String> = redis::cmd("SMEMBERS").arg(self.instances()).query_async(&mut conn).await?;
        let mut departed = Vec::new();
        for instance in instances {
            let alive: bool = redis::cmd("EXISTS").arg(self.lease(&instance)).query_async(&mut conn).await?;
            if alive {
                continue;
            }
            // Room by room, each script declaring the one key it touches (a cluster keeps a
            // room's presence on the room's node); a second reaper finds nothing left to report.
            let rooms: Vec<String> =
                redis::cmd("SMEMBERS").arg(self.instance_rooms(&instance)).query_async(&mut conn).await?;
            for name in rooms {
                if let Ok(room) = RoomName::parse(&name) {
                    let gone: Vec<String> =
                        self.reap.key(self.room(&room)).arg(&instance).invoke_async(&mut conn).await?;
                    departed.extend(gone.into_iter().map(|user| Departed { room: room.clone(), user }));
                }
                // Room by room, so a restarted instance of the same id keeps the rooms it entered since.
                redis::cmd("SREM").arg(self.instance_rooms(&instance)).arg(&name).exec_async(&mut conn).await?;
            }
            let back: bool = redis::cmd("EXISTS").arg(self.lease(&instance)).query_async(&mut conn).await?;
            if !back {
                redis::cmd("SREM").arg(self.instances()).arg(&instance).exec_async(&mut conn).await?;
            }
        }
        Ok(departed)
    }
}
