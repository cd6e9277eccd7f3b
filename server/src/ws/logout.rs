//! Closing sockets when their session ends anywhere.
//!
//! A logout (one session) or "log out everywhere" (every session of a user) is
//! announced to every instance as a control order; each instance closes its
//! own sockets of that login or user at once, so a logged-out tab never keeps
//! chatting on another instance.

use crate::signals::Signal;
use crate::state::AppState;

/// Closes this instance's sockets of a login or a user when any instance says they ended.
pub async fn run(state: AppState) {
    let mut events = state.backend.signals.receive();
    let stop = state.drain.trigger();
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            event = events.recv() => event,
        };
        match event {
            Ok(Signal::EndSession { login }) => {
                let closed = state.sockets.close_login(&login);
                tracing::info!(closed, "session ended: sockets closed");
            }
            Ok(Signal::EndUser { user }) => {
                let closed = state.sockets.close_user(&user);
                tracing::info!(%user, closed, "all sessions ended: sockets closed");
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "missed logout orders");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
