//! The frames the server sends, and the reasons it gives when it refuses something.

use serde::{Deserialize, Serialize};

use crate::message::is_false;
use crate::{ChatMessage, DecodeError, Gap, MessageId, Revision};

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
    /// A search the server cannot run as typed (no word in it, too long, too many words).
    BadSearch,
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
            Self::BadSearch => "bad_search",
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
    /// The private room asked for with [`ClientFrame::CreateRoom`](crate::ClientFrame::CreateRoom) exists: its name.
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
    /// The public rooms, busiest first (answer to [`ClientFrame::Directory`](crate::ClientFrame::Directory)).
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
    /// A page of a room's older messages (answering [`ClientFrame::Older`](crate::ClientFrame::Older)).
    Older {
        /// The room.
        room: String,
        /// The messages right before the asked id, oldest first (deleted ones as tombstones).
        messages: Vec<ChatMessage>,
        /// Nothing is older: the first of `messages` (if any) is the room's first message.
        #[serde(default, skip_serializing_if = "is_false")]
        complete: bool,
    },
    /// Search results (answering [`ClientFrame::Search`](crate::ClientFrame::Search)): the newest
    /// matching messages of the user's rooms, newest first.
    Found {
        /// The query as the client sent it.
        query: String,
        /// The matching messages (each names its room).
        results: Vec<ChatMessage>,
    },
    /// The messages around one message (answering [`ClientFrame::Around`](crate::ClientFrame::Around)),
    /// oldest first; `id` is among them unless it is gone.
    Context {
        /// The room.
        room: String,
        /// The message asked about.
        id: MessageId,
        /// Messages before it, it, and messages after it.
        messages: Vec<ChatMessage>,
    },
    /// Answer to [`ClientFrame::Ping`](crate::ClientFrame::Ping).
    Pong,
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
