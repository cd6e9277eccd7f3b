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
mod message;
mod message_id;
mod names;

pub use backoff::Backoff;
pub use message::{ChatMessage, Gap, MAX_EMOJI_CHARS, MAX_REFRESH_IDS, Revision, action_text, mentions};
pub use message_id::{BadMessageId, MessageId};
pub use names::{AccountKey, NameError, PRIVATE_SUFFIX_LEN, RoomKind, RoomName, UserName};

use serde::{Deserialize, Serialize};

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

/// One room of a [`ClientFrame::JoinMany`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomJoin {
    /// The room to join.
    pub room: String,
    /// The last message id the client has seen in this room, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<MessageId>,
}

/// A frame sent by the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Join a room; the server answers with its recent history, then live messages.
    Join {
        /// The room to join.
        room: String,
        /// The last message id the client has seen in this room, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<MessageId>,
    },
    /// Join several rooms in one frame (what a client sends after every reconnect, so a user
    /// in many rooms does not spend the frame budget on rejoining); each room is answered as
    /// a [`ClientFrame::Join`] would be.
    JoinMany {
        /// The rooms, each with the last id seen in it.
        rooms: Vec<RoomJoin>,
    },
    /// Leave a room.
    Leave {
        /// The room to leave.
        room: String,
    },
    /// Send a chat message to a room the client has joined.
    Send {
        /// The room to send to.
        room: String,
        /// The client's own id for this message; a resend with the same id is stored once.
        client_id: String,
        /// The text of the message (`/me waves` is an action).
        text: String,
    },
    /// Change the user's display name (shown in every room, every tab, after a refresh).
    Rename {
        /// The new display name (the rules of a user name).
        name: String,
    },
    /// The user is typing in a room (sent at most every few seconds; never stored).
    Typing {
        /// The room.
        room: String,
    },
    /// Create a private room titled `title` (the rules of a public room name); the server
    /// answers [`ServerFrame::Created`] with its name, and the creator is its first member.
    CreateRoom {
        /// The title shown in room lists.
        title: String,
    },
    /// Add `user` to a private room (its creator only); they see it in their room list at once.
    Invite {
        /// The private room.
        room: String,
        /// The user to add (user name).
        user: String,
    },
    /// Take `user` out of a private room (its creator only): their subscriptions end on every
    /// instance and they receive nothing sent after, not even in a replay.
    Remove {
        /// The private room.
        room: String,
        /// The member to remove.
        user: String,
    },
    /// Stop `user` from opening a direct conversation with this user, or writing in one.
    Block {
        /// The user to block.
        user: String,
    },
    /// Lift a block.
    Unblock {
        /// The user to unblock.
        user: String,
    },
    /// Ask for the public rooms; the server answers [`ServerFrame::Directory`].
    Directory,
    /// The user has read `room` up to message `id` (a position never moves backwards; every
    /// socket of the user hears [`ServerFrame::ReadUpTo`]).
    Read {
        /// A room the socket has joined.
        room: String,
        /// The newest message read.
        id: MessageId,
    },
    /// Change the text of one of the user's own messages (everyone sees it marked edited).
    Edit {
        /// The room of the message.
        room: String,
        /// The message.
        id: MessageId,
        /// The new text (the rules of a message).
        text: String,
        /// The client's id for this change; a resend with the same id is applied once.
        client_id: String,
    },
    /// Delete one of the user's own messages: its text is removed from storage, and everyone
    /// sees "message deleted" in its place.
    Delete {
        /// The room of the message.
        room: String,
        /// The message.
        id: MessageId,
        /// The client's id for this change.
        client_id: String,
    },
    /// Add (or with `remove`, take back) the user's reaction to a message.
    React {
        /// The room of the message.
        room: String,
        /// The message.
        id: MessageId,
        /// One emoji.
        emoji: String,
        /// Take the reaction back instead.
        #[serde(default, skip_serializing_if = "is_false")]
        remove: bool,
        /// The client's id for this change.
        client_id: String,
    },
    /// Ask for the current state of messages the client holds (after a `gap`, edits and
    /// deletions of them may have been trimmed away); answered with [`ServerFrame::Revised`].
    Refresh {
        /// A room the socket has joined.
        room: String,
        /// The messages (at most [`MAX_REFRESH_IDS`]).
        ids: Vec<MessageId>,
    },
    /// Keep-alive; the server answers with [`ServerFrame::Pong`].
    Ping,
}

/// Machine-readable reasons carried by [`ServerFrame::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON or not a known frame type.
    BadFrame,
    /// The room name is not valid.
    BadRoom,
    /// The message is empty or longer than the limit.
    BadMessage,
    /// The display name is invalid or belongs to someone else.
    BadName,
    /// The client acted on a room it has not joined.
    NotJoined,
    /// The client is sending too fast.
    RateLimited,
    /// The server could not reach its store, or could not confirm a write in time (a send
    /// may then have been stored: resending it with the same client id is always safe).
    Unavailable,
    /// The user is in as many rooms as the server allows; leave one first.
    TooManyRooms,
    /// There is no such room for this user: it does not exist, or it is private (or a direct
    /// conversation) and they are not in it — the same answer, so a name leaks nothing.
    NoSuchRoom,
    /// The user may not do this in this room (a member who is not its creator inviting), or
    /// to this user (one who blocked them).
    NotAllowed,
    /// The message to edit, delete or react to is not in the room (never was, was deleted,
    /// or is too old to be kept).
    NoSuchMessage,
}

impl ErrorCode {
    /// The code as it appears on the wire (`bad_frame`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadFrame => "bad_frame",
            Self::BadRoom => "bad_room",
            Self::BadMessage => "bad_message",
            Self::BadName => "bad_name",
            Self::NotJoined => "not_joined",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::TooManyRooms => "too_many_rooms",
            Self::NoSuchRoom => "no_such_room",
            Self::NotAllowed => "not_allowed",
            Self::NoSuchMessage => "no_such_message",
        }
    }

    /// Whether a send refused with this code is kept and sent again by the client (with the
    /// same client id): the refusal is about now (the store, the rate), not the message.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Unavailable | Self::RateLimited)
    }
}

/// A frame sent by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame on every connection.
    Welcome {
        /// The user name the session belongs to.
        user: String,
        /// The id of the instance holding this socket.
        instance: String,
        /// The protocol version the server speaks.
        protocol: u32,
        /// The rooms this user has joined (on any device), so every tab shows the same list.
        #[serde(default)]
        rooms: Vec<String>,
        /// The users this user blocks, sorted.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        blocked: Vec<String>,
        /// How far this user has read each room (on any device).
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        read: std::collections::BTreeMap<String, MessageId>,
    },
    /// The answer to a join, oldest first: the recent history, or — when the join said
    /// `since` — every message after that id, then live messages follow.
    History {
        /// The room.
        room: String,
        /// The messages, oldest first.
        messages: Vec<ChatMessage>,
        /// Messages after `since` that were trimmed from the history and cannot be replayed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gap: Option<Gap>,
        /// The state of older messages that changed within this page's range (edited,
        /// deleted, reacted to): the client applies each to the message it holds, if any.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        revisions: Vec<Revision>,
        /// The newest history entry this answer covers (a change is an entry too): where a
        /// later catch-up goes on from, when it is newer than the last message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        upto: Option<MessageId>,
        /// More pages of this history follow (a long catch-up comes in pages of bounded size;
        /// the gap, if any, is on the first page).
        #[serde(default, skip_serializing_if = "is_false")]
        more: bool,
    },
    /// A live message.
    Message(ChatMessage),
    /// Messages changed: edited, deleted or reacted to (live, or answering a `refresh`).
    Revised {
        /// The room.
        room: String,
        /// The history entry of the change (a catch-up goes on from it); absent in the answer
        /// to a `refresh`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<MessageId>,
        /// Each changed message's whole state now.
        revisions: Vec<Revision>,
    },
    /// The sender's message was stored under `id`.
    Ack {
        /// The id the client gave the message.
        client_id: String,
        /// The id the server stored it under.
        id: MessageId,
    },
    /// A user joined a room.
    Joined {
        /// The room.
        room: String,
        /// The user.
        user: String,
        /// Their display name (empty: same as `user`).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        name: String,
        /// Milliseconds since the Unix epoch.
        ts: u64,
    },
    /// A user left a room.
    Left {
        /// The room.
        room: String,
        /// The user.
        user: String,
        /// Milliseconds since the Unix epoch.
        ts: u64,
    },
    /// Who is in a room now (sent after a join; kept current by `joined` and `left`).
    Presence {
        /// The room.
        room: String,
        /// The users present on any instance, sorted.
        users: Vec<String>,
        /// Display names of those users that have one other than their user name.
        #[serde(default)]
        names: std::collections::BTreeMap<String, String>,
    },
    /// A user changed their display name (sent to the rooms they are in and to their own sockets).
    Renamed {
        /// The user (account).
        user: String,
        /// The new display name.
        name: String,
    },
    /// A user is typing in a room; clients show it for a few seconds.
    Typing {
        /// The room.
        room: String,
        /// The user.
        user: String,
    },
    /// Something the client asked for failed; the connection stays open.
    Error {
        /// What went wrong, for programs.
        code: ErrorCode,
        /// What went wrong, for people.
        message: String,
        /// The client id of the send that failed, if the error is about one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    /// The server is draining: reconnect (to another instance) after this many milliseconds.
    Move {
        /// Delay before reconnecting, spread by the server so clients do not all come back at once.
        after_ms: u64,
    },
    /// The private room asked for with [`ClientFrame::CreateRoom`] exists: its name.
    Created {
        /// The new room.
        room: String,
    },
    /// A room was put on this user's list by someone (an invitation, a direct conversation
    /// opened by the other user, or this user on another device): show it and join it.
    RoomAdded {
        /// The room.
        room: String,
        /// Who put it there.
        by: String,
    },
    /// This user is no longer in a room (removed, or they left it on another device): nothing
    /// of it is delivered any more.
    RoomRemoved {
        /// The room.
        room: String,
        /// Why, for people (empty when the user did it themselves, or when an error frame
        /// just said why).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        message: String,
    },
    /// The members of a private room (sent on joining it, and again when they change).
    Members {
        /// The room.
        room: String,
        /// Its creator, who invites and removes.
        owner: String,
        /// Every member, sorted.
        users: Vec<String>,
    },
    /// The public rooms, busiest first (answer to [`ClientFrame::Directory`]).
    Directory {
        /// Room names.
        rooms: Vec<String>,
    },
    /// The users this user blocks now, sorted (after a block or an unblock, on every device).
    Blocked {
        /// The blocked users.
        users: Vec<String>,
    },
    /// This user has read `room` up to `id` (on this device or another).
    ReadUpTo {
        /// The room.
        room: String,
        /// The newest message read.
        id: MessageId,
    },
    /// Answer to [`ClientFrame::Ping`].
    Pong,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Why a text frame could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("malformed frame: {0}")]
pub struct DecodeError(#[from] serde_json::Error);

impl ClientFrame {
    /// Decodes a client frame from the text of a websocket frame.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        Ok(serde_json::from_str(text)?)
    }

    /// Encodes the frame as JSON text.
    pub fn encode(&self) -> String {
        // Serializing these plain data types cannot fail (no maps with non-string keys).
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl ServerFrame {
    /// Decodes a server frame from the text of a websocket frame.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        Ok(serde_json::from_str(text)?)
    }

    /// Encodes the frame as JSON text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

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
