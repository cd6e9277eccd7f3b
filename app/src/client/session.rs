//! One websocket of a chat page, from open to close.
//!
//! The [`connection`](super::connection) task opens a socket and runs a [`Session`] on it until it
//! ends; the session turns the page's commands into frames, pings, and reads the server's
//! frames — `welcome` (rejoin and resend), `move` (the server is draining), the close — handing
//! everything else to [`inbound`](super::inbound).
//!
//! A socket can also die without closing: an instance that hangs (stopped,
//! swapping, deadlocked) keeps its TCP connections, and the load balancer, which
//! lets established websockets finish on their own so a draining instance can
//! say `move` (see deploy/haproxy.cfg), keeps relaying to it. So the page pings
//! every [`TICK`] and gives the socket up when [`SILENT_TICKS`] ticks pass
//! without a single frame from the server (a pong answers every ping).

use std::time::Duration;

use futures::channel::mpsc::UnboundedReceiver;
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, WebSocketError};
use leptos::prelude::*;
use protocol::{CLOSE_LOGGED_OUT, ClientFrame, RoomJoin, ServerFrame};

use super::backoff::Backoff;
use super::connection::{Command, End};
use super::outbox::{Outbox, Pending};
use super::rejoin::{FRAME_BUDGET_BYTES, join_frames};
use super::{ConnectionState, inbound};
use crate::chat_state::ChatHandles;

enum Event {
    Frame(Result<Message, WebSocketError>),
    SocketEnded,
    Command(Command),
    Tick,
}

/// How often a connected page pings (keeps idle sockets alive through proxies, detects dead
/// ones) and retries sends the server could not store.
pub const TICK: Duration = Duration::from_secs(5);

/// A socket that carried no frame at all for this many ticks is dead: a live server answers
/// every ping within the tick it was sent in. So a hung instance is left 5–10 s after its
/// last frame. (Throttled background timers only lengthen the ticks; the pong to each ping
/// still arrives in between, so a slow timer never condemns a live socket.)
pub const SILENT_TICKS: u32 = 2;

/// What one socket's handling of an event asks for.
enum Step {
    /// Send these frames (maybe none) and go on.
    Send(Vec<ClientFrame>),
    /// The socket is done.
    End(End),
}

/// One socket, from open to close.
pub(super) struct Session<'a> {
    chat: &'a ChatHandles,
    me: &'a str,
    outbox: &'a Outbox,
    backoff: &'a mut Backoff,
    deferred: &'a mut Vec<ClientFrame>,
    welcomed: bool,
    /// The server said `move {after_ms}`: it is about to close the socket (1012), and the
    /// page reconnects that long after. Until the close, nothing more is sent.
    moving: Option<u64>,
    /// Sends the server could not store (its Redis was away): retried on the next tick.
    retry: Vec<String>,
    /// Ticks since the server's last frame.
    silent_ticks: u32,
}

impl<'a> Session<'a> {
    /// A session of the page's connection, not yet welcomed.
    pub(super) fn new(
        chat: &'a ChatHandles,
        me: &'a str,
        outbox: &'a Outbox,
        backoff: &'a mut Backoff,
        deferred: &'a mut Vec<ClientFrame>,
    ) -> Self {
        Self { chat, me, outbox, backoff, deferred, welcomed: false, moving: None, retry: Vec::new(), silent_ticks: 0 }
    }

    /// Runs the socket until it ends.
    pub(super) async fn run(mut self, socket: WebSocket, commands: &mut UnboundedReceiver<Command>) -> End {
        let (mut sink, stream) = socket.split();
        let frames = stream.map(Event::Frame).chain(futures::stream::once(futures::future::ready(Event::SocketEnded)));
        let ticks = gloo_timers::future::IntervalStream::new(TICK.as_millis() as u32).map(|()| Event::Tick);
        let mut events = futures::stream::select(futures::stream::select(frames, commands.map(Event::Command)), ticks);
        while let Some(event) = events.next().await {
            let step = match event {
                Event::Command(command) => self.on_command(command),
                Event::Tick => self.on_tick(),
                Event::Frame(frame) => self.on_frame(frame),
                Event::SocketEnded => self.ended(),
            };
            match step {
                Step::End(end) => return end,
                Step::Send(frames) => {
                    for frame in frames {
                        if sink.send(Message::Text(frame.encode())).await.is_err() {
                            return End::Closed;
                        }
                    }
                }
            }
        }
        End::Closed
    }

    fn on_command(&mut self, command: Command) -> Step {
        let frame = match command {
            Command::Stop => return Step::End(End::Stop),
            Command::RetryNow => return Step::Send(Vec::new()),
            Command::Send(pending) => {
                // The page stored it already; this keeps the outbox whole whoever pushes first.
                self.outbox.push(pending.clone());
                send_frame(&pending)
            }
            Command::Join(room) => ClientFrame::Join { since: self.chat.last_id(&room), room },
            Command::Leave(room) => ClientFrame::Leave { room },
            Command::Typing(room) => ClientFrame::Typing { room },
            Command::Rename(name) => ClientFrame::Rename { name },
        };
        // Before `welcome` the frame waits: the outbox and the room list are replayed then.
        if self.welcomed {
            Step::Send(vec![frame])
        } else {
            if matches!(frame, ClientFrame::Leave { .. }) {
                self.deferred.push(frame);
            }
            Step::Send(Vec::new())
        }
    }

    fn on_tick(&mut self) -> Step {
        self.silent_ticks += 1;
        if self.silent_ticks >= SILENT_TICKS {
            // No pong to the last ping, nor anything else: the server is gone without a word.
            return self.ended();
        }
        if !self.welcomed {
            return Step::Send(Vec::new());
        }
        let mut frames = vec![ClientFrame::Ping];
        frames.extend(self.outbox.entries().iter().filter(|p| self.retry.contains(&p.client_id)).map(send_frame));
        self.retry.clear();
        Step::Send(frames)
    }

    fn on_frame(&mut self, frame: Result<Message, WebSocketError>) -> Step {
        let text = match frame {
            Ok(Message::Text(text)) => text,
            Ok(Message::Bytes(_)) => String::new(),
            Err(WebSocketError::ConnectionClose(close)) if close.code == CLOSE_LOGGED_OUT => {
                return Step::End(End::LoggedOut(close.reason));
            }
            Err(WebSocketError::ConnectionClose(close))
                if close.code >= 1003 && !close.reason.is_empty() && self.moving.is_none() =>
            {
                // The server said why (too slow, too big, too many frames...): tell the user, then reconnect.
                let notice = format!("⚠ the connection was closed: {}", close.reason);
                self.chat.with_log(&self.chat.current.get_untracked(), |log| log.push_notice(notice, 0));
                return Step::End(End::Closed);
            }
            Err(_) => return self.ended(),
        };
        self.silent_ticks = 0;
        match ServerFrame::decode(&text) {
            Ok(ServerFrame::Welcome { instance, rooms, .. }) => self.on_welcome(instance, rooms),
            Ok(ServerFrame::Move { after_ms }) => {
                // The server closes the socket itself, with 1012, right after this frame.
                self.moving = Some(after_ms);
                self.welcomed = false;
                Step::Send(Vec::new())
            }
            Ok(frame) => {
                inbound::apply(self.chat, self.me, self.outbox, &frame, &mut self.retry);
                Step::Send(Vec::new())
            }
            Err(_) => Step::Send(Vec::new()),
        }
    }

    /// The socket is gone: reconnect as the server asked, or else with backoff.
    fn ended(&self) -> Step {
        Step::End(self.moving.map_or(End::Closed, End::Move))
    }

    /// Rejoins the user's rooms (from any device, the one on screen, any joined meanwhile),
    /// then sends the leaves asked for while away and every unacknowledged message.
    fn on_welcome(&mut self, instance: String, rooms: Vec<String>) -> Step {
        self.welcomed = true;
        self.backoff.reset();
        let chat = self.chat;
        chat.state.set(ConnectionState::Connected(instance));
        let left: Vec<&str> = self
            .deferred
            .iter()
            .filter_map(|f| if let ClientFrame::Leave { room } = f { Some(room.as_str()) } else { None })
            .collect();
        chat.add_rooms(rooms.into_iter().filter(|room| !left.contains(&room.as_str())));
        let joins =
            chat.rooms.get_untracked().into_iter().map(|room| RoomJoin { since: chat.last_id(&room), room }).collect();
        let mut frames = join_frames(joins, FRAME_BUDGET_BYTES);
        frames.append(self.deferred);
        frames.extend(self.outbox.entries().iter().map(send_frame));
        Step::Send(frames)
    }
}

/// The frame that (re)sends an outbox entry.
fn send_frame(pending: &Pending) -> ClientFrame {
    ClientFrame::Send { room: pending.room.clone(), client_id: pending.client_id.clone(), text: pending.text.clone() }
}
