//! Display names: shown for every user in every room, changed by a rename.
//!
//! The account name (as registered) is the identity; the display name is what
//! others see. A rename claims the new name case-insensitively in the account
//! store (nobody can take another user's name or display name) and tells every
//! room the user is in — joined on this socket or on the user's list — so every
//! instance, tab and member list shows it at once.

use std::collections::BTreeMap;

use protocol::{RoomName, UserName};
use tracing::warn;

use crate::accounts::{AccountKey, Rename, SharedAccounts};
use crate::chat::ChatService;

/// Why a rename was refused.
#[derive(Debug, thiserror::Error)]
pub enum RenameError {
    /// The name breaks the rules of a user name.
    #[error("{0}")]
    BadName(String),
    /// Another user holds the name (as a user name or a display name).
    #[error("the name {0} belongs to someone else")]
    Taken(String),
    /// The account store failed; nothing changed.
    #[error("the name could not be changed right now")]
    Unavailable(#[source] Option<crate::accounts::AccountStoreError>),
}

/// Display names over the account store.
pub struct Profile {
    accounts: SharedAccounts,
    chat: ChatService,
}

impl Profile {
    /// Names in `accounts`; renames announced through `chat`.
    pub fn new(accounts: SharedAccounts, chat: ChatService) -> Self {
        Self { accounts, chat }
    }

    /// The display name of `user` (the user name itself when the store cannot say).
    pub async fn display_name(&self, user: &str) -> String {
        self.display_names(&[user.to_owned()]).await.remove(user).unwrap_or_else(|| user.to_owned())
    }

    /// The display names of `users` that differ from their user names, in one store round trip.
    pub async fn display_names(&self, users: &[String]) -> BTreeMap<String, String> {
        let keys: Vec<AccountKey> = users.iter().map(|user| AccountKey::of(user)).collect();
        let displays = match self.accounts.displays(&keys).await {
            Ok(displays) => displays,
            Err(err) => {
                warn!(%err, "could not read display names");
                return BTreeMap::new();
            }
        };
        users
            .iter()
            .zip(displays)
            .filter_map(|(user, display)| display.filter(|d| d != user).map(|d| (user.clone(), d)))
            .collect()
    }

    /// Renames `user` to `raw` and tells `joined` and every room on the user's list; returns the new name.
    pub async fn rename(&self, user: &str, raw: &str, joined: &[RoomName]) -> Result<String, RenameError> {
        let name = UserName::parse(raw)
            .map_err(|err| RenameError::BadName(err.to_string().replace("user name", "display name")))?
            .to_string();
        let key = AccountKey::of(user);
        match self.accounts.rename(&key, &name).await {
            Ok(Rename::Done(_)) => {}
            Ok(Rename::Taken) => return Err(RenameError::Taken(name)),
            Ok(Rename::Unknown) => return Err(RenameError::Unavailable(None)),
            Err(err) => return Err(RenameError::Unavailable(Some(err))),
        }
        let mut rooms = joined.to_vec();
        for room in self.accounts.rooms(&key).await.unwrap_or_default() {
            if let Ok(room) = RoomName::parse(&room)
                && !rooms.contains(&room)
            {
                rooms.push(room);
            }
        }
        self.chat.renamed(user, &name, &rooms).await;
        Ok(name)
    }
}
