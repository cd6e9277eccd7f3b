//! Starting conversations: a private room, a direct conversation with a user by name, and
//! browsing the public rooms. Each sends one frame; what the server answers (`created`, a
//! `room_added` on the other side, the `directory`) comes back through the chat state.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use protocol::{ClientFrame, RoomName};

use crate::chat_state::ChatHandles;
use crate::room_label::direct_room;

/// The forms to create a private room and to message a user, and the public room directory.
#[component]
pub fn Conversations(
    /// The chat page's state.
    chat: ChatHandles,
    /// This user (account name).
    me: String,
) -> impl IntoView {
    view! {
        <section class="conversations" aria-labelledby="conversations-title">
            <h2 id="conversations-title">"Start"</h2>
            <PrivateRoomForm chat/>
            <DirectForm me/>
            <Directory chat/>
        </section>
    }
}

/// Creates a private room; the server answers with its name and the page opens it.
#[component]
fn PrivateRoomForm(chat: ChatHandles) -> impl IntoView {
    let title = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match RoomName::parse_public(title.get_untracked().trim()) {
            Ok(valid) => {
                error.set(None);
                title.set(String::new());
                chat.ask(ClientFrame::CreateRoom { title: valid.to_string() });
            }
            Err(err) => error.set(Some(err.to_string())),
        }
    };
    view! {
        <form class="create-room" on:submit=submit>
            <label for="new-private-room" class="visually-hidden">"New private room"</label>
            <input type="text" id="new-private-room" placeholder="new private room" maxlength="40"
                prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev))/>
            <button type="submit" id="create-room">"Create"</button>
            <p class="error" role="alert">{move || error.get()}</p>
        </form>
    }
}

/// Opens the direct conversation with a user named in the form.
#[component]
fn DirectForm(me: String) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match direct_room(&me, name.get_untracked().trim()) {
            Some(room) => {
                error.set(None);
                name.set(String::new());
                navigate(&format!("/r/{room}"), Default::default());
            }
            None => error.set(Some("name another user".into())),
        }
    };
    view! {
        <form class="direct" on:submit=submit>
            <label for="dm-user" class="visually-hidden">"Message a user"</label>
            <input type="text" id="dm-user" placeholder="message a user" maxlength="32"
                prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
            <button type="submit" id="dm-open">"Message"</button>
            <p class="error" role="alert">{move || error.get()}</p>
        </form>
    }
}

/// The public rooms, busiest first, on demand.
#[component]
fn Directory(chat: ChatHandles) -> impl IntoView {
    let rooms = move || chat.access.with(|access| access.directory.clone());
    view! {
        <div class="directory">
            <button type="button" id="browse-rooms" on:click=move |_| chat.ask(ClientFrame::Directory)>
                "Browse public rooms"
            </button>
            {move || rooms().map(|rooms| view! {
                <ul id="directory">
                    {rooms.into_iter().map(|room| {
                        let (href, data) = (format!("/r/{room}"), room.clone());
                        view! { <li data-room=data><A href=href>"#" {room}</A></li> }
                    }).collect_view()}
                </ul>
            })}
        </div>
    }
}
