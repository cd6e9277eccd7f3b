//! One line of the transcript, with what a user can do to a message: react (anyone), edit
//! and delete (its author). Names are cut with an ellipsis (the full name is the tooltip);
//! message text wraps anywhere, so no word can push the page sideways. Every text here —
//! messages, edits, names, emoji — is rendered as text, never as HTML.

use leptos::prelude::*;

use crate::chat_log::{Line, LineKind};
use crate::chat_state::ChatHandles;

/// The reactions offered by the picker (any single emoji is accepted by the server).
const PICKER: [&str; 6] = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

/// `HH:MM` of a timestamp, in the browser's time zone.
pub(super) fn clock(ts: u64) -> String {
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

/// Asks the user to confirm a deletion (always yes where there is no window to ask in).
fn confirmed(question: &str) -> bool {
    #[cfg(feature = "hydrate")]
    return web_sys::window().is_none_or(|window| window.confirm_with_message(question).unwrap_or(false));
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = question;
        true
    }
}

/// One line: time, author, text (or the edit form), reactions and the actions.
#[component]
pub fn TranscriptLine(chat: ChatHandles, line: Line, me: String) -> impl IntoView {
    let editing = RwSignal::new(false);
    let user = line.user.clone();
    let kind = line.kind.clone();
    let text = {
        let (line, kind, user) = (line.clone(), kind.clone(), user.clone());
        move || {
            match kind {
            LineKind::Notice | LineKind::Deleted => view! { <span class="text">{line.text.clone()}</span> }.into_any(),
            LineKind::Action => view! {
                <span class="text">"* " <span class="user" title=user.clone()>{line.user.clone()}</span> " " {line.text.clone()}</span>
            }
            .into_any(),
            LineKind::Text => view! {
                <span class="user" title=user.clone()>{line.user.clone()}</span> <span class="text">{line.text.clone()}</span>
            }
            .into_any(),
        }
        }
    };
    let deleted_author =
        (kind == LineKind::Deleted).then(|| view! { <span class="user" title=user.clone()>{user.clone()}</span> });
    let original = if kind == LineKind::Action { format!("/me {}", line.text) } else { line.text.clone() };
    let id = line.id();
    let (mine, pending, key, edited) = (line.mine, line.pending, line.key.clone(), line.edited);
    let editable = line.mine && line.id().is_some() && matches!(kind, LineKind::Text | LineKind::Action);
    view! {
        <li
            class="line"
            class:mine=mine
            class:pending=pending
            class:action=kind == LineKind::Action
            class:notice=kind == LineKind::Notice
            class:deleted=kind == LineKind::Deleted
            class:mention=line.mention
            data-id=key
        >
            <time class="ts">{clock(line.ts)}</time>
            {deleted_author}
            <Show when=move || editing.get() fallback=text>
                <EditForm chat id original=original.clone() editing/>
            </Show>
            {edited.then(|| view! { <span class="edited" title="edited">"(edited)"</span> })}
            <Reactions chat line=line.clone() me/>
            {editable.then(|| view! { <MineActions chat line=line.clone() editing/> })}
        </li>
    }
}

/// The reactions under a message (each toggles this user's own) and the picker to add one.
#[component]
fn Reactions(chat: ChatHandles, line: Line, me: String) -> impl IntoView {
    let Some(id) = line.id().filter(|_| matches!(line.kind, LineKind::Text | LineKind::Action)) else {
        return ().into_any();
    };
    let picking = RwSignal::new(false);
    let chips = line.reactions.iter().map(|(emoji, users)| {
        let mine = users.contains(&me);
        let who = users.iter().map(|u| chat.shown(u)).collect::<Vec<_>>().join(", ");
        let emoji = emoji.clone();
        let label = format!("{emoji} {}", users.len());
        view! {
            <button type="button" class="reaction" class:mine=mine aria-pressed=mine.to_string() title=who
                on:click=move |_| chat.react(id, &emoji, mine)>{label}</button>
        }
    });
    let mine_already: Vec<String> =
        line.reactions.iter().filter(|(_, users)| users.contains(&me)).map(|(emoji, _)| emoji.clone()).collect();
    view! {
        <span class="reactions">
            {chips.collect_view()}
            <button type="button" class="react-open" aria-label="Add a reaction" aria-expanded=move || picking.get().to_string()
                on:click=move |_| picking.update(|open| *open = !*open)>"☺"</button>
            <Show when=move || picking.get()>
                <span class="picker" role="group" aria-label="Reactions">
                    {PICKER.iter().map(|emoji| {
                        let mine = mine_already.iter().any(|m| m == emoji);
                        view! {
                            <button type="button" class="pick" on:click=move |_| {
                                chat.react(id, emoji, mine);
                                picking.set(false);
                            }>{*emoji}</button>
                        }
                    }).collect_view()}
                </span>
            </Show>
        </span>
    }
    .into_any()
}

/// Edit and Delete, on the user's own stored messages.
#[component]
fn MineActions(chat: ChatHandles, line: Line, editing: RwSignal<bool>) -> impl IntoView {
    let id = line.id();
    let delete = move |_| {
        if let Some(id) = id
            && confirmed("Delete this message for everyone?")
        {
            chat.delete(id);
        }
    };
    view! {
        <span class="line-actions">
            <button type="button" class="edit" on:click=move |_| editing.set(true)>"Edit"</button>
            <button type="button" class="delete" on:click=delete>"Delete"</button>
        </span>
    }
}

/// The form that replaces a message's text while the author edits it (Escape cancels).
#[component]
fn EditForm(
    chat: ChatHandles,
    id: Option<protocol::MessageId>,
    original: String,
    editing: RwSignal<bool>,
) -> impl IntoView {
    let draft = RwSignal::new(original.clone());
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = draft.get_untracked();
        if let Some(id) = id
            && !text.trim().is_empty()
            && text != original
        {
            chat.edit(id, text);
        }
        editing.set(false);
    };
    view! {
        <form class="edit-form" on:submit=save>
            <label class="visually-hidden" for="edit-text">"Edit message"</label>
            <input type="text" id="edit-text" class="edit-text" maxlength="2000" autofocus
                prop:value=move || draft.get()
                on:input=move |ev| draft.set(event_target_value(&ev))
                on:keydown=move |ev| if ev.key() == "Escape" { editing.set(false) }/>
            <button type="submit" class="save">"Save"</button>
            <button type="button" class="cancel" on:click=move |_| editing.set(false)>"Cancel"</button>
        </form>
    }
}
