//! The chat page: the transcript, the message box, the connection status, and
//! the side panel ([`sidebar`](super::sidebar)).
//!
//! The page is rendered on the server only for a logged-in user (the `whoami`
//! server function answers 401 otherwise and the page redirects to `/login`
//! before any byte is sent: the routes render in `SsrMode::Async`). The URL
//! names the room (`/r/<room>`; `/` is `general`), so a refresh or a shared
//! link opens it. The websocket is opened in the browser only, after
//! hydration, and stays open while the user switches rooms. The page and the
//! connection meet only in [`ChatHandles`].

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_params_map;
use protocol::{DEFAULT_ROOM, RoomName};

use super::search::{SearchBox, SearchPanel};
use super::sidebar::{PanelToggle, SidePanel};
use super::transcript_line::TranscriptLine;
use crate::api::{ApiError, Logout, LogoutAll, Me, whoami};
use crate::chat_state::ChatHandles;
use crate::client::ConnectionState;
use crate::room_label::room_label;

/// The chat routes (`/` and `/r/<room>`): redirect to `/login` without a session.
#[component]
pub fn ChatPage() -> impl IntoView {
    let user = Resource::new_blocking(|| (), |_| whoami());
    view! {
        <Suspense fallback=|| view! { <main><p class="notice">"Loading…"</p></main> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(me) => view! { <ChatRoom me/> }.into_any(),
                    Err(ApiError::NotLoggedIn) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(err) => view! {
                        <main class="auth">
                            <h1>"Switchboard is briefly unavailable"</h1>
                            <p class="error">{err.to_string()}</p>
                            <p><a href="/">"Try again"</a></p>
                        </main>
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
    let chat = ChatHandles::new(current, &me.user, me.name.clone());
    let panel_open = RwSignal::new(false);
    // The room on screen is joined (added to the list) and read.
    Effect::new(move |_| {
        let room = current.get();
        if RoomName::parse(&room).is_ok() && !chat.rooms.with_untracked(|r| r.contains(&room)) {
            chat.join(room.clone());
        }
        chat.opened(&room);
    });
    #[cfg(feature = "hydrate")]
    {
        let user = me.user.clone();
        Effect::new(move |started: Option<()>| {
            if started.is_none() {
                crate::client::connection::start(chat, user.clone());
            }
        });
        // What arrived while the tab was hidden is read when the user comes back to it.
        let visible = window_event_listener_untyped("visibilitychange", move |_| {
            if !document().hidden() {
                chat.mark_read(&current.get_untracked());
            }
        });
        on_cleanup(move || visible.remove());
    }
    // A room the user just created is opened.
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(room) = chat.open.get() {
            chat.open.set(None);
            navigate(&format!("/r/{room}"), Default::default());
        }
    });
    let me_for_title = me.user.clone();
    let logout = ServerAction::<Logout>::new();
    let logout_all = ServerAction::<LogoutAll>::new();
    view! {
        <header class="top">
            <h1>"Switchboard"</h1>
            <span class="room" id="room-title">{move || room_label(&current.get(), &me_for_title)}</span>
            <PanelToggle chat open=panel_open/>
            <SearchBox chat/>
            <span class="whoami">
                "Logged in as " <strong class="me" title=move || chat.my_name.get()>{move || chat.my_name.get()}</strong>
            </span>
            <ActionForm action=logout attr:class="logout">
                <button type="submit" id="logout">"Log out"</button>
            </ActionForm>
            <ActionForm action=logout_all attr:class="logout">
                <button type="submit" id="logout-all" title="End every session of yours, on every device">"Log out everywhere"</button>
            </ActionForm>
        </header>
        <div class="layout">
            <SidePanel chat open=panel_open me=me.user.clone()/>
            <main class="conversation">
                <SearchPanel chat me=me.user.clone()/>
                <Conversation chat user=me.user.clone()/>
            </main>
        </div>
        <StatusLine chat loads=me.loads instance=me.instance.clone()/>
    }
}

/// The transcript of the room on screen, the message box and the typing line.
#[component]
fn Conversation(chat: ChatHandles, user: String) -> impl IntoView {
    let current = chat.current;
    let me_for_box = user.clone();
    let me_for_lines = StoredValue::new(user.clone());
    let valid_room = move || RoomName::parse(&current.get()).is_ok();
    let draft = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = draft.get_untracked();
        if !text.trim().is_empty() && valid_room() {
            chat.send(&user, text);
            draft.set(String::new());
        }
    };
    // Tracks the room on screen's own transcript only: a message elsewhere does not run this.
    // Each line with whether the "new messages" divider goes before it.
    let lines = move || {
        let lines = chat.log(&current.get()).map(|log| log.with(|log| log.lines().to_vec())).unwrap_or_default();
        let divider = chat.divider.with(|divider| divider.in_room(&current.get()));
        let first_new = divider.and_then(|read| lines.iter().position(|line| line.is_new_after(read)));
        lines.into_iter().enumerate().map(|(index, line)| (Some(index) == first_new, line)).collect::<Vec<_>>()
    };
    let (transcript, scrolling) = (NodeRef::<leptos::html::Ol>::new(), Scrolling::follow(chat));
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
        <Show when=valid_room fallback=|| view! { <p class="error">"That is not a valid room name."</p> }>
            <ol class="transcript" aria-live="polite" aria-label="Messages" node_ref=transcript
                on:scroll=move |_| scrolling.scrolled(transcript)>
                <li class="history-start">
                    {move || if chat.log(&current.get()).is_some_and(|l| l.with(|l| l.reached_start())) {
                        view! { <span class="notice">"The beginning of the conversation"</span> }.into_any()
                    } else {
                        view! {
                            <button type="button" id="load-older" on:click=move |_| scrolling.older(transcript)>
                                {move || if chat.search.with(|s| s.loading_older) { "Loading…" } else { "Load older messages" }}
                            </button>
                        }.into_any()
                    }}
                </li>
                <For
                    each=lines
                    key=|(first_new, line)| (line.key.clone(), line.pending, line.version, *first_new)
                    let:((first_new, line))
                >
                    <Show when=move || first_new>
                        <li class="divider" role="separator">"New messages"</li>
                    </Show>
                    <TranscriptLine chat line me=me_for_lines.get_value()/>
                </For>
            </ol>
        </Show>
        <form class="compose" on:submit=submit>
            <label for="message" class="visually-hidden">"Message"</label>
            <input
                type="text"
                id="message"
                placeholder=move || format!("Message {} — /me waves", room_label(&current.get(), &me_for_box))
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
    }
}

/// Where the transcript is scrolled: following the newest message while the reader is at the
/// bottom, and keeping their place when a page of older messages goes in above.
#[derive(Clone, Copy)]
struct Scrolling {
    chat: ChatHandles,
    /// The reader is at (or near) the bottom: new messages scroll into view.
    at_bottom: StoredValue<bool>,
    /// Distance from the bottom when older messages were asked for, to restore once they are in.
    anchor: StoredValue<Option<i32>>,
}

impl Scrolling {
    /// Follows the room on screen's transcript as it grows.
    fn follow(chat: ChatHandles) -> Self {
        let me = Self { chat, at_bottom: StoredValue::new(true), anchor: StoredValue::new(None) };
        #[cfg(feature = "hydrate")]
        {
            let transcript_changed =
                move || chat.log(&chat.current.get()).map(|log| log.with(|l| (l.lines().len(), l.oldest_id())));
            Effect::new(move |_| {
                transcript_changed();
                request_animation_frame(move || me.settle());
            });
        }
        me
    }

    /// Asks for older messages, remembering where the reader is.
    fn older(self, transcript: NodeRef<leptos::html::Ol>) {
        if let Some(list) = transcript.get_untracked() {
            self.anchor.set_value(Some(list.scroll_height() - list.scroll_top()));
        }
        self.chat.load_older();
    }

    /// The reader scrolled: near the top loads older messages; at the bottom resumes following.
    fn scrolled(self, transcript: NodeRef<leptos::html::Ol>) {
        let Some(list) = transcript.get_untracked() else { return };
        self.at_bottom.set_value(list.scroll_height() - list.scroll_top() - list.client_height() < 48);
        if list.scroll_top() < 64 && list.scroll_height() > list.client_height() {
            self.older(transcript);
        }
    }

    /// After the transcript changed: the reader's place kept (older messages went in above), or
    /// the newest message shown (the reader was at the bottom).
    #[cfg(feature = "hydrate")]
    fn settle(self) {
        let Some(list) = document().query_selector("ol.transcript").ok().flatten() else { return };
        if let Some(from_bottom) = self.anchor.get_value()
            && !self.chat.search.with_untracked(|s| s.loading_older)
        {
            self.anchor.set_value(None);
            list.set_scroll_top(list.scroll_height() - from_bottom);
        } else if self.at_bottom.get_value() && self.anchor.get_value().is_none() {
            list.set_scroll_top(list.scroll_height());
        }
    }
}

/// The footer: connection status ("retry now" while waiting), page loads and instances.
#[component]
fn StatusLine(chat: ChatHandles, loads: u64, instance: String) -> impl IntoView {
    let connected = move || matches!(chat.state.get(), ConnectionState::Connected(..));
    let socket_instance = move || match chat.state.get() {
        ConnectionState::Connected(instance, _) => instance,
        _ => "—".to_owned(),
    };
    view! {
        <footer class="status">
            <span id="connection" role="status" class:connected=connected>{move || chat.state.get().describe()}</span>
            {move || matches!(chat.state.get(), ConnectionState::Reconnecting(_) | ConnectionState::Offline).then(|| view! {
                <button type="button" class="retry" on:click=move |_| chat.retry_now()>"retry now"</button>
            })}
            <NotifyButton/>
            <span class="loads">"this session loaded the page " <span id="loads">{loads}</span> " times"</span>
            <span class="instances">
                "page from " <span id="page-instance">{instance}</span>
                " · socket on " <span id="socket-instance">{socket_instance}</span>
            </span>
        </footer>
    }
}

/// Offers to notify the user of mentions while the tab is hidden, until they answered the
/// browser's question (a permission is asked on a click, as browsers require).
#[component]
fn NotifyButton() -> impl IntoView {
    let asked = RwSignal::new(true);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| asked.set(web_sys::Notification::permission() != web_sys::NotificationPermission::Default));
    let ask = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let _ = web_sys::Notification::request_permission();
        }
        asked.set(true);
    };
    view! {
        <Show when=move || !asked.get()>
            <button type="button" id="notify" class="notify" on:click=ask>"notify me of mentions"</button>
        </Show>
    }
}
