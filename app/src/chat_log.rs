//! The chat transcript as the page shows it, built from server frames.
//!
//! Pure data, no Leptos and no browser, so the rules are unit-tested on the
//! host: a message id is shown at most once (history and live delivery overlap
//! after a reconnect), the user's own messages are marked, `/me` messages are
//! actions, a sent message is shown as pending until the server acks it, a change to a
//! message (edit, deletion, reactions) replaces what its line shows, and a message that
//! names this user (`@name`) is a mention.

use std::collections::{BTreeMap, HashSet};

use protocol::{AccountKey, ChatMessage, MessageId, Revision, ServerFrame, action_text, mentions};

/// What a deleted message is shown as.
pub const DELETED_TEXT: &str = "message deleted";

/// How a line is drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// An ordinary message.
    Text,
    /// A `/me` action; the line's text is the action without `/me`.
    Action,
    /// A join, leave or system notice.
    Notice,
    /// A message its author deleted (the line says so; the text is gone).
    Deleted,
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
    /// The author edited the text.
    pub edited: bool,
    /// Reactions: each emoji with the users (account names) who reacted, in order.
    pub reactions: BTreeMap<String, Vec<String>>,
    /// Someone else's message naming this user.
    pub mention: bool,
    /// How many changes the line has taken (a redraw key: the same message, drawn anew).
    pub version: u32,
}

impl Line {
    /// Whether this is another user's stored message newer than `read`.
    pub fn is_new_after(&self, read: MessageId) -> bool {
        matches!(self.kind, LineKind::Text | LineKind::Action) && !self.mine && self.id().is_some_and(|id| id > read)
    }

    /// The stored message's id (`None` for notices and pending sends).
    pub fn id(&self) -> Option<MessageId> {
        if self.pending || self.kind == LineKind::Notice { None } else { self.key.parse().ok() }
    }

    /// Takes a message's state after a change.
    fn revise(&mut self, revision: &Revision, me: &str) {
        self.version += 1;
        if revision.deleted {
            self.kind = LineKind::Deleted;
            DELETED_TEXT.clone_into(&mut self.text);
            self.reactions.clear();
            self.mention = false;
            return;
        }
        if let Some(text) = &revision.text {
            (self.kind, self.text) = shown_text(text);
            self.mention = !self.mine && mentions_me(text, me);
        }
        self.edited = revision.edited > 0;
        self.reactions.clone_from(&revision.reactions);
    }
}

/// Whether `text` names `me` (`@alice`, any case).
pub fn mentions_me(text: &str, me: &str) -> bool {
    let me = AccountKey::of(me);
    mentions(text).any(|name| AccountKey::of(name) == me)
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
    /// The room's first message is shown: scrolling back has nothing more to load.
    start_reached: bool,
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

    /// How many other users' messages came after `read` (all of them with no position yet),
    /// and how many of those mention this user.
    pub fn unread_after(&self, read: Option<MessageId>) -> (u32, u32) {
        let unread: Vec<&Line> = self.lines.iter().filter(|line| line.is_new_after(read.unwrap_or_default())).collect();
        let mentions = unread.iter().filter(|line| line.mention).count();
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        (count(unread.len()), count(mentions))
    }

    /// The newest `limit` stored messages shown (what a refresh after a gap asks about).
    pub fn held_ids(&self, limit: usize) -> Vec<MessageId> {
        let mut ids: Vec<MessageId> =
            self.lines.iter().filter(|l| l.kind != LineKind::Deleted).filter_map(Line::id).collect();
        ids.sort();
        ids.split_off(ids.len().saturating_sub(limit))
    }

    /// The oldest stored message shown: where scrolling back goes on from.
    pub fn oldest_id(&self) -> Option<MessageId> {
        self.lines.iter().filter_map(Line::id).min()
    }

    /// Whether the room's first message is shown (nothing older to load).
    pub fn reached_start(&self) -> bool {
        self.start_reached
    }

    /// Puts a page of older messages (oldest first) before the lines shown; `complete`: the
    /// page reaches the room's first message.
    pub fn prepend_older(&mut self, messages: &[ChatMessage], complete: bool, me: &str) {
        self.start_reached |= complete;
        let before = std::mem::take(&mut self.lines);
        for message in messages {
            self.add_message(message, me);
        }
        self.lines.extend(before);
    }

    /// Whether the message with this id is shown already.
    pub fn has_message(&self, id: MessageId) -> bool {
        self.seen.contains(&id)
    }

    /// Adds a message typed by this user, shown as pending until [`ChatLog::apply`] sees its ack.
    pub fn push_pending(&mut self, me: &str, client_id: &str, text: &str) {
        self.lines.push(message_line(me, client_id.to_owned(), text, 0, (true, true)));
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
            edited: false,
            reactions: BTreeMap::new(),
            mention: false,
            version: 0,
        });
    }

    /// Applies a frame from the server; `me` is this page's user.
    pub fn apply(&mut self, frame: &ServerFrame, me: &str) {
        match frame {
            ServerFrame::History { messages, gap, revisions, upto, .. } => {
                if gap.is_some() {
                    self.push_notice("Some messages from while you were away are no longer in the history.".into(), 0);
                }
                for message in messages {
                    self.add_message(message, me);
                }
                self.revise(revisions, me);
                if let Some(upto) = upto {
                    self.note_id(*upto);
                }
            }
            ServerFrame::Revised { id, revisions, .. } => {
                self.revise(revisions, me);
                if let Some(id) = id {
                    self.note_id(*id);
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
        let mut line = message_line(author, message.id.to_string(), &message.text, message.ts, (mine, false));
        line.mention = !mine && mentions_me(&message.text, me);
        if message.deleted || !message.reactions.is_empty() || message.edited > 0 {
            let revision = Revision {
                text: (!message.deleted).then(|| message.text.clone()),
                edited: message.edited,
                deleted: message.deleted,
                reactions: message.reactions.clone(),
                ..Revision::default()
            };
            line.revise(&revision, me);
        }
        self.lines.push(line);
    }

    /// Applies changes to the messages they name, where shown (others are not held).
    fn revise(&mut self, revisions: &[Revision], me: &str) {
        for revision in revisions {
            let key = revision.target.to_string();
            if let Some(line) = self.lines.iter_mut().find(|l| !l.pending && l.key == key) {
                line.revise(revision, me);
            }
        }
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

/// A message's line; `(mine, pending)`.
fn message_line(user: &str, key: String, text: &str, ts: u64, (mine, pending): (bool, bool)) -> Line {
    let (kind, text) = shown_text(text);
    let (edited, reactions, mention, version) = (false, BTreeMap::new(), false, 0);
    Line { key, user: user.to_owned(), text, ts, kind, mine, pending, edited, reactions, mention, version }
}

/// How a message's text is drawn: a `/me` action without `/me`, or the text.
fn shown_text(text: &str) -> (LineKind, String) {
    match action_text(text) {
        Some(action) => (LineKind::Action, action.to_owned()),
        None => (LineKind::Text, text.to_owned()),
    }
}

#[cfg(test)]
mod tests;
