//! The chat page: the transcript, the message box and the connection status.
//!
//! The page is rendered on the server only for a logged-in user (the `me`
//! server function answers 401 otherwise and the page redirects to `/login`
//! before any byte is sent: the route renders in `SsrMode::Async`). The
//! websocket is opened in the browser only, after hydration.

use leptos::prelude::*;
use leptos_router::components::Redirect;
use protocol::DEFAULT_ROOM;

use crate::api::{whoami, Logout, Me};
use crate::chat_log::{ChatLog, LineKind};
use crate::client::ConnectionState;

/// The reactive state shared by the page and its connection.
#[derive(Clone, Copy)]
pub struct ChatHandles {
    /// The transcript.
    pub log: RwSignal<ChatLog>,
    /// The connection status.
    pub state: RwSignal<ConnectionState>,
    /// The connection's command channel (browser only).
    #[cfg(feature = "hydrate")]
    pub commands: StoredValue<Option<futures::channel::mpsc::UnboundedSender<crate::client::connection::Command>>, LocalStorage>,
}

impl ChatHandles {
    fn new() -> Self {
        Self {
            log: RwSignal::new(ChatLog::default()),
            state: RwSignal::new(ConnectionState::default()),
            #[cfg(feature = "hydrate")]
            commands: StoredValue::new_local(None),
        }
    }

    /// Shows `text` as pending and hands it to the connection.
    fn send(&self, me: &str, text: String) {
        let client_id = new_client_id();
        self.log.update(|log| log.push_pending(me, &client_id, &text));
        #[cfg(feature = "hydrate")]
        self.commands.with_value(|commands| {
            if let Some(commands) = commands {
                let _ = commands.unbounded_send(crate::client::connection::Command::Send { client_id, text });
            }
        });
    }

    fn retry_now(&self) {
        #[cfg(feature = "hydrate")]
        self.commands.with_value(|commands| {
            if let Some(commands) = commands {
                let _ = commands.unbounded_send(crate::client::connection::Command::RetryNow);
            }
        });
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

/// The chat route: redirects to `/login` without a session.
#[component]
pub fn ChatPage() -> impl IntoView {
    let user = Resource::new_blocking(|| (), |_| whoami());
    view! {
        <Suspense fallback=|| view! { <p class="notice">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(me) => view! { <ChatRoom me/> }.into_any(),
                    Err(_) => view! { <Redirect path="/login"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ChatRoom(me: Me) -> impl IntoView {
    let chat = ChatHandles::new();
    let room = DEFAULT_ROOM.to_owned();
    #[cfg(feature = "hydrate")]
    {
        let (user, room) = (me.user.clone(), room.clone());
        Effect::new(move |started: Option<()>| {
            if started.is_none() {
                crate::client::connection::start(chat, user.clone(), room.clone());
            }
        });
    }
    let logout = ServerAction::<Logout>::new();
    let draft = RwSignal::new(String::new());
    let user = me.user.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = draft.get_untracked();
        if !text.trim().is_empty() {
            chat.send(&user, text);
            draft.set(String::new());
        }
    };
    let connected = move || matches!(chat.state.get(), ConnectionState::Connected(_));
    let socket_instance = move || match chat.state.get() {
        ConnectionState::Connected(instance) => instance,
        _ => "—".to_owned(),
    };
    view! {
        <header class="top">
            <h1>"Switchboard"</h1>
            <span class="room">"#" {room}</span>
            <span class="whoami">"Logged in as " <strong class="me">{me.user.clone()}</strong></span>
            <ActionForm action=logout attr:class="logout">
                <button type="submit" id="logout">"Log out"</button>
            </ActionForm>
        </header>
        <ol class="transcript" aria-live="polite">
            <For each=move || chat.log.with(|log| log.lines().to_vec()) key=|line| (line.key.clone(), line.pending) let:line>
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
        <form class="compose" on:submit=submit>
            <input
                type="text"
                id="message"
                placeholder="Message #general — /me waves"
                autocomplete="off"
                maxlength="2000"
                prop:value=move || draft.get()
                on:input=move |ev| draft.set(event_target_value(&ev))
            />
            <button type="submit" id="send">"Send"</button>
        </form>
        <footer class="status">
            <span id="connection" class:connected=connected>{move || chat.state.get().describe()}</span>
            {move || matches!(chat.state.get(), ConnectionState::Reconnecting(_) | ConnectionState::Offline).then(|| view! {
                <button type="button" class="retry" on:click=move |_| chat.retry_now()>"retry now"</button>
            })}
            <span class="instances">
                "page from " <span id="page-instance">{me.instance.clone()}</span>
                " · socket on " <span id="socket-instance">{socket_instance}</span>
            </span>
        </footer>
    }
}
