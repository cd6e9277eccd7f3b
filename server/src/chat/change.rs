//! Changing messages already sent: edits, deletions, reactions (see
//! [`broker::change`](crate::broker::change) for how they are stored), and reading back the
//! state of messages a client may hold stale.

use protocol::{MAX_EMOJI_CHARS, MessageId, Revision, RoomName};
use tracing::instrument;

use super::{ChatError, ChatService, check_client_id};
use crate::broker::{Change, ChangeOp, Changed};
use crate::telemetry::metrics::metrics;

impl ChatService {
    /// Validates and applies `user`'s change to message `target` of `room`; the change's id
    /// once stored (a retry with the same client id answers the same id, applied once).
    #[instrument(skip(self, op), fields(room = %room, op = op.as_str()))]
    pub async fn revise(
        &self,
        user: &str,
        room: &RoomName,
        client_id: &str,
        target: MessageId,
        op: ChangeOp,
    ) -> Result<MessageId, ChatError> {
        check_client_id(client_id)?;
        match &op {
            ChangeOp::Edit(text) => self.check_text(text)?,
            ChangeOp::React(emoji) | ChangeOp::Unreact(emoji) => check_emoji(emoji)?,
            ChangeOp::Delete => {}
        }
        self.check_rate(user).await?;
        let change = Change { user: user.to_owned(), client_id: client_id.to_owned(), target, op };
        match self.broker.revise(room, change).await? {
            Changed::Stored { id, .. } => {
                metrics().messages_changed.increment(1);
                Ok(id)
            }
            Changed::Duplicate(id) => Ok(id),
            Changed::NoSuchMessage => Err(ChatError::NoSuchMessage(target)),
            Changed::NotAuthor => Err(ChatError::NotAuthor),
        }
    }

    /// The state now of those of `ids` (messages of `room`) that were ever changed.
    pub async fn revisions(&self, room: &RoomName, ids: &[MessageId]) -> Result<Vec<Revision>, ChatError> {
        Ok(self.broker.revisions(room, ids).await?)
    }
}

/// Refuses a reaction that is not one emoji: 1 to [`MAX_EMOJI_CHARS`] characters, none
/// of them space or control, at least one a symbol (keycaps and flags hold ASCII too).
fn check_emoji(emoji: &str) -> Result<(), ChatError> {
    let count = emoji.chars().count();
    let clean = !emoji.chars().any(|c| c.is_whitespace() || c.is_control());
    let symbol = emoji.chars().any(|c| u32::from(c) >= 0x2000);
    if (1..=MAX_EMOJI_CHARS).contains(&count) && clean && symbol { Ok(()) } else { Err(ChatError::BadReaction) }
}

#[cfg(test)]
mod tests {
    use super::check_emoji;

    #[test]
    fn a_reaction_is_one_emoji() {
        for good in ["👍", "❤️", "1️⃣", "👩‍💻", "🇫🇷"] {
            assert!(check_emoji(good).is_ok(), "{good}");
        }
        for bad in ["", "ok", "👍 👍", "<b>", "👍👍👍👍👍👍👍👍👍"] {
            assert!(check_emoji(bad).is_err(), "{bad}");
        }
    }
}
