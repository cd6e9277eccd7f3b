//! What the server's frames change on the page.
//!
//! [`connection`](super::connection) owns the socket's life (welcome, move,
//! close, reconnect); everything else a server frame says — messages, acks,
//! errors, presence, typing, renames — lands here and only touches the page's
//! [`ChatHandles`] and the [`Outbox`], so the socket loop stays small.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::{ChatMessage, ErrorCode, ServerFrame};

use super::outbox::Outbox;
use crate::chat_state::ChatHandles;

/// Applies a frame that does not change the connection itself. `retry` collects the
/// client ids of sends the server could not store yet, to send again on the next tick.
pub fn apply(chat: &ChatHandles, me: &str, outbox: &Outbox, frame: &ServerFrame, retry: &mut Vec<String>) {
    match frame {
        ServerFrame::Ack { client_id, .. } => {
            if let Some(pending) = outbox.get(client_id) {
                chat.with_log(&pending.room, |log| log.apply(frame, me));
                outbox.remove(client_id);
            }
        }
        ServerFrame::Error { code, message, client_id } => {
            on_error(chat, outbox, *code, message, client_id.as_deref(), retry)
        }
        ServerFrame::History { room, .. } => chat.with_log(room, |log| log.apply(frame, me)),
        ServerFrame::Joined { room, user, name, .. } => {
            if !name.is_empty() && name != user {
                chat.names.update(|names| {
                    names.insert(user.clone(), name.clone());
                });
            }
            set_member(chat, room, user, true);
            chat.with_log(room, |log| log.apply(frame, me));
        }
        ServerFrame::Left { room, user, .. } => {
            set_member(chat, room, user, false);
            chat.with_log(room, |log| log.apply(frame, me));
        }
        ServerFrame::Presence { room, users, names } => {
            chat.members.update(|members| {
                members.insert(room.clone(), users.iter().cloned().collect());
            });
            chat.names.update(|known| known.extend(names.clone()));
        }
        ServerFrame::Renamed { user, name } => on_renamed(chat, me, user, name),
        ServerFrame::Typing { room, user } => show_typing(chat, room, user),
        ServerFrame::Message(message) => on_message(chat, me, message, frame),
        ServerFrame::Welcome { .. } | ServerFrame::Move { .. } | ServerFrame::Pong => {}
    }
}

/// Shows the server's error in the page. A refused message will never be accepted as is,
/// so it leaves the outbox; one the server could not store (Redis away, rate limit) stays
/// and is sent again.
fn on_error(
    chat: &ChatHandles,
    outbox: &Outbox,
    code: ErrorCode,
    message: &str,
    client_id: Option<&str>,
    retry: &mut Vec<String>,
) {
    let room = client_id.and_then(|id| outbox.get(id)).map(|p| p.room);
    let retryable = matches!(code, ErrorCode::Unavailable | ErrorCode::RateLimited);
    if let Some(client_id) = client_id {
        if retryable {
            retry.push(client_id.to_owned());
        } else {
            outbox.remove(client_id);
        }
    }
    let room = room.unwrap_or_else(|| chat.current.get_untracked());
    chat.with_log(&room, |log| {
        if let Some(client_id) = client_id.filter(|_| !retryable) {
            log.drop_pending(client_id);
        }
        log.push_notice(format!("⚠ {message}"), 0);
    });
}

fn set_member(chat: &ChatHandles, room: &str, user: &str, present: bool) {
    chat.members.update(|members| {
        let set = members.entry(room.to_owned()).or_default();
        if present {
            set.insert(user.to_owned());
        } else {
            set.remove(user);
        }
    });
}

/// A rename comes once per shared room: say it once.
fn on_renamed(chat: &ChatHandles, me: &str, user: &str, name: &str) {
    let before = chat.shown(user);
    if before != name {
        chat.names.update(|names| {
            names.insert(user.to_owned(), name.to_owned());
        });
        let notice = format!("{before} is now {name}");
        chat.with_log(&chat.current.get_untracked(), |log| log.push_notice(notice, 0));
    }
    if user == me {
        chat.my_name.set(name.to_owned());
    }
}

fn on_message(chat: &ChatHandles, me: &str, message: &ChatMessage, frame: &ServerFrame) {
    chat.typing.update(|typing| {
        if let Some(room) = typing.get_mut(&message.room) {
            room.remove(&message.user);
        }
    });
    chat.with_log(&message.room, |log| log.apply(frame, me));
    if message.user != me && message.room != chat.current.get_untracked() {
        chat.unread.update(|unread| *unread.entry(message.room.clone()).or_default() += 1);
    }
}

/// How long "… is typing" stays without a new typing notice.
const TYPING_SHOWN_MS: f64 = 4_000.0;

/// Shows that `user` is typing in `room`, and hides it again after a while.
fn show_typing(chat: &ChatHandles, room: &str, user: &str) {
    let until = js_sys::Date::now() + TYPING_SHOWN_MS;
    chat.typing.update(|typing| {
        typing.entry(room.to_owned()).or_default().insert(user.to_owned(), until);
    });
    let (chat, room, user) = (*chat, room.to_owned(), user.to_owned());
    spawn_local(async move {
        gloo_timers::future::sleep(Duration::from_millis(TYPING_SHOWN_MS as u64 + 50)).await;
        chat.typing.update(|typing| {
            if let Some(users) = typing.get_mut(&room)
                && users.get(&user).is_some_and(|end| *end <= js_sys::Date::now())
            {
                users.remove(&user);
            }
        });
    });
}
