//! A stored message row, read the same way from either database.
//!
//! Both schemas name their columns alike ([`COLUMNS`]); this turns such a row into the
//! protocol's [`ChatMessage`] or [`Revision`].

use std::collections::BTreeMap;

use protocol::{ChatMessage, MessageId, Revision};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::StoreError;

/// The columns every message query selects, in this order.
pub const COLUMNS: &str =
    "room, ms, seq, author, name, body, client_id, edited, deleted, reactions, changed_ms, changed_seq";

/// An id above every stored one (a read of "the newest" starts below it).
pub const TOP: (i64, i64) = (i64::MAX, i64::MAX);

/// An id as the two integer columns that hold it.
pub fn id_columns(id: MessageId) -> (i64, i64) {
    (clamp(id.millis()), clamp(id.seq()))
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The id held in two integer columns.
pub fn id_of(ms: i64, seq: i64) -> Result<MessageId, StoreError> {
    match (u64::try_from(ms), u64::try_from(seq)) {
        (Ok(ms), Ok(seq)) => Ok(MessageId::new(ms, seq)),
        _ => Err(StoreError::Corrupt(format!("negative message id {ms}-{seq}"))),
    }
}

/// Reactions as stored (a JSON object of emoji → users).
pub fn reactions_json(reactions: &BTreeMap<String, Vec<String>>) -> String {
    serde_json::to_string(reactions).unwrap_or_else(|_| "{}".to_owned())
}

/// A message and, if it was ever changed, the id of its last change.
pub struct StoredRow {
    /// The message as it is now.
    pub message: ChatMessage,
    /// The id of its last change.
    pub changed: Option<MessageId>,
}

impl StoredRow {
    /// Reads a row selected with [`COLUMNS`].
    pub fn read(row: &AnyRow) -> Result<Self, StoreError> {
        let id = id_of(row.try_get("ms")?, row.try_get("seq")?)?;
        let reactions: String = row.try_get("reactions")?;
        let reactions = serde_json::from_str(&reactions).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let changed_ms: Option<i64> = row.try_get("changed_ms")?;
        let changed_seq: Option<i64> = row.try_get("changed_seq")?;
        let changed = match (changed_ms, changed_seq) {
            (Some(ms), Some(seq)) => Some(id_of(ms, seq)?),
            _ => None,
        };
        let edited: i64 = row.try_get("edited")?;
        let deleted: i64 = row.try_get("deleted")?;
        let message = ChatMessage {
            room: row.try_get("room")?,
            id,
            user: row.try_get("author")?,
            name: row.try_get("name")?,
            text: row.try_get("body")?,
            ts: id.millis(),
            client_id: row.try_get("client_id")?,
            edited: u64::try_from(edited).unwrap_or(0),
            deleted: deleted != 0,
            reactions,
        };
        Ok(Self { message, changed })
    }

    /// The message's state as a revision (what a client holding an older copy applies).
    pub fn revision(&self) -> Revision {
        let m = &self.message;
        Revision {
            target: m.id,
            user: m.user.clone(),
            text: (m.edited > 0 && !m.deleted).then(|| m.text.clone()),
            edited: m.edited,
            deleted: m.deleted,
            reactions: m.reactions.clone(),
        }
    }
}

/// Reads every row, or fails on the first that cannot be read.
pub fn read_all(rows: &[AnyRow]) -> Result<Vec<StoredRow>, StoreError> {
    rows.iter().map(StoredRow::read).collect()
}
