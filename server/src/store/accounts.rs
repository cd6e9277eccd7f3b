//! Accounts in the database: what a Redis that lost its data must not take with it.
//!
//! The same [`AccountStore`] contract as the memory and Redis stores
//! (`tests/accounts_contract.rs` runs on PostgreSQL and SQLite too). Names are claimed in
//! `name_claims` (the case-folded name is its primary key, so two users can never hold one);
//! a rename claims the new name and releases the old in one transaction; read positions only
//! move forwards (an upsert whose `WHERE` compares the ids); a room list's cap is checked under
//! the account's row lock (PostgreSQL), or SQLite's single writer.

use std::time::Duration;

use async_trait::async_trait;
use protocol::MessageId;
use sqlx::{Executor, Row};

use super::StoreError;
use super::row::{id_columns, id_of};
use super::sql::SqlStore;
use crate::accounts::{Account, AccountKey, AccountStore, AccountStoreError, Rename, RoomAdd};
use crate::broker::now_ms;

fn failed(err: impl Into<StoreError>) -> AccountStoreError {
    AccountStoreError::Store(err.into())
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn create(&self, key: &AccountKey, account: &Account) -> Result<bool, AccountStoreError> {
        let mut tx = self.pool.begin().await.map_err(failed)?;
        let claimed =
            sqlx::query("INSERT INTO name_claims (folded, account) VALUES ($1, $1) ON CONFLICT (folded) DO NOTHING")
                .bind(key.as_str())
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        if claimed.rows_affected() == 0 {
            let owner: String = sqlx::query("SELECT account FROM name_claims WHERE folded = $1")
                .bind(key.as_str())
                .fetch_one(&mut *tx)
                .await
                .and_then(|row| row.try_get(0))
                .map_err(failed)?;
            if owner != key.as_str() {
                return Ok(false);
            }
        }
        let created = sqlx::query(
            "INSERT INTO accounts (account, name, display, password_hash, generation) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (account) DO NOTHING",
        )
        .bind(key.as_str())
        .bind(account.name.as_str())
        .bind(account.display.as_str())
        .bind(account.password_hash.as_str())
        .bind(i64::try_from(account.generation).unwrap_or(0))
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        if created.rows_affected() == 0 {
            return Ok(false);
        }
        tx.commit().await.map_err(failed)?;
        Ok(true)
    }

    async fn find(&self, key: &AccountKey) -> Result<Option<Account>, AccountStoreError> {
        let row = sqlx::query("SELECT name, display, password_hash, generation FROM accounts WHERE account = $1")
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?;
        let Some(row) = row else { return Ok(None) };
        let generation: i64 = row.try_get("generation").map_err(failed)?;
        Ok(Some(Account {
            name: row.try_get("name").map_err(failed)?,
            display: row.try_get("display").map_err(failed)?,
            password_hash: row.try_get("password_hash").map_err(failed)?,
            generation: u64::try_from(generation).unwrap_or(0),
        }))
    }

    async fn displays(&self, keys: &[AccountKey]) -> Result<Vec<Option<String>>, AccountStoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<&str> = keys.iter().map(AccountKey::as_str).collect();
        let sql = format!("SELECT account, display FROM accounts WHERE account IN ({})", self.dialect.json_values(1));
        let rows = sqlx::query(&sql)
            .bind(serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned()))
            .fetch_all(&self.pool)
            .await
            .map_err(failed)?;
        let mut found = std::collections::HashMap::new();
        for row in rows {
            let account: String = row.try_get(0).map_err(failed)?;
            let display: String = row.try_get(1).map_err(failed)?;
            found.insert(account, display);
        }
        Ok(keys.iter().map(|key| found.get(key.as_str()).cloned()).collect())
    }

    async fn rename(&self, key: &AccountKey, display: &str) -> Result<Rename, AccountStoreError> {
        let mut tx = self.pool.begin().await.map_err(failed)?;
        if let Some(lock) = self.dialect.lock_account() {
            sqlx::query(lock).bind(key.as_str()).execute(&mut *tx).await.map_err(failed)?;
        }
        let old = sqlx::query("SELECT display FROM accounts WHERE account = $1")
            .bind(key.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed)?;
        let Some(old) = old else { return Ok(Rename::Unknown) };
        let old: String = old.try_get(0).map_err(failed)?;
        let folded = AccountKey::of(display);
        sqlx::query("INSERT INTO name_claims (folded, account) VALUES ($1, $2) ON CONFLICT (folded) DO NOTHING")
            .bind(folded.as_str())
            .bind(key.as_str())
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        let owner: String = sqlx::query("SELECT account FROM name_claims WHERE folded = $1")
            .bind(folded.as_str())
            .fetch_one(&mut *tx)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(failed)?;
        if owner != key.as_str() {
            return Ok(Rename::Taken);
        }
        let old_folded = AccountKey::of(&old);
        if old_folded != *key && old_folded != folded {
            sqlx::query("DELETE FROM name_claims WHERE folded = $1 AND account = $2")
                .bind(old_folded.as_str())
                .bind(key.as_str())
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        sqlx::query("UPDATE accounts SET display = $2 WHERE account = $1")
            .bind(key.as_str())
            .bind(display)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(Rename::Done(old))
    }

    async fn bump_generation(&self, key: &AccountKey) -> Result<u64, AccountStoreError> {
        let row =
            sqlx::query("UPDATE accounts SET generation = generation + 1 WHERE account = $1 RETURNING generation")
                .bind(key.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(failed)?;
        let generation: i64 = match row {
            Some(row) => row.try_get(0).map_err(failed)?,
            None => 0,
        };
        Ok(u64::try_from(generation).unwrap_or(0))
    }

    async fn rooms(&self, key: &AccountKey) -> Result<Vec<String>, AccountStoreError> {
        self.strings("SELECT room FROM room_lists WHERE account = $1 ORDER BY room", key.as_str()).await.map_err(failed)
    }

    async fn add_room(&self, key: &AccountKey, room: &str, max: usize) -> Result<RoomAdd, AccountStoreError> {
        let mut tx = self.pool.begin().await.map_err(failed)?;
        if let Some(lock) = self.dialect.lock_account() {
            sqlx::query(lock).bind(key.as_str()).execute(&mut *tx).await.map_err(failed)?;
        }
        let listed = sqlx::query(
            "SELECT count(*) AS n, sum(CASE WHEN room = $2 THEN 1 ELSE 0 END) AS here FROM room_lists WHERE account = $1",
        )
        .bind(key.as_str())
        .bind(room)
        .fetch_one(&mut *tx)
        .await
        .map_err(failed)?;
        let n: i64 = listed.try_get("n").map_err(failed)?;
        let here: Option<i64> = listed.try_get("here").map_err(failed)?;
        if here.unwrap_or(0) > 0 {
            return Ok(RoomAdd::Present);
        }
        if n >= count(max) {
            return Ok(RoomAdd::Full);
        }
        sqlx::query("INSERT INTO room_lists (account, room) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(key.as_str())
            .bind(room)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(RoomAdd::Added)
    }

    async fn remove_room(&self, key: &AccountKey, room: &str) -> Result<bool, AccountStoreError> {
        let gone = sqlx::query("DELETE FROM room_lists WHERE account = $1 AND room = $2")
            .bind(key.as_str())
            .bind(room)
            .execute(&self.pool)
            .await
            .map_err(failed)?;
        Ok(gone.rows_affected() > 0)
    }

    async fn set_blocked(&self, key: &AccountKey, other: &AccountKey, blocked: bool) -> Result<(), AccountStoreError> {
        let sql = if blocked {
            "INSERT INTO blocks (account, other) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM blocks WHERE account = $1 AND other = $2"
        };
        let query = sqlx::query(sql).bind(key.as_str()).bind(other.as_str());
        self.pool.execute(query).await.map_err(failed)?;
        Ok(())
    }

    async fn blocked(&self, key: &AccountKey) -> Result<Vec<String>, AccountStoreError> {
        self.strings("SELECT other FROM blocks WHERE account = $1 ORDER BY other", key.as_str()).await.map_err(failed)
    }

    async fn blocks(&self, key: &AccountKey, other: &AccountKey) -> Result<bool, AccountStoreError> {
        let row = sqlx::query("SELECT 1 FROM blocks WHERE account = $1 AND other = $2")
            .bind(key.as_str())
            .bind(other.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?;
        Ok(row.is_some())
    }

    async fn mark_read(&self, key: &AccountKey, room: &str, id: MessageId) -> Result<MessageId, AccountStoreError> {
        let (ms, seq) = id_columns(id);
        sqlx::query(
            "INSERT INTO read_positions (account, room, ms, seq) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account, room) DO UPDATE SET ms = excluded.ms, seq = excluded.seq \
             WHERE (read_positions.ms, read_positions.seq) < (excluded.ms, excluded.seq)",
        )
        .bind(key.as_str())
        .bind(room)
        .bind(ms)
        .bind(seq)
        .execute(&self.pool)
        .await
        .map_err(failed)?;
        let row = sqlx::query("SELECT ms, seq FROM read_positions WHERE account = $1 AND room = $2")
            .bind(key.as_str())
            .bind(room)
            .fetch_one(&self.pool)
            .await
            .map_err(failed)?;
        id_of(row.try_get(0).map_err(failed)?, row.try_get(1).map_err(failed)?).map_err(failed)
    }

    async fn read_positions(&self, key: &AccountKey) -> Result<Vec<(String, MessageId)>, AccountStoreError> {
        let rows = sqlx::query("SELECT room, ms, seq FROM read_positions WHERE account = $1 ORDER BY room")
            .bind(key.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(failed)?;
        rows.iter()
            .map(|row| {
                let id = id_of(row.try_get(1)?, row.try_get(2)?)?;
                Ok((row.try_get(0)?, id))
            })
            .collect::<Result<_, StoreError>>()
            .map_err(failed)
    }

    async fn trust_device(
        &self,
        token: &str,
        key: &AccountKey,
        generation: u64,
        ttl: Duration,
    ) -> Result<(), AccountStoreError> {
        let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
        let until = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        sqlx::query("DELETE FROM devices WHERE until_ms <= $1").bind(now).execute(&self.pool).await.map_err(failed)?;
        sqlx::query(
            "INSERT INTO devices (token, account, generation, until_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (token) DO UPDATE SET account = excluded.account, generation = excluded.generation, \
             until_ms = excluded.until_ms",
        )
        .bind(token)
        .bind(key.as_str())
        .bind(i64::try_from(generation).unwrap_or(0))
        .bind(until)
        .execute(&self.pool)
        .await
        .map_err(failed)?;
        Ok(())
    }

    async fn device(&self, token: &str) -> Result<Option<(AccountKey, u64)>, AccountStoreError> {
        let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
        let row = sqlx::query("SELECT account, generation FROM devices WHERE token = $1 AND until_ms > $2")
            .bind(token)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?;
        let Some(row) = row else { return Ok(None) };
        let account: String = row.try_get(0).map_err(failed)?;
        let generation: i64 = row.try_get(1).map_err(failed)?;
        Ok(Some((AccountKey::of(&account), u64::try_from(generation).unwrap_or(0))))
    }
}
