//! The in-memory broker: one instance, no Redis.
//!
//! This is the embedded default (`cargo leptos watch` with no `REDIS_URL`):
//! history lives in a capped deque per room, delivery goes straight to the
//! local [`Fanout`]. Ids have the same `<ms>-<seq>` form as Redis stream ids
//! and are strictly increasing, so the client cannot tell the backends apart.
//! Changes to messages follow the Redis layout's rules (see [`super::change`]):
//! an entry of their own, the message's state kept beside the history, a
//! deleted message's entry removed.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use protocol::{Gap, MessageId, Revision, RoomName};

use super::fanout::{Fanout, Subscription};
use super::{Appended, Broker, BrokerError, Change, Changed, Draft, Replay, RoomEvent, now_ms};

/// One entry of a room's history.
enum Entry {
    /// A message, as it is now.
    Message(protocol::ChatMessage),
    /// A change to the message `target`, made by `user` under `client_id`.
    Change { id: MessageId, target: MessageId, user: String, client_id: String },
}

impl Entry {
    fn id(&self) -> MessageId {
        match self {
            Self::Message(message) => message.id,
            Self::Change { id, .. } => *id,
        }
    }

    /// The (user, client id) the entry was stored under.
    fn sender(&self) -> (String, String) {
        match self {
            Self::Message(m) => (m.user.clone(), m.client_id.clone().unwrap_or_default()),
            Self::Change { user, client_id, .. } => (user.clone(), client_id.clone()),
        }
    }
}

#[derive(Default)]
struct Log {
    entries: VecDeque<Entry>,
    /// (user, client id) → stored id, for the entries still in the log.
    seen: HashMap<(String, String), MessageId>,
    /// The state of every changed message still in the log (or deleted from it).
    revisions: HashMap<MessageId, Revision>,
    /// The newest id trimmed away, if any.
    trimmed_until: Option<MessageId>,
}

impl Log {
    /// Appends an entry, trimming the oldest beyond `cap`.
    fn push(&mut self, entry: Entry, cap: usize) {
        // A log started anew (a new room, or a restarted process) holds nothing before its
        // first entry: a catch-up from an older id says so, as the Redis stream does.
        if self.entries.is_empty() && self.trimmed_until.is_none() {
            self.trimmed_until = Some(entry.id().predecessor());
        }
        self.seen.insert(entry.sender(), entry.id());
        self.entries.push_back(entry);
        while self.entries.len() > cap {
            let Some(old) = self.entries.pop_front() else { break };
            self.seen.remove(&old.sender());
            let until = old.id();
            self.revisions.retain(|&target, _| target > until);
            self.trimmed_until = Some(until);
        }
    }

    /// The first `limit` entries after `after`, or with `None` the newest entries down to the
    /// oldest of the last `limit` messages (as the Redis script reads them).
    fn read(&self, room: &RoomName, after: Option<MessageId>, limit: usize) -> Replay {
        let picked: Vec<&Entry> = match after {
            Some(after) => self.entries.iter().filter(|e| e.id() > after).take(limit).collect(),
            None => {
                let mut messages = 0;
                let mut picked: Vec<&Entry> = self
                    .entries
                    .iter()
                    .rev()
                    .take_while(|e| {
                        let message = matches!(e, Entry::Message(_));
                        messages += usize::from(message);
                        !message || messages <= limit
                    })
                    .collect();
                picked.reverse();
                picked
            }
        };
        let mut replay = Replay { upto: picked.last().map(|e| e.id()), ..Replay::default() };
        for entry in picked {
            match entry {
                Entry::Message(message) => replay.messages.push(message.clone()),
                Entry::Change { id, target, .. } => {
                    if let Some(revision) = self.revisions.get(target) {
                        replay.revisions.push((*id, revision.clone()));
                    }
                }
            }
        }
        for message in &mut replay.messages {
            message.room = room.to_string();
        }
        replay.gap =
            after.and_then(|after| self.trimmed_until.filter(|&until| until > after).map(|until| Gap { after, until }));
        replay
    }

    /// Applies `change` under `id`; the message's state after it, or why not.
    fn change(&mut self, change: &Change, id: MessageId) -> Result<Revision, Changed> {
        let position = self.entries.iter().position(|e| matches!(e, Entry::Message(m) if m.id == change.target));
        let Some(Entry::Message(message)) = position.and_then(|at| self.entries.get_mut(at)) else {
            return Err(Changed::NoSuchMessage);
        };
        if change.op.needs_author() && message.user != change.user {
            return Err(Changed::NotAuthor);
        }
        let revision = self.revisions.entry(change.target).or_insert_with(|| Revision {
            target: message.id,
            user: message.user.clone(),
            ..Revision::default()
        });
        change.op.apply(revision, &change.user, id);
        message.revise(revision);
        let revision = revision.clone();
        if revision.deleted {
            self.entries.retain(|e| !matches!(e, Entry::Message(m) if m.id == change.target));
        }
        Ok(revision)
    }
}

#[derive(Default)]
struct State {
    logs: HashMap<RoomName, Log>,
    last_id: MessageId,
}

/// A broker that keeps everything in this process.
pub struct MemoryBroker {
    state: Mutex<State>,
    fanout: Fanout,
    cap: usize,
}

impl MemoryBroker {
    /// A broker keeping at most `cap` entries per room.
    pub fn new(cap: usize) -> Self {
        Self { state: Mutex::default(), fanout: Fanout::local(), cap: cap.max(1) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn next_id(&mut self) -> MessageId {
        let now = now_ms();
        let last = self.last_id;
        self.last_id =
            if now > last.millis() { MessageId::new(now, 0) } else { MessageId::new(last.millis(), last.seq() + 1) };
        self.last_id
    }
}

#[async_trait]
impl Broker for MemoryBroker {
    async fn append(&self, room: &RoomName, draft: Draft) -> Result<Appended, BrokerError> {
        let message = {
            let mut state = self.state();
            let seen_key = (draft.user.clone(), draft.client_id.clone());
            if let Some(id) = state.logs.get(room).and_then(|log| log.seen.get(&seen_key)) {
                return Ok(Appended::Duplicate(*id));
            }
            let id = state.next_id();
            let message = draft.stored(room, id);
            state.logs.entry(room.clone()).or_default().push(Entry::Message(message.clone()), self.cap);
            message
        };
        self.fanout.deliver(room, RoomEvent::Message(message.clone()));
        Ok(Appended::Stored(message))
    }

    async fn revise(&self, room: &RoomName, change: Change) -> Result<Changed, BrokerError> {
        let (id, revision) = {
            let mut state = self.state();
            let id = state.next_id();
            let Some(log) = state.logs.get_mut(room) else {
                return Ok(Changed::NoSuchMessage);
            };
            if let Some(id) = log.seen.get(&(change.user.clone(), change.client_id.clone())) {
                return Ok(Changed::Duplicate(*id));
            }
            let revision = match log.change(&change, id) {
                Ok(revision) => revision,
                Err(refused) => return Ok(refused),
            };
            let Change { target, user, client_id, .. } = change;
            log.push(Entry::Change { id, target, user, client_id }, self.cap);
            (id, revision)
        };
        self.fanout.deliver(room, RoomEvent::Revised { id, revision: revision.clone() });
        Ok(Changed::Stored { id, revision })
    }

    async fn revisions(&self, room: &RoomName, ids: &[MessageId]) -> Result<Vec<Revision>, BrokerError> {
        let state = self.state();
        let Some(log) = state.logs.get(room) else {
            return Ok(Vec::new());
        };
        Ok(ids.iter().filter_map(|id| log.revisions.get(id).cloned()).collect())
    }

    async fn announce(&self, room: &RoomName, event: RoomEvent) -> Result<(), BrokerError> {
        self.fanout.deliver(room, event);
        Ok(())
    }

    async fn recent(&self, room: &RoomName, limit: usize) -> Result<Replay, BrokerError> {
        Ok(self.state().logs.get(room).map(|log| log.read(room, None, limit)).unwrap_or_default())
    }

    async fn since(&self, room: &RoomName, after: MessageId, limit: usize) -> Result<Replay, BrokerError> {
        // No log: this process holds nothing of the room (it restarted since), as a Redis that
        // lost its data — nothing after `after` is known.
        let unknown = || Replay { gap: Some(Gap::unknown_after(after)), ..Replay::default() };
        Ok(self.state().logs.get(room).map_or_else(unknown, |log| log.read(room, Some(after), limit)))
    }

    async fn subscribe(&self, room: &RoomName) -> Result<Subscription, BrokerError> {
        self.fanout.subscribe(room).await
    }

    async fn is_healthy(&self) -> bool {
        true
    }
}
