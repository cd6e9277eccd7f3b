//! Starting conversations: a private room, a direct conversation with a user by name, and
//! browsing the public rooms. Each sends one frame; what the server answers (`created`, a
//! `room_added` on the other side, the `directory`) comes back through the chat state.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use protocol::{ClientFrame, RoomName};

use super::field_form::{Field, FieldForm};
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
    let field = Field {
        class: "create-room",
        input: "new-private-room",
        label: "New private room",
        placeholder: "new private room",
        max_length: RoomName::MAX,
        button: "create-room",
        action: "Create",
    };
    let submit = move |title: String| {
        let title = RoomName::parse_public(&title).map_err(|err| err.to_string())?;
        chat.ask(ClientFrame::CreateRoom { title: title.to_string() });
        Ok(())
    };
    view! { <FieldForm field submit/> }
}

/// Opens the direct conversation with a user named in the form.
#[component]
fn DirectForm(me: String) -> impl IntoView {
    let navigate = use_navigate();
    let field = Field {
        class: "direct",
        input: "dm-user",
        label: "Message a user",
        placeholder: "message a user",
        max_length: protocol::UserName::MAX,
        button: "dm-open",
        action: "Message",
    };
    let submit = move |name: String| {
        let room = direct_room(&me, &name).ok_or_else(|| "name another user".to_owned())?;
        navigate(&format!("/r/{room}"), Default::default());
        Ok(())
    };
    view! { <FieldForm field submit/> }
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
