//! The message store on PostgreSQL or SQLite, one implementation for both.
//!
//! sqlx's `Any` driver picks the database from the URL; [`Dialect`] holds the little that
//! differs (schema, full-text search). Writes are idempotent by (room, id): recording a
//! message twice, or a change older than the one recorded, changes nothing, so the broker
//! may retry freely.

use std::path::Path;
use std::sync::{Arc, Once};
use std::time::Duration;

use async_trait::async_trait;
use protocol::{ChatMessage, Gap, MessageId, Revision, RoomName};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::{Executor, Row};
use tracing::{info, instrument, warn};

use super::dialect::Dialect;
use super::row::{self, COLUMNS, StoredRow, TOP};
use super::writer::Writer;
use super::{Catchup, MessageStore, Older, Retention, SearchTerms, StoreError, age_cutoff, migrations};
use crate::redact::redacted;

/// How long a statement may wait for a pooled connection before the store counts as down.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Transactions committing messages at once on PostgreSQL (see [`super::writer`]).
const WRITE_LANES: usize = 4;

/// How long an instance waits at start for its database to answer.
pub const START_PATIENCE: Duration = Duration::from_secs(30);

/// The name of the embedded store's file inside the data directory.
pub const SQLITE_FILE: &str = "history.sqlite3";

/// Messages on PostgreSQL or SQLite.
pub struct SqlStore {
    pub(super) pool: AnyPool,
    pub(super) dialect: Dialect,
    writer: Writer,
}

impl SqlStore {
    /// Connects to the database at `url` (`postgres://…` or `sqlite:…`) and brings its schema
    /// up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let dialect = Dialect::of_url(url).ok_or_else(|| StoreError::Open {
            path: redacted(url),
            source: Arc::new(sqlx::Error::Configuration("the URL must start with postgres:// or sqlite:".into())),
        })?;
        let pool = AnyPoolOptions::new()
            .max_connections(if dialect == Dialect::Sqlite { 4 } else { 16 })
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    let setup = match dialect {
                        Dialect::Sqlite => {
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;"
                        }
                        Dialect::Postgres => "SET statement_timeout = '10s'",
                    };
                    conn.execute(sqlx::raw_sql(setup)).await.map(|_| ())
                })
            })
            .connect(url)
            .await
            .map_err(|source| StoreError::Open { path: redacted(url), source: Arc::new(source) })?;
        let lanes = if dialect == Dialect::Sqlite { 1 } else { WRITE_LANES };
        let store = Self { writer: Writer::start(pool.clone(), lanes), pool, dialect };
        store.migrate().await?;
        Ok(store)
    }

    /// Like [`SqlStore::open`], waiting up to [`START_PATIENCE`] for a database that is still
    /// starting (instances and PostgreSQL started together); a schema too new fails at once.
    pub async fn open_patiently(url: &str) -> Result<Self, StoreError> {
        let deadline = tokio::time::Instant::now() + START_PATIENCE;
        loop {
            match Self::open(url).await {
                Err(err @ (StoreError::Open { .. } | StoreError::Unavailable(_)))
                    if tokio::time::Instant::now() < deadline =>
                {
                    warn!(%err, "message store not reachable yet; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                done => return done,
            }
        }
    }

    /// The embedded store: an SQLite file in `dir` (made if missing).
    pub async fn open_dir(dir: &Path) -> Result<Self, StoreError> {
        let shown = dir.display().to_string();
        std::fs::create_dir_all(dir)
            .map_err(|err| StoreError::Open { path: shown.clone(), source: Arc::new(sqlx::Error::Io(err)) })?;
        let dir = dir
            .canonicalize()
            .map_err(|err| StoreError::Open { path: shown, source: Arc::new(sqlx::Error::Io(err)) })?;
        let file = dir.join(SQLITE_FILE);
        Self::open(&format!("sqlite://{}?mode=rwc", file.display())).await
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Applies the migrations the database lacks, or refuses a schema newer than this build.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        tx.execute(sqlx::raw_sql("CREATE TABLE IF NOT EXISTS switchboard_schema (version bigint NOT NULL)")).await?;
        if let Some(lock) = self.dialect.migration_lock() {
            tx.execute(sqlx::raw_sql(lock)).await?;
        }
        let found: Option<i64> = sqlx::query("SELECT max(version) AS version FROM switchboard_schema")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let found = found.unwrap_or(0);
        let pending = migrations::pending(found, self.dialect.migrations())?;
        for migration in pending {
            tx.execute(sqlx::raw_sql(migration)).await?;
        }
        if !pending.is_empty() {
            let now = migrations::after(found, pending.len());
            tx.execute(sqlx::raw_sql("DELETE FROM switchboard_schema")).await?;
            sqlx::query("INSERT INTO switchboard_schema (version) VALUES ($1)").bind(now).execute(&mut *tx).await?;
            info!(from = found, to = now, dialect = ?self.dialect, "message store schema migrated");
        }
        tx.commit().await?;
        Ok(())
    }

    /// The text column of every row `sql` selects with `$1` bound to `arg`.
    pub(super) async fn strings(&self, sql: &str, arg: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(sql).bind(arg).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|row| row.try_get(0)).collect::<Result<_, _>>()?)
    }

    /// Marks as removed, per room, everything at or below an id that retention no longer keeps.
    async fn mark(&self, retention: Retention, now_ms: u64) -> Result<(), StoreError> {
        const UPSERT: &str = " ON CONFLICT (room) DO UPDATE SET ms = excluded.ms, seq = excluded.seq \
             WHERE (retention_marks.ms, retention_marks.seq) < (excluded.ms, excluded.seq)";
        if let Some(age) = retention.max_age {
            // Every message stored before the cut goes: the mark is the last id before it.
            let (cut, _) = row::id_columns(age_cutoff(age, now_ms));
            let sql = format!(
                "INSERT INTO retention_marks (room, ms, seq) SELECT DISTINCT room, $1, $2 FROM messages WHERE ms < $3{UPSERT}"
            );
            sqlx::query(&sql).bind(cut - 1).bind(i64::MAX).bind(cut).execute(&self.pool).await?;
        }
        if let Some(count) = retention.max_messages {
            let sql = format!(
                "INSERT INTO retention_marks (room, ms, seq) SELECT room, ms, seq FROM (SELECT room, ms, seq, \
                 row_number() OVER (PARTITION BY room ORDER BY ms DESC, seq DESC) AS n FROM messages) ranked \
                 WHERE n = $1{UPSERT}"
            );
            let first_gone = i64::try_from(count).unwrap_or(i64::MAX).saturating_add(1);
            sqlx::query(&sql).bind(first_gone).execute(&self.pool).await?;
        }
        Ok(())
    }

    async fn messages(
        &self,
        sql: &str,
        room: &RoomName,
        at: (i64, i64),
        limit: usize,
    ) -> Result<Vec<StoredRow>, StoreError> {
        let (ms, seq) = at;
        let rows = sqlx::query(sql)
            .bind(room.as_str())
            .bind(ms)
            .bind(seq)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        row::read_all(&rows)
    }
}

#[async_trait]
impl MessageStore for SqlStore {
    #[instrument(skip_all, fields(room = %message.room))]
    async fn record(&self, message: ChatMessage) -> Result<(), StoreError> {
        self.writer.record(message).await
    }

    #[instrument(skip_all, fields(room = %room))]
    async fn revise(&self, room: &RoomName, at: MessageId, revision: &Revision) -> Result<(), StoreError> {
        let (ms, seq) = row::id_columns(revision.target);
        let (at_ms, at_seq) = row::id_columns(at);
        sqlx::query(
            "UPDATE messages SET body = CASE WHEN $4 = 1 THEN '' WHEN $5 = 1 THEN $6 ELSE body END, \
             edited = $7, deleted = $4, reactions = $8, changed_ms = $9, changed_seq = $10 \
             WHERE room = $1 AND ms = $2 AND seq = $3 \
             AND (changed_ms IS NULL OR (changed_ms, changed_seq) < ($9, $10))",
        )
        .bind(room.as_str())
        .bind(ms)
        .bind(seq)
        .bind(i64::from(revision.deleted))
        .bind(i64::from(revision.text.is_some()))
        .bind(revision.text.clone().unwrap_or_default())
        .bind(i64::try_from(revision.edited).unwrap_or(0))
        .bind(if revision.deleted { "{}".to_owned() } else { row::reactions_json(&revision.reactions) })
        .bind(at_ms)
        .bind(at_seq)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[instrument(skip(self), fields(room = %room))]
    async fn older(&self, room: &RoomName, before: Option<MessageId>, limit: usize) -> Result<Older, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE room = $1 AND (ms, seq) < ($2, $3) ORDER BY ms DESC, seq DESC LIMIT $4"
        );
        let before = before.map_or(TOP, row::id_columns);
        let mut rows = self.messages(&sql, room, before, limit.saturating_add(1)).await?;
        let complete = rows.len() <= limit;
        rows.truncate(limit);
        let mut messages: Vec<ChatMessage> = rows.into_iter().map(|r| r.message).collect();
        messages.reverse();
        Ok(Older { messages, complete })
    }

    #[instrument(skip(self), fields(room = %room))]
    async fn newer(&self, room: &RoomName, after: MessageId, limit: usize) -> Result<Vec<ChatMessage>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE room = $1 AND (ms, seq) > ($2, $3) ORDER BY ms, seq LIMIT $4"
        );
        let rows = self.messages(&sql, room, row::id_columns(after), limit).await?;
        Ok(rows.into_iter().map(|r| r.message).collect())
    }

    #[instrument(skip(self), fields(room = %room))]
    async fn catch_up(&self, room: &RoomName, after: MessageId, limit: usize) -> Result<Catchup, StoreError> {
        // The newest `limit` after `after`: a client away longer than that gets the latest
        // conversation and an explicit gap before it, never a silent hole before the live tail.
        let newer = format!(
            "SELECT {COLUMNS} FROM messages WHERE room = $1 AND (ms, seq) > ($2, $3) ORDER BY ms DESC, seq DESC LIMIT $4"
        );
        let changed = format!(
            "SELECT {COLUMNS} FROM messages WHERE room = $1 AND (ms, seq) <= ($2, $3) \
             AND changed_ms IS NOT NULL AND (changed_ms, changed_seq) > ($2, $3) ORDER BY changed_ms, changed_seq LIMIT $4"
        );
        let at = row::id_columns(after);
        let mut newest = self.messages(&newer, room, at, limit.saturating_add(1)).await?;
        let skipped = newest.len() > limit;
        newest.truncate(limit);
        let messages: Vec<ChatMessage> = newest.into_iter().rev().map(|r| r.message).collect();
        let revisions = self
            .messages(&changed, room, at, limit)
            .await?
            .iter()
            .filter_map(|r| r.changed.map(|at| (at, r.revision())))
            .collect();
        let mark = sqlx::query("SELECT ms, seq FROM retention_marks WHERE room = $1")
            .bind(room.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let removed = match mark {
            Some(mark) => Some(row::id_of(mark.try_get("ms")?, mark.try_get("seq")?)?).filter(|&until| until > after),
            None => None,
        };
        let not_replayed = messages.first().filter(|_| skipped).map(|first| first.id.predecessor());
        let gap = removed.max(not_replayed).map(|until| Gap { after, until });
        Ok(Catchup { messages, revisions, gap })
    }

    #[instrument(skip(self, rooms), fields(rooms = rooms.len()))]
    async fn search(
        &self,
        rooms: &[RoomName],
        terms: &SearchTerms,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, StoreError> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<&str> = rooms.iter().map(RoomName::as_str).collect();
        let rows = sqlx::query(self.dialect.search())
            .bind(serde_json::to_string(&names).unwrap_or_else(|_| "[]".to_owned()))
            .bind(self.dialect.query_text(terms))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        Ok(row::read_all(&rows)?.into_iter().map(|r| r.message).collect())
    }

    #[instrument(skip(self))]
    async fn prune(&self, retention: Retention, now_ms: u64) -> Result<u64, StoreError> {
        if retention.keeps_forever() {
            return Ok(0);
        }
        self.mark(retention, now_ms).await?;
        let gone = sqlx::query(
            "DELETE FROM messages WHERE EXISTS (SELECT 1 FROM retention_marks r \
             WHERE r.room = messages.room AND (messages.ms, messages.seq) <= (r.ms, r.seq))",
        )
        .execute(&self.pool)
        .await?;
        Ok(gone.rows_affected())
    }
}
