//! Switchboard's side of [`crate::wire`]: frames built with the shared `protocol` crate, so the
//! generator cannot drift from what the server and the WASM client speak.

use protocol::ClientFrame;

use crate::wire::{Inbound, client_id};

/// `join {room, since?}`; `since` is an id the server sent (one that does not parse is left out,
/// and the join gets the recent history instead).
pub fn join(room: &str, since: Option<&str>) -> String {
    ClientFrame::Join { room: room.to_owned(), since: since.and_then(|id| id.parse().ok()) }.encode()
}

/// The server answers a join with the room's `history` (then live messages).
pub fn is_join_done(frame: &str, room: &str) -> bool {
    frame.starts_with(r#"{"type":"history""#) && frame.contains(&format!(r#""room":"{room}""#))
}

/// `send {room, client_id, text}`.
pub fn send(room: &str, client_id: &str, text: &str) -> String {
    ClientFrame::Send { room: room.to_owned(), client_id: client_id.to_owned(), text: text.to_owned() }.encode()
}

/// Serde writes the enum tag first, so the kind is the frame's prefix.
pub fn classify(frame: &str) -> Inbound<'_> {
    if frame.starts_with(r#"{"type":"message""#) {
        client_id(frame).map_or(Inbound::Other, Inbound::Message)
    } else if frame.starts_with(r#"{"type":"ack""#) {
        client_id(frame).map_or(Inbound::Other, Inbound::Ack)
    } else if frame.starts_with(r#"{"type":"error""#) {
        Inbound::Error
    } else {
        Inbound::Other
    }
}

/// Whether a frame is the `welcome` every connection starts with.
pub fn is_welcome(frame: &str) -> bool {
    frame.starts_with(r#"{"type":"welcome""#)
}
