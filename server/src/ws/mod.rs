//! The websocket gateway: `/ws`.
//!
//! The upgrade is admitted only from an allowed Origin ([`origin`], 403
//! otherwise) and only for a session with a logged-in user (401 otherwise); the
//! user's identity comes from the session, never from the client. Each admitted
//! socket runs [`connection::run`] with small read buffers (idle sockets are
//! cheap) and the configured frame-size limit; a user already holding the
//! maximum number of sockets on this instance ([`registry`]) gets an explicit
//! 1008 close instead.

pub mod connection;
pub mod forward;
pub mod logout;
pub mod origin;
pub mod outgoing;
pub mod registry;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;
use tracing::debug;

use protocol::CLOSE_POLICY_VIOLATION;

use crate::state::AppState;

/// Handles `GET /ws`.
pub async fn upgrade(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !state.origins.admits(origin, host) {
        debug!(?origin, ?host, "websocket refused: foreign origin");
        return (StatusCode::FORBIDDEN, "websocket origin not allowed").into_response();
    }
    let login = match state.services.sessions.login(&session).await {
        Ok(Some(login)) => login,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "log in first").into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "websocket refused with 503");
            return (StatusCode::SERVICE_UNAVAILABLE, "session store unavailable").into_response();
        }
    };
    let max = state.config.max_frame_bytes;
    let registration = state.sockets.register(&login.user, &login.login);
    upgrade.read_buffer_size(4 * 1024).write_buffer_size(4 * 1024).max_message_size(max).max_frame_size(max).on_upgrade(
        move |socket| async move {
            match registration {
                Some(registration) => connection::run(socket, login, registration, state).await,
                None => {
                    connection::refuse(socket, CLOSE_POLICY_VIOLATION, "too many open connections for this user").await
                }
            }
        },
    )
}
