//! The websocket connection of a chat page, in the browser.
//!
//! One task per page runs the connection for as long as the page shows it,
//! driving the page's [`Link`] through its phases: open the socket → run a
//! [`Session`](super::session::Session) on it (on `welcome` it rejoins every
//! room in one `join_many` frame with the last id seen in each, and resends
//! every unacked message from the [`Outbox`] with its client id, so the server
//! stores each once) → when the socket is gone for any reason but logout, wait
//! (the backoff, or the delay a draining server gave in `move`), showing a
//! countdown and offering "retry now" → `GET /` with credentials so the load
//! balancer pins the browser to a live instance (a redirect to `/login` means
//! the session is gone) → open the socket again, with no limit on tries. The
//! page's `on_cleanup` stops the task and closes the socket.

use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc::{self, UnboundedReceiver};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::ConnectionState;
use super::held::Held;
use super::link::{Link, Phase, Transport};
use super::outbox::{Outbox, Pending};
use super::session::Session;
use super::transport;
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
    /// Send this frame as it is (room management: create, invite, remove, block, directory;
    /// a change to a message, which is also kept until the server answers it).
    Frame(protocol::ClientFrame),
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

/// How a socket session ended.
pub(super) enum End {
    /// The socket closed, failed or went silent: the [`Link`] says how long to wait.
    Closed,
    /// The session is gone; go to the login page and say why.
    LoggedOut(String),
    /// The page is going away.
    Stop,
    /// A websocket tried from the fallback was welcomed: move to websockets now.
    Upgrade,
}

async fn run(chat: ChatHandles, me: String, outbox: Outbox, mut commands: UnboundedReceiver<Command>) {
    let mut link = Link::default();
    // Rooms left while the page could not send, and changes not answered yet: after `welcome`.
    let mut held = Held::default();
    loop {
        match link.phase() {
            Phase::Waiting(pause) => {
                if !wait(pause, &chat, &mut commands, &outbox, &mut held).await {
                    return;
                }
                link.waited();
            }
            Phase::Repinning => match repin().await {
                Repin::LoggedOut => return go_to_login("Please log in again."),
                Repin::Ok => link.repinned(true, js_sys::Math::random()),
                Repin::Failed => link.repinned(false, js_sys::Math::random()),
            },
            // Connecting: the socket phases (opened, welcomed, moving) end with their session.
            Phase::Connecting | Phase::Opened | Phase::Welcomed | Phase::Moving(_) => {
                let fallback = link.transport() == Transport::Fallback;
                chat.state.set(if fallback {
                    ConnectionState::ConnectingFallback
                } else {
                    ConnectionState::Connecting
                });
                let channel = if fallback { transport::fallback().await } else { transport::websocket(&socket_url()) };
                if let Some(channel) = channel {
                    link.opened();
                    match Session::new(&chat, &me, &outbox, &mut link, &mut held).run(channel, &mut commands).await {
                        End::Stop => return,
                        End::LoggedOut(reason) => return go_to_login(&reason),
                        End::Upgrade if link.upgraded() => continue,
                        End::Upgrade | End::Closed => {}
                    }
                }
                link.socket_ended(js_sys::Math::random());
            }
        }
    }
}

/// Waits `pause` with a countdown, answering commands; `false` when the page stops.
async fn wait(
    pause: Duration,
    chat: &ChatHandles,
    commands: &mut UnboundedReceiver<Command>,
    outbox: &Outbox,
    held: &mut Held,
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
                // Joins are replayed from the room list after `welcome`; leaves and changes to
                // messages are kept for then; room management asked for while away is dropped
                // (the user sees no answer).
                Some(Command::Frame(frame)) => {
                    held.keep_change(&frame);
                }
                Some(Command::Join(_) | Command::Typing(_) | Command::Rename(_)) => {}
                Some(Command::Leave(room)) => held.leave(room),
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

/// The websocket's URL on the page's own host.
pub(super) fn socket_url() -> String {
    let location = web_sys::window().map(|w| w.location());
    let host = location.as_ref().and_then(|l| l.host().ok()).unwrap_or_default();
    let secure = location.and_then(|l| l.protocol().ok()).is_some_and(|p| p == "https:");
    format!("{}://{host}/ws", if secure { "wss" } else { "ws" })
}
