//! The people of the room on screen beyond who is online: a private room's members (its
//! creator invites and removes them), and for a direct conversation, blocking the other user.

use leptos::prelude::*;
use protocol::{AccountKey, ClientFrame, RoomKind, RoomName, UserName};

use super::field_form::{Field, FieldForm};
use crate::chat_state::ChatHandles;

/// Members of the private room on screen, or the block switch of the conversation on screen.
#[component]
pub fn RoomPeople(
    /// The chat page's state.
    chat: ChatHandles,
    /// This user (account name).
    me: String,
) -> impl IntoView {
    let me_key = AccountKey::of(&me);
    let kind = move || {
        let room = chat.current.get();
        let name = RoomName::parse(&room).ok()?;
        match name.kind() {
            RoomKind::Private { .. } => Some(None),
            RoomKind::Direct { .. } => Some(name.partner(&me_key).map(|partner| partner.to_string())),
            RoomKind::Public => None,
        }
    };
    view! {
        {move || match kind() {
            Some(None) => view! { <Members chat me=me.clone()/> }.into_any(),
            Some(Some(partner)) => view! { <BlockSwitch chat partner/> }.into_any(),
            None => ().into_any(),
        }}
    }
}

/// A private room's members; its creator sees the invite form and a remove button per member.
#[component]
fn Members(chat: ChatHandles, me: String) -> impl IntoView {
    let roster = move || chat.access.with(|access| access.rosters.get(&chat.current.get()).cloned());
    let is_owner = Memo::new(move |_| roster().is_some_and(|(owner, _)| AccountKey::of(&me).as_str() == owner));
    // Only a member receives the roster: a room the user is not in shows no member list at all.
    view! {
        <Show when=move || roster().is_some()>
        <section class="members" aria-labelledby="members-title">
            <h2 id="members-title">"Members"</h2>
            <ul id="members">
                {move || roster().map(|(owner, users)| users.into_iter().map(|user| {
                    let removable = is_owner.get() && user != owner;
                    let label = format!("Remove {user}");
                    let target = user.clone();
                    view! {
                        <li class="member-row" data-user=user.clone()>
                            <span class="member" title=user.clone()>
                                {user.clone()}
                                {(user == owner).then(|| view! { <span class="owner">" (creator)"</span> })}
                            </span>
                            {removable.then(|| view! {
                                <button type="button" class="remove" title=label.clone() aria-label=label
                                    on:click=move |_| chat.ask(ClientFrame::Remove {
                                        room: chat.current.get_untracked(),
                                        user: target.clone(),
                                    })>"×"</button>
                            })}
                        </li>
                    }
                }).collect_view())}
            </ul>
            <Show when=move || is_owner.get()>
                <InviteForm chat/>
            </Show>
        </section>
        </Show>
    }
}

/// The creator's form to invite a user by name.
#[component]
fn InviteForm(chat: ChatHandles) -> impl IntoView {
    let field = Field {
        class: "invite",
        input: "invite-user",
        label: "Invite a user",
        placeholder: "invite by name",
        max_length: UserName::MAX,
        button: "invite",
        action: "Invite",
    };
    let submit = move |name: String| {
        let user = UserName::parse(&name).map_err(|err| err.to_string())?;
        chat.ask(ClientFrame::Invite { room: chat.current.get_untracked(), user: user.to_string() });
        Ok(())
    };
    view! { <FieldForm field submit/> }
}

/// Blocks or unblocks the other user of the conversation on screen.
#[component]
fn BlockSwitch(chat: ChatHandles, partner: String) -> impl IntoView {
    let target = partner.clone();
    let blocked = Memo::new(move |_| chat.access.with(|access| access.blocked.contains(&target)));
    let toggle = move |_| {
        let user = partner.clone();
        chat.ask(if blocked.get_untracked() { ClientFrame::Unblock { user } } else { ClientFrame::Block { user } });
    };
    view! {
        <section class="block">
            <button type="button" id="block-user" on:click=toggle>
                {move || if blocked.get() { "Unblock" } else { "Block" }}
            </button>
        </section>
    }
}
