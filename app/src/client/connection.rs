//! The websocket connection of a chat page, in the browser.
//!
//! One task per page runs the connection for as long as the page shows it:
//! open the socket → on `welcome`, join the room with the last id seen and
//! resend every unacked message (same client ids, so the server stores each
//! once) → read frames into the [`ChatLog`](crate::chat_log::ChatLog). When the
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
use protocol::{ClientFrame, ErrorCode, ServerFrame, CLOSE_LOGGED_OUT};

use super::backoff::Backoff;
use super::ConnectionState;
use crate::pages::chat::ChatHandles;

/// What the page asks of its connection.
pub enum Command {
    /// Send a chat message (already shown as pending).
    Send {
        /// The message's client id.
        client_id: String,
        /// The text.
        text: String,
    },
    /// Skip the rest of the backoff wait.
    RetryNow,
    /// The page is going away: close the socket and stop.
    Stop,
}

/// Starts the connection task of a chat page.
pub fn start(chat: ChatHandles, me: String, room: String) {
    let (commands, receiver) = mpsc::unbounded();
    chat.commands.set_value(Some(commands.clone()));
    on_cleanup(move || {
        let _ = commands.unbounded_send(Command::Stop);
    });
    spawn_local(run(chat, me, room, receiver));
}

enum End {
    /// The socket closed or failed; reconnect with backoff.
    Closed,
    /// The server is draining; reconnect after this many milliseconds.
    Move(u64),
    /// The session is gone; go to the login page.
    LoggedOut,
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

/// Unacked sends: kept until the server acks them, resent after every reconnect.
type Outbox = Vec<(String, String)>;

async fn run(chat: ChatHandles, me: String, room: String, mut commands: UnboundedReceiver<Command>) {
    let mut backoff = Backoff::default();
    let mut outbox = Outbox::new();
    let mut pause = Duration::ZERO;
    let mut reconnecting = false;
    loop {
        if reconnecting {
            if !wait(pause, &chat, &mut commands, &mut outbox).await {
                return;
            }
            match repin().await {
                Repin::Ok => {}
                Repin::LoggedOut => return go_to_login(),
                Repin::Failed => {
                    pause = backoff.next_delay(js_sys::Math::random());
                    continue;
                }
            }
        }
        reconnecting = true;
        chat.state.set(ConnectionState::Connecting);
        let end = match WebSocket::open(&socket_url()) {
            Ok(socket) => session(socket, &chat, &me, &room, &mut commands, &mut outbox, &mut backoff).await,
            Err(_) => End::Closed,
        };
        pause = match end {
            End::Stop => return,
            End::LoggedOut => return go_to_login(),
            End::Move(after_ms) => Duration::from_millis(after_ms),
            End::Closed => backoff.next_delay(js_sys::Math::random()),
        };
    }
}

/// Runs one socket until it ends.
async fn session(
    socket: WebSocket,
    chat: &ChatHandles,
    me: &str,
    room: &str,
    commands: &mut UnboundedReceiver<Command>,
    outbox: &mut Outbox,
    backoff: &mut Backoff,
) -> End {
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
                    frames.extend(outbox.iter().filter(|(id, _)| retry.contains(id)).map(|(client_id, text)| {
                        ClientFrame::Send { room: room.to_owned(), client_id: client_id.clone(), text: text.clone() }
                    }));
                    retry.clear();
                    for frame in frames {
                        if sink.send(Message::Text(frame.encode())).await.is_err() {
                            return End::Closed;
                        }
                    }
                }
                continue;
            }
            Event::Command(Command::Send { client_id, text }) => {
                if welcomed {
                    let frame = ClientFrame::Send { room: room.to_owned(), client_id: client_id.clone(), text: text.clone() };
                    let _ = sink.send(Message::Text(frame.encode())).await;
                }
                outbox.push((client_id, text));
                continue;
            }
            Event::Frame(Ok(Message::Text(text))) => match ServerFrame::decode(&text) {
                Ok(frame) => frame,
                Err(_) => continue,
            },
            Event::Frame(Ok(Message::Bytes(_))) => continue,
            Event::Frame(Err(WebSocketError::ConnectionClose(close))) if close.code == CLOSE_LOGGED_OUT => {
                return End::LoggedOut;
            }
            Event::Frame(Err(_)) | Event::SocketEnded => return End::Closed,
        };
        match &frame {
            ServerFrame::Welcome { instance, .. } => {
                welcomed = true;
                backoff.reset();
                chat.state.set(ConnectionState::Connected(instance.clone()));
                let since = chat.log.with_untracked(|log| log.last_id().map(str::to_owned));
                let mut frames = vec![ClientFrame::Join { room: room.to_owned(), since }];
                frames.extend(outbox.iter().map(|(client_id, text)| ClientFrame::Send {
                    room: room.to_owned(),
                    client_id: client_id.clone(),
                    text: text.clone(),
                }));
                for frame in frames {
                    if sink.send(Message::Text(frame.encode())).await.is_err() {
                        return End::Closed;
                    }
                }
            }
            ServerFrame::Move { after_ms } => return End::Move(*after_ms),
            ServerFrame::Ack { client_id, .. } => outbox.retain(|(id, _)| id != client_id),
            ServerFrame::Error { code, message, client_id } => {
                // A refused message will never be accepted as is: drop it from the outbox.
                // One the server could not store (Redis down) stays and is sent again.
                if let Some(client_id) = client_id {
                    if *code == ErrorCode::Unavailable {
                        retry.push(client_id.clone());
                    } else {
                        outbox.retain(|(id, _)| id != client_id);
                        chat.log.update(|log| log.drop_pending(client_id));
                    }
                }
                chat.log.update(|log| log.push_notice(format!("⚠ {message}"), 0));
            }
            _ => {}
        }
        chat.log.update(|log| log.apply(&frame, me));
    }
    End::Closed
}

/// Waits `pause` with a countdown, answering commands; `false` when the page stops.
async fn wait(pause: Duration, chat: &ChatHandles, commands: &mut UnboundedReceiver<Command>, outbox: &mut Outbox) -> bool {
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
                Some(Command::Send { client_id, text }) => outbox.push((client_id, text)),
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

fn go_to_login() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_href("/login");
    }
}

fn socket_url() -> String {
    let location = web_sys::window().map(|w| w.location());
    let host = location.as_ref().and_then(|l| l.host().ok()).unwrap_or_default();
    let secure = location.and_then(|l| l.protocol().ok()).is_some_and(|p| p == "https:");
    format!("{}://{host}/ws", if secure { "wss" } else { "ws" })
}
