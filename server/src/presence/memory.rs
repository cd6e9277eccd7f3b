//! Presence in process memory, for the single-instance mode.
//!
//! It keeps the Redis layout's semantics exactly — sockets per (room, user, instance),
//! leases with a TTL, reaping of the entries of instances whose lease expired — so the
//! two pass one contract (`tests/presence_contract.rs`) and the heartbeat behaves alike.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use protocol::RoomName;

use super::{Departed, Presence, PresenceError};

/// Open sockets per (user, instance) in one room.
type Entries = HashMap<(String, String), usize>;

#[derive(Default)]
struct State {
    rooms: HashMap<RoomName, Entries>,
    /// Instance → when its lease ends.
    leases: HashMap<String, Instant>,
}

impl State {
    fn present(&self, room: &RoomName, user: &str) -> bool {
        self.rooms.get(room).is_some_and(|entries| entries.keys().any(|(u, _)| u == user))
    }

    fn alive(&self, instance: &str, now: Instant) -> bool {
        self.leases.get(instance).is_some_and(|until| *until > now)
    }
}

/// Socket counts per room, user and instance, and the instances' leases.
#[derive(Default)]
pub struct MemoryPresence {
    state: Mutex<State>,
}

impl MemoryPresence {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Presence for MemoryPresence {
    async fn enter(&self, room: &RoomName, user: &str, instance: &str) -> Result<bool, PresenceError> {
        let mut state = self.state();
        let before = state.present(room, user);
        *state.rooms.entry(room.clone()).or_default().entry((user.to_owned(), instance.to_owned())).or_default() += 1;
        Ok(!before)
    }

    async fn restore(
        &self,
        room: &RoomName,
        user: &str,
        instance: &str,
        sockets: usize,
    ) -> Result<bool, PresenceError> {
        let mut state = self.state();
        let before = state.present(room, user);
        state.rooms.entry(room.clone()).or_default().insert((user.to_owned(), instance.to_owned()), sockets);
        Ok(!before)
    }

    async fn exit(&self, room: &RoomName, user: &str, instance: &str) -> Result<bool, PresenceError> {
        let mut state = self.state();
        let Some(entries) = state.rooms.get_mut(room) else {
            return Ok(false);
        };
        let key = (user.to_owned(), instance.to_owned());
        let Some(count) = entries.get_mut(&key) else {
            return Ok(false);
        };
        *count = count.saturating_sub(1);
        if *count == 0 {
            entries.remove(&key);
        }
        let present = entries.keys().any(|(u, _)| u == user);
        if entries.is_empty() {
            state.rooms.remove(room);
        }
        Ok(!present)
    }

    async fn members(&self, room: &RoomName) -> Result<Vec<String>, PresenceError> {
        let state = self.state();
        let members: BTreeSet<&String> =
            state.rooms.get(room).map(|entries| entries.keys().map(|(user, _)| user).collect()).unwrap_or_default();
        Ok(members.into_iter().cloned().collect())
    }

    async fn renew(&self, instance: &str, ttl: Duration) -> Result<bool, PresenceError> {
        let now = Instant::now();
        let mut state = self.state();
        let previous = state.leases.insert(instance.to_owned(), now + ttl);
        Ok(previous.is_some_and(|until| until > now))
    }

    async fn reap(&self) -> Result<Vec<Departed>, PresenceError> {
        let now = Instant::now();
        let mut state = self.state();
        state.leases.retain(|_, until| *until > now);
        let dead: BTreeSet<String> = state
            .rooms
            .values()
            .flat_map(|entries| entries.keys().map(|(_, instance)| instance))
            .filter(|instance| !state.alive(instance, now))
            .cloned()
            .collect();
        let mut departed = Vec::new();
        for (room, entries) in &mut state.rooms {
            let reaped: BTreeSet<String> =
                entries.keys().filter(|(_, instance)| dead.contains(instance)).map(|(user, _)| user.clone()).collect();
            entries.retain(|(_, instance), _| !dead.contains(instance));
            let gone = reaped.into_iter().filter(|user| !entries.keys().any(|(u, _)| u == user));
            departed.extend(gone.map(|user| Departed { room: room.clone(), user }));
        }
        state.rooms.retain(|_, entries| !entries.is_empty());
        Ok(departed)
    }
}
