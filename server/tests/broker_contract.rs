//! The broker contract: every [`Broker`] implementation — memory and Redis —
//! passes the same suite. Each test is written once, as a function of a broker
//! factory, and listed once in `contract_tests!`, which instantiates it per backend.

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Duration;

use protocol::RoomName;
use support::RedisServer;
use switchboard::broker::memory::MemoryBroker;
use switchboard::broker::redis::RedisBroker;
use switchboard::broker::{Appended, Broker, Draft, Durability, RoomEvent};
use switchboard::redis_conn::RedisTarget;

/// Makes brokers that share one backend (two "instances" of it).
#[async_trait::async_trait]
trait Backend: Send + Sync {
    async fn broker(&self, cap: usize) -> Arc<dyn Broker>;
}

struct Memory(Arc<MemoryBroker>);

#[async_trait::async_trait]
impl Backend for Memory {
    async fn broker(&self, _cap: usize) -> Arc<dyn Broker> {
        self.0.clone()
    }
}

/// Brokers on a Redis server or cluster at `url`, under `prefix`.
struct Redis {
    url: String,
    prefix: String,
    _server: Option<RedisServer>,
}

#[async_trait::async_trait]
impl Backend for Redis {
    async fn broker(&self, cap: usize) -> Arc<dyn Broker> {
        let target = RedisTarget::parse(&self.url).expect("url");
        let conn = target.connect().await.expect("redis up");
        Arc::new(RedisBroker::new(&target, conn, &self.prefix, cap, Durability::default()))
    }
}

async fn memory() -> Box<dyn Backend> {
    Box::new(Memory(Arc::new(MemoryBroker::new(5))))
}

async fn redis() -> Box<dyn Backend> {
    let server = RedisServer::start().await;
    Box::new(Redis { url: server.url(), prefix: "test:".into(), _server: Some(server) })
}

async fn cluster() -> Box<dyn Backend> {
    Box::new(Redis { url: support::shared_cluster().url(), prefix: support::unique_prefix(), _server: None })
}

fn room(name: &str) -> RoomName {
    RoomName::parse(name).expect("valid room")
}

fn draft(user: &str, client_id: &str, text: &str) -> Draft {
    Draft { user: user.into(), name: user.to_uppercase(), client_id: client_id.into(), text: text.into() }
}

async fn next_event(sub: &mut switchboard::broker::Subscription) -> RoomEvent {
    let event = tokio::time::timeout(Duration::from_secs(5), sub.recv()).await.expect("event in time");
    (**event.expect("subscription open")).clone()
}

async fn appended_messages_are_delivered_and_kept_in_order(backend: Box<dyn Backend>) {
    let (one, two) = (backend.broker(5).await, backend.broker(5).await);
    let general = room("general");
    let mut sub = two.subscribe(&general).await.expect("subscribe");
    let mut ids = Vec::new();
    for i in 0..3 {
        let Appended::Stored(message) =
            one.append(&general, draft("alice", &format!("c{i}"), &format!("m{i}"))).await.expect("append")
        else {
            panic!("new message reported as duplicate")
        };
        assert_eq!(message.user, "alice");
        assert!(message.ts > 0);
        ids.push(message.id);
    }
    for (i, id) in ids.iter().enumerate() {
        match next_event(&mut sub).await {
            RoomEvent::Message(message) => {
                assert_eq!((&message.id, message.text.as_str()), (id, format!("m{i}").as_str()));
                assert_eq!(message.client_id.as_deref(), Some(format!("c{i}").as_str()));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let recent = two.recent(&general, 10).await.expect("recent");
    assert_eq!(recent.iter().map(|m| &m.id).collect::<Vec<_>>(), ids.iter().collect::<Vec<_>>());
    let last_two = two.recent(&general, 2).await.expect("recent");
    assert_eq!(last_two.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["m1", "m2"]);
}

async fn a_client_id_is_stored_once_per_user(backend: Box<dyn Backend>) {
    let broker = backend.broker(5).await;
    let general = room("general");
    let first = broker.append(&general, draft("alice", "same", "hello")).await.expect("append");
    let again = broker.append(&general, draft("alice", "same", "hello")).await.expect("append");
    assert!(matches!(first, Appended::Stored(_)));
    assert_eq!(again, Appended::Duplicate(first.id().to_owned()));
    let other_user = broker.append(&general, draft("bob", "same", "hello")).await.expect("append");
    assert!(matches!(other_user, Appended::Stored(_)), "ids are scoped per user");
    assert_eq!(broker.recent(&general, 10).await.expect("recent").len(), 2);
}

async fn rooms_are_separate_and_announcements_are_not_stored(backend: Box<dyn Backend>) {
    let broker = backend.broker(5).await;
    let (a, b) = (room("a"), room("b"));
    let mut sub_a = broker.subscribe(&a).await.expect("subscribe");
    broker.append(&b, draft("alice", "1", "for b")).await.expect("append");
    broker.announce(&a, RoomEvent::Joined { user: "bob".into(), name: "Bob".into(), ts: 7 }).await.expect("announce");
    assert_eq!(next_event(&mut sub_a).await, RoomEvent::Joined { user: "bob".into(), name: "Bob".into(), ts: 7 });
    assert!(broker.recent(&a, 10).await.expect("recent").is_empty());
    assert_eq!(broker.recent(&b, 10).await.expect("recent").len(), 1);
}

async fn history_is_capped(backend: Box<dyn Backend>) {
    let broker = backend.broker(5).await;
    let general = room("general");
    for i in 0..300 {
        broker.append(&general, draft("alice", &i.to_string(), &i.to_string())).await.expect("append");
    }
    let kept = broker.recent(&general, 1000).await.expect("recent");
    // A room keeps its newest `cap` messages; a backend may trim in batches of a tenth of the cap
    // (at least one), so it holds between cap and cap + max(1, cap / 10): 5 or 6 here.
    assert!((5..=6).contains(&kept.len()), "kept {}", kept.len());
    let texts: Vec<String> = kept.iter().map(|m| m.text.clone()).collect();
    let tail: Vec<String> = (300 - kept.len()..300).map(|i| i.to_string()).collect();
    assert_eq!(texts, tail, "the newest messages, in order");
}

async fn dropping_the_last_subscription_unsubscribes_and_resubscribing_works(backend: Box<dyn Backend>) {
    let broker = backend.broker(5).await;
    let general = room("general");
    let first = broker.subscribe(&general).await.expect("subscribe");
    drop(first);
    let mut again = broker.subscribe(&general).await.expect("subscribe again");
    broker.append(&general, draft("alice", "x", "after resubscribe")).await.expect("append");
    assert!(matches!(next_event(&mut again).await, RoomEvent::Message(m) if m.text == "after resubscribe"));
    assert!(broker.is_healthy().await);
}

async fn since_replays_after_an_id_and_reports_what_was_trimmed(backend: Box<dyn Backend>) {
    let broker = backend.broker(5).await;
    let general = room("general");
    let mut ids = Vec::new();
    for i in 0..300 {
        ids.push(broker.append(&general, draft("alice", &i.to_string(), &i.to_string())).await.expect("append").id());
    }
    let tail = broker.since(&general, ids[298], 1000).await.expect("since");
    assert_eq!((tail.messages.len(), tail.gap), (1, None));
    assert_eq!(tail.messages[0].id, ids[299]);
    assert!(broker.since(&general, ids[299], 1000).await.expect("since").messages.is_empty());

    let old = broker.since(&general, ids[0], 1000).await.expect("since");
    let gap = old.gap.expect("trimmed messages are reported");
    assert_eq!(gap.after, ids[0]);
    let kept: Vec<_> = old.messages.iter().map(|m| m.id).collect();
    assert_eq!(kept.as_slice(), &ids[300 - kept.len()..], "the replay is the retained tail, in order");
    assert_eq!(gap.until, ids[299 - kept.len()], "the gap ends right before the replay");
    let empty_room = broker.since(&room("empty"), ids[0], 10).await.expect("since");
    assert_eq!(empty_room, switchboard::broker::Replay::default());
}

contract_tests!([memory, redis, cluster]:
    appended_messages_are_delivered_and_kept_in_order,
    a_client_id_is_stored_once_per_user,
    rooms_are_separate_and_announcements_are_not_stored,
    history_is_capped,
    dropping_the_last_subscription_unsubscribes_and_resubscribing_works,
    since_replays_after_an_id_and_reports_what_was_trimmed,
);
