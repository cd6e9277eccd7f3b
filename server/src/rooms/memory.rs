//! Room records in process memory, for the single-instance mode.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use protocol::{AccountKey, RoomName};

use super::{RoomStore, RoomStoreError};

/// A private room: its creator and members.
struct Private {
    owner: AccountKey,
    members: BTreeSet<String>,
}

/// Room records kept in maps; they vanish with the process.
#[derive(Default)]
pub struct MemoryRooms {
    private: Mutex<HashMap<RoomName, Private>>,
    directory: Mutex<HashMap<String, i64>>,
}

impl MemoryRooms {
    fn with_private<T>(&self, room: &RoomName, read: impl FnOnce(Option<&mut Private>) -> T) -> T {
        read(self.private.lock().unwrap_or_else(PoisonError::into_inner).get_mut(room))
    }
}

#[async_trait]
impl RoomStore for MemoryRooms {
    async fn create(&self, room: &RoomName, owner: &AccountKey) -> Result<bool, RoomStoreError> {
        let mut private = self.private.lock().unwrap_or_else(PoisonError::into_inner);
        if private.contains_key(room) {
            return Ok(false);
        }
        let members = BTreeSet::from([owner.to_string()]);
        private.insert(room.clone(), Private { owner: owner.clone(), members });
        Ok(true)
    }

    async fn owner(&self, room: &RoomName) -> Result<Option<AccountKey>, RoomStoreError> {
        Ok(self.with_private(room, |room| room.map(|room| room.owner.clone())))
    }

    async fn is_member(&self, room: &RoomName, key: &AccountKey) -> Result<bool, RoomStoreError> {
        Ok(self.with_private(room, |room| room.is_some_and(|room| room.members.contains(key.as_str()))))
    }

    async fn add_member(&self, room: &RoomName, key: &AccountKey) -> Result<bool, RoomStoreError> {
        Ok(self.with_private(room, |room| room.map(|room| room.members.insert(key.to_string())).is_some()))
    }

    async fn remove_member(&self, room: &RoomName, key: &AccountKey) -> Result<bool, RoomStoreError> {
        Ok(self.with_private(room, |room| room.is_some_and(|room| room.members.remove(key.as_str()))))
    }

    async fn members(&self, room: &RoomName) -> Result<Vec<String>, RoomStoreError> {
        Ok(self.with_private(room, |room| room.map(|room| room.members.iter().cloned().collect()).unwrap_or_default()))
    }

    async fn count_public(&self, room: &RoomName, delta: i64) -> Result<(), RoomStoreError> {
        let mut directory = self.directory.lock().unwrap_or_else(PoisonError::into_inner);
        let count = directory.entry(room.to_string()).or_default();
        *count += delta;
        if *count <= 0 {
            directory.remove(room.as_str());
        }
        Ok(())
    }

    async fn public_rooms(&self, limit: usize) -> Result<Vec<String>, RoomStoreError> {
        let directory = self.directory.lock().unwrap_or_else(PoisonError::into_inner);
        let mut rooms: Vec<(&String, &i64)> = directory.iter().collect();
        // Busiest first; the name settles ties, as Redis' sorted set does (reversed).
        rooms.sort_by(|a, b| b.1.cmp(a.1).then_with(|| b.0.cmp(a.0)));
        Ok(rooms.into_iter().take(limit).map(|(room, _)| room.clone()).collect())
    }
}
