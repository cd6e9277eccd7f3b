//! The in-memory broker: one instance, no Redis.
//!
//! This is the embedded default (`cargo leptos watch` with no `REDIS_URL`):
//! history lives in a capped deque per room, delivery goes straight to the
//! local [`Fanout`]. Ids have the same `<ms>-<seq>` form as Redis stream ids
//! and are strictly increasing, so the client cannot tell the backends apart.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use protocol::{ChatMessage, Gap, MessageId, RoomName};

use super::fanout::{Fanout, Subscription};
use super::{Appended, Broker, BrokerError, Draft, Replay, RoomEvent, now_ms};

#[derive(Default)]
struct Log {
    messages: VecDeque<ChatMessage>,
    /// (user, client id) → stored id, for the messages still in the log.
    seen: HashMap<(String, String), MessageId>,
    /// The newest id trimmed away, if any.
    trimmed_until: Option<MessageId>,
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
    /// A broker keeping at most `cap` messages per room.
    pub fn new(cap: usize) -> Self {
        Self { state: Mutex::default(), fanout: Fanout::local(), cap: cap.max(1) }
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
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let seen_key = (draft.user.clone(), draft.client_id.clone());
            if let Some(id) = state.logs.get(room).and_then(|log| log.seen.get(&seen_key)) {
                return Ok(Appended::Duplicate(*id));
            }
            let id = state.next_id();
            let message = draft.stored(room, id);
            let log = state.logs.entry(room.clone()).or_default();
            log.seen.insert(seen_key, message.id);
            log.messages.push_back(message.clone());
            while log.messages.len() > self.cap {
                if let Some(old) = log.messages.pop_front() {
                    log.seen.remove(&(old.user, old.client_id.unwrap_or_default()));
                    log.trimmed_until = Some(old.id);
                }
            }
            message
        };
        self.fanout.deliver(room, RoomEvent::Message(message.clone()));
        Ok(Appended::Stored(message))
    }

    async fn announce(&self, room: &RoomName, event: RoomEvent) -> Result<(), BrokerError> {
        self.fanout.deliver(room, event);
        Ok(())
    }

    async fn recent(&self, room: &RoomName, limit: usize) -> Result<Vec<ChatMessage>, BrokerError> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(log) = state.logs.get(room) else {
            return Ok(Vec::new());
        };
        let skip = log.messages.len().saturating_sub(limit);
        Ok(log.messages.iter().skip(skip).cloned().collect())
    }

    async fn since(&self, room: &RoomName, after: MessageId, limit: usize) -> Result<Replay, BrokerError> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(log) = state.logs.get(room) else {
            return Ok(Replay::default());
        };
        let messages = log.messages.iter().filter(|m| m.id > after).take(limit).cloned().collect();
        let gap = log.trimmed_until.filter(|&until| until > after).map(|until| Gap { after, until });
        Ok(Replay { messages, gap })
    }

    async fn subscribe(&self, room: &RoomName) -> Result<Subscription, BrokerError> {
        self.fanout.subscribe(room).await
    }

    async fn is_healthy(&self) -> bool {
        true
    }
}
