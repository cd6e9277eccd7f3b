//! The HTTP fallback for networks that break websockets: server-sent events down
//! (`GET /stream`), `POST /stream/{id}` up, the same protocol frames both ways.
//!
//! Some proxies and antivirus products refuse the websocket upgrade, or let it
//! through and cut the socket. Plain HTTP gets through them. The fallback is not a
//! second gateway: a stream runs the websocket's own connection
//! ([`crate::ws::connection::serve`]) with a sink that turns its messages into
//! numbered events ([`buffer`]) and a reader fed by the `POST`s — rooms, history,
//! acks, presence, typing, drain, logout and the slow-consumer cut behave as they
//! do on a socket, because they are the same code.
//!
//! Unlike Socket.IO's long-polling, no request needs to reach a particular
//! instance. A stream's id names its holder ([`table`]); a `POST` that lands
//! elsewhere (the sticky cookie changed, the balancer redispatched) is handed to
//! the holder through the instance-wide orders ([`crate::signals`]). A response
//! that ends while its stream lives on (a proxy's timeout, a network change) is
//! resumed by the browser with `Last-Event-ID`; a stream whose client stays away
//! for [`RESUME_GRACE`] ends like a closed socket. Both requests pass the same
//! checks as the websocket: the session's login, the Origin and `Sec-Fetch-Site`
//! ([`crate::routes::guard::cross_site`]), and the frame-size limit.

pub mod buffer;
pub mod table;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::mpsc;
use tower_sessions::Session;
use tracing::{Instrument, debug, info_span};
use tungstenite::Message;

use crate::routes::guard::cross_site;
use crate::services::SocketLogin;
use crate::signals::Signal;
use crate::state::AppState;
use crate::telemetry::metrics::metrics;
use crate::ws::connection;
use crate::ws::duplex::Duplex;
use crate::ws::registry::Registration;
use buffer::{EventBuffer, EventSink, Numbered};
use table::{Entry, Refused};

/// How often an idle stream sends a comment, so proxies do not time it out.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How long a stream without a response waits for its client to resume it.
pub const RESUME_GRACE: Duration = Duration::from_secs(20);

/// How long the browser waits before resuming a response that ended.
const RETRY: Duration = Duration::from_secs(1);

/// How many `POST`s' frames may wait for the connection to read them.
const INBOX_BATCHES: usize = 32;

/// How many frames of the largest size one `POST` may carry.
pub const FRAMES_PER_POST: usize = 8;

/// Handles `GET /stream`: a new stream, or the resume of one (`Last-Event-ID`).
pub async fn open(State(state): State<AppState>, session: Session, headers: HeaderMap) -> Response {
    let login = match admit(&state, &session, &headers).await {
        Ok(login) => login,
        Err(refused) => return refused,
    };
    if let Some(last) = headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        return resume(&state, &login, last);
    }
    let Some(registration) = state.sockets.register(&login) else {
        return (StatusCode::TOO_MANY_REQUESTS, "too many open connections for this user").into_response();
    };
    let id = table::new_id(&state.instance);
    let buffer = Arc::new(EventBuffer::new(state.config.socket_queue_bytes));
    let (inbox, frames) = mpsc::channel(INBOX_BATCHES);
    state.streams.insert(id.clone(), Arc::new(Entry { login: login.login.clone(), buffer: buffer.clone(), inbox }));
    let Some(attachment) = buffer.attach(0) else {
        state.streams.remove(&id);
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    metrics().fallback_opened.increment(1);
    let span = info_span!("stream", user = %login.user, instance = %state.instance);
    tokio::spawn(run(id.clone(), buffer.clone(), frames, login, registration, state).instrument(span));
    respond(id, buffer, attachment, true)
}

/// The session's login, or the refusal: 403 for another site, 401 without a login, 503
/// when the session store does not answer.
async fn admit(state: &AppState, session: &Session, headers: &HeaderMap) -> Result<SocketLogin, Response> {
    if cross_site(headers, &state.origins) {
        return Err((StatusCode::FORBIDDEN, "cross-site requests are refused").into_response());
    }
    crate::ws::logged_in(state, session).await
}

/// Attaches a response to the stream `last` names, after its event. A stream this instance
/// does not hold (it ended, or its instance died) or cannot resume from there is answered
/// 204, which tells the browser to stop; the page then opens a new stream and catches up.
fn resume(state: &AppState, login: &SocketLogin, last: &str) -> Response {
    let resumed = last.rsplit_once(':').and_then(|(id, seq)| {
        let entry = state.streams.get(id, &login.login)?;
        let seq = seq.parse().ok()?;
        match entry.buffer.attach(seq) {
            Some(attachment) => Some((id.to_owned(), entry.buffer.clone(), attachment)),
            None => {
                // What it missed is gone: end it now rather than after the grace.
                entry.buffer.close();
                None
            }
        }
    });
    match resumed {
        Some((id, buffer, attachment)) => {
            debug!(%id, "stream resumed");
            metrics().fallback_resumed.increment(1);
            respond(id, buffer, attachment, false)
        }
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

/// The response of one attachment: a new stream's first event names it (`stream`), then
/// every event after the attachment's point, each with id `<stream>:<n>`.
fn respond(id: String, buffer: Arc<EventBuffer>, attachment: u64, fresh: bool) -> Response {
    let first = fresh.then(|| Ok(Event::default().event("stream").data(&id).retry(RETRY)));
    let detach = Detach { buffer, attachment };
    let events = futures::stream::unfold((detach, id), |(detach, id)| async move {
        let Numbered { seq, kind, data } = detach.buffer.next(detach.attachment).await?;
        let event = Event::default().event(kind).id(format!("{id}:{seq}")).data(data.as_str());
        Some((Ok::<_, Infallible>(event), (detach, id)))
    });
    Sse::new(futures::stream::iter(first).chain(events))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

/// Marks the stream detached when its response goes away.
struct Detach {
    buffer: Arc<EventBuffer>,
    attachment: u64,
}

impl Drop for Detach {
    fn drop(&mut self) {
        self.buffer.detach(self.attachment);
    }
}

/// Runs the stream's connection until it ends, then forgets the stream.
async fn run(
    id: String,
    buffer: Arc<EventBuffer>,
    mut frames: mpsc::Receiver<Vec<String>>,
    login: SocketLogin,
    registration: Registration,
    state: AppState,
) {
    let reader = futures::stream::poll_fn(move |cx| frames.poll_recv(cx))
        .flat_map(futures::stream::iter)
        .map(|text| Ok(Message::Text(text.into())))
        .take_until(abandoned(buffer.clone()));
    let transport = Duplex::new(EventSink(buffer.clone()), Box::pin(reader));
    connection::serve(transport, login, registration, state.clone()).await;
    buffer.close();
    state.streams.remove(&id);
    debug!(%id, "stream ended");
}

/// Resolves once the stream has had no response for [`RESUME_GRACE`].
async fn abandoned(buffer: Arc<EventBuffer>) {
    let mut check = tokio::time::interval(Duration::from_secs(1));
    while buffer.detached_for() < RESUME_GRACE {
        check.tick().await;
    }
}

/// Handles `POST /stream/{id}`: hands the frames of the body (one per line) to the stream,
/// here or on the instance that holds it. 204 once handed on; 404 when the stream is not
/// (or no longer) there, and the page opens a new one.
pub async fn post(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let login = match admit(&state, &session, &headers).await {
        Ok(login) => login,
        Err(refused) => return refused,
    };
    let frames = match frames(&body, state.config.max_frame_bytes) {
        Ok(frames) => frames,
        Err(refused) => return refused.into_response(),
    };
    let Some(holder) = table::holder(&id) else {
        return (StatusCode::NOT_FOUND, "no such stream").into_response();
    };
    if holder == state.instance {
        return match state.streams.deliver(&id, &login.login, frames) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(Refused::Unknown) => (StatusCode::NOT_FOUND, "no such stream: open a new one").into_response(),
            Err(Refused::Full) => (StatusCode::TOO_MANY_REQUESTS, "the stream is behind: slow down").into_response(),
        };
    }
    let signal = Signal::Frames { instance: holder.to_owned(), stream: id, login: login.login, frames };
    match state.backend.signals.send(&signal).await {
        Ok(()) => {
            metrics().fallback_relayed.increment(1);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => {
            tracing::warn!(error = %err, "could not hand frames to their stream's instance");
            (StatusCode::SERVICE_UNAVAILABLE, "could not reach the stream's instance").into_response()
        }
    }
}

/// The frames of a `POST` body, one per non-empty line, each at most `max` bytes.
fn frames(body: &[u8], max: usize) -> Result<Vec<String>, (StatusCode, String)> {
    let text = std::str::from_utf8(body).map_err(|_| (StatusCode::BAD_REQUEST, "frames must be UTF-8".to_owned()))?;
    let frames: Vec<String> = text.lines().filter(|line| !line.trim().is_empty()).map(str::to_owned).collect();
    if frames.iter().any(|frame| frame.len() > max) {
        return Err((StatusCode::PAYLOAD_TOO_LARGE, format!("a frame is larger than {max} bytes")));
    }
    if frames.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "no frame in the body".to_owned()));
    }
    Ok(frames)
}
