//! The Socket.IO peer's side of [`crate::wire`]: a thin engine.io v4 / socket.io v5 client.
//!
//! Packets used: `0{...}` engine.io open (server → client), `40` socket.io connect (both
//! ways; `44` is a refused connect), `42["event",...]` an event, `42N[...]` an event asking
//! for acknowledgement N and `43N[...]` that acknowledgement, `2`/`3` engine.io ping/pong
//! (the server pings, the client must answer or be dropped after `pingTimeout`).

use crate::wire::{Inbound, client_id};

/// The ack id the generator uses for joins (sends use id 1).
const JOIN_ACK: u32 = 0;

/// `42N["join","room"]`: the peer's join, acknowledged.
pub fn join(room: &str) -> String {
    format!("42{JOIN_ACK}{}", serde_json::json!(["join", room]))
}

/// The join's acknowledgement: `43N[true]`.
pub fn is_join_done(frame: &str) -> bool {
    frame == format!("43{JOIN_ACK}[true]")
}

/// `421["send",{room, client_id, text}]`.
pub fn send(room: &str, client_id: &str, text: &str) -> String {
    format!("421{}", serde_json::json!(["send", {"room": room, "client_id": client_id, "text": text}]))
}

/// Events by their prefix; a send's ack carrying `error` is a refusal.
pub fn classify(frame: &str) -> Inbound<'_> {
    if frame.starts_with(r#"42["message","#) {
        client_id(frame).map_or(Inbound::Other, Inbound::Message)
    } else if frame == "2" {
        Inbound::Ping
    } else if frame.starts_with("431") && frame.contains("\"error\"") {
        Inbound::Error
    } else {
        Inbound::Other
    }
}
