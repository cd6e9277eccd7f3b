//! Searching the conversation: the search box in the header, and the panel of results above
//! the transcript. A result opens in its context (the messages around it, the result marked),
//! with a link to its room. Every text is rendered as text, never as HTML.

use leptos::prelude::*;

use super::transcript_line::clock;
use crate::chat_state::ChatHandles;
use crate::room_label::room_label;

/// The day and time of a timestamp (`2026-12-07 14:05`), in the browser's time zone.
fn when(ts: u64) -> String {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ts as f64));
        format!("{}-{:02}-{:02} {}", date.get_full_year(), date.get_month() + 1, date.get_date(), clock(ts))
    }
    #[cfg(not(feature = "hydrate"))]
    clock(ts)
}

/// The search box: a query of any text; Esc closes the results.
#[component]
pub fn SearchBox(chat: ChatHandles) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = query.get_untracked();
        if !text.trim().is_empty() {
            chat.search_for(text);
        }
    };
    view! {
        <form class="search" role="search" on:submit=submit>
            <label for="search" class="visually-hidden">"Search messages"</label>
            <input
                type="search"
                id="search"
                placeholder="Search messages"
                autocomplete="off"
                maxlength="256"
                prop:value=move || query.get()
                on:input=move |ev| query.set(event_target_value(&ev))
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        query.set(String::new());
                        chat.close_search();
                    }
                }
            />
            <button type="submit" id="search-go">"Search"</button>
        </form>
    }
}

/// The results of the last search, or a result in its context; nothing when no search is open.
#[component]
pub fn SearchPanel(chat: ChatHandles, me: String) -> impl IntoView {
    let me = StoredValue::new(me);
    let open = move || chat.search.with(|s| !s.asked.is_empty() || s.context.is_some());
    let status = move || {
        chat.search.with(|s| match (&s.error, s.answered, s.results.len()) {
            (Some(error), _, _) => error.clone(),
            (None, false, _) => format!("Searching for “{}”…", s.asked),
            (None, true, 0) => format!("No messages match “{}”.", s.asked),
            (None, true, 1) => "1 message".to_owned(),
            (None, true, n) => format!("{n} messages, newest first"),
        })
    };
    let results = move || chat.search.with(|s| s.results.clone());
    let context = move || chat.search.with(|s| s.context.clone());
    // An opened result is scrolled into the middle of its context.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if chat.search.with(|s| s.context.is_some()) {
            request_animation_frame(|| {
                if let Some(hit) = document().query_selector(".context-lines .hit").ok().flatten() {
                    hit.scroll_into_view_with_bool(false);
                }
            });
        }
    });
    view! {
        <Show when=open>
            <section class="search-panel" aria-label="Search results">
                <header>
                    <p class="search-status" id="search-status" role="status">{status}</p>
                    <button type="button" class="close" on:click=move |_| chat.close_search()>"Close"</button>
                </header>
                {move || match context() {
                    Some(found) => {
                        let room = found.room.clone();
                        let label = room_label(&room, &me.get_value());
                        view! {
                            <div class="context" id="search-context">
                                <p>
                                    <a href=format!("/r/{room}") on:click=move |_| chat.close_search()>
                                        "Open " {label}
                                    </a>
                                </p>
                                <ol class="context-lines">
                                    {found.messages.into_iter().map(|m| {
                                        let hit = m.id == found.id;
                                        let author = if m.name.is_empty() { m.user.clone() } else { m.name.clone() };
                                        let text = if m.deleted { "message deleted".to_owned() } else { m.text.clone() };
                                        view! {
                                            <li class="line" class:hit=hit>
                                                <span class="ts">{when(m.ts)}</span>
                                                <span class="user">{author}</span>
                                                <span class="text">{text}</span>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ol>
                            </div>
                        }.into_any()
                    }
                    None => view! {
                        <ol class="results" id="search-results">
                            {results().into_iter().map(|m| {
                                let (room, id) = (m.room.clone(), m.id);
                                let label = room_label(&m.room, &me.get_value());
                                let author = if m.name.is_empty() { m.user.clone() } else { m.name.clone() };
                                view! {
                                    <li>
                                        <button type="button" class="result" on:click=move |_| chat.open_result(room.clone(), id)>
                                            <span class="where">{label} " · " {when(m.ts)}</span>
                                            <span class="user">{author}</span>
                                            <span class="text">{m.text.clone()}</span>
                                        </button>
                                    </li>
                                }
                            }).collect_view()}
                        </ol>
                    }.into_any(),
                }}
            </section>
        </Show>
    }
}
