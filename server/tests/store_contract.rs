//! The session-store and account-store contracts, run on the memory and the
//! Redis implementations alike.

#[macro_use]
mod support;

use std::sync::Arc;

use support::RedisServer;
use switchboard::accounts::memory::MemoryAccounts;
use switchboard::accounts::redis::RedisAccounts;
use switchboard::accounts::{Account, AccountStore};
use switchboard::session::{RedisSessionStore, SessionBackend};
use time::{Duration, OffsetDateTime};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::SessionStore;

/// The stores under test, with the Redis server they need kept alive.
struct Stores {
    sessions: SessionBackend,
    accounts: Arc<dyn AccountStore>,
    _redis: Option<RedisServer>,
}

async fn memory() -> Stores {
    Stores { sessions: SessionBackend::memory(), accounts: Arc::new(MemoryAccounts::default()), _redis: None }
}

async fn redis() -> Stores {
    let server = RedisServer::start().await;
    let conn = ::redis::Client::open(server.url()).expect("url").get_connection_manager().await.expect("redis up");
    Stores {
        sessions: SessionBackend::Redis(RedisSessionStore::new(conn.clone(), "test:")),
        accounts: Arc::new(RedisAccounts::new(conn, "test:")),
        _redis: Some(server),
    }
}

fn record(user: &str, ttl: Duration) -> Record {
    let mut data = std::collections::HashMap::new();
    data.insert("user".to_owned(), serde_json::json!(user));
    Record { id: Id::default(), data, expiry_date: OffsetDateTime::now_utc() + ttl }
}

async fn sessions_round_trip_and_delete(stores: Stores) {
    let store = stores.sessions;
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

async fn sessions_never_collide(stores: Stores) {
    let store = stores.sessions;
    let mut first = record("alice", Duration::hours(1));
    store.create(&mut first).await.expect("create");
    let mut second = record("mallory", Duration::hours(1));
    second.id = first.id;
    store.create(&mut second).await.expect("create");
    assert_ne!(first.id, second.id, "a colliding id is replaced, not overwritten");
    let loaded = store.load(&first.id).await.expect("load").expect("present");
    assert_eq!(loaded.data.get("user"), Some(&serde_json::json!("alice")));
}

async fn accounts_are_created_once(stores: Stores) {
    let accounts = stores.accounts;
    let account = Account { display: "Alice".into(), password_hash: "$argon2id$x".into(), generation: 0 };
    assert!(accounts.create("alice", &account).await.expect("create"));
    let other = Account { display: "alice".into(), password_hash: "$argon2id$y".into(), generation: 0 };
    assert!(!accounts.create("alice", &other).await.expect("create"), "taken");
    assert_eq!(accounts.find("alice").await.expect("find"), Some(account));
    assert_eq!(accounts.find("bob").await.expect("find"), None);
}

async fn rooms_are_remembered_per_user(stores: Stores) {
    let accounts = stores.accounts;
    assert!(accounts.rooms("alice").await.expect("rooms").is_empty());
    for room in ["rust", "general", "rust"] {
        accounts.add_room("alice", room).await.expect("add");
    }
    accounts.add_room("bob", "other").await.expect("add");
    assert_eq!(accounts.rooms("alice").await.expect("rooms"), ["general", "rust"]);
    accounts.remove_room("alice", "rust").await.expect("remove");
    accounts.remove_room("alice", "never-joined").await.expect("remove");
    assert_eq!(accounts.rooms("alice").await.expect("rooms"), ["general"]);
}

contract_tests!(memory: sessions_round_trip_and_delete, sessions_never_collide, accounts_are_created_once, rooms_are_remembered_per_user);
contract_tests!(redis: sessions_round_trip_and_delete, sessions_never_collide, accounts_are_created_once, rooms_are_remembered_per_user);

/// Redis-only guarantees: expiry is enforced by Redis, and a save after logout cannot resurrect the session.
mod redis_only {
    use super::*;

    #[tokio::test]
    async fn a_save_in_flight_during_logout_does_not_resurrect_the_session() {
        let stores = super::redis().await;
        let store = &stores.sessions;
        let mut rec = record("alice", Duration::hours(1));
        store.create(&mut rec).await.expect("create");
        store.delete(&rec.id).await.expect("logout");
        store.save(&rec).await.expect("late save from a slow request");
        assert!(store.load(&rec.id).await.expect("load").is_none());
    }

    #[tokio::test]
    async fn sessions_expire_in_redis() {
        let stores = super::redis().await;
        let store = &stores.sessions;
        let mut rec = record("alice", Duration::seconds(1));
        store.create(&mut rec).await.expect("create");
        assert!(store.load(&rec.id).await.expect("load").is_some());
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        assert!(store.load(&rec.id).await.expect("load").is_none());
    }
}
