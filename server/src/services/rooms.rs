//! Each user's list of rooms: kept in the account store so every tab and device
//! shows the same rooms, and capped (`MAX_ROOMS_PER_USER`) in the same atomic
//! step that adds a room, so no client can make a user hold thousands of rooms
//! (each one a Redis subscription and a line of every `welcome`).

use protocol::RoomName;
use tracing::debug;

use crate::accounts::{AccountKey, RoomAdd, SharedAccounts};

/// Whether a room may be put on a user's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// On the list; `new` when it was not before.
    Admitted {
        /// Whether the room is new on the list.
        new: bool,
    },
    /// The user is in this many rooms, the most allowed.
    Full(usize),
}

/// The room lists of users.
pub struct RoomLists {
    accounts: SharedAccounts,
    max: usize,
}

impl RoomLists {
    /// Room lists in `accounts`, at most `max` rooms per user.
    pub fn new(accounts: SharedAccounts, max: usize) -> Self {
        Self { accounts, max: max.max(1) }
    }

    /// The rooms of the user with account key `key`, sorted (empty when the store cannot say:
    /// the list is a convenience, its outage must not stop the chat).
    pub async fn of(&self, key: &AccountKey) -> Vec<String> {
        self.accounts.rooms(key).await.unwrap_or_else(|err| {
            debug!(%err, "could not read the user's rooms");
            Vec::new()
        })
    }

    /// Puts `room` on the list unless the user is at the cap; `held` is how many rooms the
    /// asking socket already holds (a socket never holds more than the cap either).
    pub async fn admit(&self, key: &AccountKey, room: &RoomName, held: usize) -> Admission {
        if held >= self.max {
            return Admission::Full(self.max);
        }
        self.add(key, room).await
    }

    /// Puts `room` on the list of a user other than the asking one (an invitation, a direct
    /// conversation), unless they are at the cap.
    pub async fn add(&self, key: &AccountKey, room: &RoomName) -> Admission {
        match self.accounts.add_room(key, room.as_str(), self.max).await {
            Ok(RoomAdd::Added) => Admission::Admitted { new: true },
            Ok(RoomAdd::Present) => Admission::Admitted { new: false },
            Ok(RoomAdd::Full) => Admission::Full(self.max),
            Err(err) => {
                debug!(%err, "could not remember the room");
                Admission::Admitted { new: false }
            }
        }
    }

    /// Takes `room` off the list; whether it was on it.
    pub async fn forget(&self, key: &AccountKey, room: &RoomName) -> bool {
        self.accounts.remove_room(key, room.as_str()).await.unwrap_or_else(|err| {
            debug!(%err, "could not forget the room");
            false
        })
    }
}
