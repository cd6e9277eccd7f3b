//! A socket's joined rooms and their live events, waited on by the socket's own task.
//!
//! What an idle user costs is mostly what their socket's tasks hold while they wait.
//! A task per joined room (the "forwarder" this replaced) held its own copy of the
//! socket's queue, user and name and a task header: about 0.8 KiB per room per socket.
//! Here the socket's one task waits on all of its rooms at once (a [`StreamMap`]), and a
//! room costs its subscription (a receiver and one boxed wait) and an entry.
//!
//! A room's [`Feed`] skips what the join's history already held (the subscription is
//! made before the history is read, so the two overlap; ids tell them apart). What is
//! left for the socket's task ([`connection`](crate::ws::connection)) to decide is about
//! its user: their own typing notices, their renames, their removal from the room.
//! Events are taken without waiting: a member whose client cannot keep up is closed
//! with 4008 by its queue and catches up from history, instead of silently losing events.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures::{Stream, StreamExt};
use protocol::{MessageId, RoomName, ServerFrame};
use tokio_stream::StreamMap;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::broker::{Delivery, RoomEvent, RoomEvents};

/// One live event of a room, or how many events this member fell behind (it must resync).
pub type FeedItem = Result<Arc<Delivery>, u64>;

/// One joined room's live events, after what the join's history held.
pub struct Feed {
    events: RoomEvents,
    /// The newest history entry (message or change) already sent with the join's history.
    newest: Option<MessageId>,
}

impl Feed {
    fn already_sent(&self, event: &RoomEvent) -> bool {
        let Some(newest) = self.newest else { return false };
        match event {
            RoomEvent::Message(message) => message.id <= newest,
            // A change to a message in the page was folded into it.
            RoomEvent::Revised { id, .. } => *id <= newest,
            _ => false,
        }
    }
}

impl Stream for Feed {
    type Item = FeedItem;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<FeedItem>> {
        loop {
            match ready!(self.events.poll_next_unpin(cx)) {
                None => return Poll::Ready(None),
                Some(Err(BroadcastStreamRecvError::Lagged(missed))) => return Poll::Ready(Some(Err(missed))),
                Some(Ok(event)) if self.already_sent(&event) => {}
                Some(Ok(event)) => return Poll::Ready(Some(Ok(event))),
            }
        }
    }
}

/// The rooms a socket is in, with their feeds.
pub struct Rooms {
    /// Keyed by a shared name: the map hands its key out with every event.
    feeds: StreamMap<Arc<RoomName>, Feed>,
}

impl Default for Rooms {
    /// Room for one room: most sockets join one at once, and a map's first growth would
    /// make room for four.
    fn default() -> Self {
        Self { feeds: StreamMap::with_capacity(1) }
    }
}

impl Rooms {
    /// Starts delivering `room`'s events after `newest` (what the join's history held).
    pub fn insert(&mut self, room: RoomName, events: RoomEvents, newest: Option<MessageId>) {
        self.feeds.insert(Arc::new(room), Feed { events, newest });
    }

    /// Stops delivering `room`'s events; `false` if the socket was not in it.
    pub fn remove(&mut self, room: &RoomName) -> bool {
        self.feeds.remove(room).is_some()
    }

    /// Whether the socket is in `room`.
    pub fn contains(&self, room: &RoomName) -> bool {
        self.feeds.contains_key(room)
    }

    /// How many rooms the socket is in.
    pub fn len(&self) -> usize {
        self.feeds.len()
    }

    /// Whether the socket is in no room.
    pub fn is_empty(&self) -> bool {
        self.feeds.is_empty()
    }

    /// The rooms' names.
    pub fn names(&self) -> Vec<RoomName> {
        self.feeds.keys().map(|room| RoomName::clone(room)).collect()
    }

    /// Leaves every room at once (their subscriptions end); the names they had.
    pub fn take_all(&mut self) -> Vec<RoomName> {
        let names = self.names();
        self.feeds.clear();
        names
    }

    /// The next event of any room, if one is there; `Ready(None)` while the socket is in no room.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<(Arc<RoomName>, FeedItem)>> {
        self.feeds.poll_next_unpin(cx)
    }
}

/// The frame a room event becomes: the same for every member of the room.
pub fn frame(room: &str, event: &RoomEvent) -> ServerFrame {
    let room = room.to_owned();
    match event {
        RoomEvent::Message(message) => ServerFrame::Message(message.clone()),
        RoomEvent::Revised { id, revision } => {
            ServerFrame::Revised { room, id: Some(*id), revisions: vec![revision.clone()] }
        }
        RoomEvent::Joined { user, name, ts } => {
            ServerFrame::Joined { room, user: user.clone(), name: name.clone(), ts: *ts }
        }
        RoomEvent::Renamed { user, name } => ServerFrame::Renamed { user: user.clone(), name: name.clone() },
        RoomEvent::Left { user, ts } => ServerFrame::Left { room, user: user.clone(), ts: *ts },
        RoomEvent::Typing { user } => ServerFrame::Typing { room, user: user.clone() },
        RoomEvent::Members { owner, users, .. } => {
            ServerFrame::Members { room, owner: owner.clone(), users: users.clone() }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use protocol::ChatMessage;

    use super::*;
    use crate::broker::fanout::{Fanout, ROOM_BUFFER};

    fn room() -> RoomName {
        RoomName::parse("lobby").unwrap()
    }

    fn message(id: &str) -> RoomEvent {
        let id = MessageId::parse(id).unwrap();
        RoomEvent::Message(ChatMessage { room: "lobby".into(), id, user: "ann".into(), ..ChatMessage::default() })
    }

    async fn next_id(rooms: &mut Rooms) -> String {
        let next =
            tokio::time::timeout(Duration::from_secs(5), std::future::poll_fn(|cx| rooms.poll_next(cx))).await.unwrap();
        let (room, event) = next.unwrap();
        assert_eq!(*room, super::tests::room());
        match &**event.unwrap() {
            RoomEvent::Message(message) => message.id.to_string(),
            other => format!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn skips_what_the_history_held_and_keeps_the_rest_in_order() {
        let fanout = Fanout::local();
        let subscription = fanout.subscribe(&room()).await.unwrap();
        for id in ["5-0", "6-0", "7-0"] {
            fanout.deliver(&room(), message(id));
        }
        let mut rooms = Rooms::default();
        rooms.insert(room(), subscription.into_stream(), Some(MessageId::parse("6-0").unwrap()));
        assert_eq!(next_id(&mut rooms).await, "7-0");
        fanout.deliver(&room(), RoomEvent::Typing { user: "bob".into() });
        assert!(next_id(&mut rooms).await.contains("Typing"), "other events pass");
    }

    #[tokio::test]
    async fn a_member_that_falls_a_ring_behind_is_told_how_far() {
        let fanout = Fanout::local();
        let mut rooms = Rooms::default();
        rooms.insert(room(), fanout.subscribe(&room()).await.unwrap().into_stream(), None);
        for n in 0..ROOM_BUFFER + 10 {
            fanout.deliver(&room(), message(&format!("{}-0", n + 1)));
        }
        let (_, event) = std::future::poll_fn(|cx| rooms.poll_next(cx)).await.unwrap();
        assert_eq!(event.err(), Some(10));
    }

    #[tokio::test]
    async fn leaving_gives_the_membership_back() {
        let fanout = Fanout::local();
        let mut rooms = Rooms::default();
        rooms.insert(room(), fanout.subscribe(&room()).await.unwrap().into_stream(), None);
        assert!(rooms.contains(&room()));
        assert_eq!(fanout.rooms(), vec![room()]);
        assert!(rooms.remove(&room()));
        assert!(!rooms.remove(&room()), "only once");
        assert!(fanout.rooms().is_empty(), "the last member gone, the room is released");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), std::future::poll_fn(|cx| rooms.poll_next(cx)))
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn leaving_every_room_names_them() {
        let fanout = Fanout::local();
        let mut rooms = Rooms::default();
        for name in ["a", "b", "c"] {
            let name = RoomName::parse(name).unwrap();
            rooms.insert(name.clone(), fanout.subscribe(&name).await.unwrap().into_stream(), None);
        }
        let mut names: Vec<String> = rooms.take_all().iter().map(ToString::to_string).collect();
        names.sort();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(rooms.is_empty());
        assert!(fanout.rooms().is_empty());
    }
}
