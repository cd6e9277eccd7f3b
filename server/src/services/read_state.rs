//! How far each user has read each room: one position per user and room, kept with the
//! account (not the session), that only moves forwards, and told to every socket of the user
//! at once, so reading on the phone clears the unread count on the laptop.

use protocol::{AccountKey, MessageId, RoomName};
use tracing::warn;

use crate::accounts::{AccountStoreError, SharedAccounts};
use crate::signals::{SharedSignals, Signal};

/// Read positions.
pub struct ReadState {
    accounts: SharedAccounts,
    signals: SharedSignals,
}

impl ReadState {
    /// Read positions kept in `accounts`, told to the user's sockets through `signals`.
    pub fn new(accounts: SharedAccounts, signals: SharedSignals) -> Self {
        Self { accounts, signals }
    }

    /// `key` (the user `user`) has read `room` up to `id`: the position moves there unless it
    /// is there or further already, and every socket of the user hears where it is now.
    pub async fn mark(
        &self,
        (user, key): (&str, &AccountKey),
        room: &RoomName,
        id: MessageId,
    ) -> Result<(), AccountStoreError> {
        let now = self.accounts.mark_read(key, room.as_str(), id).await?;
        if now == id {
            let signal = Signal::Read { user: user.to_owned(), room: room.to_string(), id: id.to_string() };
            if let Err(err) = self.signals.send(&signal).await {
                warn!(%err, "could not tell the user's other sockets what they read");
            }
        }
        Ok(())
    }

    /// Every read position of the user (none when the store cannot say: counts are then shown
    /// from what arrives, as before).
    pub async fn positions(&self, key: &AccountKey) -> std::collections::BTreeMap<String, MessageId> {
        match self.accounts.read_positions(key).await {
            Ok(positions) => positions.into_iter().collect(),
            Err(err) => {
                warn!(%err, "could not read the user's read positions");
                std::collections::BTreeMap::new()
            }
        }
    }
}
