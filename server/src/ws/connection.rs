//! One websocket connection: the per-socket task.
//!
//! Three kinds of task cooperate: the reader (this function's loop) decodes
//! client frames and acts on them; one forwarder per joined room moves room
//! events into the socket's bounded send queue; the writer drains that queue
//! into the socket. Every way a connection can end — the client leaves, a
//! write fails, the client is too slow, the frame is too big, the instance
//! shuts down — goes through one [`Closer`], which sends exactly one close
//! frame with a meaningful code and stops all three. A forwarder whose client
//! cannot keep up closes the socket with 4008 (the client reconnects and
//! catches up from history) instead of silently dropping events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{SinkExt, StreamExt};
use protocol::{
    CLOSE_INVALID_DATA, CLOSE_LOGGED_OUT, CLOSE_POLICY_VIOLATION, CLOSE_SERVICE_RESTART, CLOSE_TOO_BIG, CLOSE_TOO_SLOW,
    CLOSE_UNSUPPORTED_DATA, ClientFrame, ErrorCode, PROTOCOL_VERSION, RoomName, ServerFrame,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info_span};

use crate::accounts::{Rename, SharedAccounts};
use crate::broker::{Appended, RoomEvent, id_order};
use crate::chat::{ChatError, ChatService, ChatSettings, Joined};
use crate::ratelimit::bucket::TokenBucket;
use crate::ratelimit::{Limit, SharedLimiter, Verdict};
use crate::session::SessionBackend;
use crate::state::AppState;
use crate::ws::SocketLogin;
use crate::ws::registry::Registration;
use tower_sessions::SessionStore;
use tower_sessions::session::Id;

/// Ends a connection once, with one close frame.
#[derive(Default)]
struct Closer {
    token: CancellationToken,
    frame: Mutex<Option<CloseFrame>>,
}

impl Closer {
    /// Asks for the connection to close with `code`; the first reason wins.
    fn close(&self, code: u16, reason: &str) {
        let mut frame = self.frame.lock().unwrap_or_else(PoisonError::into_inner);
        if frame.is_none() && !self.token.is_cancelled() {
            *frame = Some(CloseFrame { code, reason: reason.into() });
        }
        self.token.cancel();
    }

    fn take_frame(&self) -> Option<CloseFrame> {
        self.frame.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Serves one admitted socket until it ends.
pub async fn run(socket: WebSocket, login: SocketLogin, registration: Registration, state: AppState) {
    let span = info_span!("socket", user = %login.user, instance = %state.instance);
    Connection::serve(socket, login, registration, state).instrument(span).await;
}

/// Whether the socket's session still exists; renews it while the socket is open (an active
/// chat keeps its session alive even without page loads). `Err` when the store cannot say.
async fn session_alive(sessions: &SessionBackend, id: &Id, ttl: Duration) -> Result<bool, ()> {
    match sessions.load(id).await {
        Ok(Some(mut record)) => {
            record.expiry_date = time::OffsetDateTime::now_utc() + ttl;
            // A failed renewal is retried at the next check.
            let _ = sessions.save(&record).await;
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(_) => Err(()),
    }
}

/// Closes a socket at once with a code and a reason.
pub async fn refuse(mut socket: WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame { code, reason: reason.into() };
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(Message::Close(Some(frame)))).await;
}

struct Connection {
    user: String,
    /// The display name, shared with the forwarders (a rename in another tab updates it).
    display: Arc<Mutex<String>>,
    accounts: SharedAccounts,
    limiter: SharedLimiter,
    send_limit: Limit,
    chat: ChatService,
    out: mpsc::Sender<ServerFrame>,
    closer: Arc<Closer>,
    rooms: HashMap<RoomName, JoinHandle<()>>,
    typing: TokenBucket,
    renames: TokenBucket,
}

impl Connection {
    async fn serve(socket: WebSocket, login: SocketLogin, registration: Registration, state: AppState) {
        let SocketLogin { user, session_id, .. } = login;
        let mut session_check = tokio::time::interval(Duration::from_secs(state.config.session_check_secs.max(1)));
        session_check.tick().await;
        let (sink, mut stream) = socket.split();
        let (out, queue) = mpsc::channel(state.config.socket_queue.max(8));
        let closer = Arc::new(Closer::default());
        let writer = tokio::spawn(write(sink, queue, closer.clone()).in_current_span());
        let config = &state.config;
        let broker = state.backend.broker.clone();
        let settings = ChatSettings {
            history_on_join: config.history_on_join,
            // A catch-up may replay the whole history: the stream holds up to 1.1 × the cap between trims.
            replay_limit: config.history_cap.saturating_mul(2),
            max_message_chars: config.max_message_chars,
            grace: Duration::from_millis(config.presence_grace_ms),
            local: state.memberships.clone(),
        };
        let chat = ChatService::new(broker, state.backend.presence.clone(), state.instance.clone(), settings);
        let accounts = state.backend.accounts.clone();
        let (limiter, send_limit) = (state.backend.limiter.clone(), state.limits.sends_per_user);
        let name = match accounts.find(&user.to_ascii_lowercase()).await {
            Ok(Some(account)) => account.display,
            _ => user.clone(),
        };
        let display = Arc::new(Mutex::new(name));
        let mut connection = Self {
            user,
            display,
            accounts,
            limiter,
            send_limit,
            chat,
            out,
            closer: closer.clone(),
            rooms: HashMap::new(),
            typing: TokenBucket::new(1, 2),
            renames: TokenBucket::new(1, 3),
        };
        let mut flood = TokenBucket::new(config.frames_per_second, config.frames_per_second.saturating_mul(2));
        let _tracked = state.drain.track_socket();
        let moving = state.drain.sockets();
        debug!("socket open");
        let rooms = connection.accounts.rooms(&connection.user.to_ascii_lowercase()).await.unwrap_or_else(|err| {
            debug!(%err, "could not read the user's rooms");
            Vec::new()
        });
        connection
            .queue(ServerFrame::Welcome {
                user: connection.user.clone(),
                instance: state.instance.clone(),
                protocol: PROTOCOL_VERSION,
                rooms,
            })
            .await;
        loop {
            tokio::select! {
                () = closer.token.cancelled() => break,
                () = registration.closed.cancelled() => closer.close(CLOSE_LOGGED_OUT, "You were logged out."),
                _ = session_check.tick(), if session_id.is_some() => {
                    let Some(id) = &session_id else { continue };
                    if session_alive(&state.backend.sessions, id, state.config.session_ttl()).await == Ok(false) {
                        closer.close(CLOSE_LOGGED_OUT, "Your session expired. Please log in again.");
                    }
                }
                () = moving.cancelled(), if !closer.token.is_cancelled() => {
                    connection.move_away(state.drain.spread()).await;
                }
                frame = stream.next() => match frame {
                    Some(Ok(_)) if !flood.take() => closer.close(CLOSE_POLICY_VIOLATION, "too many frames: slow down"),
                    Some(Ok(Message::Text(text))) => connection.on_text(text.as_str()).await,
                    Some(Ok(Message::Binary(_))) => closer.close(CLOSE_UNSUPPORTED_DATA, "binary frames are not supported"),
                    Some(Ok(Message::Close(_))) | None => closer.close(1000, "bye"),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Err(err)) => {
                        let text = err.to_string();
                        if text.contains("too long") || text.contains("Space limit") {
                            closer.close(CLOSE_TOO_BIG, "frame too large");
                        } else if text.contains("UTF-8") || text.contains("utf-8") {
                            closer.close(CLOSE_INVALID_DATA, "text frames must be valid UTF-8");
                        } else {
                            debug!(%err, "socket read failed");
                            closer.close(1002, "protocol error");
                        }
                    }
                },
            }
        }
        connection.finish().await;
        drop(connection);
        if tokio::time::timeout(Duration::from_secs(2), writer).await.is_err() {
            debug!("writer did not finish in time");
        }
        debug!("socket closed");
    }

    /// Tells the client to reconnect elsewhere after a random delay, then closes with 1012.
    async fn move_away(&self, spread: Duration) {
        let spread_ms = u64::try_from(spread.as_millis()).unwrap_or(u64::MAX);
        let after_ms = rand::random_range(0..=spread_ms);
        self.queue(ServerFrame::Move { after_ms }).await;
        self.closer.close(CLOSE_SERVICE_RESTART, "server restarting");
    }

    async fn queue(&self, frame: ServerFrame) {
        // Fails only when the writer has stopped, i.e. the connection is closing anyway.
        let _ = self.out.send(frame).await;
    }

    async fn on_text(&mut self, text: &str) {
        let frame = match ClientFrame::decode(text) {
            Ok(frame) => frame,
            Err(err) => return self.error(ErrorCode::BadFrame, err.to_string(), None).await,
        };
        match frame {
            ClientFrame::Ping => self.queue(ServerFrame::Pong).await,
            ClientFrame::Join { room, since } => self.join(&room, since.as_deref()).await,
            ClientFrame::JoinMany { rooms } => {
                for join in rooms {
                    self.join(&join.room, join.since.as_deref()).await;
                }
            }
            ClientFrame::Leave { room } => self.leave(&room).await,
            ClientFrame::Typing { room } => self.typing(&room).await,
            ClientFrame::Rename { name } => self.rename(&name).await,
            ClientFrame::Send { room, client_id, text } => self.send(&room, client_id, &text).await,
        }
    }

    async fn error(&self, code: ErrorCode, message: String, client_id: Option<String>) {
        self.queue(ServerFrame::Error { code, message, client_id }).await;
    }

    async fn fail(&self, err: ChatError, client_id: Option<String>) {
        self.error(err.code(), err.to_string(), client_id).await;
    }

    async fn join(&mut self, raw: &str, since: Option<&str>) {
        let room = match ChatService::room(raw) {
            Ok(room) => room,
            Err(err) => return self.fail(err, None).await,
        };
        if self.rooms.contains_key(&room) {
            return;
        }
        let name = self.name();
        match self.chat.join(&self.user, &name, &room, since).await {
            Ok(mut joined) => {
                let newest = joined.history.last().map(|m| id_order(&m.id));
                let (messages, gap) = (std::mem::take(&mut joined.history), joined.gap.take());
                let users = std::mem::take(&mut joined.members);
                let names = self.display_names(&users).await;
                self.queue(ServerFrame::History { room: room.to_string(), messages, gap }).await;
                self.queue(ServerFrame::Presence { room: room.to_string(), users, names }).await;
                let route = Route {
                    me: self.user.clone(),
                    display: self.display.clone(),
                    newest,
                    out: self.out.clone(),
                    closer: self.closer.clone(),
                };
                let forwarder = tokio::spawn(forward(joined, route).in_current_span());
                if let Err(err) = self.accounts.add_room(&self.user.to_ascii_lowercase(), room.as_str()).await {
                    debug!(%err, "could not remember the room");
                }
                self.rooms.insert(room, forwarder);
            }
            Err(err) => self.fail(err, None).await,
        }
    }

    async fn leave(&mut self, raw: &str) {
        let Ok(room) = ChatService::room(raw) else { return };
        if let Err(err) = self.accounts.remove_room(&self.user.to_ascii_lowercase(), room.as_str()).await {
            debug!(%err, "could not forget the room");
        }
        if let Some(forwarder) = self.rooms.remove(&room) {
            forwarder.abort();
            self.chat.leave(&self.user, &room).await;
        }
    }

    fn name(&self) -> String {
        self.display.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The display names of `users` that differ from their user names.
    async fn display_names(&self, users: &[String]) -> std::collections::BTreeMap<String, String> {
        let mut names = std::collections::BTreeMap::new();
        for user in users {
            if let Ok(Some(account)) = self.accounts.find(&user.to_ascii_lowercase()).await {
                if account.display != *user {
                    names.insert(user.clone(), account.display);
                }
            }
        }
        names
    }

    /// Changes the user's display name and tells every room the user is in (and so every tab).
    async fn rename(&mut self, raw: &str) {
        if !self.renames.take() {
            return self.error(ErrorCode::RateLimited, "you are renaming too fast".into(), None).await;
        }
        let name = match protocol::UserName::parse(raw) {
            Ok(name) => name.to_string(),
            Err(err) => {
                return self.error(ErrorCode::BadName, err.to_string().replace("user name", "display name"), None).await;
            }
        };
        let key = self.user.to_ascii_lowercase();
        match self.accounts.rename(&key, &name).await {
            Ok(Rename::Done(_)) => {
                *self.display.lock().unwrap_or_else(PoisonError::into_inner) = name.clone();
                let mut rooms: Vec<RoomName> = self.rooms.keys().cloned().collect();
                for room in self.accounts.rooms(&key).await.unwrap_or_default() {
                    if let Ok(room) = RoomName::parse(&room) {
                        if !rooms.contains(&room) {
                            rooms.push(room);
                        }
                    }
                }
                self.chat.renamed(&self.user, &name, &rooms).await;
                self.queue(ServerFrame::Renamed { user: self.user.clone(), name }).await;
            }
            Ok(Rename::Taken) => {
                let message = format!("the name {name} belongs to someone else");
                self.error(ErrorCode::BadName, message, None).await;
            }
            Ok(Rename::Unknown) | Err(_) => {
                self.error(ErrorCode::Unavailable, "the name could not be changed right now".into(), None).await;
            }
        }
    }

    /// Relays a typing notice (at most about one a second per socket; extra ones are dropped).
    async fn typing(&mut self, raw: &str) {
        let Ok(room) = ChatService::room(raw) else { return };
        if self.rooms.contains_key(&room) && self.typing.take() {
            if let Err(err) = self.chat.typing(&self.user, &room).await {
                debug!(%err, "could not relay typing");
            }
        }
    }

    async fn send(&mut self, raw: &str, client_id: String, text: &str) {
        let room = match ChatService::room(raw) {
            Ok(room) => room,
            Err(err) => return self.fail(err, Some(client_id)).await,
        };
        if !self.rooms.contains_key(&room) {
            let message = format!("join #{room} before sending to it");
            return self.error(ErrorCode::NotJoined, message, Some(client_id)).await;
        }
        if let Verdict::Limited(wait) = self.send_limit.check(&*self.limiter, &format!("send:{}", self.user)).await {
            let message = format!("you are sending too fast; wait {} s (it will be sent then)", wait.as_secs().max(1));
            return self.error(ErrorCode::RateLimited, message, Some(client_id)).await;
        }
        let name = self.name();
        match self.chat.send((&self.user, &name), &room, &client_id, text).await {
            Ok(appended) => {
                let id = appended.id().to_owned();
                if let Appended::Duplicate(_) = appended {
                    debug!(%client_id, "duplicate send acked again");
                }
                self.queue(ServerFrame::Ack { client_id, id }).await;
            }
            Err(err) => self.fail(err, Some(client_id)).await,
        }
    }

    /// Leaves every room when the socket ends — after the grace period, so a reconnect is no leave.
    async fn finish(&mut self) {
        for (room, forwarder) in std::mem::take(&mut self.rooms) {
            forwarder.abort();
            self.chat.leave_later(&self.user, &room);
        }
    }
}

/// Where a room's events go: this socket's queue.
struct Route {
    /// The socket's user (their own typing notices are not echoed).
    me: String,
    /// The socket's display name, updated when the user renames in another tab.
    display: Arc<Mutex<String>>,
    /// The newest message already sent with the join's history.
    newest: Option<(u64, u64)>,
    out: mpsc::Sender<ServerFrame>,
    closer: Arc<Closer>,
}

/// Moves a room's events into the socket's queue; closes the socket with 4008 if the client cannot keep up.
async fn forward(mut joined: Joined, route: Route) {
    let Route { me, display, newest, out, closer } = route;
    let room = joined.subscription.room().to_string();
    loop {
        let event = match joined.subscription.recv().await {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                debug!(missed, "room receiver lagged");
                return closer.close(CLOSE_TOO_SLOW, "too slow: reconnect to catch up");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let frame = match &*event {
            // Already sent as part of the join's history.
            RoomEvent::Message(message) if newest.is_some_and(|n| id_order(&message.id) <= n) => continue,
            RoomEvent::Message(message) => ServerFrame::Message(message.clone()),
            RoomEvent::Joined { user, name, ts } => {
                ServerFrame::Joined { room: room.clone(), user: user.clone(), name: name.clone(), ts: *ts }
            }
            RoomEvent::Renamed { user, name } => {
                if *user == me {
                    *display.lock().unwrap_or_else(PoisonError::into_inner) = name.clone();
                }
                ServerFrame::Renamed { user: user.clone(), name: name.clone() }
            }
            RoomEvent::Left { user, ts } => ServerFrame::Left { room: room.clone(), user: user.clone(), ts: *ts },
            RoomEvent::Typing { user } if *user == me => continue,
            RoomEvent::Typing { user } => ServerFrame::Typing { room: room.clone(), user: user.clone() },
        };
        match out.try_send(frame) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                return closer.close(CLOSE_TOO_SLOW, "too slow: reconnect to catch up");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

/// Writes queued frames to the socket; on close, sends the close frame and stops.
async fn write(
    mut sink: futures::stream::SplitSink<WebSocket, Message>,
    mut queue: mpsc::Receiver<ServerFrame>,
    closer: Arc<Closer>,
) {
    loop {
        tokio::select! {
            biased;
            () = closer.token.cancelled() => break,
            frame = queue.recv() => match frame {
                Some(frame) => {
                    if sink.send(Message::Text(frame.encode().into())).await.is_err() {
                        closer.close(1011, "write failed");
                        break;
                    }
                }
                None => break,
            },
        }
    }
    // Flush what is already queued (acks, errors) before the close frame, without waiting for more,
    // and give up on a client that does not read at all.
    let frame = closer.take_frame();
    let tail = async {
        while let Ok(frame) = queue.try_recv() {
            if sink.send(Message::Text(frame.encode().into())).await.is_err() {
                return;
            }
        }
        let _ = sink.send(Message::Close(frame)).await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), tail).await;
}
