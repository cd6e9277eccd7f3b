//! The chat domain: what joining a room and sending a message mean,
//! independent of the websocket that carries them.
//!
//! Every input from the client is checked here (room names, client ids,
//! message length) and every failure is a [`ChatError`] that maps onto a
//! protocol [`ErrorCode`], so the client always gets a clear answer.

mod change;
mod history;

use std::time::Duration;

use protocol::{ErrorCode, MessageId, RoomName};
use tracing::{instrument, warn};

use crate::broker::{Appended, BrokerError, Draft, RoomEvent, SharedBroker, Subscription, now_ms};
use crate::presence::{LocalMemberships, Presence, SharedPresence};
use crate::ratelimit::{Limit, SharedLimiter, Verdict};
use crate::telemetry::metrics::metrics;

pub use history::HistoryPage;

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
    /// The user sends faster than the limit allows; try again after this long.
    #[error("you are sending too fast; wait {} s (it will be sent then)", .0.as_secs().max(1))]
    RateLimited(Duration),
    /// The client message id is missing or malformed.
    #[error("client_id must be 1 to {MAX_CLIENT_ID} visible ASCII characters")]
    BadClientId,
    /// The message to change is not in the room.
    #[error("there is no message {0} in this room (it may have been deleted)")]
    NoSuchMessage(MessageId),
    /// Only the author may edit or delete a message.
    #[error("only its author can edit or delete a message")]
    NotAuthor,
    /// A reaction must be one emoji.
    #[error("a reaction is one emoji")]
    BadReaction,
    /// The backend failed; nothing was stored.
    #[error("the message could not be stored right now; it will be retried")]
    Unavailable(#[source] BrokerError),
    /// The backend did not confirm in time; the message may be stored (a retry with the same
    /// client id never stores it twice).
    #[error("the message was not confirmed in time; it will be retried (it is never stored twice)")]
    Unconfirmed(#[source] BrokerError),
}

impl From<BrokerError> for ChatError {
    fn from(err: BrokerError) -> Self {
        match err {
            BrokerError::Unconfirmed(_) | BrokerError::NotReplicated { .. } | BrokerError::StoreTimeout => {
                Self::Unconfirmed(err)
            }
            _ => Self::Unavailable(err),
        }
    }
}

impl ChatError {
    /// The protocol error code for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadRoom(_) => ErrorCode::BadRoom,
            Self::BadMessage(_) | Self::BadReaction => ErrorCode::BadMessage,
            Self::NoSuchMessage(_) => ErrorCode::NoSuchMessage,
            Self::NotAuthor => ErrorCode::NotAllowed,
            Self::BadClientId => ErrorCode::BadFrame,
            Self::RateLimited(_) => ErrorCode::RateLimited,
            Self::Unavailable(_) | Self::Unconfirmed(_) => ErrorCode::Unavailable,
        }
    }
}

/// Removes one socket's presence and announces the user's departure if it was their last.
async fn depart(broker: &SharedBroker, presence: &dyn Presence, instance: &str, user: &str, room: &RoomName) {
    match presence.exit(room, user, instance).await {
        Ok(true) => {
            if let Err(err) = broker.announce(room, RoomEvent::Left { user: user.to_owned(), ts: now_ms() }).await {
                warn!(%err, %room, "could not announce a leave");
            }
        }
        Ok(false) => {}
        Err(err) => warn!(%err, %room, "presence unavailable; the lease reaper will clean up"),
    }
}

/// A room just joined: the live subscription and the history to show first.
pub struct Joined {
    /// Live events from now on (may overlap the history; ids tell them apart).
    pub subscription: Subscription,
    /// The recent messages, or every message after the join's `since`, oldest first, and
    /// the changes to older ones.
    pub page: HistoryPage,
    /// Who is in the room now, on any instance.
    pub members: Vec<String>,
}

/// Chat operations of one instance.
#[derive(Clone)]
pub struct ChatService {
    broker: SharedBroker,
    presence: SharedPresence,
    local: LocalMemberships,
    instance: String,
    grace: Duration,
    history_on_join: usize,
    replay_limit: usize,
    max_message_chars: usize,
    limiter: SharedLimiter,
    send_limit: Limit,
}

/// What a [`ChatService`] is built from.
pub struct ChatSettings {
    /// Messages shown on a fresh join.
    pub history_on_join: usize,
    /// Most messages replayed on a catch-up.
    pub replay_limit: usize,
    /// Longest message.
    pub max_message_chars: usize,
    /// Delay before a closed socket counts as gone (a reconnect within it is no leave).
    pub grace: Duration,
    /// This instance's memberships, mirrored.
    pub local: LocalMemberships,
    /// Messages per user (all sockets, all instances), counted in the limiter.
    pub send_limit: Limit,
}

impl ChatService {
    /// Chat over a broker, presence and rate limiter on `instance`.
    pub fn new(
        (broker, presence, limiter): (SharedBroker, SharedPresence, SharedLimiter),
        instance: String,
        settings: ChatSettings,
    ) -> Self {
        Self {
            limiter,
            send_limit: settings.send_limit,
            broker,
            presence,
            local: settings.local,
            instance,
            grace: settings.grace,
            history_on_join: settings.history_on_join,
            replay_limit: settings.replay_limit,
            max_message_chars: settings.max_message_chars,
        }
    }

    /// This instance's memberships as the chat keeps them (restored after a lapsed lease).
    pub fn local_memberships(&self) -> LocalMemberships {
        self.local.clone()
    }

    /// Validates a room name from the client.
    pub fn room(raw: &str) -> Result<RoomName, ChatError> {
        Ok(RoomName::parse(raw)?)
    }

    /// Joins `room`: subscribes first, then reads the history — the recent messages, or with
    /// `since` everything after it — so nothing published in between is missed.
    #[instrument(skip(self), fields(room = %room))]
    pub async fn join(
        &self,
        user: &str,
        name: &str,
        room: &RoomName,
        since: Option<MessageId>,
    ) -> Result<Joined, ChatError> {
        let subscription = self.broker.subscribe(room).await?;
        let replay = match since {
            Some(after) => {
                let replay = self.broker.since(room, after, self.replay_limit).await?;
                let metrics = metrics();
                metrics.rejoins.increment(1);
                metrics.replayed.increment(replay.messages.len() as u64);
                if replay.gap.is_some() {
                    metrics.gaps.increment(1);
                }
                replay
            }
            None => self.broker.recent(room, self.history_on_join).await?,
        };
        let page = HistoryPage::fold(room, replay, since);
        // A join is announced only when the user was absent from the room (not on a reconnect,
        // not for a second tab); presence problems do not stop the chat.
        self.local.add(room, user);
        match self.presence.enter(room, user, &self.instance).await {
            Ok(true) => {
                let event = RoomEvent::Joined { user: user.to_owned(), name: name.to_owned(), ts: now_ms() };
                self.broker.announce(room, event).await?;
            }
            Ok(false) => {}
            Err(err) => warn!(%err, "presence unavailable"),
        }
        let members = self.presence.members(room).await.unwrap_or_else(|_| vec![user.to_owned()]);
        Ok(Joined { subscription, page, members })
    }

    /// `user` left `room` on purpose: gone at once (if no other socket of theirs is there).
    pub async fn leave(&self, user: &str, room: &RoomName) {
        self.local.remove(room, user);
        depart(&self.broker, &*self.presence, &self.instance, user, room).await;
    }

    /// A socket of `user` in `room` closed: gone after the grace period, unless they came back.
    pub fn leave_later(&self, user: &str, room: &RoomName) {
        let (broker, presence, instance) = (self.broker.clone(), self.presence.clone(), self.instance.clone());
        let (user, room, grace, local) = (user.to_owned(), room.clone(), self.grace, self.local.clone());
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            local.remove(&room, &user);
            depart(&broker, &*presence, &instance, &user, &room).await;
        });
    }

    /// Tells `rooms` that `user` is now called `name`.
    pub async fn renamed(&self, user: &str, name: &str, rooms: &[RoomName]) {
        for room in rooms {
            let event = RoomEvent::Renamed { user: user.to_owned(), name: name.to_owned() };
            if let Err(err) = self.broker.announce(room, event).await {
                warn!(%err, %room, "could not announce a rename");
            }
        }
    }

    /// Tells a private room's sockets who its members are now, and whom the change removed
    /// (their sockets stop delivering the room at this point).
    pub async fn members_changed(&self, room: &RoomName, owner: String, users: Vec<String>, removed: Option<String>) {
        if let Err(err) = self.broker.announce(room, RoomEvent::Members { owner, users, removed }).await {
            warn!(%err, %room, "could not announce a change of members");
        }
    }

    /// Tells the room that `user` is typing.
    pub async fn typing(&self, user: &str, room: &RoomName) -> Result<(), ChatError> {
        Ok(self.broker.announce(room, RoomEvent::Typing { user: user.to_owned() }).await?)
    }

    /// Validates and stores a message; returns its id once stored.
    #[instrument(skip(self, text), fields(room = %room))]
    pub async fn send(
        &self,
        author: (&str, &str),
        room: &RoomName,
        client_id: &str,
        text: &str,
    ) -> Result<Appended, ChatError> {
        let (user, name) = author;
        check_client_id(client_id)?;
        self.check_text(text)?;
        self.check_rate(user).await?;
        let draft = Draft {
            user: user.to_owned(),
            name: name.to_owned(),
            text: text.to_owned(),
            client_id: client_id.to_owned(),
        };
        let appended = self.broker.append(room, draft).await?;
        if let Appended::Stored(_) = appended {
            metrics().messages_stored.increment(1);
        }
        Ok(appended)
    }

    /// Refuses an empty text, or one longer than the limit.
    fn check_text(&self, text: &str) -> Result<(), ChatError> {
        if text.trim().is_empty() {
            return Err(ChatError::BadMessage("the message is empty".into()));
        }
        if text.chars().count() > self.max_message_chars {
            let limit = self.max_message_chars;
            return Err(ChatError::BadMessage(format!("the message is longer than {limit} characters")));
        }
        Ok(())
    }

    /// Counts one write of `user` (a message or a change) against their limit, on every instance.
    async fn check_rate(&self, user: &str) -> Result<(), ChatError> {
        match self.send_limit.check(&*self.limiter, &format!("send:{user}")).await {
            Verdict::Limited(wait) => Err(ChatError::RateLimited(wait)),
            Verdict::Allowed => Ok(()),
        }
    }
}

/// Refuses a client id that is empty, too long or not visible ASCII.
fn check_client_id(client_id: &str) -> Result<(), ChatError> {
    let valid =
        !client_id.is_empty() && client_id.len() <= MAX_CLIENT_ID && client_id.bytes().all(|b| b.is_ascii_graphic());
    if valid { Ok(()) } else { Err(ChatError::BadClientId) }
}
