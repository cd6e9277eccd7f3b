//! Presence in process memory, for the single-instance mode (no leases: one instance).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use protocol::RoomName;

use super::{Departed, Presence, PresenceError};

/// Socket counts per room and user.
#[derive(Default)]
pub struct MemoryPresence {
    rooms: Mutex<HashMap<RoomName, HashMap<String, usize>>>,
}

#[async_trait]
impl Presence for MemoryPresence {
    async fn enter(&self, room: &RoomName, user: &str, _instance: &str) -> Result<bool, PresenceError> {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let count = rooms.entry(room.clone()).or_default().entry(user.to_owned()).or_default();
        *count += 1;
        Ok(*count == 1)
    }

    async fn restore(
        &self,
        room: &RoomName,
        user: &str,
        _instance: &str,
        sockets: usize,
    ) -> Result<bool, PresenceError> {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = rooms.entry(room.clone()).or_default().insert(user.to_owned(), sockets);
        Ok(previous.is_none())
    }

    async fn exit(&self, room: &RoomName, user: &str, _instance: &str) -> Result<bool, PresenceError> {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(members) = rooms.get_mut(room) else { return Ok(false) };
        let Some(count) = members.get_mut(user) else { return Ok(false) };
        *count = count.saturating_sub(1);
        if *count > 0 {
            return Ok(false);
        }
        members.remove(user);
        if members.is_empty() {
            rooms.remove(room);
        }
        Ok(true)
    }

    async fn members(&self, room: &RoomName) -> Result<Vec<String>, PresenceError> {
        let rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let members: BTreeSet<&String> = rooms.get(room).map(|m| m.keys().collect()).unwrap_or_default();
        Ok(members.into_iter().cloned().collect())
    }

    async fn renew(&self, _instance: &str, _ttl: Duration) -> Result<bool, PresenceError> {
        Ok(true)
    }

    async fn reap(&self) -> Result<Vec<Departed>, PresenceError> {
        Ok(Vec::new())
    }
}
