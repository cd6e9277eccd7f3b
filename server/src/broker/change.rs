//! Changes to stored messages: edits, deletions and reactions.
//!
//! A change is stored like a message — an entry of the room's history with its own id, so
//! a catch-up replays it in order — and the message's whole state after it (a
//! [`Revision`]) is kept beside the history, so every read hands out messages as they are
//! now. A deletion removes the message's entry and its edited text: nothing of what it said
//! stays in storage. Who may change what is decided in the same atomic step as the change:
//! only the author edits or deletes, and anyone in the room reacts.

use protocol::{MessageId, Revision};

/// What a user asked to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOp {
    /// Replace the text.
    Edit(String),
    /// Delete the message.
    Delete,
    /// Add this reaction.
    React(String),
    /// Take this reaction back.
    Unreact(String),
}

impl ChangeOp {
    /// Whether only the author may make this change.
    pub fn needs_author(&self) -> bool {
        matches!(self, Self::Edit(_) | Self::Delete)
    }

    /// The operation's name in storage (`edit`, `delete`, `react`, `unreact`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Edit(_) => "edit",
            Self::Delete => "delete",
            Self::React(_) => "react",
            Self::Unreact(_) => "unreact",
        }
    }

    /// The operation's argument: the new text or the emoji (empty for a deletion).
    pub fn argument(&self) -> &str {
        match self {
            Self::Edit(text) => text,
            Self::Delete => "",
            Self::React(emoji) | Self::Unreact(emoji) => emoji,
        }
    }

    /// Applies the change to a message's state; `at` is when (the change's id).
    pub fn apply(&self, revision: &mut Revision, user: &str, at: MessageId) {
        match self {
            Self::Edit(text) => {
                revision.text = Some(text.clone());
                revision.edited = at.millis();
            }
            Self::Delete => {
                *revision = Revision {
                    target: revision.target,
                    user: revision.user.clone(),
                    deleted: true,
                    ..Revision::default()
                };
            }
            Self::React(emoji) => {
                let users = revision.reactions.entry(emoji.clone()).or_default();
                if !users.iter().any(|u| u == user) {
                    users.push(user.to_owned());
                }
            }
            Self::Unreact(emoji) => {
                if let Some(users) = revision.reactions.get_mut(emoji) {
                    users.retain(|u| u != user);
                    if users.is_empty() {
                        revision.reactions.remove(emoji);
                    }
                }
            }
        }
    }
}

/// A change as the broker stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Who asks (from the session, never from the client).
    pub user: String,
    /// The client's id for the change; a second one with the same id (and user) is not applied again.
    pub client_id: String,
    /// The message to change.
    pub target: MessageId,
    /// What to do.
    pub op: ChangeOp,
}

/// What [`Broker::revise`](super::Broker::revise) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// The change was stored under `id` and published.
    Stored {
        /// The change's own history id.
        id: MessageId,
        /// The message's state now.
        revision: Revision,
    },
    /// A change with this client id was already stored under this id; nothing was published.
    Duplicate(MessageId),
    /// The room holds no such message (never, deleted, or trimmed away).
    NoSuchMessage,
    /// Only the message's author may do this.
    NotAuthor,
}
