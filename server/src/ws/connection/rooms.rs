//! A socket's rooms: joining (where access is checked, see
//! [`services::access`](crate::services::access)), leaving, being removed, and
//! the frames that manage private rooms, blocks and the public directory.

use protocol::{ErrorCode, MAX_ROOMS_PER_FRAME, MessageId, RoomJoin, RoomName, ServerFrame};
use tracing::debug;

use super::{Connection, HISTORY_PAGE_BYTES};
use crate::chat::{ChatService, HistoryPage};
use crate::services::{AccessError, Asker, Membership};
use crate::ws::registry::Notice;

/// How many public rooms a directory answer lists.
const DIRECTORY_SIZE: usize = 100;

impl Connection {
    pub(super) fn asker(&self) -> Asker<'_> {
        Asker { user: &self.user, key: &self.key }
    }

    /// Whether this socket is in `room` now.
    pub(super) fn holds(&self, room: &RoomName) -> bool {
        self.rooms.contains(room)
    }

    /// Says why a room operation was refused; a room refused at a join is also named as not
    /// the user's (the error frame names no room), so the page drops it from its list.
    async fn refuse(&self, err: AccessError, joining: Option<&RoomName>) {
        let drop_room = matches!(err, AccessError::NoSuchRoom(_) | AccessError::NotAllowed(_));
        self.error(err.code(), err.to_string(), None).await;
        if let Some(room) = joining.filter(|_| drop_room) {
            self.queue(ServerFrame::RoomRemoved { room: room.to_string(), message: String::new() }).await;
        }
    }

    /// Joins every room of a `join_many` frame in order (each answered as a `join` is).
    pub(super) async fn join_many(&mut self, rooms: Vec<RoomJoin>) {
        if rooms.len() > MAX_ROOMS_PER_FRAME {
            let message = format!("join_many names at most {MAX_ROOMS_PER_FRAME} rooms");
            return self.error(ErrorCode::BadFrame, message, None).await;
        }
        for join in rooms {
            if self.closer.is_closing() {
                return;
            }
            self.join(&join.room, join.since).await;
        }
    }

    pub(super) async fn join(&mut self, raw: &str, since: Option<MessageId>) {
        let room = match ChatService::room(raw) {
            Ok(room) => room,
            Err(err) => return self.fail(err, None).await,
        };
        if self.holds(&room) {
            return;
        }
        let members = match self.services.access.admit(self.asker(), &room, self.rooms.len()).await {
            Ok(members) => members,
            Err(err) => return self.refuse(err, Some(&room)).await,
        };
        let name = self.name();
        let mut joined = match self.services.chat.join(&self.user, &name, &room, since).await {
            Ok(joined) => joined,
            Err(err) => return self.fail(err, None).await,
        };
        // A removal between the check and the subscription would be announced before this socket
        // listened: checked again now that it listens (a removal from now on reaches the room's feed).
        if members.is_some() && !self.services.access.still_member(&self.key, &room).await {
            drop(joined);
            self.services.chat.leave(&self.user, &room).await;
            return self.refuse(AccessError::NoSuchRoom(room.clone()), Some(&room)).await;
        }
        let newest = joined.page.newest();
        let page = std::mem::take(&mut joined.page);
        let users = std::mem::take(&mut joined.members);
        let names = self.services.profile.display_names(&users).await;
        let roster =
            members.map(|Membership { owner, users }| ServerFrame::Members { room: room.to_string(), owner, users });
        if !self.send_history(&room, page).await
            || !self.queue(ServerFrame::Presence { room: room.to_string(), users, names }).await
        {
            return;
        }
        if let Some(roster) = roster
            && !self.queue(roster).await
        {
            return;
        }
        // The subscription was made before the history was read and has buffered since; its
        // events are taken after the history, skipping what the history already held.
        self.rooms.insert(room, joined.subscription.into_stream(), newest);
    }

    /// Sends a join's history in pages of about [`HISTORY_PAGE_BYTES`] (the gap, if any, with
    /// the first; the revisions of older messages and the position with the last; every page
    /// but the last says `more`); `false` when the connection closed meanwhile.
    async fn send_history(&self, room: &RoomName, page: HistoryPage) -> bool {
        let HistoryPage { messages, revisions, upto, mut gap } = page;
        let mut part = Vec::new();
        let mut bytes = 0;
        let total = messages.len();
        for (index, message) in messages.into_iter().enumerate() {
            bytes += message.text.len() + message.user.len() + message.name.len() + 96;
            part.push(message);
            if bytes >= HISTORY_PAGE_BYTES && index + 1 < total {
                let frame = ServerFrame::History {
                    room: room.to_string(),
                    messages: std::mem::take(&mut part),
                    gap: gap.take(),
                    revisions: Vec::new(),
                    upto: None,
                    more: true,
                };
                if !self.queue(frame).await {
                    return false;
                }
                bytes = 0;
            }
        }
        let room = room.to_string();
        self.queue(ServerFrame::History { room, messages: part, gap, revisions, upto, more: false }).await
    }

    pub(super) async fn leave(&mut self, raw: &str) {
        let Ok(room) = ChatService::room(raw) else { return };
        self.services.access.leave(self.asker(), &room).await;
        if self.rooms.remove(&room) {
            self.services.chat.leave(&self.user, &room).await;
        }
    }

    /// A change to this user's rooms made elsewhere (another device, the room's creator).
    pub(super) async fn on_notice(&mut self, notice: Notice) {
        match notice {
            Notice::RoomAdded { room, by } => {
                self.queue(ServerFrame::RoomAdded { room: room.to_string(), by }).await;
            }
            Notice::Read { room, id } => {
                self.queue(ServerFrame::ReadUpTo { room: room.to_string(), id }).await;
            }
            Notice::RoomRemoved { room, by } => {
                if self.rooms.remove(&room) {
                    debug!(%room, "out of the room: delivery ended");
                }
                self.services.chat.leave(&self.user, &room).await;
                // The same words as the room's own removal event (`connection::live`), which may come first.
                let message =
                    if by == self.key.as_str() { String::new() } else { "You were removed from this room.".to_owned() };
                self.queue(ServerFrame::RoomRemoved { room: room.to_string(), message }).await;
            }
        }
    }

    pub(super) async fn create_room(&mut self, title: &str) {
        match self.services.access.create_private(self.asker(), title, self.rooms.len()).await {
            Ok(room) => {
                self.queue(ServerFrame::Created { room: room.to_string() }).await;
            }
            Err(err) => self.refuse(err, None).await,
        }
    }

    /// Invites (`add`) `user` to, or removes them from, the private room `raw`.
    pub(super) async fn manage(&mut self, raw: &str, user: &str, add: bool) {
        let room = match ChatService::room(raw) {
            Ok(room) => room,
            Err(err) => return self.fail(err, None).await,
        };
        let access = &self.services.access;
        let done = if add {
            access.invite(self.asker(), &room, user).await
        } else {
            access.remove(self.asker(), &room, user).await
        };
        if let Err(err) = done {
            self.refuse(err, None).await;
        }
    }

    pub(super) async fn block(&mut self, user: &str, blocked: bool) {
        match self.services.access.set_blocked(self.asker(), user, blocked).await {
            Ok(users) => {
                self.queue(ServerFrame::Blocked { users }).await;
            }
            Err(err) => self.refuse(err, None).await,
        }
    }

    /// The user read `raw` up to `id`; only a room this socket is in has a position to move.
    pub(super) async fn read(&mut self, raw: &str, id: MessageId) {
        let room = match ChatService::room(raw) {
            Ok(room) => room,
            Err(err) => return self.fail(err, None).await,
        };
        if !self.holds(&room) {
            return self.error(ErrorCode::NotJoined, format!("join {room} before marking it read"), None).await;
        }
        if let Err(err) = self.services.read.mark((&self.user, &self.key), &room, id).await {
            debug!(%err, "could not store the read position");
            self.error(ErrorCode::Unavailable, "could not store how far you read; it will be sent again".into(), None)
                .await;
        }
    }

    pub(super) async fn directory(&mut self) {
        match self.services.access.directory(DIRECTORY_SIZE).await {
            Ok(rooms) => {
                self.queue(ServerFrame::Directory { rooms }).await;
            }
            Err(err) => self.refuse(err, None).await,
        }
    }
}
