//! The reactive state of a chat page, shared by the page and its connection.
//!
//! It lives apart from both so that neither reaches into the other: the page
//! (`pages::chat`) draws these signals and turns the user's actions into
//! [`Command`](crate::client::connection::Command)s; the connection task
//! (`client::connection`) fills the signals from server frames. What must
//! outlive the page — a submitted message — goes into the shared
//! [`Outbox`](crate::client::outbox::Outbox) here, at submit time, before the
//! connection task ever sees it.

use std::collections::{BTreeSet, HashMap};

use leptos::prelude::*;
use protocol::DEFAULT_ROOM;

use crate::chat_log::ChatLog;
use crate::client::ConnectionState;

#[cfg(feature = "hydrate")]
use crate::client::connection::Command;

/// The reactive state shared by the page and its connection.
#[derive(Clone, Copy)]
pub struct ChatHandles {
    /// The transcript of every joined room.
    pub logs: RwSignal<HashMap<String, ChatLog>>,
    /// The joined rooms, sorted.
    pub rooms: RwSignal<Vec<String>>,
    /// Unread messages per room (not counting the room on screen).
    pub unread: RwSignal<HashMap<String, u32>>,
    /// Who is present in each room, on any instance.
    pub members: RwSignal<HashMap<String, BTreeSet<String>>>,
    /// Display names by user, where they differ from the user name.
    pub names: RwSignal<HashMap<String, String>>,
    /// This user's display name.
    pub my_name: RwSignal<String>,
    /// Who is typing in each room, with the time (ms) the notice ends.
    pub typing: RwSignal<HashMap<String, HashMap<String, f64>>>,
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
}

impl ChatHandles {
    /// The state of a fresh page of `user` (account name), shown as `my_name`, on room `current`.
    pub fn new(current: Memo<String>, user: &str, my_name: String) -> Self {
        #[cfg(not(feature = "hydrate"))]
        let _ = user;
        Self {
            names: RwSignal::new(HashMap::new()),
            my_name: RwSignal::new(my_name),
            logs: RwSignal::new(HashMap::new()),
            rooms: RwSignal::new(vec![DEFAULT_ROOM.to_owned()]),
            unread: RwSignal::new(HashMap::new()),
            members: RwSignal::new(HashMap::new()),
            typing: RwSignal::new(HashMap::new()),
            current,
            state: RwSignal::new(ConnectionState::default()),
            #[cfg(feature = "hydrate")]
            commands: StoredValue::new_local(None),
            #[cfg(feature = "hydrate")]
            outbox: StoredValue::new_local(crate::client::outbox::Outbox::load(user)),
        }
    }

    /// Changes the transcript of `room`.
    pub fn with_log(&self, room: &str, change: impl FnOnce(&mut ChatLog)) {
        self.logs.update(|logs| change(logs.entry(room.to_owned()).or_default()));
    }

    /// The newest message id seen in `room`.
    pub fn last_id(&self, room: &str) -> Option<String> {
        self.logs.with_untracked(|logs| logs.get(room).and_then(|log| log.last_id().map(str::to_owned)))
    }

    /// Adds rooms to the list (kept sorted, without duplicates).
    pub fn add_rooms(&self, rooms: impl IntoIterator<Item = String>) {
        self.rooms.update(|list| {
            list.extend(rooms);
            list.push(self.current.get_untracked());
            list.sort();
            list.dedup();
        });
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
        self.add_rooms([room.clone()]);
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

    /// Skips the rest of the reconnect wait.
    pub fn retry_now(&self) {
        #[cfg(feature = "hydrate")]
        self.command(Command::RetryNow);
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
