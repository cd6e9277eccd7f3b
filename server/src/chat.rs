//! The chat domain: what joining a room and sending a message mean,
//! independent of the websocket that carries them.
//!
//! Every input from the client is checked here (room names, client ids,
//! message length) and every failure is a [`ChatError`] that maps onto a
//! protocol [`ErrorCode`], so the client always gets a clear answer.

use protocol::{ChatMessage, ErrorCode, Gap, RoomName};
use tracing::instrument;

use crate::broker::{is_message_id, now_ms, Appended, BrokerError, Draft, RoomEvent, SharedBroker, Subscription};

/// The longest client message id accepted.
const MAX_CLIENT_ID: usize = 64;

/// Why a chat operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The room name is invalid.
    #[error("{0}")]
    BadRoom(#[from] protocol::NameError),
    /// The message is empty or too long.
    #[error("{0}")]
    BadMessage(String),
    /// The `since` of a join is not a message id.
    #[error("since must be a message id such as 1700000000000-0")]
    BadSince,
    /// The client message id is missing or malformed.
    #[error("client_id must be 1 to {MAX_CLIENT_ID} visible ASCII characters")]
    BadClientId,
    /// The backend failed; nothing was stored.
    #[error("the message could not be stored right now; it will be retried")]
    Unavailable(#[from] BrokerError),
}

impl ChatError {
    /// The protocol error code for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadRoom(_) => ErrorCode::BadRoom,
            Self::BadMessage(_) => ErrorCode::BadMessage,
            Self::BadClientId | Self::BadSince => ErrorCode::BadFrame,
            Self::Unavailable(_) => ErrorCode::Unavailable,
        }
    }
}

/// A room just joined: the live subscription and the history to show first.
pub struct Joined {
    /// Live events from now on (may overlap the history; ids tell them apart).
    pub subscription: Subscription,
    /// The recent messages, or every message after the join's `since`, oldest first.
    pub history: Vec<ChatMessage>,
    /// Messages after `since` that were trimmed and cannot be replayed.
    pub gap: Option<Gap>,
}

/// Chat operations of one instance.
#[derive(Clone)]
pub struct ChatService {
    broker: SharedBroker,
    history_on_join: usize,
    replay_limit: usize,
    max_message_chars: usize,
}

impl ChatService {
    /// Chat over `broker`: `history_on_join` messages for a fresh join, at most `replay_limit`
    /// (the history cap) for a catch-up, messages of at most `max_message_chars`.
    pub fn new(broker: SharedBroker, history_on_join: usize, replay_limit: usize, max_message_chars: usize) -> Self {
        Self { broker, history_on_join, replay_limit, max_message_chars }
    }

    /// Validates a room name from the client.
    pub fn room(raw: &str) -> Result<RoomName, ChatError> {
        Ok(RoomName::parse(raw)?)
    }

    /// Joins `room`: subscribes first, then reads the history — the recent messages, or with
    /// `since` everything after it — so nothing published in between is missed.
    #[instrument(skip(self), fields(room = %room))]
    pub async fn join(&self, user: &str, room: &RoomName, since: Option<&str>) -> Result<Joined, ChatError> {
        if since.is_some_and(|id| !is_message_id(id)) {
            return Err(ChatError::BadSince);
        }
        let subscription = self.broker.subscribe(room).await?;
        let (history, gap) = match since {
            Some(after) => {
                let replay = self.broker.since(room, after, self.replay_limit).await?;
                (replay.messages, replay.gap)
            }
            None => (self.broker.recent(room, self.history_on_join).await?, None),
        };
        self.broker.announce(room, RoomEvent::Joined { user: user.to_owned(), ts: now_ms() }).await?;
        Ok(Joined { subscription, history, gap })
    }

    /// Announces that `user` left `room`.
    pub async fn leave(&self, user: &str, room: &RoomName) -> Result<(), ChatError> {
        Ok(self.broker.announce(room, RoomEvent::Left { user: user.to_owned(), ts: now_ms() }).await?)
    }

    /// Validates and stores a message; returns its id once stored.
    #[instrument(skip(self, text), fields(room = %room))]
    pub async fn send(&self, user: &str, room: &RoomName, client_id: &str, text: &str) -> Result<Appended, ChatError> {
        let valid_id = !client_id.is_empty()
            && client_id.len() <= MAX_CLIENT_ID
            && client_id.bytes().all(|b| b.is_ascii_graphic());
        if !valid_id {
            return Err(ChatError::BadClientId);
        }
        if text.trim().is_empty() {
            return Err(ChatError::BadMessage("the message is empty".into()));
        }
        if text.chars().count() > self.max_message_chars {
            return Err(ChatError::BadMessage(format!(
                "the message is longer than {} characters",
                self.max_message_chars
            )));
        }
        let draft = Draft { user: user.to_owned(), text: text.to_owned(), client_id: client_id.to_owned() };
        Ok(self.broker.append(room, draft).await?)
    }
}
