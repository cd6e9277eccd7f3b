//! Who may be in a room: the one check on every path into one.
//!
//! A socket reaches a room's messages, history (`since` included), presence and
//! typing only through a join, so the join is where access is decided, by the
//! room's kind ([`RoomKind`]): anyone joins a public room (a free name creates
//! it); only a member joins a private room; only its two users join a direct
//! conversation, and not one the other user blocks. A room the user may not
//! enter gets the answer a room that does not exist gets — [`AccessError::NoSuchRoom`],
//! the same words — so a guessed name tells a stranger nothing. Access lost
//! later (a removal) ends the room's delivery in order with its messages (see
//! `ws::connection::live`) and on every socket of the user ([`Signal::RoomRemoved`]).
//!
//! Storage outages fail closed for private rooms and direct conversations (no
//! entry without a positive answer); the room list and directory stay
//! conveniences whose outage does not stop public chat.

use protocol::{AccountKey, ErrorCode, NameError, RoomKind, RoomName};
use tracing::warn;

use super::rooms::{Admission, RoomLists};
use crate::accounts::{AccountStoreError, SharedAccounts};
use crate::chat::ChatService;
use crate::rooms::{RoomStoreError, SharedRooms};
use crate::signals::{SharedSignals, Signal};

/// Why a room operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// No such room for this user: it does not exist, or they may not see it (one answer).
    #[error("there is no room {0} that you can enter")]
    NoSuchRoom(RoomName),
    /// The user may not do this here.
    #[error("{0}")]
    NotAllowed(String),
    /// The user is in this many rooms, the most allowed.
    #[error("you are in {0} rooms, the most allowed: leave one first")]
    Full(usize),
    /// A user name in the request is invalid.
    #[error("{0}")]
    BadName(#[from] NameError),
    /// A room name or title in the request is invalid.
    #[error("{0}")]
    BadRoom(#[source] NameError),
    /// No user of that name.
    #[error("there is no user {0}")]
    NoSuchUser(String),
    /// The room store could not answer; nothing changed.
    #[error("rooms are unavailable right now; try again")]
    Rooms(#[from] RoomStoreError),
    /// The account store could not answer; nothing changed.
    #[error("rooms are unavailable right now; try again")]
    Accounts(#[from] AccountStoreError),
}

impl AccessError {
    /// The protocol error code for this refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NoSuchRoom(_) => ErrorCode::NoSuchRoom,
            Self::NotAllowed(_) => ErrorCode::NotAllowed,
            Self::Full(_) => ErrorCode::TooManyRooms,
            Self::BadRoom(_) => ErrorCode::BadRoom,
            Self::BadName(_) | Self::NoSuchUser(_) => ErrorCode::BadName,
            Self::Rooms(_) | Self::Accounts(_) => ErrorCode::Unavailable,
        }
    }
}

/// Who is asking: the user as their session names them, and their account key.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    /// The user name.
    pub user: &'a str,
    /// The account key.
    pub key: &'a AccountKey,
}

/// A private room's creator and members (account keys), as the client lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The creator.
    pub owner: String,
    /// Every member, sorted.
    pub users: Vec<String>,
}

/// Decides and records who is in which room.
pub struct RoomAccess {
    pub(super) accounts: SharedAccounts,
    pub(super) rooms: SharedRooms,
    pub(super) lists: RoomLists,
    pub(super) signals: SharedSignals,
    pub(super) chat: ChatService,
}

impl RoomAccess {
    /// Access over the stores; `chat` announces member changes, `signals` reach users' sockets.
    pub fn new(
        (accounts, rooms, signals): (SharedAccounts, SharedRooms, SharedSignals),
        lists: RoomLists,
        chat: ChatService,
    ) -> Self {
        Self { accounts, rooms, lists, signals, chat }
    }

    /// The rooms on the user's list (every device shows the same).
    pub async fn list(&self, key: &AccountKey) -> Vec<String> {
        self.lists.of(key).await
    }

    /// The rooms on the user's list they may read now: public rooms, private rooms they are
    /// still a member of, and their own direct conversations (what a search covers).
    /// An outage of the store is an error here, not an empty list: a search over no rooms would
    /// answer "nothing found" for "cannot look".
    pub async fn readable(&self, key: &AccountKey) -> Result<Vec<RoomName>, AccessError> {
        let mut readable = Vec::new();
        for room in self.accounts.rooms(key).await?.iter().filter_map(|raw| RoomName::parse(raw).ok()) {
            let may = match room.kind() {
                RoomKind::Public => true,
                RoomKind::Private { .. } => self.still_member(key, &room).await,
                RoomKind::Direct { .. } => room.partner(key).is_some(),
            };
            if may {
                readable.push(room);
            }
        }
        Ok(readable)
    }

    /// Lets `me` into `room` and puts it on their list (the asking socket holds `held` rooms),
    /// or says why not; for a private room, its members.
    pub async fn admit(&self, me: Asker<'_>, room: &RoomName, held: usize) -> Result<Option<Membership>, AccessError> {
        match room.kind() {
            RoomKind::Public => {
                if self.put_on_list(me.key, room, held).await? {
                    self.count_public(room, 1).await;
                }
                Ok(None)
            }
            RoomKind::Private { .. } => {
                if !self.rooms.is_member(room, me.key).await? {
                    return Err(AccessError::NoSuchRoom(room.clone()));
                }
                self.put_on_list(me.key, room, held).await?;
                Ok(Some(self.membership(room).await?))
            }
            RoomKind::Direct { .. } => {
                let partner = self.partner(me, room).await?;
                let new = self.put_on_list(me.key, room, held).await?;
                if let Err(err) = self.show_to_partner(me, &partner, room).await {
                    if new {
                        self.lists.forget(me.key, room).await;
                    }
                    return Err(err);
                }
                Ok(None)
            }
        }
    }

    /// Whether `key` is still a member of the private room `room` (no when the store cannot say).
    pub async fn still_member(&self, key: &AccountKey, room: &RoomName) -> bool {
        self.rooms.is_member(room, key).await.unwrap_or(false)
    }

    /// Whether `me` may send to `room` now, beyond having joined it: in a direct conversation,
    /// not if the other user blocks them; and a message puts the conversation back on the other
    /// user's list if they had closed it.
    pub async fn check_send(&self, me: Asker<'_>, room: &RoomName) -> Result<(), AccessError> {
        let Some(partner) = room.partner(me.key) else { return Ok(()) };
        let (blocked, shown) = futures::join!(self.accounts.blocks(&partner, me.key), self.lists.add(&partner, room));
        if blocked? {
            return Err(AccessError::NotAllowed(format!("{partner} does not take direct messages from you")));
        }
        if shown == (Admission::Admitted { new: true }) {
            self.tell(Signal::room_added(partner.as_str(), room, me.user)).await;
        }
        Ok(())
    }

    /// `me` leaves `room`: off their list (on every device); out of a private room's members.
    pub async fn leave(&self, me: Asker<'_>, room: &RoomName) {
        let was_listed = self.lists.forget(me.key, room).await;
        match room.kind() {
            RoomKind::Public if was_listed => self.count_public(room, -1).await,
            RoomKind::Public => {}
            RoomKind::Private { .. } => {
                match self.rooms.remove_member(room, me.key).await {
                    Ok(true) => self.announce_members(room, Some(me.key)).await,
                    Ok(false) => {}
                    Err(err) => warn!(%err, %room, "could not take a leaving member out of the room"),
                }
                self.tell(Signal::room_removed(me.key.as_str(), room, me.key.as_str())).await;
            }
            RoomKind::Direct { .. } => {
                self.tell(Signal::room_removed(me.key.as_str(), room, me.key.as_str())).await;
            }
        }
    }

    /// The public rooms most users hold, busiest first.
    pub async fn directory(&self, limit: usize) -> Result<Vec<String>, AccessError> {
        Ok(self.rooms.public_rooms(limit).await?)
    }

    /// The other user of a direct conversation `me` is one of, if they exist and do not block `me`.
    async fn partner(&self, me: Asker<'_>, room: &RoomName) -> Result<AccountKey, AccessError> {
        let Some(partner) = room.partner(me.key) else { return Err(AccessError::NoSuchRoom(room.clone())) };
        let (account, blocked) = futures::join!(self.accounts.find(&partner), self.accounts.blocks(&partner, me.key));
        let Some(account) = account? else { return Err(AccessError::NoSuchRoom(room.clone())) };
        if blocked? {
            return Err(AccessError::NotAllowed(format!("{} does not take direct messages from you", account.name)));
        }
        Ok(partner)
    }

    /// Puts a direct conversation on the other user's list too, and tells them if it is new there.
    async fn show_to_partner(&self, me: Asker<'_>, partner: &AccountKey, room: &RoomName) -> Result<(), AccessError> {
        match self.lists.add(partner, room).await {
            Admission::Admitted { new: true } => self.tell(Signal::room_added(partner.as_str(), room, me.user)).await,
            Admission::Admitted { new: false } => {}
            Admission::Full(_) => {
                return Err(AccessError::NotAllowed(format!("{partner} is in as many rooms as allowed")));
            }
        }
        Ok(())
    }

    /// Puts `room` on the list of `key`; whether it is new there.
    pub(super) async fn put_on_list(
        &self,
        key: &AccountKey,
        room: &RoomName,
        held: usize,
    ) -> Result<bool, AccessError> {
        match self.lists.admit(key, room, held).await {
            Admission::Admitted { new } => Ok(new),
            Admission::Full(max) => Err(AccessError::Full(max)),
        }
    }

    /// The creator and members of a private room.
    pub(super) async fn membership(&self, room: &RoomName) -> Result<Membership, AccessError> {
        let (owner, users) = futures::join!(self.rooms.owner(room), self.rooms.members(room));
        Ok(Membership { owner: owner?.map(|owner| owner.to_string()).unwrap_or_default(), users: users? })
    }

    /// Tells the room's sockets its members changed (in order with its messages).
    pub(super) async fn announce_members(&self, room: &RoomName, removed: Option<&AccountKey>) {
        match self.membership(room).await {
            Ok(Membership { owner, users }) => {
                self.chat.members_changed(room, owner, users, removed.map(ToString::to_string)).await;
            }
            Err(err) => warn!(%err, %room, "could not read the room's members to announce them"),
        }
    }

    /// Sends an order to every instance; one that cannot be sent is seen at the next welcome.
    pub(super) async fn tell(&self, signal: Signal) {
        if let Err(err) = self.signals.send(&signal).await {
            warn!(%err, "could not tell the user's sockets about a room change");
        }
    }

    async fn count_public(&self, room: &RoomName, delta: i64) {
        if let Err(err) = self.rooms.count_public(room, delta).await {
            warn!(%err, %room, "could not count the room in the directory");
        }
    }
}
