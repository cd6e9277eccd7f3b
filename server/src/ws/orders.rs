//! Carrying out instance-wide orders on this instance's sockets.
//!
//! A logout (one session) or "log out everywhere" (every session of a user) is
//! announced to every instance as a control order; each instance closes its
//! own sockets of that login or user at once, so a logged-out tab never keeps
//! chatting on another instance. A change to a user's rooms (invited, removed,
//! a direct conversation opened by someone else) travels the same way and is
//! handed to each of their sockets here as a [`Notice`].

use protocol::RoomName;

use crate::signals::Signal;
use crate::state::AppState;
use crate::ws::registry::Notice;

/// Tells every socket here to move once the drain says so (see [`crate::drain`]).
pub async fn move_on_drain(state: AppState) {
    state.drain.sockets().cancelled().await;
    let moved = state.sockets.move_all();
    tracing::info!(moved, "sockets told to move");
}

/// Carries out on this instance's sockets the orders any instance sends.
pub async fn run(state: AppState) {
    let mut events = state.backend.signals.receive();
    let stop = state.drain.trigger();
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            event = events.recv() => event,
        };
        match event {
            Ok(signal) => carry_out(&state, signal),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "missed instance-wide orders");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

fn carry_out(state: &AppState, signal: Signal) {
    match signal {
        Signal::EndSession { login } => {
            let closed = state.sockets.close_login(&login);
            tracing::info!(closed, "session ended: sockets closed");
        }
        Signal::EndUser { user } => {
            let closed = state.sockets.close_user(&user);
            tracing::info!(%user, closed, "all sessions ended: sockets closed");
        }
        Signal::RoomAdded { user, room, by } => {
            if let Ok(room) = RoomName::parse(&room) {
                state.sockets.notify(&user, &Notice::RoomAdded { room, by });
            }
        }
        Signal::Read { user, room, id } => {
            if let (Ok(room), Ok(id)) = (RoomName::parse(&room), id.parse()) {
                state.sockets.notify(&user, &Notice::Read { room, id });
            }
        }
        Signal::Frames { instance, stream, login, frames } if instance == state.instance => {
            if let Err(refused) = state.streams.deliver(&stream, &login, frames) {
                tracing::debug!(?refused, "frames for a stream that cannot take them");
            }
        }
        Signal::Frames { .. } => {}
        Signal::RoomRemoved { user, room, by } => {
            if let Ok(room) = RoomName::parse(&room) {
                let told = state.sockets.notify(&user, &Notice::RoomRemoved { room, by });
                tracing::debug!(%user, told, "removed from a room");
            }
        }
    }
}
