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
    let account =
        Account { name: "Alice".into(), display: "Alice".into(), password_hash: "$argon2id$x".into(), generation: 0 };
    assert!(accounts.create("alice", &account).await.expect("create"));
    let other =
        Account { name: "alice".into(), display: "alice".into(), password_hash: "$argon2id$y".into(), generation: 0 };
    assert!(!accounts.create("alice", &other).await.expect("create"), "taken");
    assert_eq!(accounts.find("alice").await.expect("find"), Some(account));
    assert_eq!(accounts.find("bob").await.expect("find"), None);
    let keys = ["alice".to_owned(), "bob".to_owned(), "alice".to_owned()];
    assert_eq!(accounts.displays(&keys).await.expect("displays"), [Some("Alice".into()), None, Some("Alice".into())]);
    assert!(accounts.displays(&[]).await.expect("displays").is_empty());
}

async fn rooms_are_remembered_per_user(stores: Stores) {
    let accounts = stores.accounts;
    assert!(accounts.rooms("alice").await.expect("rooms").is_empty());
    for room in ["rust", "general", "rust"] {
        assert!(accounts.add_room("alice", room, 10).await.expect("add"));
    }
    assert!(accounts.add_room("bob", "other", 10).await.expect("add"));
    assert_eq!(accounts.rooms("alice").await.expect("rooms"), ["general", "rust"]);
    accounts.remove_room("alice", "rust").await.expect("remove");
    accounts.remove_room("alice", "never-joined").await.expect("remove");
    assert_eq!(accounts.rooms("alice").await.expect("rooms"), ["general"]);
}

async fn room_lists_are_capped(stores: Stores) {
    let accounts = stores.accounts;
    for room in ["a", "b", "c"] {
        assert!(accounts.add_room("alice", room, 3).await.expect("add"), "{room} fits");
    }
    assert!(!accounts.add_room("alice", "d", 3).await.expect("add"), "a fourth room is refused");
    assert!(accounts.add_room("alice", "b", 3).await.expect("add"), "a room already on the list is fine");
    assert_eq!(accounts.rooms("alice").await.expect("rooms"), ["a", "b", "c"]);
    accounts.remove_room("alice", "a").await.expect("remove");
    assert!(accounts.add_room("alice", "d", 3).await.expect("add"), "room again after a leave");
    assert!(accounts.add_room("bob", "a", 3).await.expect("add"), "the cap is per user");
}

async fn devices_are_trusted_per_user_and_generation(stores: Stores) {
    let accounts = stores.accounts;
    let token = "0123456789abcdef0123456789abcdef";
    assert_eq!(accounts.device(token).await.expect("device"), None);
    accounts.trust_device(token, "alice", 3, std::time::Duration::from_secs(60)).await.expect("trust");
    assert_eq!(accounts.device(token).await.expect("device"), Some(("alice".into(), 3)));
    accounts.trust_device(token, "alice", 4, std::time::Duration::from_secs(1)).await.expect("trust again");
    assert_eq!(accounts.device(token).await.expect("device"), Some(("alice".into(), 4)), "renewed");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(accounts.device(token).await.expect("device"), None, "trust expires");
}

contract_tests!(memory: sessions_round_trip_and_delete, sessions_never_collide, accounts_are_created_once,
    rooms_are_remembered_per_user, room_lists_are_capped, devices_are_trusted_per_user_and_generation);
contract_tests!(redis: sessions_round_trip_and_delete, sessions_never_collide, accounts_are_created_once,
    rooms_are_remembered_per_user, room_lists_are_capped, devices_are_trusted_per_user_and_generation);

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
