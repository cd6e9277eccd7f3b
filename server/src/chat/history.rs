//! What a join shows of a room's past: its messages as they are now, and the changes the
//! client must apply to messages it already holds.
//!
//! The broker reads a stretch of the room's history — messages, and changes with each
//! changed message's state now. A change to a message inside the stretch is already folded
//! into it; a change to an older message goes to the client as a [`Revision`]; a message
//! deleted inside the stretch is shown where it was, as "message deleted", so a page
//! loaded after the deletion tells the same story as one that watched it happen.

use std::collections::BTreeMap;

use protocol::{ChatMessage, Gap, MessageId, Revision, RoomName};

use crate::broker::Replay;

/// A join's history, ready for the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryPage {
    /// The messages, oldest first, deleted ones as tombstones.
    pub messages: Vec<ChatMessage>,
    /// The state of older messages changed within the stretch, one per message.
    pub revisions: Vec<Revision>,
    /// The newest entry read (a change is an entry too).
    pub upto: Option<MessageId>,
    /// Messages after the join's `since` that were trimmed and cannot be replayed.
    pub gap: Option<Gap>,
}

impl HistoryPage {
    /// Folds a stretch of `room`'s history read after `after` (`None`: the recent entries).
    pub fn fold(room: &RoomName, replay: Replay, after: Option<MessageId>) -> Self {
        let Replay { mut messages, revisions, upto, gap } = replay;
        // Where the stretch starts: a message deleted at or after it is shown as deleted.
        let first_entry = messages.first().map(|m| m.id).into_iter().chain(revisions.first().map(|(id, _)| *id)).min();
        let inside = |target: MessageId| match after {
            Some(after) => target > after,
            None => first_entry.is_some_and(|first| target >= first),
        };
        let held: std::collections::HashSet<MessageId> = messages.iter().map(|m| m.id).collect();
        let mut older = BTreeMap::new();
        let mut tombstones = BTreeMap::new();
        for (_, revision) in revisions {
            if held.contains(&revision.target) {
                continue;
            }
            if revision.deleted && inside(revision.target) {
                tombstones.insert(revision.target, revision.tombstone(room.as_str()));
            } else {
                older.insert(revision.target, revision);
            }
        }
        if !tombstones.is_empty() {
            messages.extend(tombstones.into_values());
            messages.sort_by_key(|m| m.id);
        }
        Self { messages, revisions: older.into_values().collect(), upto, gap }
    }

    /// The newest entry the page covers: what the live delivery after it may skip.
    pub fn newest(&self) -> Option<MessageId> {
        self.messages.last().map(|m| m.id).max(self.upto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64) -> MessageId {
        MessageId::new(ms, 0)
    }

    fn message(ms: u64) -> ChatMessage {
        ChatMessage { id: id(ms), user: "bob".into(), text: format!("m{ms}"), ..ChatMessage::default() }
    }

    fn deleted(ms: u64) -> Revision {
        Revision { target: id(ms), user: "bob".into(), deleted: true, ..Revision::default() }
    }

    #[test]
    fn deletions_inside_show_as_tombstones_and_older_changes_as_revisions() {
        let room = RoomName::parse("general").expect("a valid room");
        let edited = Revision { target: id(1), text: Some("fixed".into()), edited: 9, ..Revision::default() };
        let replay = Replay {
            messages: vec![message(3), message(6)],
            revisions: vec![(id(4), deleted(2)), (id(5), edited.clone()), (id(7), deleted(1))],
            upto: Some(id(7)),
            gap: None,
        };
        let page = HistoryPage::fold(&room, replay.clone(), Some(id(1)));
        let ids: Vec<u64> = page.messages.iter().map(|m| m.id.millis()).collect();
        assert_eq!(ids, [2, 3, 6], "2 was deleted after the client's position: a tombstone in place");
        assert!(page.messages[0].deleted && page.messages[0].text.is_empty());
        assert_eq!(page.revisions, [deleted(1)], "1 is the client's: its latest state, once");
        assert_eq!(page.newest(), Some(id(7)));
        // Without `since`, the stretch starts at its first entry (3): 2 is older, not shown.
        let recent = HistoryPage::fold(&room, replay, None);
        assert_eq!(recent.messages.len(), 2);
        assert_eq!(recent.revisions.len(), 2);
    }
}
