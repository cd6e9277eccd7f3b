//! Room records in Redis. A private room is two keys tagged with the room
//! (`{p}room:{<room>}:owner`, its creator; `{p}room:{<room>}:members`, a set), in
//! the slot of its history, so creating it and adding a member each check the
//! room exists in one script. The directory is one sorted set, `{p}directory`
//! (room → how many users hold it).

use async_trait::async_trait;
use protocol::{AccountKey, RoomName};

use super::{RoomStore, RoomStoreError};
use crate::redis_conn::RedisConn;

/// Creates a private room unless it exists.
const CREATE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"#;

/// Adds a member to a room that exists.
const ADD_MEMBER: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"#;

/// Moves a room's count in the directory; a room no one holds leaves it.
const COUNT: &str = r#"
local count = tonumber(redis.call('ZINCRBY', KEYS[1], ARGV[2], ARGV[1]))
if count <= 0 then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1
"#;

/// Room records stored in Redis.
pub struct RedisRooms {
    conn: RedisConn,
    prefix: String,
    create: redis::Script,
    add_member: redis::Script,
    count: redis::Script,
}

impl RedisRooms {
    /// Room records under `prefix` on `conn`.
    pub fn new(conn: RedisConn, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
            create: redis::Script::new(CREATE),
            add_member: redis::Script::new(ADD_MEMBER),
            count: redis::Script::new(COUNT),
        }
    }

    fn owner_key(&self, room: &RoomName) -> String {
        format!("{}room:{{{room}}}:owner", self.prefix)
    }

    fn members_key(&self, room: &RoomName) -> String {
        format!("{}room:{{{room}}}:members", self.prefix)
    }

    fn directory_key(&self) -> String {
        format!("{}directory", self.prefix)
    }
}

#[async_trait]
impl RoomStore for RedisRooms {
    async fn create(&self, room: &RoomName, owner: &AccountKey) -> Result<bool, RoomStoreError> {
        let mut conn = self.conn.clone();
        let created: i64 = self
            .create
            .key(self.owner_key(room))
            .key(self.members_key(room))
            .arg(owner.as_str())
            .invoke_async(&mut conn)
            .await?;
        Ok(created == 1)
    }

    async fn owner(&self, room: &RoomName) -> Result<Option<AccountKey>, RoomStoreError> {
        let mut conn = self.conn.clone();
        let owner: Option<String> = redis::cmd("GET").arg(self.owner_key(room)).query_async(&mut conn).await?;
        Ok(owner.map(|owner| AccountKey::of(&owner)))
    }

    async fn is_member(&self, room: &RoomName, key: &AccountKey) -> Result<bool, RoomStoreError> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("SISMEMBER").arg(self.members_key(room)).arg(key.as_str()).query_async(&mut conn).await?)
    }

    async fn add_member(&self, room: &RoomName, key: &AccountKey) -> Result<bool, RoomStoreError> {
        let mut conn = self.conn.clone();
        let added: i64 = self
            .add_member
            .key(self.owner_key(room))
            .key(self.members_key(room))
            .arg(key.as_str())
            .invoke_async(&mut conn)
            .await?;
        Ok(added == 1)
    }

    async fn remove_member(&self, room: &RoomName, key: &AccountKey) -> Result<bool, RoomStoreError> {
        let mut conn = self.conn.clone();
        let removed: i64 =
            redis::cmd("SREM").arg(self.members_key(room)).arg(key.as_str()).query_async(&mut conn).await?;
        Ok(removed == 1)
    }

    async fn members(&self, room: &RoomName) -> Result<Vec<String>, RoomStoreError> {
        let mut conn = self.conn.clone();
        let mut members: Vec<String> =
            redis::cmd("SMEMBERS").arg(self.members_key(room)).query_async(&mut conn).await?;
        members.sort();
        Ok(members)
    }

    async fn count_public(&self, room: &RoomName, delta: i64) -> Result<(), RoomStoreError> {
        let mut conn = self.conn.clone();
        let _: i64 = self.count.key(self.directory_key()).arg(room.as_str()).arg(delta).invoke_async(&mut conn).await?;
        Ok(())
    }

    async fn public_rooms(&self, limit: usize) -> Result<Vec<String>, RoomStoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        Ok(redis::cmd("ZRANGE")
            .arg(self.directory_key())
            .arg(0)
            .arg(limit - 1)
            .arg("REV")
            .query_async(&mut conn)
            .await?)
    }
}
