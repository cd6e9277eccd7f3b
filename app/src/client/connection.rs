//! The websocket connection of a chat page, in the browser.
//!
//! One task per page runs the connection for as long as the page shows it:
//! open the socket → on `welcome`, rejoin every room of the user in one
//! `join_many` frame with the last id seen in each (the server replays what was
//! missed; [`rejoin`](super::rejoin) says why one frame) and resend every unacked
//! message from the [`Outbox`] (same client ids, so the server stores each
//! once) → hand every other frame to [`inbound`](super::inbound). When the
//! socket closes for any reason but logout it waits per [`Backoff`] (showing a
//! countdown and offering "retry now"), `GET /` with credentials so the load
//! balancer pins the browser to a live instance (a redirect to `/login` means
//! the session is gone), and opens the socket again — with no limit on tries.
//! A draining server sends `move {after_ms}` and then closes with 1012 itself:
//! the page sends nothing more, lets the server close, and reconnects after the
//! delay the server drew instead of the backoff. The page's `on_cleanup` stops
//! the task and closes the socket.
//!
//! One socket's life, from `welcome` to its close, is a [`Session`](super::session::Session).

use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc::{self, UnboundedReceiver};
use gloo_net::websocket::futures::WebSocket;
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::ClientFrame;

use super::ConnectionState;
use super::backoff::Backoff;
use super::outbox::{Outbox, Pending};
use super::session::Session;
use crate::chat_state::ChatHandles;

/// What the page asks of its connection.
pub enum Command {
    /// Send a chat message (already shown as pending and stored in the outbox).
    Send(Pending),
    /// Join (or create) a room.
    Join(String),
    /// Leave a room.
    Leave(String),
    /// Tell a room that the user is typing.
    Typing(String),
    /// Change the user's display name.
    Rename(String),
    /// Skip the rest of the backoff wait.
    RetryNow,
    /// The page is going away: close the socket and stop.
    Stop,
}

/// Starts the connection task of a chat page. Messages left unacknowledged by an earlier
/// visit (reload while offline) are shown as pending again and will be sent.
pub fn start(chat: ChatHandles, me: String) {
    let (commands, receiver) = mpsc::unbounded();
    chat.commands.set_value(Some(commands.clone()));
    on_cleanup(move || {
        let _ = commands.unbounded_send(Command::Stop);
    });
    let outbox = chat.outbox.get_value();
    for pending in outbox.entries() {
        chat.with_log(&pending.room, |log| {
            if !log.has_pending(&pending.client_id) {
                log.push_pending(&me, &pending.client_id, &pending.text);
            }
        });
    }
    spawn_local(run(chat, me, outbox, receiver));
}

/// How a socket session ended, and so what the connection does next.
pub(super) enum End {
    /// The socket closed, failed or went silent; reconnect with backoff.
    Closed,
    /// The server is draining; reconnect after this many milliseconds.
    Move(u64),
    /// The session is gone; go to the login page and say why.
    LoggedOut(String),
    /// The page is going away.
    Stop,
}

async fn run(chat: ChatHandles, me: String, outbox: Outbox, mut commands: UnboundedReceiver<Command>) {
    let mut backoff = Backoff::default();
    // Leaves asked for while disconnected, sent after the next `welcome`.
    let mut deferred: Vec<ClientFrame> = Vec::new();
    let mut pause = Duration::ZERO;
    let mut reconnecting = false;
    loop {
        if reconnecting {
            if !wait(pause, &chat, &mut commands, &outbox, &mut deferred).await {
                return;
            }
            match repin().await {
                Repin::Ok => {}
                Repin::LoggedOut => return go_to_login("Please log in again."),
                Repin::Failed => {
                    pause = backoff.next_delay(js_sys::Math::random());
                    continue;
                }
            }
        }
        reconnecting = true;
        chat.state.set(ConnectionState::Connecting);
        let end = match WebSocket::open(&socket_url()) {
            Ok(socket) => {
                let session = Session::new(&chat, &me, &outbox, &mut backoff, &mut deferred);
                session.run(socket, &mut commands).await
            }
            Err(_) => End::Closed,
        };
        pause = match end {
            End::Stop => return,
            End::LoggedOut(reason) => return go_to_login(&reason),
            End::Move(after_ms) => Duration::from_millis(after_ms),
            End::Closed => backoff.next_delay(js_sys::Math::random()),
        };
    }
}

/// Waits `pause` with a countdown, answering commands; `false` when the page stops.
async fn wait(
    pause: Duration,
    chat: &ChatHandles,
    commands: &mut UnboundedReceiver<Command>,
    outbox: &Outbox,
    deferred: &mut Vec<ClientFrame>,
) -> bool {
    let deadline = js_sys::Date::now() + pause.as_secs_f64() * 1000.0;
    loop {
        let left = deadline - js_sys::Date::now();
        if left <= 0.0 {
            return true;
        }
        let online = web_sys::window().map(|w| w.navigator().on_line()).unwrap_or(true);
        chat.state.set(if online {
            ConnectionState::Reconnecting((left / 1000.0).ceil() as u32)
        } else {
            ConnectionState::Offline
        });
        let tick = gloo_timers::future::sleep(Duration::from_millis(left.min(1000.0) as u64));
        match futures::future::select(tick, commands.next()).await {
            futures::future::Either::Left(_) => {}
            futures::future::Either::Right((command, _)) => match command {
                None | Some(Command::Stop) => return false,
                Some(Command::RetryNow) => return true,
                Some(Command::Send(pending)) => {
                    outbox.push(pending);
                }
                // Joins are replayed from the room list after `welcome`; leaves are kept for then.
                Some(Command::Join(_) | Command::Typing(_) | Command::Rename(_)) => {}
                Some(Command::Leave(room)) => deferred.push(ClientFrame::Leave { room }),
            },
        }
    }
}

enum Repin {
    Ok,
    LoggedOut,
    Failed,
}

/// `GET /` so the load balancer hands out a sticky cookie for a live instance.
async fn repin() -> Repin {
    let request = gloo_net::http::Request::get("/").credentials(web_sys::RequestCredentials::Include);
    match request.send().await {
        Ok(response) if response.status() == 401 || response.url().ends_with("/login") => Repin::LoggedOut,
        Ok(response) if response.ok() => Repin::Ok,
        _ => Repin::Failed,
    }
}

fn go_to_login(notice: &str) {
    if let Some(window) = web_sys::window() {
        let notice = String::from(js_sys::encode_uri_component(notice));
        let _ = window.location().set_href(&format!("/login?notice={notice}"));
    }
}

fn socket_url() -> String {
    let location = web_sys::window().map(|w| w.location());
    let host = location.as_ref().and_then(|l| l.host().ok()).unwrap_or_default();
    let secure = location.and_then(|l| l.protocol().ok()).is_some_and(|p| p == "https:");
    format!("{}://{host}/ws", if secure { "wss" } else { "ws" })
}
