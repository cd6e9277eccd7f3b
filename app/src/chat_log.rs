//! The chat transcript as the page shows it, built from server frames.
//!
//! Pure data, no Leptos and no browser, so the rules are unit-tested on the
//! host: a message id is shown at most once (history and live delivery overlap
//! after a reconnect), the user's own messages are marked, `/me` messages are
//! actions, and a sent message is shown as pending until the server acks it.

use std::collections::HashSet;

use protocol::{ChatMessage, MessageId, ServerFrame, action_text};

/// How a line is drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// An ordinary message.
    Text,
    /// A `/me` action; the line's text is the action without `/me`.
    Action,
    /// A join, leave or system notice.
    Notice,
}

/// One line of the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// A key unique within the log: the message id, the client id while pending, or a counter.
    pub key: String,
    /// The author (empty for notices).
    pub user: String,
    /// What to show after the author.
    pub text: String,
    /// Milliseconds since the Unix epoch (0 while pending).
    pub ts: u64,
    /// How to draw the line.
    pub kind: LineKind,
    /// Written by the user of this page.
    pub mine: bool,
    /// Sent but not yet acknowledged by the server.
    pub pending: bool,
}

impl Line {
    /// Whether this is another user's stored message newer than `read`.
    pub fn is_new_after(&self, read: MessageId) -> bool {
        self.kind != LineKind::Notice && !self.mine && self.key.parse::<MessageId>().is_ok_and(|id| id > read)
    }
}

/// The transcript of one room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatLog {
    lines: Vec<Line>,
    seen: HashSet<MessageId>,
    /// (author, client id) of every send shown: a send stored twice under two ids (its first
    /// copy was published, then lost in a Redis failover before it was acknowledged, and the
    /// outbox sent it again) is still shown once.
    sends: HashSet<(String, String)>,
    notices: u64,
    last_id: Option<MessageId>,
}

impl ChatLog {
    /// The lines, oldest first.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The id of the newest stored message seen, for catching up after a reconnect.
    pub fn last_id(&self) -> Option<MessageId> {
        self.last_id
    }

    /// How many other users' messages came after `read` (all of them with no position yet).
    pub fn unread_after(&self, read: Option<MessageId>) -> u32 {
        let unread = self.lines.iter().filter(|line| line.is_new_after(read.unwrap_or_default()));
        u32::try_from(unread.count()).unwrap_or(u32::MAX)
    }

    /// Whether the message with this id is shown already.
    pub fn has_message(&self, id: MessageId) -> bool {
        self.seen.contains(&id)
    }

    /// Adds a message typed by this user, shown as pending until [`ChatLog::apply`] sees its ack.
    pub fn push_pending(&mut self, me: &str, client_id: &str, text: &str) {
        self.lines.push(message_line(me, client_id.to_owned(), text, 0, true, true));
    }

    /// Whether a message with this client id is shown as pending.
    pub fn has_pending(&self, client_id: &str) -> bool {
        self.lines.iter().any(|l| l.pending && l.key == client_id)
    }

    /// Removes a pending message the server refused.
    pub fn drop_pending(&mut self, client_id: &str) {
        self.lines.retain(|l| !(l.pending && l.key == client_id));
    }

    /// Adds a notice line (join, leave, connection notes); a repeat of the last line is not added again.
    pub fn push_notice(&mut self, text: String, ts: u64) {
        if self.lines.last().is_some_and(|last| last.kind == LineKind::Notice && last.text == text) {
            return;
        }
        self.notices += 1;
        let key = format!("notice-{}", self.notices);
        self.lines.push(Line {
            key,
            user: String::new(),
            text,
            ts,
            kind: LineKind::Notice,
            mine: false,
            pending: false,
        });
    }

    /// Applies a frame from the server; `me` is this page's user.
    pub fn apply(&mut self, frame: &ServerFrame, me: &str) {
        match frame {
            ServerFrame::History { messages, gap, .. } => {
                if gap.is_some() {
                    self.push_notice("Some messages from while you were away are no longer in the history.".into(), 0);
                }
                for message in messages {
                    self.add_message(message, me);
                }
            }
            ServerFrame::Message(message) => self.add_message(message, me),
            ServerFrame::Ack { client_id, id } => self.confirm(client_id, *id, me),
            ServerFrame::Joined { user, ts, .. } => self.push_notice(format!("{user} joined"), *ts),
            ServerFrame::Left { user, ts, .. } => self.push_notice(format!("{user} left"), *ts),
            _ => {}
        }
    }

    fn add_message(&mut self, message: &ChatMessage, me: &str) {
        if !self.seen.insert(message.id) {
            return;
        }
        self.note_id(message.id);
        if let Some(client_id) = &message.client_id
            && !self.sends.insert((message.user.clone(), client_id.clone()))
        {
            return;
        }
        let mine = message.user == me;
        // Our own message coming back live or in history replaces its pending line.
        if mine
            && let Some(client_id) = &message.client_id
            && let Some(line) = self.lines.iter_mut().find(|l| l.pending && l.mine && &l.key == client_id)
        {
            line.key = message.id.to_string();
            line.ts = message.ts;
            line.pending = false;
            return;
        }
        let author = if message.name.is_empty() { &message.user } else { &message.name };
        self.lines.push(message_line(author, message.id.to_string(), &message.text, message.ts, mine, false));
    }

    fn confirm(&mut self, client_id: &str, id: MessageId, me: &str) {
        self.sends.insert((me.to_owned(), client_id.to_owned()));
        if self.seen.contains(&id) {
            // The live copy arrived first and already took the pending line's place.
            self.lines.retain(|l| !(l.pending && l.key == client_id));
            return;
        }
        if let Some(line) = self.lines.iter_mut().find(|l| l.pending && l.key == client_id) {
            self.seen.insert(id);
            line.key = id.to_string();
            line.ts = id.millis();
            line.pending = false;
            self.note_id(id);
        }
    }

    fn note_id(&mut self, id: MessageId) {
        if self.last_id.is_none_or(|last| id > last) {
            self.last_id = Some(id);
        }
    }
}

fn message_line(user: &str, key: String, text: &str, ts: u64, mine: bool, pending: bool) -> Line {
    let (kind, text) = match action_text(text) {
        Some(action) => (LineKind::Action, action.to_owned()),
        None => (LineKind::Text, text.to_owned()),
    };
    Line { key, user: user.to_owned(), text, ts, kind, mine, pending }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message id from its text (test data is always valid).
    fn mid(text: &str) -> protocol::MessageId {
        text.parse().expect("a valid message id")
    }

    fn msg(id: &str, user: &str, text: &str, cid: Option<&str>) -> ChatMessage {
        ChatMessage {
            room: "general".into(),
            id: mid(id),
            user: user.into(),
            name: String::new(),
            text: text.into(),
            ts: 5,
            client_id: cid.map(Into::into),
            ..ChatMessage::default()
        }
    }

    #[test]
    fn a_message_id_is_shown_once() {
        let mut log = ChatLog::default();
        let m = msg("1-0", "bob", "hi", None);
        log.apply(
            &ServerFrame::History {
                room: "general".into(),
                messages: vec![m.clone()],
                gap: None,
                revisions: Vec::new(),
                upto: None,
                more: false,
            },
            "alice",
        );
        log.apply(&ServerFrame::Message(m), "alice");
        assert_eq!(log.lines().len(), 1);
        assert_eq!(log.last_id(), Some(mid("1-0")));
    }

    #[test]
    fn own_messages_are_pending_until_acked_and_not_duplicated() {
        let mut log = ChatLog::default();
        log.push_pending("alice", "c1", "hello");
        assert!(log.lines()[0].pending);
        log.apply(&ServerFrame::Ack { client_id: "c1".into(), id: mid("7-1") }, "alice");
        log.apply(&ServerFrame::Message(msg("7-1", "alice", "hello", Some("c1"))), "alice");
        assert_eq!(log.lines().len(), 1);
        assert!(!log.lines()[0].pending && log.lines()[0].mine);

        // Live copy before the ack: still one line.
        log.push_pending("alice", "c2", "again");
        log.apply(&ServerFrame::Message(msg("8-0", "alice", "again", Some("c2"))), "alice");
        log.apply(&ServerFrame::Ack { client_id: "c2".into(), id: mid("8-0") }, "alice");
        assert_eq!(log.lines().len(), 2);
        assert_eq!(log.last_id(), Some(mid("8-0")));
    }

    #[test]
    fn a_send_stored_again_under_another_id_is_shown_once() {
        let mut log = ChatLog::default();
        log.apply(&ServerFrame::Message(msg("1-0", "bob", "hi", Some("b1"))), "alice");
        // The failover lost 1-0 before bob was acked; his outbox sent b1 again, stored as 2-0.
        log.apply(&ServerFrame::Message(msg("2-0", "bob", "hi", Some("b1"))), "alice");
        assert_eq!(log.lines().len(), 1);
        assert_eq!(log.last_id(), Some(mid("2-0")), "catch-up goes on from the newest id");
        // Another user's client id may be the same string: a different send.
        log.apply(&ServerFrame::Message(msg("3-0", "carol", "yo", Some("b1"))), "alice");
        assert_eq!(log.lines().len(), 2);
        // Our own: acked under one id, then seen live under another.
        log.push_pending("alice", "a1", "mine");
        log.apply(&ServerFrame::Ack { client_id: "a1".into(), id: mid("4-0") }, "alice");
        log.apply(&ServerFrame::Message(msg("5-0", "alice", "mine", Some("a1"))), "alice");
        assert_eq!(log.lines().len(), 3);
    }

    #[test]
    fn me_is_an_action_and_others_are_not_mine() {
        let mut log = ChatLog::default();
        log.apply(&ServerFrame::Message(msg("1-0", "bob", "/me waves", None)), "alice");
        assert_eq!(log.lines()[0].kind, LineKind::Action);
        assert_eq!(log.lines()[0].text, "waves");
        assert!(!log.lines()[0].mine);
    }

    #[test]
    fn a_gap_is_said_once_in_plain_words() {
        let mut log = ChatLog::default();
        let gap = Some(protocol::Gap { after: mid("1-0"), until: mid("5-0") });
        log.apply(
            &ServerFrame::History {
                room: "general".into(),
                messages: vec![msg("6-0", "bob", "x", None)],
                gap,
                revisions: Vec::new(),
                upto: None,
                more: false,
            },
            "alice",
        );
        assert_eq!(log.lines().len(), 2);
        assert_eq!(log.lines()[0].kind, LineKind::Notice);
        assert!(log.lines()[0].text.contains("no longer in the history"));
    }

    #[test]
    fn joins_and_leaves_are_notices() {
        let mut log = ChatLog::default();
        log.apply(
            &ServerFrame::Joined { room: "general".into(), user: "bob".into(), name: String::new(), ts: 1 },
            "alice",
        );
        log.apply(&ServerFrame::Left { room: "general".into(), user: "bob".into(), ts: 2 }, "alice");
        assert_eq!(log.lines().iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["bob joined", "bob left"]);
        assert_ne!(log.lines()[0].key, log.lines()[1].key);
    }

    #[test]
    fn ids_order_numerically() {
        let mut log = ChatLog::default();
        log.apply(&ServerFrame::Message(msg("10-0", "b", "x", None)), "a");
        log.apply(&ServerFrame::Message(msg("9-5", "b", "y", None)), "a");
        assert_eq!(log.last_id(), Some(mid("10-0")));
    }
}
