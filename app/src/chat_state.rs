//! The reactive state of a chat page, shared by the page and its connection.
//!
//! It lives apart from both so that neither reaches into the other: the page
//! (`pages::chat`) draws these signals and turns the user's actions into
//! [`Command`](crate::client::connection::Command)s; the connection task
//! (`client::connection`) fills the signals from server frames. What must
//! outlive the page — a submitted message — goes into the shared
//! [`Outbox`](crate::client::outbox::Outbox) here, at submit time, before the
//! connection task ever sees it.
//!
//! Each part of the state is its own signal, and each room's transcript too: a
//! message in one room notifies only what shows that room, instead of cloning
//! and re-rendering every room's transcript (the map of rooms to transcripts
//! changes only when a room comes or goes). What a server frame changes is
//! decided by [`inbound::apply`](crate::client::inbound::apply), which reaches
//! these signals through [`ChatParts`]: they only store the result.

mod reading;

use std::collections::HashMap;

use leptos::prelude::*;
use protocol::DEFAULT_ROOM;

use crate::chat_log::ChatLog;
use crate::client::ConnectionState;
use crate::client::inbound::{Access, ChatParts, Members, Names, Typing, Unread, merge_rooms};
use crate::search::Search;

#[cfg(feature = "hydrate")]
use crate::client::connection::Command;

/// The reactive state shared by the page and its connection.
#[derive(Clone, Copy)]
pub struct ChatHandles {
    /// The transcript of every room, each in its own signal (see [`ChatHandles::log`]).
    pub logs: RwSignal<HashMap<String, ArcRwSignal<ChatLog>>>,
    /// The joined rooms, sorted.
    pub rooms: RwSignal<Vec<String>>,
    /// Unread messages per room (not counting the room on screen).
    pub unread: RwSignal<Unread>,
    /// Who is present in each room, on any instance.
    pub members: RwSignal<Members>,
    /// Display names by user, where they differ from the user name.
    pub names: RwSignal<Names>,
    /// This user's display name.
    pub my_name: RwSignal<String>,
    /// Who is typing in each room, with the time (ms) the notice ends.
    pub typing: RwSignal<Typing>,
    /// Private rooms' members, the public directory, blocks.
    pub access: RwSignal<Access>,
    /// A room to show next (one the user just created); the page navigates to it.
    pub open: RwSignal<Option<String>>,
    /// Where the room on screen had been read to when it was opened: the "new messages"
    /// divider goes before the first later message of someone else.
    pub divider: RwSignal<Divider>,
    /// The search panel, and whether a page of older messages is on its way.
    pub search: RwSignal<Search>,
    /// The room on screen.
    pub current: Memo<String>,
    /// The connection status.
    pub state: RwSignal<ConnectionState>,
    /// The connection's command channel (browser only).
    #[cfg(feature = "hydrate")]
    pub commands: StoredValue<Option<futures::channel::mpsc::UnboundedSender<Command>>, LocalStorage>,
    /// The unacknowledged messages of this user, in browser storage (browser only).
    #[cfg(feature = "hydrate")]
    pub outbox: StoredValue<crate::client::outbox::Outbox, LocalStorage>,
    /// Read positions waiting to be reported (browser only).
    #[cfg(feature = "hydrate")]
    pub reads: StoredValue<crate::client::read_reports::ReadReports, LocalStorage>,
}

impl ChatHandles {
    /// The state of a fresh page of `user` (account name), shown as `my_name`, on room `current`.
    pub fn new(current: Memo<String>, user: &str, my_name: String) -> Self {
        #[cfg(not(feature = "hydrate"))]
        let _ = user;
        Self {
            names: RwSignal::new(HashMap::new()),
            my_name: RwSignal::new(my_name),
            search: RwSignal::new(Search::default()),
            logs: RwSignal::new(HashMap::new()),
            rooms: RwSignal::new(vec![DEFAULT_ROOM.to_owned()]),
            unread: RwSignal::new(HashMap::new()),
            members: RwSignal::new(HashMap::new()),
            typing: RwSignal::new(HashMap::new()),
            access: RwSignal::new(Access::default()),
            open: RwSignal::new(None),
            divider: RwSignal::new(Divider::default()),
            current,
            state: RwSignal::new(ConnectionState::default()),
            #[cfg(feature = "hydrate")]
            commands: StoredValue::new_local(None),
            #[cfg(feature = "hydrate")]
            outbox: StoredValue::new_local(crate::client::outbox::Outbox::load(user)),
            #[cfg(feature = "hydrate")]
            reads: StoredValue::new_local(Default::default()),
        }
    }

    /// The transcript of `room`, if it has one (tracked: a reader runs again when the room's
    /// transcript comes or goes, and, through the signal, when it changes).
    pub fn log(&self, room: &str) -> Option<ArcRwSignal<ChatLog>> {
        self.logs.with(|logs| logs.get(room).cloned())
    }

    /// Changes the transcript of `room` (an empty one if it has none yet); `change` says
    /// whether it changed anything, and only then are the room's readers told.
    fn edit_room_log(&self, room: &str, change: impl FnOnce(&mut ChatLog) -> bool) {
        match self.logs.with_untracked(|logs| logs.get(room).cloned()) {
            Some(log) => log.maybe_update(change),
            None => {
                let mut log = ChatLog::default();
                change(&mut log);
                self.logs.update(|logs| {
                    logs.insert(room.to_owned(), ArcRwSignal::new(log));
                });
            }
        }
    }

    /// Changes the transcript of `room`.
    pub fn with_log(&self, room: &str, change: impl FnOnce(&mut ChatLog)) {
        self.edit_room_log(room, |log| {
            change(log);
            true
        });
    }

    /// The newest message id seen in `room`.
    pub fn last_id(&self, room: &str) -> Option<protocol::MessageId> {
        let log = self.logs.with_untracked(|logs| logs.get(room).cloned())?;
        log.with_untracked(ChatLog::last_id)
    }

    /// The name to show for `user`.
    pub fn shown(&self, user: &str) -> String {
        self.names.with(|names| names.get(user).cloned().unwrap_or_else(|| user.to_owned()))
    }

    #[cfg(feature = "hydrate")]
    fn command(&self, command: Command) {
        self.commands.with_value(|commands| {
            if let Some(commands) = commands {
                let _ = commands.unbounded_send(command);
            }
        });
    }

    /// Shows `text` as pending in the current room, stores it in the outbox (so a reload
    /// from now on cannot lose it) and hands it to the connection.
    pub fn send(&self, me: &str, text: String) {
        let room = self.current.get_untracked();
        let client_id = new_client_id();
        self.with_log(&room, |log| log.push_pending(me, &client_id, &text));
        #[cfg(feature = "hydrate")]
        {
            let pending = crate::client::outbox::Pending { client_id, room, text };
            self.outbox.with_value(|outbox| outbox.push(pending.clone()));
            self.command(Command::Send(pending));
        }
    }

    /// Adds `room` to the list and joins it.
    pub fn join(&self, room: String) {
        let current = self.current.get_untracked();
        self.rooms.maybe_update(|list| merge_rooms(list, [room.clone()], &current));
        #[cfg(feature = "hydrate")]
        self.command(Command::Join(room));
    }

    /// Removes `room` from the list and leaves it.
    pub fn leave(&self, room: String) {
        self.rooms.update(|list| list.retain(|r| *r != room));
        self.logs.update(|logs| {
            logs.remove(&room);
        });
        #[cfg(feature = "hydrate")]
        self.command(Command::Leave(room));
    }

    /// Tells the room that this user is typing (at most every 2.5 s).
    pub fn typing_now(&self, last_sent: StoredValue<f64>) {
        #[cfg(feature = "hydrate")]
        {
            let now = js_sys::Date::now();
            if now - last_sent.get_value() > 2_500.0 {
                last_sent.set_value(now);
                self.command(Command::Typing(self.current.get_untracked()));
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = last_sent;
    }

    /// Asks to change this user's display name.
    pub fn rename(&self, name: String) {
        #[cfg(feature = "hydrate")]
        self.command(Command::Rename(name));
        #[cfg(not(feature = "hydrate"))]
        let _ = name;
    }

    /// Sends a frame that changes who may be where (create, invite, remove, block, directory).
    pub fn ask(&self, frame: protocol::ClientFrame) {
        #[cfg(feature = "hydrate")]
        self.command(Command::Frame(frame));
        #[cfg(not(feature = "hydrate"))]
        let _ = frame;
    }

    /// Marks `room` read up to its newest message: here at once, and through the server on
    /// every device (a position never moves backwards; one that could not be sent is sent with
    /// the next message read).
    pub fn mark_read(&self, room: &str) {
        let Some(id) = self.last_id(room) else { return };
        if self.access.with_untracked(|access| access.read.get(room).is_some_and(|read| *read >= id)) {
            return;
        }
        self.access.update(|access| {
            access.read.insert(room.to_owned(), id);
            access.mentions.remove(room);
        });
        self.unread.update(|unread| {
            unread.remove(room);
        });
        #[cfg(feature = "hydrate")]
        if let Some(frame) = self.reads.try_update_value(|reads| reads.report(room, id, js_sys::Date::now())).flatten()
        {
            self.ask(frame);
        }
    }

    /// Replaces the text of this user's message `id` in the room on screen.
    pub fn edit(&self, id: protocol::MessageId, text: String) {
        let (room, client_id) = (self.current.get_untracked(), new_client_id());
        self.ask(protocol::ClientFrame::Edit { room, id, text, client_id });
    }

    /// Deletes this user's message `id` in the room on screen, for everyone.
    pub fn delete(&self, id: protocol::MessageId) {
        let (room, client_id) = (self.current.get_untracked(), new_client_id());
        self.ask(protocol::ClientFrame::Delete { room, id, client_id });
    }

    /// Adds (or with `remove`, takes back) this user's reaction to message `id` in the room on screen.
    pub fn react(&self, id: protocol::MessageId, emoji: &str, remove: bool) {
        let (room, client_id) = (self.current.get_untracked(), new_client_id());
        self.ask(protocol::ClientFrame::React { room, id, emoji: emoji.to_owned(), remove, client_id });
    }

    /// Opens `room` on screen: the divider goes where it had been read to, then it is read. A
    /// room whose messages have not arrived yet (a page just loaded) settles its divider when
    /// its history comes ([`ChatHandles::settle_divider`]) and is read then.
    pub fn opened(&self, room: &str) {
        self.divider.set(Divider { room: room.to_owned(), at: None, settled: false });
        if self.last_id(room).is_some() {
            self.settle_divider(room);
            self.mark_read(room);
        }
    }

    /// If `room` is on screen with its divider not settled, the divider goes where the room
    /// had been read to (call before marking it read).
    pub fn settle_divider(&self, room: &str) {
        let unsettled = self.divider.with_untracked(|divider| divider.room == room && !divider.settled);
        if unsettled {
            let at = self.access.with_untracked(|access| access.read.get(room).copied());
            self.divider.set(Divider { room: room.to_owned(), at, settled: true });
        }
    }

    /// Skips the rest of the reconnect wait.
    pub fn retry_now(&self) {
        #[cfg(feature = "hydrate")]
        self.command(Command::RetryNow);
    }
}

/// Where the "new messages" divider of the room on screen goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Divider {
    /// The room on screen.
    pub room: String,
    /// Its read position when it was opened (no divider without one: never read, all is new).
    pub at: Option<protocol::MessageId>,
    /// Whether `at` is known (the room's messages had arrived).
    pub settled: bool,
}

impl Divider {
    /// The read position the divider follows, in `room`.
    pub fn in_room(&self, room: &str) -> Option<protocol::MessageId> {
        self.at.filter(|_| self.settled && self.room == room)
    }
}

/// The signals as the parts [`inbound::apply`](crate::client::inbound::apply) edits.
impl ChatParts for ChatHandles {
    fn edit_log(&mut self, room: &str, edit: impl FnOnce(&mut ChatLog) -> bool) {
        self.edit_room_log(room, edit);
    }
    fn edit_rooms(&mut self, edit: impl FnOnce(&mut Vec<String>) -> bool) {
        self.rooms.maybe_update(edit);
    }
    fn edit_unread(&mut self, edit: impl FnOnce(&mut Unread) -> bool) {
        self.unread.maybe_update(edit);
    }
    fn edit_members(&mut self, edit: impl FnOnce(&mut Members) -> bool) {
        self.members.maybe_update(edit);
    }
    fn edit_names(&mut self, edit: impl FnOnce(&mut Names) -> bool) {
        self.names.maybe_update(edit);
    }
    fn edit_typing(&mut self, edit: impl FnOnce(&mut Typing) -> bool) {
        self.typing.maybe_update(edit);
    }
    fn edit_my_name(&mut self, edit: impl FnOnce(&mut String) -> bool) {
        self.my_name.maybe_update(edit);
    }
    fn edit_access(&mut self, edit: impl FnOnce(&mut Access) -> bool) {
        self.access.maybe_update(edit);
    }
    fn edit_search(&mut self, edit: impl FnOnce(&mut Search) -> bool) {
        self.search.maybe_update(edit);
    }
}

/// A client id unique enough per user: time, randomness and a counter.
fn new_client_id() -> String {
    #[cfg(feature = "hydrate")]
    {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let random = (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64;
        format!("{:x}-{random:x}-{}", js_sys::Date::now() as u64, COUNTER.fetch_add(1, Ordering::Relaxed))
    }
    #[cfg(not(feature = "hydrate"))]
    String::new()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use protocol::{ChatMessage, ServerFrame};

    use super::*;
    use crate::client::inbound::{Page, apply};

    /// A view of `room`'s transcript: a memo reading it, and how often it ran.
    fn view_of(chat: ChatHandles, room: &'static str) -> (Memo<usize>, Arc<AtomicUsize>) {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let view = Memo::new(move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
            chat.log(room).map_or(0, |log| log.with(|log| log.lines().len()))
        });
        (view, runs)
    }

    fn message(room: &str, id: &str) -> ServerFrame {
        let (room, id) = (room.to_owned(), id.parse().expect("a valid message id"));
        let (user, text, name) = ("bob".to_owned(), "hi".to_owned(), String::new());
        ServerFrame::Message(ChatMessage { room, id, user, name, text, ts: 1, ..ChatMessage::default() })
    }

    #[test]
    fn a_message_in_one_room_re_renders_only_that_room() {
        Owner::new().with(|| {
            let mut chat = ChatHandles::new(Memo::new(|_| "a".to_owned()), "alice", "alice".into());
            let page = Page { me: "alice", current: "a", now_ms: 0.0, outbox: &[], leaving: &[], searching: false };
            apply(&mut chat, &page, &message("a", "1-0"));
            apply(&mut chat, &page, &message("b", "2-0"));
            let (view_a, runs_a) = view_of(chat, "a");
            let (view_b, runs_b) = view_of(chat, "b");
            assert_eq!((view_a.get(), view_b.get()), (1, 1));

            apply(&mut chat, &page, &message("a", "3-0"));
            assert_eq!((view_a.get(), view_b.get()), (2, 1));
            assert_eq!(runs_a.load(Ordering::Relaxed), 2);
            assert_eq!(runs_b.load(Ordering::Relaxed), 1, "room b was not touched");

            apply(&mut chat, &page, &message("a", "3-0"));
            assert_eq!(view_a.get(), 2);
            assert_eq!(runs_a.load(Ordering::Relaxed), 2, "a repeated message re-renders nothing");

            apply(&mut chat, &page, &message("b", "4-0"));
            assert_eq!((view_a.get(), view_b.get()), (2, 2));
            assert_eq!((runs_a.load(Ordering::Relaxed), runs_b.load(Ordering::Relaxed)), (2, 2));
        });
    }
}
