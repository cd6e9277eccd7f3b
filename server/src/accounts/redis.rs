//! Accounts in Redis: one hash per user, `{p}user:<name>` with fields `hash`,
//! `display` and `gen`, and `{p}names`, the claims on case-folded names. Creation
//! and renaming are one script each, so two instances claiming the same name at
//! once cannot both succeed, and a rename never loses a concurrent write to
//! another field of the user.

use async_trait::async_trait;
use redis::aio::ConnectionManager;

use super::{Account, AccountStore, AccountStoreError, Rename};

const CREATE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local owner = redis.call('HGET', KEYS[2], ARGV[3])
if owner and owner ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'display', ARGV[2], 'gen', 0)
redis.call('HSET', KEYS[2], ARGV[3], ARGV[3])
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
}

impl RedisAccounts {
    /// Accounts under `prefix` on `conn`.
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self { conn, prefix: prefix.to_owned(), create: redis::Script::new(CREATE), rename: redis::Script::new(RENAME) }
    }

    fn key(&self, name: &str) -> String {
        format!("{}user:{name}", self.prefix)
    }

    fn claims_key(&self) -> String {
        format!("{}names", self.prefix)
    }

    fn rooms_key(&self, name: &str) -> String {
        format!("{}user:{name}:rooms", self.prefix)
    }
}

#[async_trait]
impl AccountStore for RedisAccounts {
    async fn create(&self, key: &str, account: &Account) -> Result<bool, AccountStoreError> {
        let mut conn = self.conn.clone();
        let created: i64 = self
            .create
            .key(self.key(key))
            .key(self.claims_key())
            .arg(&account.password_hash)
            .arg(&account.display)
            .arg(key)
            .invoke_async(&mut conn)
            .await?;
        Ok(created == 1)
    }

    async fn find(&self, key: &str) -> Result<Option<Account>, AccountStoreError> {
        let mut conn = self.conn.clone();
        let (hash, display, generation): (Option<String>, Option<String>, Option<u64>) =
            redis::cmd("HMGET").arg(self.key(key)).arg("hash").arg("display").arg("gen").query_async(&mut conn).await?;
        Ok(match (hash, display) {
            (Some(password_hash), Some(display)) => {
                Some(Account { display, password_hash, generation: generation.unwrap_or(0) })
            }
            _ => None,
        })
    }

    async fn rename(&self, key: &str, display: &str) -> Result<Rename, AccountStoreError> {
        let mut conn = self.conn.clone();
        let (outcome, old): (i64, String) =
            self.rename.key(self.key(key)).key(self.claims_key()).arg(display).arg(key).invoke_async(&mut conn).await?;
        Ok(match outcome {
            0 => Rename::Done(old),
            1 => Rename::Taken,
            _ => Rename::Unknown,
        })
    }

    async fn bump_generation(&self, key: &str) -> Result<u64, AccountStoreError> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("HINCRBY").arg(self.key(key)).arg("gen").arg(1).query_async(&mut conn).await?)
    }

    async fn rooms(&self, key: &str) -> Result<Vec<String>, AccountStoreError> {
        let mut conn = self.conn.clone();
        let mut rooms: Vec<String> = redis::cmd("SMEMBERS").arg(self.rooms_key(key)).query_async(&mut conn).await?;
        rooms.sort();
        Ok(rooms)
    }

    async fn add_room(&self, key: &str, room: &str) -> Result<(), AccountStoreError> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("SADD").arg(self.rooms_key(key)).arg(room).exec_async(&mut conn).await?)
    }

    async fn remove_room(&self, key: &str, room: &str) -> Result<(), AccountStoreError> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("SREM").arg(self.rooms_key(key)).arg(room).exec_async(&mut conn).await?)
    }
}
