//! The room-store contract: [`RoomStore`] in memory, on one Redis, on a cluster and in the
//! database (PostgreSQL, SQLite) passes one suite — private rooms created once, members added
//! only to rooms that exist, removed once, the public directory counted and ordered.

#[macro_use]
mod support;

use std::sync::Arc;

use protocol::{AccountKey, RoomName};
use support::RedisServer;
use switchboard::rooms::RoomStore;
use switchboard::rooms::memory::MemoryRooms;
use switchboard::rooms::redis::RedisRooms;

/// The store under test, with the Redis server it needs kept alive.
struct Stores {
    rooms: Arc<dyn RoomStore>,
    _redis: Option<RedisServer>,
    _db: Option<support::Database>,
}

async fn memory() -> Stores {
    Stores { rooms: Arc::new(MemoryRooms::default()), _redis: None, _db: None }
}

async fn redis() -> Stores {
    let server = RedisServer::start().await;
    let conn = support::connect(&server.url()).await;
    Stores { rooms: Arc::new(RedisRooms::new(conn, "test:")), _redis: Some(server), _db: None }
}

async fn cluster() -> Stores {
    let conn = support::connect(&support::shared_cluster().url()).await;
    Stores { rooms: Arc::new(RedisRooms::new(conn, &support::unique_prefix())), _redis: None, _db: None }
}

async fn postgres() -> Stores {
    let db = support::postgres_database().await;
    Stores { rooms: db.store.clone(), _redis: None, _db: Some(db) }
}

async fn sqlite() -> Stores {
    let db = support::sqlite_database().await;
    Stores { rooms: db.store.clone(), _redis: None, _db: Some(db) }
}

fn key(user: &str) -> AccountKey {
    AccountKey::of(user)
}

fn room(name: &str) -> RoomName {
    RoomName::parse(name).expect("a valid room name")
}

async fn private_rooms_are_created_once_with_their_creator(stores: Stores) {
    let rooms = stores.rooms;
    let team = room("~team~k3j9x2ab7q");
    assert_eq!(rooms.owner(&team).await.expect("owner"), None, "no such room yet");
    assert!(rooms.members(&team).await.expect("members").is_empty());
    assert!(rooms.create(&team, &key("alice")).await.expect("create"));
    assert!(!rooms.create(&team, &key("mallory")).await.expect("create"), "a second creation is refused");
    assert_eq!(rooms.owner(&team).await.expect("owner"), Some(key("alice")), "the first creator stays");
    assert_eq!(rooms.members(&team).await.expect("members"), ["alice"]);
    assert!(rooms.is_member(&team, &key("alice")).await.expect("member"));
    assert!(!rooms.is_member(&team, &key("mallory")).await.expect("member"));
}

async fn members_join_only_rooms_that_exist_and_leave_once(stores: Stores) {
    let rooms = stores.rooms;
    let (team, ghost) = (room("~team~k3j9x2ab7q"), room("~ghost~0000000000"));
    rooms.create(&team, &key("alice")).await.expect("create");
    assert!(!rooms.add_member(&ghost, &key("bob")).await.expect("add"), "no such room");
    assert!(!rooms.is_member(&ghost, &key("bob")).await.expect("member"));
    assert_eq!(rooms.owner(&ghost).await.expect("owner"), None, "adding made no room");
    assert!(rooms.add_member(&team, &key("bob")).await.expect("add"));
    assert!(rooms.add_member(&team, &key("carol")).await.expect("add"));
    assert_eq!(rooms.members(&team).await.expect("members"), ["alice", "bob", "carol"]);
    assert!(rooms.remove_member(&team, &key("bob")).await.expect("remove"));
    assert!(!rooms.remove_member(&team, &key("bob")).await.expect("remove"), "removed once");
    assert!(!rooms.is_member(&team, &key("bob")).await.expect("member"));
    assert_eq!(rooms.members(&team).await.expect("members"), ["alice", "carol"]);
}

async fn the_directory_counts_public_rooms_busiest_first(stores: Stores) {
    let rooms = stores.rooms;
    assert!(rooms.public_rooms(10).await.expect("directory").is_empty());
    for (name, holders) in [("general", 3), ("rust", 5), ("quiet", 1)] {
        for _ in 0..holders {
            rooms.count_public(&room(name), 1).await.expect("count");
        }
    }
    assert_eq!(rooms.public_rooms(10).await.expect("directory"), ["rust", "general", "quiet"]);
    assert_eq!(rooms.public_rooms(2).await.expect("directory"), ["rust", "general"]);
    assert!(rooms.public_rooms(0).await.expect("directory").is_empty());
    rooms.count_public(&room("quiet"), -1).await.expect("count");
    assert_eq!(rooms.public_rooms(10).await.expect("directory"), ["rust", "general"], "no one holds it: gone");
}

contract_tests!([memory, redis, cluster, postgres, sqlite]:
    private_rooms_are_created_once_with_their_creator,
    members_join_only_rooms_that_exist_and_leave_once,
    the_directory_counts_public_rooms_busiest_first,
);
