//! Reading a room's stream entries back: messages as they are now, and changes.
//!
//! An entry with an `op` field is a change (its `target` is the message changed); any
//! other is a message. The scripts hand each entry's message state beside it (see
//! [`super::scripts`]), so a read costs one round trip however much was edited.

use std::collections::HashMap;

use protocol::{ChatMessage, MessageId, Revision, RoomName};

use crate::broker::Replay;

/// One stream entry as `XRANGE` answers it: the id and the fields.
pub type StreamEntry = (String, HashMap<String, String>);

/// The messages and changes of `entries` (oldest first), with `states[i]` the state of
/// entry `i`'s message (`''` or missing: never changed).
pub fn read(room: &RoomName, entries: Vec<StreamEntry>, states: &[String]) -> Replay {
    let mut replay = Replay::default();
    for (index, (id, fields)) in entries.into_iter().enumerate() {
        let Ok(id) = MessageId::parse(&id) else {
            tracing::error!(%room, %id, "corrupt stream entry id: skipped");
            continue;
        };
        replay.upto = Some(id);
        let state = states.get(index).filter(|s| !s.is_empty()).and_then(|s| revision(room, s));
        if fields.contains_key("op") {
            if let Some(state) = state {
                replay.revisions.push((id, state));
            }
        } else if let Some(mut message) = message(room, id, fields) {
            if let Some(state) = state {
                message.revise(&state);
            }
            replay.messages.push(message);
        }
    }
    replay
}

/// A message's state as the scripts store it; `None` (logged) when unreadable.
pub fn revision(room: &RoomName, state: &str) -> Option<Revision> {
    serde_json::from_str(state).inspect_err(|err| tracing::error!(%room, %err, "corrupt message state: skipped")).ok()
}

/// The message a stream entry holds; `None` (logged: the stream was written by something else,
/// or damaged) when it lacks the author or the text, rather than a message of empty strings.
fn message(room: &RoomName, id: MessageId, mut fields: HashMap<String, String>) -> Option<ChatMessage> {
    let (Some(user), Some(text)) = (fields.remove("user"), fields.remove("text")) else {
        tracing::error!(%room, %id, "corrupt stream entry (author or text): skipped");
        return None;
    };
    Some(ChatMessage {
        room: room.to_string(),
        ts: id.millis(),
        id,
        user,
        name: fields.remove("name").unwrap_or_default(),
        text,
        client_id: fields.remove("cid"),
        ..ChatMessage::default()
    })
}
