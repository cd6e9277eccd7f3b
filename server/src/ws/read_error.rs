//! What a failed read from a websocket means for the client: the close code it gets.
//!
//! The code is chosen by the error's type (what tungstenite reports under axum's error), never
//! by its text, so a library's rewording cannot change what clients see.

use protocol::{CLOSE_INVALID_DATA, CLOSE_TOO_BIG};
use tracing::debug;

use crate::ws::closer::Closer;

/// Closes the socket with the code that matches a read error, by the error's type (what
/// tungstenite reports), never by its text.
pub fn on_read_error(closer: &Closer, err: &axum::Error) {
    use tungstenite::Error as WsError;
    let cause = std::error::Error::source(err).and_then(|source| source.downcast_ref::<WsError>());
    match cause {
        Some(WsError::Capacity(_)) => closer.close(CLOSE_TOO_BIG, "frame too large"),
        Some(WsError::Utf8(_)) => closer.close(CLOSE_INVALID_DATA, "text frames must be valid UTF-8"),
        Some(WsError::Protocol(_) | WsError::AttackAttempt) => {
            debug!(%err, "websocket protocol error");
            closer.close(1002, "protocol error");
        }
        // The connection itself failed (reset, closed without a close frame): nobody to tell.
        _ => {
            debug!(%err, "socket read failed");
            closer.close(1011, "read failed");
        }
    }
}
