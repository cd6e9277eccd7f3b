//! Accounts in Redis: one hash per user, `{p}user:<name>` with fields `hash`,
//! `name` (as registered), `display` and `gen`; `{p}names`, the claims on
//! case-folded names; `{p}user:<name>:rooms`, the user's rooms (capped in the
//! script that adds one); `{p}device:<token>`, a trusted device (key and
//! generation, with a TTL). Creation
//! and renaming are one script each, so two instances claiming the same name at
//! once cannot both succeed, and a rename never loses a concurrent write to
//! another field of the user.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;

use super::{Account, AccountKey, AccountStore, AccountStoreError, Rename};

const CREATE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local owner = redis.call('HGET', KEYS[2], ARGV[3])
if owner and owner ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'display', ARGV[2], 'gen', 0, 'name', ARGV[4])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[3])
return 1
"#;

/// Bumps the generation of an existing account only: an unknown key must not become a stray
/// hash (which would then block registering that name).
const BUMP_GENERATION: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'gen', 1)
"#;

const ADD_ROOM: &str = r#"
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
return 1
"#;

const RENAME: &str = r#"
local old = redis.call('HGET', KEYS[1], 'display')
if not old then return {2, ''} end
local folded = string.lower(ARGV[1])
local owner = redis.call('HGET', KEYS[2], folded)
if owner and owner ~= ARGV[2] then return {1, ''} end
local old_folded = string.lower(old)
if old_folded ~= ARGV[2] and old_folded ~= folded then redis.call('HDEL', KEYS[2], old_folded) end
redis.call('HSET', KEYS[2], folded, ARGV[2])
redis.call('HSET', KEYS[1], 'display', ARGV[1])
return {0, old}
"#;

/// Accounts stored in Redis.
pub struct RedisAccounts {
    conn: ConnectionManager,
    prefix: String,
    create: redis::Script,
    rename: redis::Script,
    add_room: redis::Script,
    bump: redis::Script,
}

impl RedisAccounts {
    /// Accounts under `prefix` on `conn`.
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
            create: redis::Script::new(CREATE),
            rename: redis::Script::new(RENAME),
            add_room: redis::Script::new(ADD_ROOM),
            bump: redis::Script::new(BUMP_GENERATION),
        }
    }

    fn key(&self, key: &AccountKey) -> String {
        format!("{}user:{key}", self.prefix)
    }

    fn claims_key(&self) -> String {
        format!("{}names", self.prefix)
    }

    fn rooms_key(&self, key: &AccountKey) -> String {
        format!("{}user:{key}:rooms", self.prefix)
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
            .key(self.claims_key())
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
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("HGET").arg(self.key(key)).arg("display");
        }
        let mut conn = self.conn.clone();
        Ok(pipe.query_async(&mut conn).await?)
    }

    async fn rename(&self, key: &AccountKey, display: &str) -> Result<Rename, AccountStoreError> {
        let mut conn = self.conn.clone();
        let (outcome, old): (i64, String) = self
            .rename
            .key(self.key(key))
            .key(self.claims_key())
            .arg(display)
            .arg(key.as_str())
            .invoke_async(&mut conn)
            .await?;
        Ok(match outcome {
            0 => Rename::Done(old),
            1 => Rename::Taken,
            _ => Rename::Unknown,
        })
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

    async fn add_room(&self, key: &AccountKey, room: &str, max: usize) -> Result<bool, AccountStoreError> {
        let mut conn = self.conn.clone();
        let added: i64 = self.add_room.key(self.rooms_key(key)).arg(room).arg(max).invoke_async(&mut conn).await?;
        Ok(added == 1)
    }

    async fn remove_room(&self, key: &AccountKey, room: &str) -> Result<(), AccountStoreError> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("SREM").arg(self.rooms_key(key)).arg(room).exec_async(&mut conn).await?)
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
