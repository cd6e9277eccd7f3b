//! Private rooms: created on purpose, by a creator who invites and removes.
//!
//! A private room's name carries a random part ([`PRIVATE_SUFFIX_LEN`] of
//! `[a-z0-9]`), so it cannot be guessed, and it can only come into being here,
//! never through a join: a join of a name nobody created is refused like a join
//! of a room one may not see. Only the creator invites and removes; any member
//! may leave ([`RoomAccess::leave`]). A removal takes the room off the member's
//! list, tells the room (in order with its messages: the removed member's
//! sockets stop at that point) and tells the member's sockets on every instance.

use protocol::{PRIVATE_SUFFIX_LEN, RoomKind, RoomName, UserName};

use super::access::{AccessError, Asker, RoomAccess};
use crate::signals::Signal;

/// How many random names a creation tries before giving up (a collision is ~1 in 36¹⁰).
const CREATE_ATTEMPTS: usize = 3;

impl RoomAccess {
    /// Creates a private room titled `title` with `me` as its creator and first member (the
    /// asking socket holds `held` rooms); its name.
    pub async fn create_private(&self, me: Asker<'_>, title: &str, held: usize) -> Result<RoomName, AccessError> {
        let title = RoomName::parse_public(title.trim()).map_err(AccessError::BadRoom)?;
        for _ in 0..CREATE_ATTEMPTS {
            let room = RoomName::private(&title, &random_suffix()).map_err(AccessError::BadRoom)?;
            // On the list first: a creator at the cap makes no room at all.
            self.put_on_list(me.key, &room, held).await?;
            if self.rooms.create(&room, me.key).await? {
                self.tell(Signal::room_added(me.key.as_str(), &room, me.user)).await;
                return Ok(room);
            }
            self.lists.forget(me.key, &room).await;
        }
        Err(AccessError::NotAllowed("could not find a free name for the room; try again".into()))
    }

    /// `me`, the creator of the private room `room`, adds `user` to it.
    pub async fn invite(&self, me: Asker<'_>, room: &RoomName, user: &str) -> Result<(), AccessError> {
        let target = UserName::parse(user)?.key();
        self.check_owner(me, room).await?;
        if self.accounts.find(&target).await?.is_none() {
            return Err(AccessError::NoSuchUser(user.trim().to_owned()));
        }
        if self.rooms.is_member(room, &target).await? {
            return Ok(());
        }
        self.put_on_list(&target, room, 0)
            .await
            .map_err(|_| AccessError::NotAllowed(format!("{target} is in as many rooms as allowed")))?;
        if !self.rooms.add_member(room, &target).await? {
            return Err(AccessError::NoSuchRoom(room.clone()));
        }
        self.announce_members(room, None).await;
        self.tell(Signal::room_added(target.as_str(), room, me.user)).await;
        Ok(())
    }

    /// `me`, the creator of the private room `room`, takes `user` out of it: they receive
    /// nothing sent after this, live or in a replay.
    pub async fn remove(&self, me: Asker<'_>, room: &RoomName, user: &str) -> Result<(), AccessError> {
        let target = UserName::parse(user)?.key();
        self.check_owner(me, room).await?;
        if self.rooms.remove_member(room, &target).await? {
            self.lists.forget(&target, room).await;
            self.announce_members(room, Some(&target)).await;
            self.tell(Signal::room_removed(target.as_str(), room, me.key.as_str())).await;
        }
        Ok(())
    }

    /// Refuses anyone but the creator: a non-member as if the room did not exist, a member
    /// with the reason.
    async fn check_owner(&self, me: Asker<'_>, room: &RoomName) -> Result<(), AccessError> {
        if !matches!(room.kind(), RoomKind::Private { .. }) || !self.rooms.is_member(room, me.key).await? {
            return Err(AccessError::NoSuchRoom(room.clone()));
        }
        if self.rooms.owner(room).await?.as_ref() != Some(me.key) {
            return Err(AccessError::NotAllowed("only the room's creator invites and removes members".into()));
        }
        Ok(())
    }
}

/// The random part of a new private room's name.
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..PRIVATE_SUFFIX_LEN).map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())])).collect()
}
