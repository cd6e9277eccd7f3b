//! The websocket wire protocol of Switchboard.
//!
//! Every frame is one JSON text frame holding an object with a `type` tag. The
//! types live here, once, so that the server, the WASM client, the integration
//! tests and the load generator cannot drift apart. The crate has no Leptos,
//! no tokio and no I/O: it compiles for the browser and the server alike, which
//! is also why the one reconnect schedule both ends use, [`Backoff`], lives here.
//!
//! Versioning: [`PROTOCOL_VERSION`] is announced in [`ServerFrame::Welcome`].
//! Fields are only ever added (with `#[serde(default)]` on the receiving side),
//! so an older client keeps working against a newer server; a change that
//! breaks that rule bumps the version.
#![warn(missing_docs)]

mod backoff;
mod client_frame;
mod message;
mod message_id;
mod names;
mod server_frame;

pub use backoff::Backoff;
pub use client_frame::{ClientFrame, RoomJoin};
pub use message::{ChatMessage, Gap, MAX_EMOJI_CHARS, MAX_REFRESH_IDS, Revision, action_text, mentions};
pub use message_id::{BadMessageId, MessageId};
pub use names::{AccountKey, NameError, PRIVATE_SUFFIX_LEN, RoomKind, RoomName, UserName};
pub use server_frame::{ErrorCode, ServerFrame};

/// The version of the wire protocol spoken by this build.
pub const PROTOCOL_VERSION: u32 = 1;

/// The room every user joins unless the client asks for another one.
pub const DEFAULT_ROOM: &str = "general";

/// The longest chat message, in characters, the server accepts by default.
pub const DEFAULT_MAX_MESSAGE_CHARS: usize = 2000;

/// Close code sent when the server goes away for a restart (RFC 6455, 1012).
pub const CLOSE_SERVICE_RESTART: u16 = 1012;

/// Close code sent when a client breaks the protocol's rules (1008).
pub const CLOSE_POLICY_VIOLATION: u16 = 1008;

/// Close code sent for data the server cannot accept, such as binary frames (1003).
pub const CLOSE_UNSUPPORTED_DATA: u16 = 1003;

/// Close code sent for a text frame that is not valid UTF-8 (1007).
pub const CLOSE_INVALID_DATA: u16 = 1007;

/// Close code sent when a frame is larger than the configured limit (1009).
pub const CLOSE_TOO_BIG: u16 = 1009;

/// Close code used when the session behind the socket was logged out (4001,
/// application range): the client must not reconnect but show the login page.
pub const CLOSE_LOGGED_OUT: u16 = 4001;

/// Close code used when the client could not keep up with its send queue (4008,
/// application range): the client reconnects and catches up from history.
pub const CLOSE_TOO_SLOW: u16 = 4008;

/// The most rooms one [`ClientFrame::JoinMany`] may name (the server's per-user room cap
/// may be lower).
pub const MAX_ROOMS_PER_FRAME: usize = 1000;

/// Why a text frame could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("malformed frame: {0}")]
pub struct DecodeError(#[from] serde_json::Error);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_round_trip() {
        let frames = [
            ClientFrame::Join { room: "general".into(), since: Some(MessageId::new(1, 0)) },
            ClientFrame::Join { room: "general".into(), since: None },
            ClientFrame::Leave { room: "general".into() },
            ClientFrame::Typing { room: "general".into() },
            ClientFrame::Rename { name: "Alice".into() },
            ClientFrame::Send { room: "r".into(), client_id: "c1".into(), text: "hi".into() },
            ClientFrame::JoinMany {
                rooms: vec![
                    RoomJoin { room: "a".into(), since: None },
                    RoomJoin { room: "b".into(), since: Some(MessageId::new(2, 1)) },
                ],
            },
            ClientFrame::CreateRoom { title: "team".into() },
            ClientFrame::Invite { room: "~team~k3j9x2ab7q".into(), user: "bob".into() },
            ClientFrame::Remove { room: "~team~k3j9x2ab7q".into(), user: "bob".into() },
            ClientFrame::Block { user: "bob".into() },
            ClientFrame::Unblock { user: "bob".into() },
            ClientFrame::Directory,
            ClientFrame::Read { room: "general".into(), id: MessageId::new(5, 1) },
            ClientFrame::Edit { room: "a".into(), id: MessageId::new(5, 1), text: "t".into(), client_id: "c".into() },
            ClientFrame::Delete { room: "a".into(), id: MessageId::new(5, 1), client_id: "c".into() },
            ClientFrame::React {
                room: "a".into(),
                id: MessageId::new(5, 1),
                emoji: "👍".into(),
                remove: true,
                client_id: "c".into(),
            },
            ClientFrame::Refresh { room: "a".into(), ids: vec![MessageId::new(5, 1)] },
            ClientFrame::Ping,
        ];
        for frame in frames {
            assert_eq!(ClientFrame::decode(&frame.encode()).ok(), Some(frame));
        }
    }

    #[test]
    fn wire_format_is_tagged_snake_case() {
        let text = ClientFrame::Send { room: "a".into(), client_id: "x".into(), text: "t".into() }.encode();
        assert_eq!(text, r#"{"type":"send","room":"a","client_id":"x","text":"t"}"#);
        let frame = ServerFrame::Move { after_ms: 5 }.encode();
        assert_eq!(frame, r#"{"type":"move","after_ms":5}"#);
    }

    #[test]
    fn malformed_and_unknown_frames_are_errors() {
        assert!(ClientFrame::decode("{").is_err());
        assert!(ClientFrame::decode(r#"{"type":"launch_missiles"}"#).is_err());
        assert!(ClientFrame::decode(r#"{"type":"send","room":"a"}"#).is_err());
        assert!(ClientFrame::decode(r#"[1,2]"#).is_err());
    }

    #[test]
    fn me_actions_are_recognised() {
        assert_eq!(action_text("/me waves"), Some("waves"));
        assert_eq!(action_text("/me   "), None);
        assert_eq!(action_text("/meow"), None);
        assert_eq!(action_text("hello /me waves"), None);
    }
}
