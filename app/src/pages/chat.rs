//! The chat page: rooms, the transcript, the message box and the connection status.
//!
//! The page is rendered on the server only for a logged-in user (the `whoami`
//! server function answers 401 otherwise and the page redirects to `/login`
//! before any byte is sent: the routes render in `SsrMode::Async`). The URL
//! names the room (`/r/<room>`; `/` is `general`), so a refresh or a shared
//! link opens it. The websocket is opened in the browser only, after
//! hydration, and stays open while the user switches rooms.

use std::collections::{BTreeSet, HashMap};

use leptos::prelude::*;
use leptos_router::components::{A, Redirect};
use leptos_router::hooks::{use_navigate, use_params_map};
use protocol::{DEFAULT_ROOM, RoomName};

use crate::api::{ApiError, Logout, LogoutAll, Me, whoami};
use crate::chat_log::{ChatLog, LineKind};
use crate::client::ConnectionState;

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
    pub commands:
        StoredValue<Option<futures::channel::mpsc::UnboundedSender<crate::client::connection::Command>>, LocalStorage>,
}

impl ChatHandles {
    fn new(current: Memo<String>, my_name: String) -> Self {
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

    #[cfg(feature = "hydrate")]
    fn command(&self, command: crate::client::connection::Command) {
        self.commands.with_value(|commands| {
            if let Some(commands) = commands {
                let _ = commands.unbounded_send(command);
            }
        });
    }

    /// Shows `text` as pending in the current room and hands it to the connection.
    fn send(&self, me: &str, text: String) {
        let room = self.current.get_untracked();
        let client_id = new_client_id();
        self.with_log(&room, |log| log.push_pending(me, &client_id, &text));
        #[cfg(feature = "hydrate")]
        self.command(crate::client::connection::Command::Send(crate::client::outbox::Pending {
            client_id,
            room,
            text,
        }));
    }

    fn join(&self, room: String) {
        self.add_rooms([room.clone()]);
        #[cfg(feature = "hydrate")]
        self.command(crate::client::connection::Command::Join(room));
    }

    fn leave(&self, room: String) {
        self.rooms.update(|list| list.retain(|r| *r != room));
        self.logs.update(|logs| {
            logs.remove(&room);
        });
        #[cfg(feature = "hydrate")]
        self.command(crate::client::connection::Command::Leave(room));
    }

    /// Tells the room that this user is typing (at most every 2.5 s).
    fn typing_now(&self, last_sent: StoredValue<f64>) {
        #[cfg(feature = "hydrate")]
        {
            let now = js_sys::Date::now();
            if now - last_sent.get_value() > 2_500.0 {
                last_sent.set_value(now);
                self.command(crate::client::connection::Command::Typing(self.current.get_untracked()));
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = last_sent;
    }

    /// The name to show for `user`.
    pub fn shown(&self, user: &str) -> String {
        self.names.with(|names| names.get(user).cloned().unwrap_or_else(|| user.to_owned()))
    }

    fn rename(&self, name: String) {
        #[cfg(feature = "hydrate")]
        self.command(crate::client::connection::Command::Rename(name));
        #[cfg(not(feature = "hydrate"))]
        let _ = name;
    }

    fn retry_now(&self) {
        #[cfg(feature = "hydrate")]
        self.command(crate::client::connection::Command::RetryNow);
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

/// `HH:MM` of a timestamp, in the browser's time zone.
fn clock(ts: u64) -> String {
    if ts == 0 {
        return String::new();
    }
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ts as f64));
        format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
    }
    #[cfg(not(feature = "hydrate"))]
    format!("{:02}:{:02}", ts / 3_600_000 % 24, ts / 60_000 % 60)
}

/// The chat routes (`/` and `/r/<room>`): redirect to `/login` without a session.
#[component]
pub fn ChatPage() -> impl IntoView {
    let user = Resource::new_blocking(|| (), |_| whoami());
    view! {
        <Suspense fallback=|| view! { <p class="notice">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(me) => view! { <ChatRoom me/> }.into_any(),
                    Err(ApiError::NotLoggedIn) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(err) => view! {
                        <section class="auth">
                            <h1>"Switchboard is briefly unavailable"</h1>
                            <p class="error">{err.to_string()}</p>
                            <p><a href="/">"Try again"</a></p>
                        </section>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ChatRoom(me: Me) -> impl IntoView {
    let params = use_params_map();
    let current = Memo::new(move |_| params.with(|p| p.get("room")).unwrap_or_else(|| DEFAULT_ROOM.to_owned()));
    let chat = ChatHandles::new(current, me.name.clone());
    let valid_room = move || RoomName::parse(&current.get()).is_ok();
    // The room on screen is joined (added to the list) and read.
    Effect::new(move |_| {
        let room = current.get();
        if RoomName::parse(&room).is_ok() && !chat.rooms.with_untracked(|r| r.contains(&room)) {
            chat.join(room.clone());
        }
        chat.unread.update(|unread| {
            unread.remove(&room);
        });
    });
    #[cfg(feature = "hydrate")]
    {
        let user = me.user.clone();
        Effect::new(move |started: Option<()>| {
            if started.is_none() {
                crate::client::connection::start(chat, user.clone());
            }
        });
    }
    let logout = ServerAction::<Logout>::new();
    let logout_all = ServerAction::<LogoutAll>::new();
    let draft = RwSignal::new(String::new());
    let user = me.user.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = draft.get_untracked();
        if !text.trim().is_empty() && valid_room() {
            chat.send(&user, text);
            draft.set(String::new());
        }
    };
    let connected = move || matches!(chat.state.get(), ConnectionState::Connected(_));
    let socket_instance = move || match chat.state.get() {
        ConnectionState::Connected(instance) => instance,
        _ => "—".to_owned(),
    };
    let lines =
        move || chat.logs.with(|logs| logs.get(&current.get()).map(|log| log.lines().to_vec()).unwrap_or_default());
    let last_typing = StoredValue::new(0.0_f64);
    let typing_line = move || {
        let mut names: Vec<String> = chat
            .typing
            .with(|t| t.get(&current.get()).map(|m| m.keys().map(|u| chat.shown(u)).collect()).unwrap_or_default());
        names.sort();
        match names.len() {
            0 => String::new(),
            1 => format!("{} is typing…", names[0]),
            _ => format!("{} are typing…", names.join(", ")),
        }
    };
    view! {
        <header class="top">
            <h1>"Switchboard"</h1>
            <span class="room" id="room-title">"#" {move || current.get()}</span>
            <span class="whoami">"Logged in as " <strong class="me">{move || chat.my_name.get()}</strong></span>
            <ActionForm action=logout attr:class="logout">
                <button type="submit" id="logout">"Log out"</button>
            </ActionForm>
            <ActionForm action=logout_all attr:class="logout">
                <button type="submit" id="logout-all" title="End every session of yours, on every device">"Log out everywhere"</button>
            </ActionForm>
        </header>
        <div class="layout">
            <RoomList chat/>
            <section class="conversation">
                <Show when=valid_room fallback=|| view! { <p class="error">"That is not a valid room name."</p> }>
                    <ol class="transcript" aria-live="polite">
                        <For each=lines key=|line| (line.key.clone(), line.pending) let:line>
                            <li
                                class="line"
                                class:mine=line.mine
                                class:pending=line.pending
                                class:action=line.kind == LineKind::Action
                                class:notice=line.kind == LineKind::Notice
                                data-id=line.key.clone()
                            >
                                <time class="ts">{clock(line.ts)}</time>
                                {match line.kind {
                                    LineKind::Notice => view! { <span class="text">{line.text}</span> }.into_any(),
                                    LineKind::Action => view! { <span class="text">"* " <span class="user">{line.user}</span> " " {line.text}</span> }.into_any(),
                                    LineKind::Text => view! { <span class="user">{line.user}</span> <span class="text">{line.text}</span> }.into_any(),
                                }}
                            </li>
                        </For>
                    </ol>
                </Show>
                <form class="compose" on:submit=submit>
                    <input
                        type="text"
                        id="message"
                        placeholder=move || format!("Message #{} — /me waves", current.get())
                        autocomplete="off"
                        maxlength="2000"
                        prop:value=move || draft.get()
                        on:input=move |ev| {
                            draft.set(event_target_value(&ev));
                            chat.typing_now(last_typing);
                        }
                    />
                    <button type="submit" id="send">"Send"</button>
                </form>
                <p class="typing" id="typing" aria-live="polite">{typing_line}</p>
            </section>
        </div>
        <footer class="status">
            <span id="connection" class:connected=connected>{move || chat.state.get().describe()}</span>
            {move || matches!(chat.state.get(), ConnectionState::Reconnecting(_) | ConnectionState::Offline).then(|| view! {
                <button type="button" class="retry" on:click=move |_| chat.retry_now()>"retry now"</button>
            })}
            <span class="loads">"this session loaded the page " <span id="loads">{me.loads}</span> " times"</span>
            <span class="instances">
                "page from " <span id="page-instance">{me.instance.clone()}</span>
                " · socket on " <span id="socket-instance">{socket_instance}</span>
            </span>
        </footer>
    }
}

/// The joined rooms with unread counts, and the form to join or create one.
#[component]
fn RoomList(chat: ChatHandles) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    let join = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match RoomName::parse(name.get_untracked().trim()) {
            Ok(room) => {
                error.set(None);
                name.set(String::new());
                chat.join(room.to_string());
                navigate(&format!("/r/{room}"), Default::default());
            }
            Err(err) => error.set(Some(err.to_string())),
        }
    };
    let navigate = use_navigate();
    let leave = move |room: String| {
        chat.leave(room);
        navigate(&format!("/r/{DEFAULT_ROOM}"), Default::default());
    };
    view! {
        <nav class="rooms" aria-label="Rooms">
            <h2>"Rooms"</h2>
            <ul id="room-list">
                <For each=move || chat.rooms.get() key=|room| room.clone() let:room>
                    {
                        let (target, shown, left, href, data) =
                            (room.clone(), room.clone(), room.clone(), format!("/r/{room}"), room.clone());
                        let unread = Memo::new(move |_| chat.unread.with(|u| u.get(&target).copied().unwrap_or(0)));
                        let is_current = {
                            let room = room.clone();
                            move || chat.current.get() == room
                        };
                        let leave = leave.clone();
                        view! {
                            <li class="room-entry" class:current=is_current data-room=data>
                                <A href=href>"#" {shown}</A>
                                <Show when=move || { unread.get() > 0 }>
                                    <span class="unread" title="unread messages">{unread}</span>
                                </Show>
                                <Show when=move || left != DEFAULT_ROOM>
                                    <button type="button" class="leave" title="Leave this room" on:click={
                                        let (leave, room) = (leave.clone(), room.clone());
                                        move |_| leave(room.clone())
                                    }>"×"</button>
                                </Show>
                            </li>
                        }
                    }
                </For>
            </ul>
            <h2>"Online here"</h2>
            <ul id="online">
                <For
                    each=move || chat.members.with(|m| m.get(&chat.current.get()).map(|s| s.iter().cloned().collect::<Vec<_>>()).unwrap_or_default())
                    key=|user| user.clone()
                    let:user
                >
                    {
                        let data = user.clone();
                        view! { <li class="member" data-user=data>{move || chat.shown(&user)}</li> }
                    }
                </For>
            </ul>
            <RenameForm chat/>
            <form class="join-room" on:submit=join>
                <input
                    type="text"
                    id="new-room"
                    placeholder="join or create a room"
                    maxlength="40"
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))
                />
                <button type="submit" id="join-room">"Join"</button>
                <p class="error" role="alert">{move || error.get()}</p>
            </form>
        </nav>
    }
}

/// The form to change one's display name.
#[component]
fn RenameForm(chat: ChatHandles) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match protocol::UserName::parse(&name.get_untracked()) {
            Ok(valid) => {
                error.set(None);
                name.set(String::new());
                chat.rename(valid.to_string());
            }
            Err(err) => error.set(Some(err.to_string().replace("user name", "display name"))),
        }
    };
    view! {
        <form class="rename-form" on:submit=submit>
            <input
                type="text"
                id="new-name"
                placeholder="change your display name"
                maxlength="32"
                prop:value=move || name.get()
                on:input=move |ev| name.set(event_target_value(&ev))
            />
            <button type="submit" id="rename">"Rename"</button>
            <p class="error" role="alert">{move || error.get()}</p>
        </form>
    }
}
