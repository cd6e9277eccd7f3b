//! The presence contract: [`Presence`] in memory and in Redis passes one suite —
//! socket counting across instances, member ordering, leases, reaping the entries
//! of an instance whose lease expired (once), and restoring them after an outage.

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Duration;

use protocol::RoomName;
use support::{PATIENCE, RedisServer};
use switchboard::presence::memory::MemoryPresence;
use switchboard::presence::redis::RedisPresence;
use switchboard::presence::{Departed, Presence};

/// Presence under test, with the Redis server it needs kept alive.
struct Subject {
    presence: Arc<dyn Presence>,
    _redis: Option<RedisServer>,
}

async fn memory() -> Subject {
    Subject { presence: Arc::new(MemoryPresence::default()), _redis: None }
}

async fn redis() -> Subject {
    let server = RedisServer::start().await;
    let conn = support::connect(&server.url()).await;
    Subject { presence: Arc::new(RedisPresence::new(conn, "test:")), _redis: Some(server) }
}

async fn cluster() -> Subject {
    let conn = support::connect(&support::shared_cluster().url()).await;
    Subject { presence: Arc::new(RedisPresence::new(conn, &support::unique_prefix())), _redis: None }
}

fn room(name: &str) -> RoomName {
    RoomName::parse(name).expect("valid")
}

/// Who left where, sorted (backends report departures in no particular order).
fn sorted(mut departed: Vec<Departed>) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = departed.drain(..).map(|d| (d.room.to_string(), d.user)).collect();
    pairs.sort();
    pairs
}

/// Reaps until something is reaped (the lease of some instance must expire first); returns it.
async fn reap_when_expired(presence: &dyn Presence) -> Vec<(String, String)> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let gone = presence.reap().await.expect("reap");
        if !gone.is_empty() {
            return sorted(gone);
        }
        assert!(tokio::time::Instant::now() < deadline, "nothing was reaped within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn sockets_are_counted_per_user_across_instances(subject: Subject) {
    let presence = subject.presence;
    let general = room("general");
    assert!(presence.enter(&general, "alice", "app-1").await.expect("enter"), "first socket joins");
    assert!(!presence.enter(&general, "alice", "app-2").await.expect("enter"), "a second socket is no join");
    assert!(!presence.enter(&general, "alice", "app-2").await.expect("enter"), "nor a third");
    assert!(presence.enter(&general, "bob", "app-1").await.expect("enter"));
    assert_eq!(presence.members(&general).await.expect("members"), ["alice", "bob"]);
    assert!(!presence.exit(&general, "alice", "app-1").await.expect("exit"), "still there through app-2");
    assert!(!presence.exit(&general, "alice", "app-2").await.expect("exit"), "one socket left on app-2");
    assert!(!presence.exit(&general, "alice", "app-3").await.expect("exit"), "an exit from elsewhere is no leave");
    assert!(presence.exit(&general, "alice", "app-2").await.expect("exit"), "last socket leaves");
    assert!(!presence.exit(&general, "alice", "app-2").await.expect("exit"), "an extra exit is harmless");
    assert_eq!(presence.members(&general).await.expect("members"), ["bob"]);
    assert!(presence.enter(&general, "alice", "app-1").await.expect("enter"), "back after leaving is a join");
}

async fn members_are_sorted_unique_and_per_room(subject: Subject) {
    let presence = subject.presence;
    let (general, rust) = (room("general"), room("rust"));
    for (user, instance) in [("carol", "app-2"), ("alice", "app-1"), ("bob", "app-3"), ("alice", "app-2")] {
        presence.enter(&general, user, instance).await.expect("enter");
    }
    presence.enter(&rust, "dave", "app-1").await.expect("enter");
    assert_eq!(presence.members(&general).await.expect("members"), ["alice", "bob", "carol"]);
    assert_eq!(presence.members(&rust).await.expect("members"), ["dave"]);
    assert!(presence.members(&room("empty")).await.expect("members").is_empty());
}

async fn a_lease_reports_whether_it_had_lapsed(subject: Subject) {
    let presence = subject.presence;
    assert!(!presence.renew("app-1", Duration::from_secs(60)).await.expect("renew"), "no lease before");
    assert!(presence.renew("app-1", Duration::from_millis(150)).await.expect("renew"), "a live lease");
    // Observe the expiry through the reaper: the instance's entry goes when its lease does.
    presence.enter(&room("general"), "alice", "app-1").await.expect("enter");
    assert_eq!(reap_when_expired(presence.as_ref()).await, [("general".into(), "alice".into())]);
    assert!(!presence.renew("app-1", Duration::from_secs(60)).await.expect("renew"), "the lease had lapsed");
    assert!(presence.renew("app-1", Duration::from_secs(60)).await.expect("renew"), "renewed again");
}

async fn an_instance_whose_lease_expired_is_reaped_once(subject: Subject) {
    let presence = subject.presence;
    let (general, rust) = (room("general"), room("rust"));
    presence.renew("alive", Duration::from_secs(60)).await.expect("renew");
    presence.renew("dying", Duration::from_millis(150)).await.expect("renew");
    presence.enter(&general, "alice", "alive").await.expect("enter");
    presence.enter(&general, "alice", "dying").await.expect("enter");
    presence.enter(&general, "bob", "dying").await.expect("enter");
    presence.enter(&rust, "bob", "dying").await.expect("enter");
    presence.enter(&rust, "carol", "alive").await.expect("enter");
    let gone = reap_when_expired(presence.as_ref()).await;
    assert_eq!(gone, [("general".into(), "bob".into()), ("rust".into(), "bob".into())], "alice is still on 'alive'");
    assert!(presence.reap().await.expect("reap").is_empty(), "reaped once");
    assert_eq!(presence.members(&general).await.expect("members"), ["alice"]);
    assert_eq!(presence.members(&rust).await.expect("members"), ["carol"]);
    assert!(!presence.exit(&general, "bob", "dying").await.expect("exit"), "a reaped entry is gone");
}

async fn entries_without_a_lease_are_reaped_and_live_ones_are_kept(subject: Subject) {
    let presence = subject.presence;
    let general = room("general");
    presence.renew("app-1", Duration::from_secs(60)).await.expect("renew");
    presence.enter(&general, "alice", "app-1").await.expect("enter");
    assert!(presence.reap().await.expect("reap").is_empty(), "a live lease is never reaped");
    presence.enter(&general, "bob", "never-renewed").await.expect("enter");
    assert_eq!(sorted(presence.reap().await.expect("reap")), [("general".into(), "bob".into())]);
    assert_eq!(presence.members(&general).await.expect("members"), ["alice"]);
}

async fn an_instance_restores_its_entries_after_an_outage(subject: Subject) {
    let presence = subject.presence;
    let general = room("general");
    presence.renew("app-1", Duration::from_millis(150)).await.expect("renew");
    presence.enter(&general, "alice", "app-1").await.expect("enter");
    presence.enter(&general, "alice", "app-1").await.expect("enter");
    presence.renew("app-2", Duration::from_secs(60)).await.expect("renew");
    presence.enter(&general, "bob", "app-2").await.expect("enter");
    // The outage: app-1's lease lapsed and another instance reaped its entries.
    assert_eq!(reap_when_expired(presence.as_ref()).await, [("general".into(), "alice".into())]);
    assert!(!presence.renew("app-1", Duration::from_secs(60)).await.expect("renew"), "app-1 sees the lapse");
    assert!(presence.restore(&general, "alice", "app-1", 2).await.expect("restore"), "alice is back");
    assert!(!presence.restore(&general, "alice", "app-1", 2).await.expect("restore"), "idempotent");
    assert!(!presence.restore(&general, "bob", "app-1", 1).await.expect("restore"), "bob was present via app-2");
    assert_eq!(presence.members(&general).await.expect("members"), ["alice", "bob"]);
    assert!(presence.reap().await.expect("reap").is_empty(), "restored under a live lease");
    // Restored with two sockets, not double-counted: the second exit is the leave.
    assert!(!presence.exit(&general, "alice", "app-1").await.expect("exit"));
    assert!(presence.exit(&general, "alice", "app-1").await.expect("exit"), "two sockets, two exits");
    assert!(!presence.exit(&general, "bob", "app-1").await.expect("exit"), "bob stays through app-2");
    assert!(presence.exit(&general, "bob", "app-2").await.expect("exit"));
}

async fn two_reapers_report_each_departure_once(subject: Subject) {
    let presence = subject.presence;
    let general = room("general");
    presence.renew("dying", Duration::from_millis(150)).await.expect("renew");
    for user in ["alice", "bob", "carol"] {
        presence.enter(&general, user, "dying").await.expect("enter");
    }
    // A lease's TTL is exact on both backends (Redis checks a key's expiry on access).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (one, two) = tokio::join!(presence.reap(), presence.reap());
    let mut all = sorted(one.expect("reap"));
    all.extend(sorted(two.expect("reap")));
    all.sort();
    let expected: Vec<(String, String)> =
        ["alice", "bob", "carol"].iter().map(|user| ("general".to_owned(), (*user).to_owned())).collect();
    assert_eq!(all, expected, "every user reported gone exactly once");
}

contract_tests!([memory, redis, cluster]:
    sockets_are_counted_per_user_across_instances,
    members_are_sorted_unique_and_per_room,
    a_lease_reports_whether_it_had_lapsed,
    an_instance_whose_lease_expired_is_reaped_once,
    entries_without_a_lease_are_reaped_and_live_ones_are_kept,
    an_instance_restores_its_entries_after_an_outage,
    two_reapers_report_each_departure_once,
);
