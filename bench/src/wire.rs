//! The two wire protocols the generator speaks, behind one small interface.
//!
//! Why a hand-written classifier instead of full decoding: at hundreds of thousands of
//! deliveries per second the generator's own CPU is the scarce resource (it shares two cores
//! with the servers), so both protocols are read the same cheap way — the frame's kind from
//! its first bytes, the `client_id` by a substring scan — and neither stack is favoured by a
//! costlier parser. Joins and handshakes, which are not on the hot path, use the same scan.

use crate::{ours, peer};

/// Which stack a socket talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Proto {
    /// Switchboard: JSON frames with a `type` tag (`protocol` crate).
    Ours,
    /// The Socket.IO peer: engine.io v4 / socket.io v5 packets over a websocket.
    Peer,
}

/// What an inbound text frame means to the generator.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound<'a> {
    /// A chat message delivery carrying the sender's `client_id`.
    Message(&'a str),
    /// The server stored a message this socket sent (Switchboard's `ack`, with its `client_id`).
    Ack(&'a str),
    /// The server refused something (rate limit, bad frame, ...).
    Error,
    /// An engine.io ping, to be answered with [`Proto::pong`].
    Ping,
    /// Anything else (presence, history, ...).
    Other,
}

impl Proto {
    /// Human name used in reports.
    pub fn label(self) -> &'static str {
        match self {
            Proto::Ours => "Switchboard",
            Proto::Peer => "Socket.IO peer",
        }
    }

    /// The websocket URL of an instance whose HTTP base URL is `base`.
    pub fn ws_url(self, base: &str) -> String {
        let ws = base.replacen("http", "ws", 1);
        match self {
            Proto::Ours => format!("{ws}/ws"),
            Proto::Peer => format!("{ws}/socket.io/?EIO=4&transport=websocket"),
        }
    }

    /// The frame that joins `room` (the peer's asks for an acknowledgement); `since` is the
    /// last message id seen there, which only Switchboard can catch up from.
    pub fn join(self, room: &str, since: Option<&str>) -> String {
        match self {
            Proto::Ours => ours::join(room, since),
            Proto::Peer => peer::join(room),
        }
    }

    /// Whether `frame` confirms the join of `room`.
    pub fn is_join_done(self, frame: &str, room: &str) -> bool {
        match self {
            Proto::Ours => ours::is_join_done(frame, room),
            Proto::Peer => peer::is_join_done(frame),
        }
    }

    /// The frame that sends `text` to `room` under `client_id`.
    pub fn send(self, room: &str, client_id: &str, text: &str) -> String {
        match self {
            Proto::Ours => ours::send(room, client_id, text),
            Proto::Peer => peer::send(room, client_id, text),
        }
    }

    /// Classifies an inbound text frame.
    pub fn classify(self, frame: &str) -> Inbound<'_> {
        match self {
            Proto::Ours => ours::classify(frame),
            Proto::Peer => peer::classify(frame),
        }
    }

    /// The answer to an engine.io ping.
    pub fn pong(self) -> &'static str {
        "3"
    }
}

/// The value of `"client_id":"..."` in a JSON text, if any (ids never contain quotes).
pub fn client_id(frame: &str) -> Option<&str> {
    const KEY: &str = "\"client_id\":\"";
    let start = frame.find(KEY)? + KEY.len();
    let len = frame[start..].find('"')?;
    Some(&frame[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_client_ids_of_both_protocols() {
        let ours = r#"{"type":"message","room":"r","id":"1-0","user":"u","text":"t","ts":1,"client_id":"1.0.5.7"}"#;
        assert_eq!(Proto::Ours.classify(ours), Inbound::Message("1.0.5.7"));
        let peer = r#"42["message",{"room":"r","id":"x","user":"u","text":"t","ts":1,"client_id":"1.0.5.7"}]"#;
        assert_eq!(Proto::Peer.classify(peer), Inbound::Message("1.0.5.7"));
        assert_eq!(Proto::Peer.classify("2"), Inbound::Ping);
        assert_eq!(Proto::Ours.classify(r#"{"type":"ack","client_id":"a","id":"1-0"}"#), Inbound::Ack("a"));
        assert_eq!(Proto::Ours.classify(r#"{"type":"presence","room":"r","users":[]}"#), Inbound::Other);
    }
}
