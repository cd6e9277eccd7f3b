//! What a server frame changes in a chat page: one pure function, [`apply`].
//!
//! The client's rules live here: a message id is shown once however often it
//! arrives (history and live delivery overlap after a reconnect), an own message
//! stays pending until acked, a send the server refused for good leaves the
//! outbox while one it could not store yet is kept and retried, unread counts
//! grow only for other users' messages in rooms not on screen, a rename is said
//! once however many shared rooms carry it, and presence and typing follow the
//! room. Those rules must hold in the browser, but a browser is the worst place
//! to test them. So `apply` never touches a signal: it reaches the page's state
//! only through [`ChatParts`], which the page implements with one signal per
//! part (`ChatHandles`) and the tests with plain maps, and it runs on the host
//! (`cargo test -p switchboard-app`). What a frame asks beyond the chat state —
//! the outbox, the retry list, a timer for a typing notice — comes back as a
//! [`FollowUp`] for the socket's session to carry out.
//!
//! The socket's own life (`welcome` starting it, `move` ending it) is the
//! [`Link`](super::link::Link)'s; from `welcome`, `apply` takes the user's rooms.

use std::collections::{BTreeSet, HashMap};

use protocol::{ChatMessage, ErrorCode, MessageId, ServerFrame};

use super::outbox::Pending;
use crate::chat_log::ChatLog;
use crate::search::Search;

#[cfg(test)]
mod tests;

/// Who is present in each room, on any instance.
pub type Members = HashMap<String, BTreeSet<String>>;

/// Display names by user, where they differ from the user name.
pub type Names = HashMap<String, String>;

/// Who is typing in each room, with the time (ms since the epoch) each notice ends.
pub type Typing = HashMap<String, HashMap<String, f64>>;

/// Unread messages per room.
pub type Unread = HashMap<String, u32>;

/// What the user may see and has seen: private rooms' members, the public directory, blocks,
/// and how far they have read each room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// The newest message read in each room (on any device); it only moves forwards.
    pub read: HashMap<String, MessageId>,
    /// Each private room's creator and members (account keys), by room.
    pub rosters: HashMap<String, (String, Vec<String>)>,
    /// The public rooms, busiest first, once the user asked for them.
    pub directory: Option<Vec<String>>,
    /// The users this user blocks.
    pub blocked: Vec<String>,
    /// Unread messages that mention this user, per room (not counting the room on screen).
    pub mentions: HashMap<String, u32>,
}

/// How long "… is typing" stays without a new typing notice, in milliseconds.
pub const TYPING_SHOWN_MS: f64 = 4_000.0;

/// The parts of a chat page's state that server frames change, each reachable on its own.
///
/// Every edit returns whether it changed anything, so that a signal notifies its readers
/// only then (a repeated rename or a duplicate message re-renders nothing).
pub trait ChatParts {
    /// Edits the transcript of `room` (an empty one if the room has none yet).
    fn edit_log(&mut self, room: &str, edit: impl FnOnce(&mut ChatLog) -> bool);
    /// Edits the list of joined rooms (sorted, without duplicates).
    fn edit_rooms(&mut self, edit: impl FnOnce(&mut Vec<String>) -> bool);
    /// Edits the unread counts.
    fn edit_unread(&mut self, edit: impl FnOnce(&mut Unread) -> bool);
    /// Edits who is present where.
    fn edit_members(&mut self, edit: impl FnOnce(&mut Members) -> bool);
    /// Edits the display names.
    fn edit_names(&mut self, edit: impl FnOnce(&mut Names) -> bool);
    /// Edits who is typing where.
    fn edit_typing(&mut self, edit: impl FnOnce(&mut Typing) -> bool);
    /// Edits this user's display name.
    fn edit_my_name(&mut self, edit: impl FnOnce(&mut String) -> bool);
    /// Edits who may be where.
    fn edit_access(&mut self, edit: impl FnOnce(&mut Access) -> bool);
    /// Edits the search panel and the scrollback in flight.
    fn edit_search(&mut self, edit: impl FnOnce(&mut Search) -> bool);
}

/// What the page knows besides its chat state, as [`apply`] needs it.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// This page's user (the account name, which marks own messages).
    pub me: &'a str,
    /// The room on screen.
    pub current: &'a str,
    /// Now, in milliseconds since the epoch.
    pub now_ms: f64,
    /// The unacknowledged messages, oldest first.
    pub outbox: &'a [Pending],
    /// Rooms the user left while disconnected: not taken back from `welcome`'s room list.
    pub leaving: &'a [String],
    /// A search is waiting for its answer (an error without a client id answers it).
    pub searching: bool,
}

impl Page<'_> {
    fn pending(&self, client_id: &str) -> Option<&Pending> {
        self.outbox.iter().find(|pending| pending.client_id == client_id)
    }
}

/// What a frame asks of the page beyond its chat state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp<'f> {
    /// Nothing.
    Nothing,
    /// The outbox entry (or held change) with this client id is done with: acknowledged, or
    /// refused for good.
    Forget(&'f str),
    /// The server could not store this send (or make this change) now: send it again on the next tick.
    Retry(&'f str),
    /// A room came onto the user's list from elsewhere: join it.
    Join(&'f str),
    /// The room the user just created: show it.
    Open(&'f str),
    /// New messages arrived in the room on screen: mark them read if the user can see them.
    Seen(&'f str),
    /// `user` is shown typing in `room` until [`TYPING_SHOWN_MS`] from now: call
    /// [`typing_expired`] then, so the notice goes unless a newer one renewed it.
    TypingShown {
        /// The room.
        room: &'f str,
        /// The user typing.
        user: &'f str,
    },
}

/// Applies a server frame to the page's chat state.
pub fn apply<'f>(parts: &mut impl ChatParts, page: &Page<'_>, frame: &'f ServerFrame) -> FollowUp<'f> {
    match frame {
        ServerFrame::Welcome { rooms, blocked, read, .. } => {
            let rooms = rooms.iter().filter(|room| !page.leaving.contains(*room)).cloned();
            parts.edit_rooms(|list| merge_rooms(list, rooms, page.current));
            set_blocked(parts, blocked);
            for (room, id) in read {
                read_up_to(parts, page, room, *id);
            }
        }
        ServerFrame::ReadUpTo { room, id } => read_up_to(parts, page, room, *id),
        ServerFrame::Created { room } => {
            parts.edit_rooms(|list| merge_rooms(list, [room.clone()], page.current));
            return FollowUp::Open(room);
        }
        ServerFrame::RoomAdded { room, .. } => {
            parts.edit_rooms(|list| merge_rooms(list, [room.clone()], page.current));
            return FollowUp::Join(room);
        }
        ServerFrame::RoomRemoved { room, message } => on_room_removed(parts, room, message),
        ServerFrame::Members { room, owner, users } => {
            let roster = (owner.clone(), users.clone());
            parts.edit_access(|access| access.rosters.insert(room.clone(), roster.clone()) != Some(roster));
        }
        ServerFrame::Directory { rooms } => {
            parts.edit_access(|access| access.directory.replace(rooms.clone()).as_ref() != Some(rooms));
        }
        ServerFrame::Blocked { users } => set_blocked(parts, users),
        ServerFrame::History { room, .. } => {
            log_frame(parts, room, page, frame);
            return recount(parts, page, room);
        }
        ServerFrame::Revised { room, .. } => {
            log_frame(parts, room, page, frame);
            return recount(parts, page, room);
        }
        ServerFrame::Message(message) => {
            on_message(parts, page, message, frame);
            return recount(parts, page, &message.room);
        }
        ServerFrame::Ack { client_id, .. } => {
            let Some(pending) = page.pending(client_id) else {
                // A change to a message (or an ack that came twice): done with it.
                return FollowUp::Forget(client_id);
            };
            log_frame(parts, &pending.room, page, frame);
            return FollowUp::Forget(client_id);
        }
        ServerFrame::Joined { room, user, name, .. } => {
            if !name.is_empty() && name != user {
                parts.edit_names(|names| names.insert(user.clone(), name.clone()).as_ref() != Some(name));
            }
            set_member(parts, room, user, true);
            log_frame(parts, room, page, frame);
        }
        ServerFrame::Left { room, user, .. } => {
            set_member(parts, room, user, false);
            log_frame(parts, room, page, frame);
        }
        ServerFrame::Presence { room, users, names: known } => {
            let users: BTreeSet<String> = users.iter().cloned().collect();
            parts.edit_members(|members| members.insert(room.clone(), users.clone()) != Some(users));
            parts.edit_names(|names| {
                let new = known.iter().any(|(user, name)| names.get(user) != Some(name));
                names.extend(known.iter().map(|(user, name)| (user.clone(), name.clone())));
                new
            });
        }
        ServerFrame::Renamed { user, name } => on_renamed(parts, page, user, name),
        ServerFrame::Typing { room, user } => {
            let until = page.now_ms + TYPING_SHOWN_MS;
            parts.edit_typing(|typing| {
                typing.entry(room.clone()).or_default().insert(user.clone(), until);
                true
            });
            return FollowUp::TypingShown { room, user };
        }
        ServerFrame::Error { code, message, client_id } => return on_error(parts, page, *code, message, client_id),
        ServerFrame::Older { room, messages, complete } => {
            parts.edit_log(room, |log| {
                log.prepend_older(messages, *complete, page.me);
                true
            });
            parts.edit_search(|search| std::mem::replace(&mut search.loading_older, false));
        }
        ServerFrame::Found { query, results } => {
            parts.edit_search(|search| search.found(query, results.clone()));
        }
        ServerFrame::Context { room, id, messages } => {
            parts.edit_search(|search| search.opened(room, *id, messages.clone()));
        }
        ServerFrame::Move { .. } | ServerFrame::Pong => {}
    }
    FollowUp::Nothing
}

/// Hides `user`'s typing notice in `room` if it has ended by `now_ms` (a newer notice
/// renewed it otherwise).
pub fn typing_expired(parts: &mut impl ChatParts, room: &str, user: &str, now_ms: f64) {
    parts.edit_typing(|typing| {
        typing
            .get_mut(room)
            .is_some_and(|users| users.get(user).is_some_and(|end| *end <= now_ms) && users.remove(user).is_some())
    });
}

/// Adds `rooms` and the room on screen to the room list, keeping it sorted and without
/// duplicates; whether the list changed.
pub fn merge_rooms(list: &mut Vec<String>, rooms: impl IntoIterator<Item = String>, current: &str) -> bool {
    let before = list.clone();
    list.extend(rooms);
    list.push(current.to_owned());
    list.sort();
    list.dedup();
    *list != before
}

/// The user is out of `room`: off the list, no unread count, no roster; the transcript
/// stays, with the reason if the server gave one (once: each socket of a removed member hears
/// it from the room and from the order that reached the user).
fn on_room_removed(parts: &mut impl ChatParts, room: &str, message: &str) {
    let mut listed = false;
    parts.edit_rooms(|list| {
        let before = list.len();
        list.retain(|entry| entry != room);
        listed = list.len() != before;
        listed
    });
    parts.edit_unread(|unread| unread.remove(room).is_some());
    parts.edit_access(|access| access.rosters.remove(room).is_some() | access.mentions.remove(room).is_some());
    if listed && !message.is_empty() {
        parts.edit_log(room, |log| {
            log.push_notice(format!("⚠ {message}"), 0);
            true
        });
    }
}

fn set_blocked(parts: &mut impl ChatParts, users: &[String]) {
    parts.edit_access(|access| {
        let changed = access.blocked != users;
        users.clone_into(&mut access.blocked);
        changed
    });
}

/// Applies a frame to one room's transcript.
fn log_frame(parts: &mut impl ChatParts, room: &str, page: &Page<'_>, frame: &ServerFrame) {
    parts.edit_log(room, |log| {
        log.apply(frame, page.me);
        true
    });
}

fn set_member(parts: &mut impl ChatParts, room: &str, user: &str, present: bool) {
    parts.edit_members(|members| {
        let users = members.entry(room.to_owned()).or_default();
        if present { users.insert(user.to_owned()) } else { users.remove(user) }
    });
}

/// A message: shown once (a repeat changes nothing, not even the unread count), and its
/// author has stopped typing.
fn on_message(parts: &mut impl ChatParts, page: &Page<'_>, message: &ChatMessage, frame: &ServerFrame) {
    parts
        .edit_typing(|typing| typing.get_mut(&message.room).is_some_and(|users| users.remove(&message.user).is_some()));
    parts.edit_log(&message.room, |log| {
        let new = !log.has_message(message.id);
        log.apply(frame, page.me);
        new
    });
}

/// The user has read `room` up to `id` (here or on another device): the position moves
/// forwards only, and the room's unread count follows.
pub fn read_up_to(parts: &mut impl ChatParts, page: &Page<'_>, room: &str, id: MessageId) {
    parts.edit_access(|access| {
        let position = access.read.entry(room.to_owned()).or_default();
        let moved = id > *position;
        *position = (*position).max(id);
        moved
    });
    recount(parts, page, room);
}

/// Counts `room`'s unread messages again: other users' messages after the read position, none
/// for the room on screen (which asks to be marked read instead).
fn recount<'f>(parts: &mut impl ChatParts, page: &Page<'_>, room: &'f str) -> FollowUp<'f> {
    let mut read = None;
    parts.edit_access(|access| {
        read = access.read.get(room).copied();
        false
    });
    let (mut count, mut mentioned) = (0, 0);
    parts.edit_log(room, |log| {
        (count, mentioned) = log.unread_after(read);
        false
    });
    let on_screen = room == page.current;
    let mentioned = if on_screen { 0 } else { mentioned };
    parts.edit_access(|access| match mentioned {
        0 => access.mentions.remove(room).is_some(),
        n => access.mentions.insert(room.to_owned(), n) != Some(n),
    });
    parts.edit_unread(|unread| match count {
        0 => unread.remove(room).is_some(),
        _ if on_screen => unread.remove(room).is_some(),
        count => unread.insert(room.to_owned(), count) != Some(count),
    });
    if on_screen && count > 0 { FollowUp::Seen(room) } else { FollowUp::Nothing }
}

/// A rename comes once per shared room: say it once, in the room on screen.
fn on_renamed(parts: &mut impl ChatParts, page: &Page<'_>, user: &str, name: &str) {
    let mut notice = None;
    parts.edit_names(|names| {
        let before = names.get(user).map_or(user, String::as_str);
        if before == name {
            return false;
        }
        notice = Some(format!("{before} is now {name}"));
        names.insert(user.to_owned(), name.to_owned());
        true
    });
    if let Some(notice) = notice {
        parts.edit_log(page.current, |log| {
            log.push_notice(notice, 0);
            true
        });
    }
    if user == page.me {
        parts.edit_my_name(|mine| {
            let changed = mine != name;
            name.clone_into(mine);
            changed
        });
    }
}

/// Shows the server's error in the room of the send it is about (else the room on screen).
/// A send refused for good will never be accepted as it is, so it leaves the transcript and
/// the outbox; one the server could not store now (Redis away, rate limit) stays pending
/// and is sent again.
fn on_error<'f>(
    parts: &mut impl ChatParts,
    page: &Page<'_>,
    code: ErrorCode,
    message: &str,
    client_id: &'f Option<String>,
) -> FollowUp<'f> {
    let client_id = client_id.as_deref();
    if code == ErrorCode::BadSearch || (client_id.is_none() && page.searching) {
        // A search's answer goes to the search panel, not into the transcript.
        parts.edit_search(|search| search.refused(message));
        return FollowUp::Nothing;
    }
    let retryable = code.is_retryable();
    // A client id outside the outbox is a change to a message: said in the room on screen.
    let room = client_id.and_then(|id| page.pending(id)).map_or(page.current, |pending| pending.room.as_str());
    parts.edit_log(room, |log| {
        if let Some(client_id) = client_id.filter(|_| !retryable) {
            log.drop_pending(client_id);
        }
        log.push_notice(format!("⚠ {message}"), 0);
        true
    });
    match client_id {
        Some(client_id) if retryable => FollowUp::Retry(client_id),
        Some(client_id) => FollowUp::Forget(client_id),
        None => FollowUp::Nothing,
    }
}
