//! Private rooms, their members and the public directory in the database, under the same
//! [`RoomStore`] contract as the memory and Redis stores (`tests/rooms_contract.rs`).

use async_trait::async_trait;
use protocol::{AccountKey, RoomName};
use sqlx::Row;

use super::sql::SqlStore;
use crate::rooms::{RoomStore, RoomStoreError};

fn failed(err: sqlx::Error) -> RoomStoreError {
    RoomStoreError::Store(err.into())
}

#[async_trait]
impl RoomStore for SqlStore {
    async fn create(&self, room: &RoomName, owner: &AccountKey) -> Result<bool, RoomStoreError> {
        let mut tx = self.pool.begin().await.map_err(failed)?;
        let made = sqlx::query("INSERT INTO private_rooms (room, owner) VALUES ($1, $2) ON CONFLICT (room) DO NOTHING")
            .bind(room.as_str())
            .bind(owner.as_str())
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        if made.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO room_members (room, account) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(room.as_str())
            .bind(owner.as_str())
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(true)
    }

    async fn owner(&self, room: &RoomName) -> Result<Option<AccountKey>, RoomStoreError> {
        let row = sqlx::query("SELECT owner FROM private_rooms WHERE room = $1")
            .bind(room.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?;
        match row {
            Some(row) => Ok(Some(AccountKey::of(&row.try_get::<String, _>(0).map_err(failed)?))),
            None => Ok(None),
        }
    }

    async fn is_member(&self, room: &RoomName, key: &AccountKey) -> Result<bool, RoomStoreError> {
        let row = sqlx::query("SELECT 1 FROM room_members WHERE room = $1 AND account = $2")
            .bind(room.as_str())
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?;
        Ok(row.is_some())
    }

    async fn add_member(&self, room: &RoomName, key: &AccountKey) -> Result<bool, RoomStoreError> {
        let mut tx = self.pool.begin().await.map_err(failed)?;
        let exists = sqlx::query("SELECT 1 FROM private_rooms WHERE room = $1")
            .bind(room.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed)?
            .is_some();
        if exists {
            sqlx::query("INSERT INTO room_members (room, account) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(room.as_str())
                .bind(key.as_str())
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)?;
        Ok(exists)
    }

    async fn remove_member(&self, room: &RoomName, key: &AccountKey) -> Result<bool, RoomStoreError> {
        let gone = sqlx::query("DELETE FROM room_members WHERE room = $1 AND account = $2")
            .bind(room.as_str())
            .bind(key.as_str())
            .execute(&self.pool)
            .await
            .map_err(failed)?;
        Ok(gone.rows_affected() > 0)
    }

    async fn members(&self, room: &RoomName) -> Result<Vec<String>, RoomStoreError> {
        self.strings("SELECT account FROM room_members WHERE room = $1 ORDER BY account", room.as_str())
            .await
            .map_err(RoomStoreError::Store)
    }

    async fn count_public(&self, room: &RoomName, delta: i64) -> Result<(), RoomStoreError> {
        let mut tx = self.pool.begin().await.map_err(failed)?;
        sqlx::query(
            "INSERT INTO directory (room, holders) VALUES ($1, $2) \
             ON CONFLICT (room) DO UPDATE SET holders = directory.holders + excluded.holders",
        )
        .bind(room.as_str())
        .bind(delta)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        sqlx::query("DELETE FROM directory WHERE room = $1 AND holders <= 0")
            .bind(room.as_str())
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(())
    }

    async fn public_rooms(&self, limit: usize) -> Result<Vec<String>, RoomStoreError> {
        let rows = sqlx::query("SELECT room FROM directory ORDER BY holders DESC, room DESC LIMIT $1")
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(failed)?;
        rows.iter().map(|row| row.try_get(0)).collect::<Result<_, _>>().map_err(failed)
    }
}
