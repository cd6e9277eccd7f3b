//! One connection of a chat page (a websocket, or the HTTP fallback's stream), from open
//! to close.
//!
//! The [`connection`](super::connection) task opens a [`Channel`] and runs a [`Session`] on it
//! until it ends; the session turns the page's commands into frames, pings, and reads the server's
//! frames: `welcome` and `move` move the [`Link`] on (rejoin and resend after `welcome`,
//! silence after `move`), and every frame goes through [`inbound::apply`], whose
//! [`FollowUp`] the session carries out (outbox, retries, typing timers).
//!
//! A socket can also die without closing: an instance that hangs (stopped,
//! swapping, deadlocked) keeps its TCP connections, and the load balancer, which
//! lets established websockets finish on their own so a draining instance can
//! say `move` (see deploy/haproxy.cfg), keeps relaying to it. So the page pings
//! every [`TICK`] and gives the socket up when [`SILENT_TICKS`] ticks pass
//! without a single frame from the server (a pong answers every ping).

use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc::{self, UnboundedReceiver};
use leptos::prelude::*;
use leptos::reactive::traits::UpdateValue;
use leptos::task::spawn_local;
use protocol::{CLOSE_LOGGED_OUT, ClientFrame, MAX_REFRESH_IDS, RoomJoin, ServerFrame};

use super::ConnectionState;
use super::connection::{Command, End};
use super::held::{Held, change_id};
use super::inbound::{self, FollowUp, Page, TYPING_SHOWN_MS};
use super::link::{Link, Transport};
use super::outbox::{Outbox, Pending};
use super::rejoin::{FRAME_BUDGET_BYTES, join_frames};
use super::transport::{self, Channel, Incoming};
use crate::chat_log::mentions_me;
use crate::chat_state::ChatHandles;

enum Event {
    Frame(Incoming),
    SocketEnded,
    Command(Command),
    Tick,
    /// A websocket tried from the fallback was welcomed (`true`) or not.
    Probed(bool),
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
    link: &'a mut Link,
    /// Rooms the user left while the page could not send, and changes not answered yet.
    held: &'a mut Held,
    /// Sends the server could not store (its Redis was away): retried on the next tick.
    retry: Vec<String>,
    /// Ticks since the server's last frame.
    silent_ticks: u32,
}

impl<'a> Session<'a> {
    /// A session on a socket that has just opened (the link is `Opened`).
    pub(super) fn new(
        chat: &'a ChatHandles,
        me: &'a str,
        outbox: &'a Outbox,
        link: &'a mut Link,
        held: &'a mut Held,
    ) -> Self {
        Self { chat, me, outbox, link, held, retry: Vec::new(), silent_ticks: 0 }
    }

    /// Runs the connection until it ends.
    pub(super) async fn run(mut self, channel: Channel, commands: &mut UnboundedReceiver<Command>) -> End {
        let Channel { incoming, mut outgoing, .. } = channel;
        let frames =
            incoming.map(Event::Frame).chain(futures::stream::once(futures::future::ready(Event::SocketEnded)));
        let ticks = gloo_timers::future::IntervalStream::new(TICK.as_millis() as u32).map(|()| Event::Tick);
        let (probed, probes) = mpsc::unbounded();
        let mut events = futures::stream::select(
            futures::stream::select(frames, commands.map(Event::Command)),
            futures::stream::select(ticks, probes.map(Event::Probed)),
        );
        let mut probing = false;
        while let Some(event) = events.next().await {
            let step = match event {
                Event::Command(command) => self.on_command(command),
                Event::Tick => self.on_tick(),
                Event::Frame(frame) => self.on_frame(frame),
                Event::SocketEnded => Step::End(End::Closed),
                Event::Probed(true) => Step::End(End::Upgrade),
                Event::Probed(false) => {
                    probing = false;
                    Step::Send(Vec::new())
                }
            };
            match step {
                Step::End(end) => return end,
                Step::Send(frames) => {
                    for frame in frames {
                        if !outgoing.send(frame.encode()).await {
                            return End::Closed;
                        }
                    }
                }
            }
            if !probing && self.link.can_send() && self.link.transport() == Transport::Fallback {
                probing = true;
                probe_later(self.link.next_probe(js_sys::Math::random()), probed.clone());
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
            Command::Frame(frame) => {
                self.held.keep_change(&frame);
                frame
            }
        };
        if self.link.can_send() {
            return Step::Send(vec![frame]);
        }
        // Until `welcome` (and after `move`) the frame waits: the outbox, the room list and
        // the held changes are replayed after the next `welcome`, and a leave is kept for then.
        if let ClientFrame::Leave { room } = frame {
            self.held.leave(room);
        }
        Step::Send(Vec::new())
    }

    fn on_tick(&mut self) -> Step {
        self.silent_ticks += 1;
        if self.silent_ticks >= SILENT_TICKS {
            // No pong to the last ping, nor anything else: the server is gone without a word.
            return Step::End(End::Closed);
        }
        if !self.link.can_send() {
            return Step::Send(Vec::new());
        }
        let mut frames = vec![ClientFrame::Ping];
        frames.extend(self.chat.reads.try_update_value(|reads| reads.due(js_sys::Date::now())).unwrap_or_default());
        frames.extend(self.outbox.entries().iter().filter(|p| self.retry.contains(&p.client_id)).map(send_frame));
        let changes =
            self.held.changes().iter().filter(|f| change_id(f).is_some_and(|id| self.retry.iter().any(|r| r == id)));
        frames.extend(changes.cloned());
        self.retry.clear();
        Step::Send(frames)
    }

    fn on_frame(&mut self, frame: Incoming) -> Step {
        let text = match frame {
            Incoming::Text(text) => text,
            Incoming::Closed { code, reason } if code == CLOSE_LOGGED_OUT => {
                return Step::End(End::LoggedOut(reason));
            }
            Incoming::Closed { code, reason } if code >= 1003 && !reason.is_empty() && !self.link.is_moving() => {
                // The server said why (too slow, too big, too many frames...): tell the user, then reconnect.
                let notice = format!("⚠ the connection was closed: {reason}");
                self.chat.with_log(&self.chat.current.get_untracked(), |log| log.push_notice(notice, 0));
                return Step::End(End::Closed);
            }
            Incoming::Closed { .. } | Incoming::Ended => return Step::End(End::Closed),
        };
        self.silent_ticks = 0;
        let Ok(frame) = ServerFrame::decode(&text) else {
            return Step::Send(Vec::new());
        };
        match &frame {
            ServerFrame::Welcome { instance, .. } => {
                self.link.welcomed();
                let fallback = self.link.transport() == Transport::Fallback;
                self.chat.state.set(ConnectionState::Connected(instance.clone(), fallback));
                let mut frames = self.apply(&frame);
                frames.extend(self.rejoin());
                Step::Send(frames)
            }
            ServerFrame::Move { after_ms } => {
                // The server closes the socket itself, with 1012, right after this frame.
                self.link.moving(*after_ms);
                Step::Send(Vec::new())
            }
            _ => Step::Send(self.apply(&frame)),
        }
    }

    /// Applies a frame to the page's state and carries out what it asks beyond that; the
    /// frames to send in answer.
    fn apply(&mut self, frame: &ServerFrame) -> Vec<ClientFrame> {
        let outbox = self.outbox.entries();
        let current = self.chat.current.get_untracked();
        let now_ms = js_sys::Date::now();
        let searching = self.chat.search.with_untracked(|s| !s.asked.is_empty() && !s.answered);
        let leaving = self.held.leaving();
        let page = Page { me: self.me, current: &current, now_ms, outbox: &outbox, leaving, searching };
        let mut chat = *self.chat;
        let follow_up = inbound::apply(&mut chat, &page, frame);
        if let ServerFrame::History { room, more: false, .. } = frame
            && *room == current
        {
            chat.settle_divider(room);
        }
        let mut answer = Vec::new();
        if let ServerFrame::History { room, gap: Some(_), .. } = frame {
            // Changes to what this page holds may have been trimmed with the gap: ask again.
            let ids = chat.log(room).map(|log| log.with_untracked(|log| log.held_ids(MAX_REFRESH_IDS)));
            answer.push(ClientFrame::Refresh { room: room.clone(), ids: ids.unwrap_or_default() });
        }
        if let ServerFrame::Message(message) = frame
            && !page_visible()
            && message.user != self.me
            && mentions_me(&message.text, self.me)
        {
            notify_mention(&chat.shown(&message.user), &message.text);
        }
        match follow_up {
            FollowUp::Nothing => {}
            FollowUp::Forget(client_id) => {
                self.outbox.remove(client_id);
                self.held.settled(client_id);
            }
            FollowUp::Retry(client_id) => self.retry.push(client_id.to_owned()),
            FollowUp::TypingShown { room, user } => expire_typing_later(chat, room.to_owned(), user.to_owned()),
            FollowUp::Join(room) => answer.push(ClientFrame::Join { room: room.to_owned(), since: chat.last_id(room) }),
            FollowUp::Seen(room) if page_visible() => chat.mark_read(room),
            FollowUp::Seen(_) => {}
            FollowUp::Open(room) => {
                chat.open.set(Some(room.to_owned()));
                answer.push(ClientFrame::Join { room: room.to_owned(), since: None });
            }
        }
        answer
    }

    /// After `welcome`: rejoins the user's rooms (from any device, the one on screen, any
    /// joined meanwhile), then sends the leaves asked for while away, every unacknowledged
    /// message and every unanswered change.
    fn rejoin(&mut self) -> Vec<ClientFrame> {
        let chat = self.chat;
        let joins =
            chat.rooms.get_untracked().into_iter().map(|room| RoomJoin { since: chat.last_id(&room), room }).collect();
        let mut frames = join_frames(joins, FRAME_BUDGET_BYTES);
        frames.extend(self.held.take_leaves().into_iter().map(|room| ClientFrame::Leave { room }));
        frames.extend(self.outbox.entries().iter().map(send_frame));
        frames.extend(self.held.changes().iter().cloned());
        frames
    }
}

/// Tries a websocket after `pause`; says on `probed` whether it was welcomed.
fn probe_later(pause: Duration, probed: mpsc::UnboundedSender<bool>) {
    spawn_local(async move {
        gloo_timers::future::sleep(pause).await;
        if !probed.is_closed() {
            let _ = probed.unbounded_send(transport::probe(&super::connection::socket_url()).await);
        }
    });
}

/// Whether the user can see the page now (a hidden tab has not read what arrives).
fn page_visible() -> bool {
    web_sys::window().and_then(|window| window.document()).is_none_or(|document| !document.hidden())
}

/// Raises a browser notification for a message that mentions the user, if they allowed
/// notifications (the page asks when the user first opens a room; see `pages::chat`).
fn notify_mention(author: &str, text: &str) {
    if web_sys::Notification::permission() != web_sys::NotificationPermission::Granted {
        return;
    }
    let options = web_sys::NotificationOptions::new();
    options.set_body(text);
    options.set_tag("switchboard-mention");
    let _ = web_sys::Notification::new_with_options(&format!("{author} mentioned you"), &options);
}

/// Hides `user`'s typing notice in `room` once it has run its time, unless renewed.
fn expire_typing_later(mut chat: ChatHandles, room: String, user: String) {
    spawn_local(async move {
        gloo_timers::future::sleep(Duration::from_millis(TYPING_SHOWN_MS as u64 + 50)).await;
        inbound::typing_expired(&mut chat, &room, &user, js_sys::Date::now());
    });
}

/// The frame that (re)sends an outbox entry.
fn send_frame(pending: &Pending) -> ClientFrame {
    ClientFrame::Send { room: pending.room.clone(), client_id: pending.client_id.clone(), text: pending.text.clone() }
}
