//! Accounts in Redis (braces are Redis Cluster hash tags): one hash per user,
//! `{p}user:{<key>}` with fields `hash`, `name` (as registered), `display` and
//! `gen`; `{p}user:{<key>}:rooms`, the user's rooms (capped in the script that
//! adds one); `{p}user:{<key>}:blocked`, the users they block; `{p}user:{<key>}:read`, their read position per room; `{p}name:{<folded name>}`, the claim on a case-folded display name,
//! holding the owner's key; `{p}device:<token>`, a trusted device (key and
//! generation, with a TTL).
//!
//! Creation is one script over the user's hash and the claim on its own name —
//! both tagged with the key, so one slot — and two instances registering the same
//! name at once cannot both succeed. A rename touches the claims of two names, which
//! a cluster keeps on different nodes, so it runs as three atomic steps: claim the
//! new name (refused if someone else holds it), set the display name on the user's
//! hash (never losing a concurrent write to another field), release the old claim
//! only if it is still ours. Whatever happens between the steps, no two users ever
//! hold the same name; a crash can at worst leave a name claimed by its own user.

use std::time::Duration;

use crate::redis_conn::RedisConn;
use async_trait::async_trait;
use protocol::MessageId;

use super::{Account, AccountKey, AccountStore, AccountStoreError, Rename, RoomAdd};

const CREATE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'display', ARGV[2], 'gen', 0, 'name', ARGV[4])
redis.call('SET', KEYS[2], ARGV[3])
return 1
"#;

/// Claims a name for ARGV[1] unless another user holds it.
const CLAIM: &str = r#"
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"#;

/// Releases a claim if ARGV[1] still holds it.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"#;

/// Bumps the generation of an existing account only: an unknown key must not become a stray
/// hash (which would then block registering that name).
const BUMP_GENERATION: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'gen', 1)
"#;

/// 2: added, 1: on the list already, 0: the list is full.
const ADD_ROOM: &str = r#"
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
return 2
"#;

/// Moves a read position forwards only (ids `<ms>-<seq>` compared as numbers); the position now.
const MARK_READ: &str = r#"
local function parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local cms, cseq = parts(current)
  local nms, nseq = parts(ARGV[2])
  if cms and (nms < cms or (nms == cms and nseq <= cseq)) then return current end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return ARGV[2]
"#;

/// Sets the display name of an existing user; returns the old one, or false for no such user.
const SET_DISPLAY: &str = r#"
local old = redis.call('HGET', KEYS[1], 'display')
if not old then return false end
redis.call('HSET', KEYS[1], 'display', ARGV[1])
return old
"#;

/// Accounts stored in Redis.
pub struct RedisAccounts {
    conn: RedisConn,
    prefix: String,
    create: redis::Script,
    claim: redis::Script,
    release: redis::Script,
    set_display: redis::Script,
    add_room: redis::Script,
    bump: redis::Script,
    mark_read: redis::Script,
}

impl RedisAccounts {
    /// Accounts under `prefix` on `conn`.
    pub fn new(conn: RedisConn, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
            create: redis::Script::new(CREATE),
            claim: redis::Script::new(CLAIM),
            release: redis::Script::new(RELEASE),
            set_display: redis::Script::new(SET_DISPLAY),
            add_room: redis::Script::new(ADD_ROOM),
            bump: redis::Script::new(BUMP_GENERATION),
            mark_read: redis::Script::new(MARK_READ),
        }
    }

    fn key(&self, key: &AccountKey) -> String {
        format!("{}user:{{{key}}}", self.prefix)
    }

    /// The claim on a case-folded name.
    fn claim_key(&self, folded: &str) -> String {
        format!("{}name:{{{folded}}}", self.prefix)
    }

    fn rooms_key(&self, key: &AccountKey) -> String {
        format!("{}user:{{{key}}}:rooms", self.prefix)
    }

    fn blocked_key(&self, key: &AccountKey) -> String {
        format!("{}user:{{{key}}}:blocked", self.prefix)
    }

    fn read_key(&self, key: &AccountKey) -> String {
        format!("{}user:{{{key}}}:read", self.prefix)
    }

    /// Releases `key`'s claim on `folded`, unless it is the claim on the user's own key.
    async fn release_claim(&self, key: &AccountKey, folded: &str) -> Result<(), AccountStoreError> {
        if folded == key.as_str() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let _: i64 = self.release.key(self.claim_key(folded)).arg(key.as_str()).invoke_async(&mut conn).await?;
        Ok(())
    }

    fn device_key(&self, token: &str) -> String {
        format!("{}device:{token}", self.prefix)
    }
}

#[async_trait]
impl AccountStore for RedisAccounts {
    async fn create(&self, key: &AccountKey, account: &Account) -> Result<bool, AccountStoreError> {
        let mut conn = self.conn.clone();
        let created: i64 = self
            .create
            .key(self.key(key))
            .key(self.claim_key(key.as_str()))
            .arg(&account.password_hash)
            .arg(&account.display)
            .arg(key.as_str())
            .arg(&account.name)
            .invoke_async(&mut conn)
            .await?;
        Ok(created == 1)
    }

    async fn find(&self, key: &AccountKey) -> Result<Option<Account>, AccountStoreError> {
        let mut conn = self.conn.clone();
        let (hash, display, generation, name): (Option<String>, Option<String>, Option<u64>, Option<String>) =
            redis::cmd("HMGET")
                .arg(self.key(key))
                .arg("hash")
                .arg("display")
                .arg("gen")
                .arg("name")
                .query_async(&mut conn)
                .await?;
        Ok(match (hash, display) {
            (Some(password_hash), Some(display)) => Some(Account {
                // Accounts made before the field existed: the key is the name.
                name: name.unwrap_or_else(|| key.to_string()),
                display,
                password_hash,
                generation: generation.unwrap_or(0),
            }),
            _ => None,
        })
    }

    async fn displays(&self, keys: &[AccountKey]) -> Result<Vec<Option<String>>, AccountStoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // One read per user, concurrently: on a cluster the users live on different nodes (a
        // pipeline must stay in one slot); on one server the connection pipelines them anyway.
        let reads = keys.iter().map(|key| {
            let mut conn = self.conn.clone();
            let hash = self.key(key);
            async move { redis::cmd("HGET").arg(hash).arg("display").query_async::<Option<String>>(&mut conn).await }
        });
        Ok(futures::future::try_join_all(reads).await?)
    }

    async fn rename(&self, key: &AccountKey, display: &str) -> Result<Rename, AccountStoreError> {
        // Names are claimed case-folded (ASCII), as the scripts always have.
        let folded = display.to_ascii_lowercase();
        let mut conn = self.conn.clone();
        let claimed: i64 = self.claim.key(self.claim_key(&folded)).arg(key.as_str()).invoke_async(&mut conn).await?;
        if claimed == 0 {
            return Ok(Rename::Taken);
        }
        let old: Option<String> = match self.set_display.key(self.key(key)).arg(display).invoke_async(&mut conn).await {
            Ok(old) => old,
            Err(err) => {
                self.release_claim(key, &folded).await?;
                return Err(err.into());
            }
        };
        let Some(old) = old else {
            self.release_claim(key, &folded).await?;
            return Ok(Rename::Unknown);
        };
        let old_folded = old.to_ascii_lowercase();
        if old_folded != folded {
            self.release_claim(key, &old_folded).await?;
        }
        Ok(Rename::Done(old))
    }

    async fn bump_generation(&self, key: &AccountKey) -> Result<u64, AccountStoreError> {
        let mut conn = self.conn.clone();
        Ok(self.bump.key(self.key(key)).invoke_async(&mut conn).await?)
    }

    async fn rooms(&self, key: &AccountKey) -> Result<Vec<String>, AccountStoreError> {
        let mut conn = self.conn.clone();
        let mut rooms: Vec<String> = redis::cmd("SMEMBERS").arg(self.rooms_key(key)).query_async(&mut conn).await?;
        rooms.sort();
        Ok(rooms)
    }

    async fn add_room(&self, key: &AccountKey, room: &str, max: usize) -> Result<RoomAdd, AccountStoreError> {
        let mut conn = self.conn.clone();
        let added: i64 = self.add_room.key(self.rooms_key(key)).arg(room).arg(max).invoke_async(&mut conn).await?;
        Ok(match added {
            2 => RoomAdd::Added,
            1 => RoomAdd::Present,
            _ => RoomAdd::Full,
        })
    }

    async fn set_blocked(&self, key: &AccountKey, other: &AccountKey, blocked: bool) -> Result<(), AccountStoreError> {
        let mut conn = self.conn.clone();
        let command = if blocked { "SADD" } else { "SREM" };
        Ok(redis::cmd(command).arg(self.blocked_key(key)).arg(other.as_str()).exec_async(&mut conn).await?)
    }

    async fn blocked(&self, key: &AccountKey) -> Result<Vec<String>, AccountStoreError> {
        let mut conn = self.conn.clone();
        let mut users: Vec<String> = redis::cmd("SMEMBERS").arg(self.blocked_key(key)).query_async(&mut conn).await?;
        users.sort();
        Ok(users)
    }

    async fn blocks(&self, key: &AccountKey, other: &AccountKey) -> Result<bool, AccountStoreError> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("SISMEMBER").arg(self.blocked_key(key)).arg(other.as_str()).query_async(&mut conn).await?)
    }

    async fn remove_room(&self, key: &AccountKey, room: &str) -> Result<bool, AccountStoreError> {
        let mut conn = self.conn.clone();
        let removed: i64 = redis::cmd("SREM").arg(self.rooms_key(key)).arg(room).query_async(&mut conn).await?;
        Ok(removed == 1)
    }

    async fn mark_read(&self, key: &AccountKey, room: &str, id: MessageId) -> Result<MessageId, AccountStoreError> {
        let mut conn = self.conn.clone();
        let now: String =
            self.mark_read.key(self.read_key(key)).arg(room).arg(id.to_string()).invoke_async(&mut conn).await?;
        Ok(MessageId::parse(&now).unwrap_or(id))
    }

    async fn read_positions(&self, key: &AccountKey) -> Result<Vec<(String, MessageId)>, AccountStoreError> {
        let mut conn = self.conn.clone();
        let all: Vec<(String, String)> = redis::cmd("HGETALL").arg(self.read_key(key)).query_async(&mut conn).await?;
        let mut positions: Vec<_> =
            all.into_iter().filter_map(|(room, id)| Some((room, MessageId::parse(&id).ok()?))).collect();
        positions.sort();
        Ok(positions)
    }

    async fn trust_device(
        &self,
        token: &str,
        key: &AccountKey,
        generation: u64,
        ttl: Duration,
    ) -> Result<(), AccountStoreError> {
        let mut conn = self.conn.clone();
        let ttl_secs = ttl.as_secs().max(1);
        let value = format!("{generation}:{key}");
        Ok(redis::cmd("SET")
            .arg(self.device_key(token))
            .arg(value)
            .arg("EX")
            .arg(ttl_secs)
            .exec_async(&mut conn)
            .await?)
    }

    async fn device(&self, token: &str) -> Result<Option<(AccountKey, u64)>, AccountStoreError> {
        let mut conn = self.conn.clone();
        let value: Option<String> = redis::cmd("GET").arg(self.device_key(token)).query_async(&mut conn).await?;
        Ok(value.and_then(|value| {
            let (generation, key) = value.split_once(':')?;
            Some((AccountKey::of(key), generation.parse().ok()?))
        }))
    }
}
