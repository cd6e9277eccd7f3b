//! Accounts in Redis: one hash per user, `{p}user:<name>` with fields `hash`
//! and `display`. Creation is one script so two instances registering the same
//! name at once cannot both succeed.

use async_trait::async_trait;
use redis::aio::ConnectionManager;

use super::{Account, AccountStore, AccountStoreError};

const CREATE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'display', ARGV[2], 'gen', 0)
return 1
"#;

/// Accounts stored in Redis.
pub struct RedisAccounts {
    conn: ConnectionManager,
    prefix: String,
    create: redis::Script,
}

impl RedisAccounts {
    /// Accounts under `prefix` on `conn`.
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self { conn, prefix: prefix.to_owned(), create: redis::Script::new(CREATE) }
    }

    fn key(&self, name: &str) -> String {
        format!("{}user:{name}", self.prefix)
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
            .arg(&account.password_hash)
            .arg(&account.display)
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
