//! A tower-sessions [`SessionStore`] on the `redis` crate.
//!
//! Records are JSON under `{p}session:<id>` with a TTL equal to the time left
//! until the record's expiry, so Redis forgets expired sessions by itself.
//! `create` uses `SET NX` (a colliding id is regenerated, never overwritten) and
//! `save` uses `SET XX`: a request that was in flight while the user logged out
//! cannot write the deleted session back (the "logout undone" race).

use crate::redis_conn::RedisConn;
use async_trait::async_trait;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// Sessions in Redis, shared by every instance.
#[derive(Clone)]
pub struct RedisSessionStore {
    conn: RedisConn,
    prefix: String,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

fn backend(err: redis::RedisError) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

/// Seconds until `expiry`, at least one.
fn ttl_secs(expiry: OffsetDateTime) -> u64 {
    u64::try_from((expiry - OffsetDateTime::now_utc()).whole_seconds()).unwrap_or(0).max(1)
}

impl RedisSessionStore {
    /// Sessions under `prefix` on `conn`.
    pub fn new(conn: RedisConn, prefix: &str) -> Self {
        Self { conn, prefix: prefix.to_owned() }
    }

    fn key(&self, id: &Id) -> String {
        format!("{}session:{id}", self.prefix)
    }

    /// Counts one page load of session `id` under `{p}session:<id>:loads` (kept 30 days).
    pub async fn count_load(&self, id: &str) -> session_store::Result<u64> {
        let mut conn = self.conn.clone();
        let key = format!("{}session:{id}:loads", self.prefix);
        let (count,): (u64,) = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(&key)
            .cmd("EXPIRE")
            .arg(&key)
            .arg(30 * 24 * 3600)
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(backend)?;
        Ok(count)
    }

    /// Writes the record with `NX` or `XX`; returns whether Redis wrote it.
    async fn write(&self, record: &Record, condition: &str) -> session_store::Result<bool> {
        let json = serde_json::to_string(record).map_err(|err| session_store::Error::Encode(err.to_string()))?;
        let mut conn = self.conn.clone();
        let written: Option<String> = redis::cmd("SET")
            .arg(self.key(&record.id))
            .arg(json)
            .arg(condition)
            .arg("EX")
            .arg(ttl_secs(record.expiry_date))
            .query_async(&mut conn)
            .await
            .map_err(backend)?;
        Ok(written.is_some())
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        while !self.write(record, "NX").await? {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        // XX: never resurrect a session that was deleted (logout) or has expired.
        self.write(record, "XX").await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let mut conn = self.conn.clone();
        let json: Option<String> = redis::cmd("GET").arg(self.key(id)).query_async(&mut conn).await.map_err(backend)?;
        json.map(|json| serde_json::from_str(&json).map_err(|err| session_store::Error::Decode(err.to_string())))
            .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL").arg(self.key(id)).exec_async(&mut conn).await.map_err(backend)
    }
}
