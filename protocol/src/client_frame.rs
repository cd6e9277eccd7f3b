//! The frames a client sends.

use serde::{Deserialize, Serialize};

use crate::message::is_false;
use crate::{DecodeError, MessageId};

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
    /// answers [`ServerFrame::Created`](crate::ServerFrame::Created) with its name, and the creator is its first member.
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
    /// Ask for the public rooms; the server answers [`ServerFrame::Directory`](crate::ServerFrame::Directory).
    Directory,
    /// The user has read `room` up to message `id` (a position never moves backwards; every
    /// socket of the user hears [`ServerFrame::ReadUpTo`](crate::ServerFrame::ReadUpTo)).
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
    /// deletions of them may have been trimmed away); answered with [`ServerFrame::Revised`](crate::ServerFrame::Revised).
    Refresh {
        /// A room the socket has joined.
        room: String,
        /// The messages (at most [`MAX_REFRESH_IDS`](crate::MAX_REFRESH_IDS)).
        ids: Vec<MessageId>,
    },
    /// Ask for the page of a joined room's messages before `before` (scrolling back); answered
    /// with [`ServerFrame::Older`](crate::ServerFrame::Older).
    Older {
        /// A room the socket has joined.
        room: String,
        /// The oldest message the client holds: the page ends right before it.
        before: MessageId,
    },
    /// Search the messages of every room the user is in; answered with
    /// [`ServerFrame::Found`](crate::ServerFrame::Found).
    Search {
        /// What the user typed (any text; its words are searched, each as a prefix).
        query: String,
    },
    /// Ask for the messages around one message (a search result opened in its context);
    /// answered with [`ServerFrame::Context`](crate::ServerFrame::Context).
    Around {
        /// A room the user is in.
        room: String,
        /// The message.
        id: MessageId,
    },
    /// Keep-alive; the server answers with [`ServerFrame::Pong`](crate::ServerFrame::Pong).
    Ping,
}

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
