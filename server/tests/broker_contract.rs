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
use switchboard::broker::{Appended, Broker, Change, ChangeOp, Changed, Draft, Durability, RoomEvent};
use switchboard::redis_conn::RedisTarget;

/// Makes brokers that share one backend (two "instances" of it).
#[async_trait::async_trait]
trait Backend: Send + Sync {
    async fn broker(&self, cap: usize) -> Arc<dyn Broker>;
    /// Everything stored under the backend's prefix, as text (`None`: not inspectable).
    async fn stored_text(&self) -> Option<String> {
        None
    }
}

/// One in-memory broker (made with the cap of the first call), shared by every "instance".
struct Memory(std::sync::OnceLock<Arc<MemoryBroker>>);

#[async_trait::async_trait]
impl Backend for Memory {
    async fn broker(&self, cap: usize) -> Arc<dyn Broker> {
        self.0.get_or_init(|| Arc::new(MemoryBroker::new(cap))).clone()
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

    async fn stored_text(&self) -> Option<String> {
        let mut conn = RedisTarget::parse(&self.url).expect("url").connect().await.expect("redis up");
        Some(support::dump_prefix(&mut conn, &self.prefix).await)
    }
}

async fn memory() -> Box<dyn Backend> {
    Box::new(Memory(std::sync::OnceLock::new()))
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
    let recent = two.recent(&general, 10).await.expect("recent").messages;
    assert_eq!(recent.iter().map(|m| &m.id).collect::<Vec<_>>(), ids.iter().collect::<Vec<_>>());
    let last_two = two.recent(&general, 2).await.expect("recent").messages;
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
    assert_eq!(broker.recent(&general, 10).await.expect("recent").messages.len(), 2);
}

async fn rooms_are_separate_and_announcements_are_not_stored(backend: Box<dyn Backend>) {
    let broker = backend.broker(5).await;
    let (a, b) = (room("a"), room("b"));
    let mut sub_a = broker.subscribe(&a).await.expect("subscribe");
    broker.append(&b, draft("alice", "1", "for b")).await.expect("append");
    broker.announce(&a, RoomEvent::Joined { user: "bob".into(), name: "Bob".into(), ts: 7 }).await.expect("announce");
    assert_eq!(next_event(&mut sub_a).await, RoomEvent::Joined { user: "bob".into(), name: "Bob".into(), ts: 7 });
    assert!(broker.recent(&a, 10).await.expect("recent").messages.is_empty());
    assert_eq!(broker.recent(&b, 10).await.expect("recent").messages.len(), 1);
}

async fn history_is_capped(backend: Box<dyn Backend>) {
    let broker = backend.broker(5).await;
    let general = room("general");
    for i in 0..300 {
        broker.append(&general, draft("alice", &i.to_string(), &i.to_string())).await.expect("append");
    }
    let kept = broker.recent(&general, 1000).await.expect("recent").messages;
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
    // A room the broker holds nothing of (never written, or its data was lost): nothing after
    // the id is known, and the catch-up says so (the message store, if any, answers instead).
    let empty_room = broker.since(&room("empty"), ids[0], 10).await.expect("since");
    let unknown = Some(protocol::Gap::unknown_after(ids[0]));
    assert_eq!(empty_room, switchboard::broker::Replay { gap: unknown, ..switchboard::broker::Replay::default() });
}

fn change(user: &str, client_id: &str, target: protocol::MessageId, op: ChangeOp) -> Change {
    Change { user: user.into(), client_id: client_id.into(), target, op }
}

async fn changes_are_authorized_applied_once_and_delivered_in_order(backend: Box<dyn Backend>) {
    let (one, two) = (backend.broker(50).await, backend.broker(50).await);
    let general = room("general");
    let target = one.append(&general, draft("alice", "m", "helo")).await.expect("append").id();
    let mut sub = two.subscribe(&general).await.expect("subscribe");
    let forged = one.revise(&general, change("bob", "x", target, ChangeOp::Edit("mine now".into()))).await;
    assert_eq!(forged.expect("revise"), Changed::NotAuthor);
    let forged = one.revise(&general, change("bob", "y", target, ChangeOp::Delete)).await;
    assert_eq!(forged.expect("revise"), Changed::NotAuthor);
    let Changed::Stored { id: edit, revision } =
        one.revise(&general, change("alice", "e1", target, ChangeOp::Edit("hello".into()))).await.expect("revise")
    else {
        panic!("edit not stored")
    };
    assert!(edit > target && revision.edited == edit.millis() && revision.text.as_deref() == Some("hello"));
    let again = one.revise(&general, change("alice", "e1", target, ChangeOp::Edit("hello".into()))).await;
    assert_eq!(again.expect("revise"), Changed::Duplicate(edit), "a retried change is applied once");
    for (user, cid, op) in [
        ("bob", "r1", ChangeOp::React("👍".into())),
        ("carol", "r2", ChangeOp::React("👍".into())),
        ("bob", "r3", ChangeOp::React("👍".into())),
        ("carol", "r4", ChangeOp::Unreact("👍".into())),
        ("carol", "r5", ChangeOp::React("🎉".into())),
    ] {
        assert!(matches!(one.revise(&general, change(user, cid, target, op)).await, Ok(Changed::Stored { .. })));
    }
    let mut seen = Vec::new();
    for _ in 0..6 {
        match next_event(&mut sub).await {
            RoomEvent::Revised { id, revision } => {
                assert_eq!(revision.target, target);
                seen.push(id);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]) && seen[0] == edit, "in the order they were stored");
    let now = two.recent(&general, 10).await.expect("recent");
    let message = &now.messages[0];
    assert_eq!((message.text.as_str(), message.edited), ("hello", edit.millis()));
    let reactions: Vec<(&str, Vec<&str>)> =
        message.reactions.iter().map(|(e, users)| (e.as_str(), users.iter().map(String::as_str).collect())).collect();
    assert_eq!(reactions, [("🎉", vec!["carol"]), ("👍", vec!["bob"])]);
    assert_eq!((now.revisions.len(), now.upto), (6, seen.last().copied()), "changes are entries of their own");
    let replay = two.since(&general, target, 10).await.expect("since");
    assert!(replay.messages.is_empty() && replay.revisions.iter().all(|(_, r)| r.text.as_deref() == Some("hello")));
    let states = two.revisions(&general, &[target, edit]).await.expect("revisions");
    assert_eq!(states.len(), 1, "only messages have a state, and only changed ones");
    let on_a_change = one.revise(&general, change("alice", "z", edit, ChangeOp::React("👍".into()))).await;
    assert_eq!(on_a_change.expect("revise"), Changed::NoSuchMessage, "a change is not a message");
}

async fn a_deleted_message_leaves_no_text_in_storage(backend: Box<dyn Backend>) {
    let broker = backend.broker(50).await;
    let general = room("general");
    let keep = broker.append(&general, draft("alice", "k", "kept words")).await.expect("append").id();
    let target = broker.append(&general, draft("alice", "m", "regrettable words")).await.expect("append").id();
    let edit = ChangeOp::Edit("still regrettable words".into());
    broker.revise(&general, change("alice", "e", target, edit)).await.expect("edit");
    broker.revise(&general, change("bob", "r", target, ChangeOp::React("😮".into()))).await.expect("react");
    let Changed::Stored { revision, .. } =
        broker.revise(&general, change("alice", "d", target, ChangeOp::Delete)).await.expect("delete")
    else {
        panic!("delete not stored")
    };
    assert!(revision.deleted && revision.text.is_none() && revision.reactions.is_empty());
    let recent = broker.recent(&general, 10).await.expect("recent");
    assert_eq!(recent.messages.iter().map(|m| m.id).collect::<Vec<_>>(), [keep], "the entry itself is gone");
    assert!(recent.revisions.iter().any(|(_, r)| r.target == target && r.deleted));
    let after = broker.revise(&general, change("alice", "e2", target, ChangeOp::Edit("back".into()))).await;
    assert_eq!(after.expect("revise"), Changed::NoSuchMessage);
    if let Some(stored) = backend.stored_text().await {
        assert!(stored.contains("kept words"), "the dump sees the data: {stored}");
        assert!(!stored.contains("regrettable"), "deleted text still stored: {stored}");
    }
}

async fn changes_are_trimmed_with_the_history(backend: Box<dyn Backend>) {
    let broker = backend.broker(5).await;
    let general = room("general");
    let first = broker.append(&general, draft("alice", "0", "first")).await.expect("append").id();
    broker.revise(&general, change("bob", "r", first, ChangeOp::React("👍".into()))).await.expect("react");
    for i in 1..40 {
        broker.append(&general, draft("alice", &i.to_string(), "filler")).await.expect("append");
    }
    assert!(broker.revisions(&general, &[first]).await.expect("revisions").is_empty(), "trimmed: forgotten");
    let late = broker.revise(&general, change("bob", "r2", first, ChangeOp::React("🎉".into()))).await;
    assert_eq!(late.expect("revise"), Changed::NoSuchMessage);
}

async fn a_fresh_join_counts_messages_not_changes(backend: Box<dyn Backend>) {
    let broker = backend.broker(500).await;
    let general = room("general");
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            broker.append(&general, draft("alice", &format!("m{i}"), &format!("m{i}"))).await.expect("append").id(),
        );
    }
    for (n, user) in ["bob", "carol", "dave"].into_iter().enumerate() {
        let react = change(user, &format!("r{n}"), ids[5], ChangeOp::React("👍".into()));
        broker.revise(&general, react).await.expect("react");
    }
    broker.revise(&general, change("alice", "e", ids[4], ChangeOp::Edit("m4!".into()))).await.expect("edit");
    let recent = broker.recent(&general, 3).await.expect("recent");
    let texts: Vec<&str> = recent.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["m3", "m4!", "m5"], "three messages, whatever the changes after them");
    assert_eq!(recent.messages[2].reactions["👍"].len(), 3);
    assert_eq!(recent.revisions.len(), 4);
    // However many changes pile up after the last message, a join still shows the messages.
    for n in 0..150 {
        let react =
            change("bob", &format!("x{n}"), ids[5], ChangeOp::React(if n % 2 == 0 { "🎉" } else { "😮" }.into()));
        broker.revise(&general, react).await.expect("react");
    }
    let recent = broker.recent(&general, 3).await.expect("recent");
    let texts: Vec<&str> = recent.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["m3", "m4!", "m5"]);
    assert_eq!(recent.messages[2].reactions.len(), 3, "👍, 🎉 and 😮");
}

contract_tests!([memory, redis, cluster]:
    a_fresh_join_counts_messages_not_changes,
    changes_are_authorized_applied_once_and_delivered_in_order,
    a_deleted_message_leaves_no_text_in_storage,
    changes_are_trimmed_with_the_history,
    appended_messages_are_delivered_and_kept_in_order,
    a_client_id_is_stored_once_per_user,
    rooms_are_separate_and_announcements_are_not_stored,
    history_is_capped,
    dropping_the_last_subscription_unsubscribes_and_resubscribing_works,
    since_replays_after_an_id_and_reports_what_was_trimmed,
);
