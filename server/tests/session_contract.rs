//! The session-store contract: [`SessionBackend`] in memory (tower-sessions'
//! `MemoryStore`) and in Redis passes one suite.

#[macro_use]
mod support;

use support::{PATIENCE, RedisServer, wait_until};
use switchboard::session::{RedisSessionStore, SessionBackend};
use time::{Duration, OffsetDateTime};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::SessionStore;

/// A session store under test, with the Redis server it needs kept alive.
struct Subject {
    store: SessionBackend,
    _redis: Option<RedisServer>,
}

async fn memory() -> Subject {
    Subject { store: SessionBackend::memory(), _redis: None }
}

async fn redis() -> Subject {
    let server = RedisServer::start().await;
    let conn = support::connect(&server.url()).await;
    Subject { store: SessionBackend::Redis(RedisSessionStore::new(conn, "test:")), _redis: Some(server) }
}

async fn cluster() -> Subject {
    let conn = support::connect(&support::shared_cluster().url()).await;
    Subject { store: SessionBackend::Redis(RedisSessionStore::new(conn, &support::unique_prefix())), _redis: None }
}

fn record(user: &str, ttl: Duration) -> Record {
    let mut data = std::collections::HashMap::new();
    data.insert("user".to_owned(), serde_json::json!(user));
    Record { id: Id::default(), data, expiry_date: OffsetDateTime::now_utc() + ttl }
}

async fn sessions_round_trip_and_delete(subject: Subject) {
    let store = subject.store;
    let mut rec = record("alice", Duration::hours(1));
    store.create(&mut rec).await.expect("create");
    let loaded = store.load(&rec.id).await.expect("load").expect("present");
    assert_eq!(loaded.data.get("user"), Some(&serde_json::json!("alice")));
    rec.data.insert("user".into(), serde_json::json!("alice2"));
    store.save(&rec).await.expect("save");
    let loaded = store.load(&rec.id).await.expect("load").expect("present");
    assert_eq!(loaded.data.get("user"), Some(&serde_json::json!("alice2")));
    store.delete(&rec.id).await.expect("delete");
    assert!(store.load(&rec.id).await.expect("load").is_none());
    assert!(store.load(&Id::default()).await.expect("load").is_none(), "unknown ids load as none");
}

async fn sessions_never_collide(subject: Subject) {
    let store = subject.store;
    let mut first = record("alice", Duration::hours(1));
    store.create(&mut first).await.expect("create");
    let mut second = record("mallory", Duration::hours(1));
    second.id = first.id;
    store.create(&mut second).await.expect("create");
    assert_ne!(first.id, second.id, "a colliding id is replaced, not overwritten");
    let loaded = store.load(&first.id).await.expect("load").expect("present");
    assert_eq!(loaded.data.get("user"), Some(&serde_json::json!("alice")));
}

async fn sessions_expire(subject: Subject) {
    let store = subject.store;
    let mut short = record("alice", Duration::seconds(1));
    store.create(&mut short).await.expect("create");
    let mut long = record("bob", Duration::hours(1));
    store.create(&mut long).await.expect("create");
    assert!(store.load(&short.id).await.expect("load").is_some(), "alive before its expiry");
    let created = std::time::Instant::now();
    wait_until(PATIENCE, "the short session expired", || async {
        store.load(&short.id).await.expect("load").is_none()
    })
    .await;
    assert!(created.elapsed() >= std::time::Duration::from_millis(400), "expired too early: {:?}", created.elapsed());
    assert!(store.load(&long.id).await.expect("load").is_some(), "the other session lives on");
}

async fn page_loads_are_counted_per_session(subject: Subject) {
    let store = subject.store;
    for expected in 1..=3 {
        assert_eq!(store.count_load("session-a").await.expect("count"), expected);
    }
    assert_eq!(store.count_load("session-b").await.expect("count"), 1, "counted per session");
}

contract_tests!([memory, redis, cluster]:
    sessions_round_trip_and_delete,
    sessions_never_collide,
    sessions_expire,
    page_loads_are_counted_per_session,
);

/// Redis-only: a save after logout cannot resurrect the session (`SET XX`). The memory store
/// (tower-sessions' `MemoryStore`) saves unconditionally.
mod redis_only {
    use super::*;

    #[tokio::test]
    async fn a_save_in_flight_during_logout_does_not_resurrect_the_session() {
        let subject = super::redis().await;
        let store = &subject.store;
        let mut rec = record("alice", Duration::hours(1));
        store.create(&mut rec).await.expect("create");
        store.delete(&rec.id).await.expect("logout");
        store.save(&rec).await.expect("late save from a slow request");
        assert!(store.load(&rec.id).await.expect("load").is_none());
    }
}
