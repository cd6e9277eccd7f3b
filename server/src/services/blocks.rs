//! Blocking: a user refuses direct conversations with another.
//!
//! A blocked user can neither open a direct conversation with the blocker nor
//! write in one they already have ([`RoomAccess::check_send`](super::RoomAccess::check_send));
//! the blocker still reads and writes as they choose. A block is the blocker's
//! own setting, kept with their account, and undone the same way.

use protocol::UserName;

use super::access::{AccessError, Asker, RoomAccess};

impl RoomAccess {
    /// `me` blocks (`blocked`) or unblocks `user`; the users `me` blocks now.
    pub async fn set_blocked(&self, me: Asker<'_>, user: &str, blocked: bool) -> Result<Vec<String>, AccessError> {
        let target = UserName::parse(user)?.key();
        if target == *me.key {
            return Err(AccessError::NotAllowed("you cannot block yourself".into()));
        }
        if blocked && self.accounts.find(&target).await?.is_none() {
            return Err(AccessError::NoSuchUser(user.trim().to_owned()));
        }
        self.accounts.set_blocked(me.key, &target, blocked).await?;
        self.blocked(me).await
    }

    /// The users `me` blocks, sorted.
    pub async fn blocked(&self, me: Asker<'_>) -> Result<Vec<String>, AccessError> {
        Ok(self.accounts.blocked(me.key).await?)
    }
}
