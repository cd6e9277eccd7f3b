//! One websocket connection: the per-socket task.
//!
//! One task serves a socket: it decodes client frames, calls a service and queues
//! the answer, moves its rooms' live events ([`feeds`]) into the socket's bounded
//! queue ([`outgoing`]), and drives the [`Writer`] that writes that queue into the
//! socket within a deadline. An idle user's cost is what this task holds while it
//! waits, so the rooms and the writer are no tasks of their own and the rarely taken
//! paths are boxed.
//! The task holds no storage: every use case is a call into
//! [`Services`](crate::services::Services). Every way a connection can end — the
//! client leaves, a write fails or times out, the client is too slow, the
//! frame is too big, the instance shuts down — goes through one [`Closer`],
//! after which the loop ends and the writer sends exactly one close frame with a
//! meaningful code.

use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::stream::Stream;
use futures::{Sink, SinkExt, StreamExt};
use protocol::{
    CLOSE_LOGGED_OUT, CLOSE_SERVICE_RESTART, ClientFrame, ErrorCode, PROTOCOL_VERSION, RoomName, ServerFrame,
};
use tracing::{Instrument, debug, info_span};
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, Utf8Bytes};

use crate::broker::{Appended, ChangeOp};
use crate::chat::{ChatError, ChatService};
use crate::ratelimit::bucket::TokenBucket;
use crate::services::{RenameError, Services, SocketLogin};
use crate::state::AppState;
use crate::telemetry::metrics::{Limited, metrics, observe};
use crate::ws::closer::Closer;
use crate::ws::feeds::Rooms;
use crate::ws::outgoing::{self, Outgoing};
use crate::ws::registry::{Ended, Order, Registration};
use crate::ws::send_order::SendOrder;
use crate::ws::socket::Socket;
use crate::ws::woken::Woken;
use crate::ws::writer::Writer;

mod changes;
mod history;
mod live;
mod rooms;
mod waits;

use waits::Turn;

/// A history answer is sent in pages of about this many bytes, so a long catch-up never
/// becomes one multi-megabyte frame and counts against the socket's byte budget page by page.
const HISTORY_PAGE_BYTES: usize = 64 * 1024;

/// How long a closing socket keeps reading for the client's answer to its close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// Serves one admitted socket until it ends: the socket's task, a child span of `request`'s.
///
/// Not an `async fn`: the future it returns is [`serve`]'s own, so the socket
/// and the arguments are held once, not once per layer of `async` (what a task holds is what
/// an idle user costs).
pub fn run(
    socket: Socket,
    login: SocketLogin,
    registration: Registration,
    state: AppState,
    request: tracing::Span,
) -> impl Future<Output = ()> + Send {
    let span = request.in_scope(|| info_span!("socket", user = %login.user, instance = %state.instance));
    span.in_scope(|| serve(socket, login, registration, state)).instrument(span)
}

/// Closes a socket at once with a code and a reason.
pub async fn refuse(mut socket: Socket, code: u16, reason: &str) {
    let frame = CloseFrame { code: code.into(), reason: reason.into() };
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(Message::Close(Some(frame)))).await;
}

/// The reader's state: who the socket is, what it joined, and its own small rate limits.
struct Connection {
    user: String,
    /// The account key (the case-folded user name).
    key: protocol::AccountKey,
    /// The display name (a rename in another tab updates it through the rooms' events).
    display: String,
    services: Arc<Services>,
    out: Outgoing,
    closer: Arc<Closer>,
    rooms: Rooms,
    typing: TokenBucket,
    renames: TokenBucket,
    /// Rooms whose next send waits for an earlier one the client will retry.
    order: SendOrder,
    /// The client's frames per second (a flood is closed with 1008).
    flood: TokenBucket,
}

/// Runs the loop of one connection, then ends its rooms and writes its last frames: the one
/// gateway of both transports. A websocket comes from [`run`], whole; the HTTP fallback
/// ([`crate::stream`]) passes a [`Duplex`](crate::ws::duplex::Duplex) of a sink that turns
/// messages into server-sent events and a stream of the frames its `POST`s carried.
///
/// Not an `async fn`: an `async fn` moves its arguments into locals of its own and keeps the
/// arguments' slots too, for the socket's whole life; the `async move` block below uses what it
/// captured in place, so each is held once.
pub fn serve<T>(
    io: T,
    login: SocketLogin,
    registration: Registration,
    state: AppState,
) -> impl Future<Output = ()> + use<T>
where
    T: Sink<Message, Error = axum::Error> + Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let config = &state.config;
    let closer = Arc::new(Closer::default());
    let write_timeout = Duration::from_secs(config.write_timeout_secs.max(1));
    let (out, queue) = outgoing::channel(config.socket_queue, config.socket_queue_bytes, closer.clone());
    let hold = Duration::from_millis(config.write_coalesce_ms);
    let mut writer = Writer::new(io, queue, closer.clone(), write_timeout, hold);
    // Made here, not in the block: what the block captures it keeps for the socket's whole life,
    // and the login is needed only to open.
    let flood = TokenBucket::new(config.frames_per_second, config.frames_per_second.saturating_mul(2));
    let opening = Box::pin(Connection::open(login, out, closer.clone(), state.services.clone(), flood));
    async move {
        // The idle socket's task is what a connected user costs: the rarely taken, deep paths (open,
        // welcome, handling a frame, a move) are boxed, so the task keeps only the loop's own state.
        let mut connection = opening.await;
        let _tracked = state.drain.track_socket();
        let _open = OpenSocket::count();
        // The client's frames and the instance's orders are polled only when they woke the task (`Woken`).
        let rare = Woken::new();
        writer.beside(Box::pin(connection.welcome(&state.instance))).await;
        loop {
            // The rooms' events first (into the queue), then the writer (the batch they make), then the rest.
            let turn = std::future::poll_fn(|cx| {
                writer.hold_wakes();
                if let Some(room) = connection.take_room_events(cx) {
                    return Poll::Ready(Turn::Removed(room));
                }
                writer.drive(cx);
                if closer.is_closing() {
                    return Poll::Ready(Turn::Closing);
                }
                rare.poll(cx, |cx| waits::poll(cx, &registration, writer.io())).map(Turn::Woke)
            });
            // What woke the task is handled (and dropped) before the wait for the work it asks
            // for: only the boxed work is kept while it runs.
            match turn.await {
                Turn::Closing => break,
                turn => {
                    if let Some(work) = connection.on_turn(turn, state.drain.spread()) {
                        writer.beside(work).await;
                    }
                }
            }
        }
        connection.finish();
        drop(connection);
        // Boxed: its deadline timers would otherwise take room in every idle socket's task.
        Box::pin(wind_down(&mut writer)).await;
    }
}

/// The end of a connection, once its rooms are left: writes what is queued and the close
/// frame, then reads until the client answers the close.
async fn wind_down<T>(writer: &mut Writer<T>)
where
    T: Sink<Message, Error = axum::Error> + Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    // Within the batch's write deadline and a second for the rest: a client that reads slowly
    // still gets its close frame, one that does not read is dropped.
    writer.finish().await;
    // Read (and drop) what the client still sends until it answers the close, for a second at
    // most: a TCP socket closed with unread data is reset, and the client would lose our close
    // frame (a flood cut with 1008 then looked like a dropped connection).
    let stream = writer.io();
    let _ = tokio::time::timeout(CLOSE_LINGER, async { while let Some(Ok(_)) = stream.next().await {} }).await;
    // Dropping the transport after this ends the TCP connection.
    debug!("socket closed");
}

/// Counts an open socket for as long as it lives.
struct OpenSocket;

impl OpenSocket {
    fn count() -> Self {
        metrics().sockets_open.increment(1.0);
        Self
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        metrics().sockets_open.decrement(1.0);
    }
}

impl Connection {
    async fn open(
        login: SocketLogin,
        out: Outgoing,
        closer: Arc<Closer>,
        services: Arc<Services>,
        flood: TokenBucket,
    ) -> Self {
        let name = services.profile.display_name(&login.user).await;
        Self {
            key: protocol::AccountKey::of(&login.user),
            user: login.user,
            display: name,
            services,
            out,
            closer,
            rooms: Rooms::default(),
            typing: TokenBucket::new(1, 2),
            renames: TokenBucket::new(1, 3),
            order: SendOrder::default(),
            flood,
        }
    }

    async fn welcome(&self, instance: &str) {
        let access = &self.services.access;
        let (rooms, blocked, read) = futures::join!(
            access.list(&self.key),
            access.blocked(self.asker()),
            self.services.read.positions(&self.key)
        );
        let (user, instance, protocol) = (self.user.clone(), instance.to_owned(), PROTOCOL_VERSION);
        let blocked = blocked.unwrap_or_default();
        self.queue(ServerFrame::Welcome { user, instance, protocol, rooms, blocked, read }).await;
    }

    /// Carries out the instance's order to this socket.
    async fn on_order(&mut self, order: Order, spread: Duration) {
        match order {
            Order::Close(Ended::LoggedOut) => self.closer.close(CLOSE_LOGGED_OUT, "You were logged out."),
            Order::Close(Ended::Expired) => {
                self.closer.close(CLOSE_LOGGED_OUT, "Your session expired. Please log in again.");
            }
            Order::Move => self.move_away(spread).await,
            Order::Notices(notices) => {
                for notice in notices {
                    self.on_notice(notice).await;
                }
            }
        }
    }

    /// Tells the client to reconnect elsewhere after a random delay, then closes with 1012.
    async fn move_away(&self, spread: Duration) {
        let spread_ms = u64::try_from(spread.as_millis()).unwrap_or(u64::MAX);
        let after_ms = rand::random_range(0..=spread_ms);
        metrics().moves.increment(1);
        self.queue(ServerFrame::Move { after_ms }).await;
        self.closer.close(CLOSE_SERVICE_RESTART, "server restarting");
    }

    /// Queues a reply; `false` when the connection is closing (the caller stops there).
    async fn queue(&self, frame: ServerFrame) -> bool {
        self.out.reply(&frame).await
    }

    async fn on_text(&mut self, text: Utf8Bytes) {
        let frame = match ClientFrame::decode(text.as_str()) {
            Ok(frame) => frame,
            Err(err) => return self.error(ErrorCode::BadFrame, err.to_string(), None).await,
        };
        match frame {
            ClientFrame::Ping => {
                self.queue(ServerFrame::Pong).await;
            }
            ClientFrame::Join { room, since } => self.join(&room, since).await,
            ClientFrame::JoinMany { rooms } => self.join_many(rooms).await,
            ClientFrame::Leave { room } => self.leave(&room).await,
            ClientFrame::Typing { room } => self.typing(&room).await,
            ClientFrame::Rename { name } => self.rename(&name).await,
            ClientFrame::Send { room, client_id, text } => self.send(&room, client_id, &text).await,
            ClientFrame::CreateRoom { title } => self.create_room(&title).await,
            ClientFrame::Invite { room, user } => self.manage(&room, &user, true).await,
            ClientFrame::Remove { room, user } => self.manage(&room, &user, false).await,
            ClientFrame::Block { user } => self.block(&user, true).await,
            ClientFrame::Unblock { user } => self.block(&user, false).await,
            ClientFrame::Directory => self.directory().await,
            ClientFrame::Read { room, id } => self.read(&room, id).await,
            ClientFrame::Edit { room, id, text, client_id } => {
                self.change(&room, client_id, id, ChangeOp::Edit(text)).await
            }
            ClientFrame::Delete { room, id, client_id } => self.change(&room, client_id, id, ChangeOp::Delete).await,
            ClientFrame::React { room, id, emoji, remove, client_id } => {
                let op = if remove { ChangeOp::Unreact(emoji) } else { ChangeOp::React(emoji) };
                self.change(&room, client_id, id, op).await;
            }
            ClientFrame::Refresh { room, ids } => self.refresh(&room, ids).await,
            ClientFrame::Older { room, before } => self.older(&room, before).await,
            ClientFrame::Search { query } => self.search(query).await,
            ClientFrame::Around { room, id } => self.around(&room, id).await,
        }
    }

    async fn error(&self, code: ErrorCode, message: String, client_id: Option<String>) {
        metrics().error(code.as_str());
        if code == ErrorCode::RateLimited {
            metrics().rate_limited(if client_id.is_some() { Limited::Send } else { Limited::Socket });
        }
        self.queue(ServerFrame::Error { code, message, client_id }).await;
    }

    async fn fail(&self, err: ChatError, client_id: Option<String>) {
        self.error(err.code(), err.to_string(), client_id).await;
    }

    fn name(&self) -> String {
        self.display.clone()
    }

    /// Changes the user's display name; every room the user is in (and so every tab) hears it.
    async fn rename(&mut self, raw: &str) {
        if !self.renames.take() {
            return self.error(ErrorCode::RateLimited, "you are renaming too fast".into(), None).await;
        }
        let joined: Vec<RoomName> = self.rooms.names();
        match self.services.profile.rename(&self.user, raw, &joined).await {
            Ok(name) => {
                self.display.clone_from(&name);
                self.queue(ServerFrame::Renamed { user: self.user.clone(), name }).await;
            }
            Err(err @ (RenameError::BadName(_) | RenameError::Taken(_))) => {
                self.error(ErrorCode::BadName, err.to_string(), None).await;
            }
            Err(err @ RenameError::Unavailable(_)) => {
                debug!(error = ?err, "rename failed");
                self.error(ErrorCode::Unavailable, err.to_string(), None).await;
            }
        }
    }

    /// Relays a typing notice (at most about one a second per socket; extra ones are dropped).
    async fn typing(&mut self, raw: &str) {
        let Ok(room) = ChatService::room(raw) else { return };
        if self.holds(&room)
            && self.typing.take()
            && let Err(err) = self.services.chat.typing(&self.user, &room).await
        {
            debug!(%err, "could not relay typing");
        }
    }

    async fn send(&mut self, raw: &str, client_id: String, text: &str) {
        let room = match ChatService::room(raw) {
            Ok(room) => room,
            Err(err) => return self.fail(err, Some(client_id)).await,
        };
        if !self.holds(&room) {
            let message = format!("join {room} before sending to it");
            return self.error(ErrorCode::NotJoined, message, Some(client_id)).await;
        }
        if let Err(held) = self.order.check(&room, &client_id, Instant::now()) {
            return self.error(held.code, held.message, Some(client_id)).await;
        }
        if let Err(err) = self.services.access.check_send(self.asker(), &room).await {
            let (code, message) = (err.code(), err.to_string());
            self.order.settled(&room, &client_id, Some((code, &message)), Instant::now());
            return self.error(code, message, Some(client_id)).await;
        }
        let name = self.name();
        let started = Instant::now();
        match self.services.chat.send((&self.user, &name), &room, &client_id, text).await {
            Ok(appended) => {
                self.order.settled(&room, &client_id, None, Instant::now());
                if let Appended::Duplicate(_) = appended {
                    debug!(%client_id, "duplicate send acked again");
                }
                let metrics = metrics();
                metrics.acks.increment(1);
                observe(&metrics.send_seconds, started.elapsed());
                let id = appended.id().to_owned();
                self.queue(ServerFrame::Ack { client_id, id }).await;
            }
            Err(err) => {
                let (code, message) = (err.code(), err.to_string());
                self.order.settled(&room, &client_id, Some((code, &message)), Instant::now());
                self.error(code, message, Some(client_id)).await;
            }
        }
    }

    /// Leaves every room when the socket ends — after the grace period, so a reconnect is no leave.
    fn finish(&mut self) {
        for room in self.rooms.take_all() {
            self.services.chat.leave_later(&self.user, &room);
        }
    }
}
