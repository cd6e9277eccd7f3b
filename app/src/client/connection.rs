//! The websocket connection of a chat page, in the browser.
//!
//! One task per page runs the connection for as long as the page shows it:
//! open the socket → on `welcome`, join every room of the user with the last id
//! seen in it (the server replays what was missed) and resend every unacked
//! message from the [`Outbox`] (same client ids, so the server stores each
//! once) → read frames into each room's [`ChatLog`](crate::chat_log::ChatLog). When the
//! socket closes for any reason but logout it waits per [`Backoff`] (showing a
//! countdown and offering "retry now"), `GET /` with credentials so the load
//! balancer pins the browser to a live instance (a redirect to `/login` means
//! the session is gone), and opens the socket again — with no limit on tries.
//! A `move` frame from a draining server skips the backoff. The page's
//! `on_cleanup` stops the task and closes the socket.

use std::time::Duration;

use futures::channel::mpsc::{self, UnboundedReceiver};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, WebSocketError};
use leptos::prelude::*;
use leptos::task::spawn_local;
use protocol::{CLOSE_LOGGED_OUT, ClientFrame, ErrorCode, ServerFrame};

use super::ConnectionState;
use super::backoff::Backoff;
use super::outbox::{Outbox, Pending};
use crate::pages::chat::ChatHandles;

/// What the page asks of its connection.
pub enum Command {
    /// Send a chat message (already shown as pending).
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
    let outbox = Outbox::load(&me);
    for pending in outbox.entries() {
        chat.with_log(&pending.room, |log| {
            if !log.has_pending(&pending.client_id) {
                log.push_pending(&me, &pending.client_id, &pending.text);
            }
        });
    }
    spawn_local(run(chat, me, outbox, receiver));
}

enum End {
    /// The socket closed or failed; reconnect with backoff.
    Closed,
    /// The server is draining; reconnect after this many milliseconds.
    Move(u64),
    /// The session is gone; go to the login page and say why.
    LoggedOut(String),
    /// The page is going away.
    Stop,
}

enum Event {
    Frame(Result<Message, WebSocketError>),
    SocketEnded,
    Command(Command),
    Tick,
}

/// How often a connected page pings (keeps idle sockets alive through proxies, detects dead
/// ones) and retries sends the server could not store.
const TICK: Duration = Duration::from_secs(5);

async fn run(chat: ChatHandles, me: String, mut outbox: Outbox, mut commands: UnboundedReceiver<Command>) {
    let mut backoff = Backoff::default();
    // Leaves asked for while disconnected, sent after the next `welcome`.
    let mut deferred: Vec<ClientFrame> = Vec::new();
    let mut pause = Duration::ZERO;
    let mut reconnecting = false;
    loop {
        if reconnecting {
            if !wait(pause, &chat, &mut commands, &mut outbox, &mut deferred).await {
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
                let link = Link {
                    commands: &mut commands,
                    outbox: &mut outbox,
                    deferred: &mut deferred,
                    backoff: &mut backoff,
                };
                session(socket, &chat, &me, link).await
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

/// What a socket session shares with the task that outlives it.
struct Link<'a> {
    commands: &'a mut UnboundedReceiver<Command>,
    outbox: &'a mut Outbox,
    deferred: &'a mut Vec<ClientFrame>,
    backoff: &'a mut Backoff,
}

/// Runs one socket until it ends.
async fn session(socket: WebSocket, chat: &ChatHandles, me: &str, link: Link<'_>) -> End {
    let Link { commands, outbox, deferred, backoff } = link;
    let (mut sink, stream) = socket.split();
    let frames = stream.map(Event::Frame).chain(futures::stream::once(futures::future::ready(Event::SocketEnded)));
    let ticks = gloo_timers::future::IntervalStream::new(TICK.as_millis() as u32).map(|()| Event::Tick);
    let mut events = futures::stream::select(futures::stream::select(frames, commands.map(Event::Command)), ticks);
    let mut welcomed = false;
    // Sends the server could not store (its Redis was away): retried on the next tick.
    let mut retry: Vec<String> = Vec::new();
    while let Some(event) = events.next().await {
        let frame = match event {
            Event::Command(Command::Stop) => {
                let _ = sink.close().await;
                return End::Stop;
            }
            Event::Command(Command::RetryNow) => continue,
            Event::Tick => {
                if welcomed {
                    let mut frames = vec![ClientFrame::Ping];
                    frames.extend(outbox.entries().iter().filter(|p| retry.contains(&p.client_id)).map(send_frame));
                    retry.clear();
                    for frame in frames {
                        if sink.send(Message::Text(frame.encode())).await.is_err() {
                            return End::Closed;
                        }
                    }
                }
                continue;
            }
            Event::Command(command) => {
                let frame = match command {
                    Command::Send(pending) => {
                        let frame = send_frame(&pending);
                        outbox.push(pending);
                        frame
                    }
                    Command::Join(room) => ClientFrame::Join { since: chat.last_id(&room), room },
                    Command::Leave(room) => ClientFrame::Leave { room },
                    Command::Typing(room) => ClientFrame::Typing { room },
                    Command::Rename(name) => ClientFrame::Rename { name },
                    Command::RetryNow | Command::Stop => continue,
                };
                // Before `welcome` the frame waits: the outbox and the room list are replayed then.
                if welcomed {
                    let _ = sink.send(Message::Text(frame.encode())).await;
                } else if matches!(frame, ClientFrame::Leave { .. }) {
                    deferred.push(frame);
                }
                continue;
            }
            Event::Frame(Ok(Message::Text(text))) => match ServerFrame::decode(&text) {
                Ok(frame) => frame,
                Err(_) => continue,
            },
            Event::Frame(Ok(Message::Bytes(_))) => continue,
            Event::Frame(Err(WebSocketError::ConnectionClose(close))) if close.code == CLOSE_LOGGED_OUT => {
                return End::LoggedOut(close.reason);
            }
            Event::Frame(Err(WebSocketError::ConnectionClose(close)))
                if close.code >= 1003 && !close.reason.is_empty() =>
            {
                // The server said why (too slow, too big, too many frames...): tell the user, then reconnect.
                let notice = format!("⚠ the connection was closed: {}", close.reason);
                chat.with_log(&chat.current.get_untracked(), |log| log.push_notice(notice, 0));
                return End::Closed;
            }
            Event::Frame(Err(_)) | Event::SocketEnded => return End::Closed,
        };
        match &frame {
            ServerFrame::Welcome { instance, rooms, .. } => {
                welcomed = true;
                backoff.reset();
                chat.state.set(ConnectionState::Connected(instance.clone()));
                // The user's rooms (from any device), the one on screen, and any joined meanwhile.
                chat.add_rooms(rooms.iter().cloned());
                let mut frames: Vec<ClientFrame> = chat
                    .rooms
                    .get_untracked()
                    .into_iter()
                    .map(|room| ClientFrame::Join { since: chat.last_id(&room), room })
                    .collect();
                frames.extend(deferred.drain(..));
                frames.extend(outbox.entries().iter().map(send_frame));
                for frame in frames {
                    if sink.send(Message::Text(frame.encode())).await.is_err() {
                        return End::Closed;
                    }
                }
            }
            ServerFrame::Move { after_ms } => return End::Move(*after_ms),
            ServerFrame::Ack { client_id, .. } => {
                if let Some(pending) = outbox.get(client_id).cloned() {
                    chat.with_log(&pending.room, |log| log.apply(&frame, me));
                    outbox.remove(client_id);
                }
            }
            ServerFrame::Error { code, message, client_id } => {
                // A refused message will never be accepted as is: drop it from the outbox.
                // One the server could not store (Redis down) stays and is sent again.
                let room = client_id.as_ref().and_then(|id| outbox.get(id)).map(|p| p.room.clone());
                let retryable = matches!(code, ErrorCode::Unavailable | ErrorCode::RateLimited);
                if let Some(client_id) = client_id {
                    if retryable {
                        retry.push(client_id.clone());
                    } else {
                        outbox.remove(client_id);
                    }
                }
                let room = room.unwrap_or_else(|| chat.current.get_untracked());
                chat.with_log(&room, |log| {
                    if let Some(client_id) = client_id.as_ref().filter(|_| !retryable) {
                        log.drop_pending(client_id);
                    }
                    log.push_notice(format!("⚠ {message}"), 0);
                });
            }
            ServerFrame::History { room, .. } => chat.with_log(room, |log| log.apply(&frame, me)),
            ServerFrame::Joined { room, user, .. } | ServerFrame::Left { room, user, .. } => {
                let joined = matches!(frame, ServerFrame::Joined { .. });
                if let ServerFrame::Joined { name, .. } = &frame {
                    if !name.is_empty() && name != user {
                        chat.names.update(|names| {
                            names.insert(user.clone(), name.clone());
                        });
                    }
                }
                chat.members.update(|members| {
                    let set = members.entry(room.clone()).or_default();
                    if joined {
                        set.insert(user.clone())
                    } else {
                        set.remove(user)
                    };
                });
                chat.with_log(room, |log| log.apply(&frame, me));
            }
            ServerFrame::Presence { room, users, names } => {
                chat.members.update(|members| {
                    members.insert(room.clone(), users.iter().cloned().collect());
                });
                chat.names.update(|known| known.extend(names.clone()));
            }
            ServerFrame::Renamed { user, name } => {
                // One frame per shared room: say it once.
                let before = chat.shown(user);
                if before != *name {
                    chat.names.update(|names| {
                        names.insert(user.clone(), name.clone());
                    });
                    let notice = format!("{before} is now {name}");
                    chat.with_log(&chat.current.get_untracked(), |log| log.push_notice(notice, 0));
                }
                if user == me {
                    chat.my_name.set(name.clone());
                }
            }
            ServerFrame::Typing { room, user } => show_typing(chat, room, user),
            ServerFrame::Message(message) => {
                chat.typing.update(|typing| {
                    if let Some(room) = typing.get_mut(&message.room) {
                        room.remove(&message.user);
                    }
                });
                chat.with_log(&message.room, |log| log.apply(&frame, me));
                if message.user != me && message.room != chat.current.get_untracked() {
                    chat.unread.update(|unread| *unread.entry(message.room.clone()).or_default() += 1);
                }
            }
            ServerFrame::Pong => {}
        }
    }
    End::Closed
}

/// Waits `pause` with a countdown, answering commands; `false` when the page stops.
async fn wait(
    pause: Duration,
    chat: &ChatHandles,
    commands: &mut UnboundedReceiver<Command>,
    outbox: &mut Outbox,
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
                Some(Command::Send(pending)) => outbox.push(pending),
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
            if let Some(users) = typing.get_mut(&room) {
                if users.get(&user).is_some_and(|end| *end <= js_sys::Date::now()) {
                    users.remove(&user);
                }
            }
        });
    });
}

fn send_frame(pending: &Pending) -> ClientFrame {
    ClientFrame::Send { room: pending.room.clone(), client_id: pending.client_id.clone(), text: pending.text.clone() }
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
