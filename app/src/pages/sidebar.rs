//! The chat page's side panel: joined rooms, who is online, joining a room and renaming.
//!
//! On a wide screen it is a column beside the conversation; on a phone there is
//! no room for a column, so it collapses behind the header's "Rooms" button
//! ([`PanelToggle`]) and opens above the conversation — the CSS decides which,
//! the markup is the same. It closes again when the user picks a room.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use protocol::{DEFAULT_ROOM, RoomName, UserName};

use super::conversations::Conversations;
use super::field_form::{Field, FieldForm};
use super::people::RoomPeople;
use crate::chat_state::ChatHandles;
use crate::room_label::{direct_room, room_label};

/// The header button that opens and closes the side panel (shown on narrow screens only).
#[component]
pub fn PanelToggle(
    /// The chat page's state.
    chat: ChatHandles,
    /// Whether the side panel is open.
    open: RwSignal<bool>,
) -> impl IntoView {
    let unread = move || chat.unread.with(|unread| unread.values().sum::<u32>());
    view! {
        <button
            type="button"
            class="panel-toggle"
            id="panel-toggle"
            aria-controls="side-panel"
            aria-expanded=move || open.get().to_string()
            on:click=move |_| open.update(|open| *open = !*open)
        >
            "Rooms"
            <Show when=move || { unread() > 0 }>
                <span class="unread">{unread}<span class="visually-hidden">" unread"</span></span>
            </Show>
        </button>
    }
}

/// The side panel: rooms, online users, the rename and join forms.
#[component]
pub fn SidePanel(
    /// The chat page's state.
    chat: ChatHandles,
    /// Whether the panel is open (on a phone it slides over the chat).
    open: RwSignal<bool>,
    /// This user (account name).
    me: String,
) -> impl IntoView {
    // Picking a room (or being sent to one) closes the panel on a phone.
    Effect::new(move |previous: Option<String>| {
        let room = chat.current.get();
        if previous.is_some_and(|previous| previous != room) {
            open.set(false);
        }
        room
    });
    let me_online = me.clone();
    view! {
        <aside class="rooms" id="side-panel" class:open=move || open.get() aria-label="Rooms and people">
            <RoomList chat me=me.clone()/>
            <RoomPeople chat me=me.clone()/>
            <section class="online" aria-labelledby="online-title">
                <h2 id="online-title">"Online here"</h2>
                <ul id="online">
                    <For
                        each=move || chat.members.with(|m| m.get(&chat.current.get()).map(|s| s.iter().cloned().collect::<Vec<_>>()).unwrap_or_default())
                        key=|user| user.clone()
                        let:user
                    >
                        {
                            let data = user.clone();
                            let title = user.clone();
                            let direct = direct_room(&me_online, &user).map(|room| {
                                let label = format!("Message {user}");
                                view! { <A href=format!("/r/{room}") attr:class="dm" attr:aria-label=label.clone() attr:title=label>"✉"</A> }
                            });
                            let shown = move || chat.shown(&user);
                            view! {
                                <li class="online-row">
                                    <span class="member" data-user=data title=move || chat.shown(&title)>{shown}</span>
                                    {direct}
                                </li>
                            }
                        }
                    </For>
                </ul>
            </section>
            <Conversations chat me/>
            <RenameForm chat/>
        </aside>
    }
    // Erased: the page's view type is deep enough for the server crate's type checker as it is.
    .into_any()
}

/// The joined rooms with unread counts, and the form to join or create one.
#[component]
fn RoomList(chat: ChatHandles, me: String) -> impl IntoView {
    let navigate = use_navigate();
    let leave = move |room: String| {
        chat.leave(room);
        navigate(&format!("/r/{DEFAULT_ROOM}"), Default::default());
    };
    view! {
        <nav class="room-nav" aria-labelledby="rooms-title">
            <h2 id="rooms-title">"Rooms"</h2>
            <ul id="room-list">
                <For each=move || chat.rooms.get() key=|room| room.clone() let:room>
                    <RoomEntry chat label=room_label(&room, &me) room=room.clone() leave=leave.clone()/>
                </For>
            </ul>
            <JoinForm chat/>
        </nav>
    }
}

/// One room of the list: its link, unread and mention counts, and leave button.
#[component]
fn RoomEntry(
    chat: ChatHandles,
    room: String,
    label: String,
    leave: impl Fn(String) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let target = room.clone();
    let unread = Memo::new({
        let target = target.clone();
        move |_| chat.unread.with(|u| u.get(&target).copied().unwrap_or(0))
    });
    let mentions = Memo::new(move |_| chat.access.with(|a| a.mentions.get(&target).copied().unwrap_or(0)));
    let is_current = {
        let room = room.clone();
        move || chat.current.get() == room
    };
    let can_leave = room != DEFAULT_ROOM;
    let leave_label = format!("Leave {label}");
    let (href, title, data) = (format!("/r/{room}"), label.clone(), room.clone());
    view! {
        <li class="room-entry" class:current=is_current data-room=data>
            <A href=href attr:title=title>
                {label}
            </A>
            <Show when=move || { mentions.get() > 0 }>
                <span class="mentions" title="unread messages that mention you">"@"{mentions}</span>
            </Show>
            <Show when=move || { unread.get() > 0 }>
                <span class="unread" title="unread messages">{unread}</span>
            </Show>
            <Show when=move || can_leave>
                <button type="button" class="leave" title=leave_label.clone() aria-label=leave_label.clone() on:click={
                    let (leave, room) = (leave.clone(), room.clone());
                    move |_| leave(room.clone())
                }>"×"</button>
            </Show>
        </li>
    }
}

/// The form to join or create a room.
#[component]
fn JoinForm(chat: ChatHandles) -> impl IntoView {
    let navigate = use_navigate();
    let field = Field {
        class: "join-room",
        input: "new-room",
        label: "Join or create a room",
        placeholder: "join or create a room",
        max_length: 40,
        button: "join-room",
        action: "Join",
    };
    let submit = move |typed: String| {
        let room = RoomName::parse(&typed).map_err(|err| err.to_string())?;
        chat.join(room.to_string());
        navigate(&format!("/r/{room}"), Default::default());
        Ok(())
    };
    view! { <FieldForm field submit/> }
}

/// The form to change one's display name.
#[component]
fn RenameForm(chat: ChatHandles) -> impl IntoView {
    let field = Field {
        class: "rename-form",
        input: "new-name",
        label: "New display name",
        placeholder: "change your display name",
        max_length: 32,
        button: "rename",
        action: "Rename",
    };
    let submit = move |typed: String| {
        let name = UserName::parse(&typed).map_err(|err| err.to_string().replace("user name", "display name"))?;
        chat.rename(name.to_string());
        Ok(())
    };
    view! { <FieldForm field submit/> }
}
