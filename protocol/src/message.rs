//! A chat message and what can happen to it after it was sent.
//!
//! A message is stored once and never rewritten in place; an edit, a deletion or a reaction
//! is a later entry of the room's history (its own id, so a catch-up replays it in order)
//! that carries the message's whole state after the change — a [`Revision`]. Applying a
//! revision replaces that state, so applying one twice, or an older one after a newer one
//! was folded into the message already, changes nothing: that is what makes replays and
//! refreshes safe.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::MessageId;

/// The most message ids one `refresh` frame may name.
pub const MAX_REFRESH_IDS: usize = 500;

/// The longest reaction, in characters (one emoji, possibly with modifiers and joiners).
pub const MAX_EMOJI_CHARS: usize = 8;

/// A chat message as stored and delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The room the message belongs to.
    pub room: String,
    /// The server-assigned id (stream id); gives the order within the room.
    pub id: MessageId,
    /// The author's user name (the account: stable across renames).
    pub user: String,
    /// The author's display name when the message was sent (empty: same as `user`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The text, exactly as sent (or as last edited); clients render it as text, never as
    /// HTML. Empty once the message is deleted.
    pub text: String,
    /// Milliseconds since the Unix epoch when the server stored the message
    /// (the time part of `id`; defaulted so a publisher may leave it out).
    #[serde(default)]
    pub ts: u64,
    /// The id the sending client gave the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// When the text was last edited, in milliseconds since the Unix epoch (0: never).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub edited: u64,
    /// The author deleted the message: its text is gone, here and in storage.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
    /// Reactions: each emoji with the users (account names) who reacted with it, in order.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reactions: BTreeMap<String, Vec<String>>,
}

impl ChatMessage {
    /// The action text of a `/me` message (`/me waves` → `Some("waves")`).
    pub fn action(&self) -> Option<&str> {
        action_text(&self.text)
    }

    /// Takes the state a revision carries (it must be this message's).
    pub fn revise(&mut self, revision: &Revision) {
        if revision.deleted {
            self.text.clear();
            self.deleted = true;
            self.reactions.clear();
            return;
        }
        if let Some(text) = &revision.text {
            self.text.clone_from(text);
        }
        self.edited = revision.edited;
        self.reactions.clone_from(&revision.reactions);
    }
}

/// The state of a message after its edits, its deletion and its reactions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// The message this is the state of.
    pub target: MessageId,
    /// Its author (account name).
    pub user: String,
    /// The text after the last edit (`None`: never edited, or deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// When the text was last edited, in milliseconds since the Unix epoch (0: never).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub edited: u64,
    /// The message is deleted (nothing else is kept).
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
    /// Reactions: each emoji with the users who reacted with it, in order.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reactions: BTreeMap<String, Vec<String>>,
}

impl Revision {
    /// What a deleted message is shown as in a history read after its deletion.
    pub fn tombstone(&self, room: &str) -> ChatMessage {
        ChatMessage {
            room: room.to_owned(),
            id: self.target,
            user: self.user.clone(),
            ts: self.target.millis(),
            deleted: true,
            ..ChatMessage::default()
        }
    }
}

/// A range of a room's messages that is gone: every id in (`after`, `until`] was trimmed
/// from the history before this client could catch up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The last id the client had (exclusive bound).
    pub after: MessageId,
    /// The newest trimmed id (inclusive bound).
    pub until: MessageId,
}

impl Gap {
    /// Everything after `after` may be gone: the history holds nothing of the room (its store
    /// lost its data), so no end can be named.
    pub const fn unknown_after(after: MessageId) -> Self {
        Self { after, until: MessageId::new(u64::MAX, u64::MAX) }
    }
}

/// The action of a `/me` message, or `None` for an ordinary one.
pub fn action_text(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("/me ")?;
    let rest = rest.trim();
    (!rest.is_empty()).then_some(rest)
}

/// The names a text mentions: every `@name` that starts a word, without the `@` (the
/// characters a user name may hold; a trailing `.`, `,`, `!` or `?` ends it).
pub fn mentions(text: &str) -> impl Iterator<Item = &str> {
    let mut previous = ' ';
    text.char_indices().filter_map(move |(at, c)| {
        let starts_word = !previous.is_alphanumeric() && previous != '@';
        previous = c;
        if c != '@' || !starts_word {
            return None;
        }
        let rest = &text[at + 1..];
        let end = rest.find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))).unwrap_or(rest.len());
        let name = rest[..end].trim_end_matches('.');
        (!name.is_empty()).then_some(name)
    })
}

/// Whether a flag is unset (serde skips writing it).
pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_start_words_and_end_at_punctuation() {
        let found: Vec<&str> = mentions("hi @bob, and @carol_x. mail a@b.c @ @dave!").collect();
        assert_eq!(found, ["bob", "carol_x", "dave"]);
        assert_eq!(mentions("@alice").collect::<Vec<_>>(), ["alice"]);
        assert_eq!(mentions("@@alice").count(), 0);
    }

    #[test]
    fn a_revision_replaces_the_state_and_is_idempotent() {
        let mut message =
            ChatMessage { id: MessageId::new(5, 0), user: "bob".into(), text: "helo".into(), ..ChatMessage::default() };
        let edited = Revision {
            target: message.id,
            user: "bob".into(),
            text: Some("hello".into()),
            edited: 9,
            reactions: BTreeMap::from([("👍".to_owned(), vec!["alice".to_owned()])]),
            ..Revision::default()
        };
        message.revise(&edited);
        message.revise(&edited);
        assert_eq!((message.text.as_str(), message.edited, message.reactions.len()), ("hello", 9, 1));
        let deleted = Revision { deleted: true, ..Revision { target: message.id, ..Revision::default() } };
        message.revise(&deleted);
        assert!(message.deleted && message.text.is_empty() && message.reactions.is_empty());
    }
}
