//! The websocket gateway: `/ws`.
//!
//! The upgrade is admitted only from an allowed Origin ([`origin`], 403
//! otherwise) and only for a session with a logged-in user (401 otherwise); the
//! user's identity comes from the session, never from the client. Each admitted
//! socket runs [`connection::run`] with small read buffers (idle sockets are
//! cheap) and the configured frame-size limit; a user already holding the
//! maximum number of sockets on this instance ([`registry`]) gets an explicit
//! 1008 close instead.

pub mod closer;
pub mod connection;
pub mod duplex;
pub mod feeds;
pub mod gather;
pub mod handshake;
pub mod orders;
pub mod origin;
pub mod outgoing;
pub mod queue;
pub mod read_error;
pub mod registry;
pub mod send_order;
pub mod session_sweep;
pub mod socket;
pub mod woken;
pub mod writer;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::Either;
use tower_sessions::Session;
use tracing::{Instrument, debug};
use tungstenite::protocol::WebSocketConfig;

use protocol::CLOSE_POLICY_VIOLATION;

use crate::services::SocketLogin;
use crate::state::AppState;
use crate::ws::handshake::Handshake;

/// What a socket reads with one system call, and keeps allocated while idle: client frames
/// are small (a larger one grows the buffer for as long as it takes to read it), and an idle
/// socket's cost is what decides how many users an instance holds.
const READ_BUFFER_BYTES: usize = 128;

/// The session's login, or the answer for a connection without one: 401 when nobody is
/// logged in, 503 when the session store does not answer. Both transports ask this.
pub async fn logged_in(state: &AppState, session: &Session) -> Result<SocketLogin, Response> {
    match state.services.sessions.login(session).await {
        Ok(Some(login)) => Ok(login),
        Ok(None) => Err((StatusCode::UNAUTHORIZED, "log in first").into_response()),
        Err(err) => {
            tracing::warn!(error = %err, "connection refused with 503");
            Err((StatusCode::SERVICE_UNAVAILABLE, "session store unavailable").into_response())
        }
    }
}

/// Handles `GET /ws`.
pub async fn upgrade(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    handshake: Handshake,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !state.origins.admits(origin, host) {
        debug!(?origin, ?host, "websocket refused: foreign origin");
        return (StatusCode::FORBIDDEN, "websocket origin not allowed").into_response();
    }
    let login = match logged_in(&state, &session).await {
        Ok(login) => login,
        Err(refused) => return refused,
    };
    let max = state.config.max_frame_bytes;
    let registration = state.sockets.register(&login);
    // The socket's span is a child of its upgrade request's, so its logs carry the request id.
    let admitted = Box::new((login, registration, state, tracing::Span::current()));
    // Each frame goes at once to the socket's own write buffer (`gather`), which the writer
    // flushes once per batch and which is given back once written: tungstenite's would keep
    // the capacity of the largest batch for the socket's life.
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    // The callback returns the socket's future itself, not an `async` block awaiting it: each
    // such layer would keep its own copy of the socket, the login and the state for the
    // socket's whole life (the task is what an idle user costs). For the same reason it
    // captures one box: the upgrade's task keeps the callback's slot after calling it.
    handshake.accept(config, move |socket| {
        let (login, registration, state, request) = *admitted;
        match registration {
            Some(registration) => Either::Left(connection::run(socket, login, registration, state, request)),
            None => Either::Right(
                connection::refuse(socket, CLOSE_POLICY_VIOLATION, "too many open connections for this user")
                    .instrument(request),
            ),
        }
    })
}
