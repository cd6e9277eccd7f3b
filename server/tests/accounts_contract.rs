//! The account-store contract: [`AccountStore`] in memory, in Redis and in the database
//! (PostgreSQL, SQLite) passes one suite — creation, case-insensitive name claims and their
//! release on rename, generations, room lists, trusted devices.

#[macro_use]
mod support;

use std::sync::Arc;

use protocol::MessageId;
use support::{PATIENCE, RedisServer, wait_until};
use switchboard::accounts::memory::MemoryAccounts;
use switchboard::accounts::redis::RedisAccounts;
use switchboard::accounts::{Account, AccountKey, AccountStore, Rename, RoomAdd};

/// The store under test, with the Redis server it needs kept alive.
struct Stores {
    accounts: Arc<dyn AccountStore>,
    _redis: Option<RedisServer>,
    _db: Option<support::Database>,
}

async fn memory() -> Stores {
    Stores { accounts: Arc::new(MemoryAccounts::default()), _redis: None, _db: None }
}

async fn redis() -> Stores {
    let server = RedisServer::start().await;
    let conn = support::connect(&server.url()).await;
    Stores { accounts: Arc::new(RedisAccounts::new(conn, "test:")), _redis: Some(server), _db: None }
}

async fn cluster() -> Stores {
    let conn = support::connect(&support::shared_cluster().url()).await;
    Stores { accounts: Arc::new(RedisAccounts::new(conn, &support::unique_prefix())), _redis: None, _db: None }
}

async fn postgres() -> Stores {
    let db = support::postgres_database().await;
    Stores { accounts: db.store.clone(), _redis: None, _db: Some(db) }
}

async fn sqlite() -> Stores {
    let db = support::sqlite_database().await;
    Stores { accounts: db.store.clone(), _redis: None, _db: Some(db) }
}

fn key(user: &str) -> AccountKey {
    AccountKey::of(user)
}

fn account(name: &str) -> Account {
    Account { name: name.into(), display: name.into(), password_hash: format!("$argon2id${name}"), generation: 0 }
}

async fn accounts_are_created_once(stores: Stores) {
    let accounts = stores.accounts;
    let account =
        Account { name: "Alice".into(), display: "Alice".into(), password_hash: "$argon2id$x".into(), generation: 0 };
    assert!(accounts.create(&key("alice"), &account).await.expect("create"));
    let other =
        Account { name: "alice".into(), display: "alice".into(), password_hash: "$argon2id$y".into(), generation: 0 };
    assert!(!accounts.create(&key("alice"), &other).await.expect("create"), "taken");
    assert_eq!(accounts.find(&key("alice")).await.expect("find"), Some(account));
    assert_eq!(accounts.find(&key("bob")).await.expect("find"), None);
    let keys = [key("alice"), key("bob"), key("alice")];
    assert_eq!(accounts.displays(&keys).await.expect("displays"), [Some("Alice".into()), None, Some("Alice".into())]);
    assert!(accounts.displays(&[]).await.expect("displays").is_empty());
}

async fn rooms_are_remembered_per_user(stores: Stores) {
    let accounts = stores.accounts;
    assert!(accounts.rooms(&key("alice")).await.expect("rooms").is_empty());
    let mut outcomes = Vec::new();
    for room in ["rust", "general", "rust"] {
        outcomes.push(accounts.add_room(&key("alice"), room, 10).await.expect("add"));
    }
    assert_eq!(outcomes, [RoomAdd::Added, RoomAdd::Added, RoomAdd::Present]);
    assert_eq!(accounts.add_room(&key("bob"), "other", 10).await.expect("add"), RoomAdd::Added);
    assert_eq!(accounts.rooms(&key("alice")).await.expect("rooms"), ["general", "rust"]);
    assert!(accounts.remove_room(&key("alice"), "rust").await.expect("remove"));
    assert!(!accounts.remove_room(&key("alice"), "never-joined").await.expect("remove"), "was not on the list");
    assert_eq!(accounts.rooms(&key("alice")).await.expect("rooms"), ["general"]);
}

async fn room_lists_are_capped(stores: Stores) {
    let accounts = stores.accounts;
    for room in ["a", "b", "c"] {
        assert_eq!(accounts.add_room(&key("alice"), room, 3).await.expect("add"), RoomAdd::Added, "{room} fits");
    }
    assert_eq!(accounts.add_room(&key("alice"), "d", 3).await.expect("add"), RoomAdd::Full, "a fourth is refused");
    let again = accounts.add_room(&key("alice"), "b", 3).await.expect("add");
    assert_eq!(again, RoomAdd::Present, "a room already on the list is fine");
    assert_eq!(accounts.rooms(&key("alice")).await.expect("rooms"), ["a", "b", "c"]);
    accounts.remove_room(&key("alice"), "a").await.expect("remove");
    assert_eq!(accounts.add_room(&key("alice"), "d", 3).await.expect("add"), RoomAdd::Added, "room after a leave");
    assert_eq!(accounts.add_room(&key("bob"), "a", 3).await.expect("add"), RoomAdd::Added, "the cap is per user");
}

async fn blocks_are_per_user_and_one_way(stores: Stores) {
    let accounts = stores.accounts;
    assert!(accounts.blocked(&key("alice")).await.expect("blocked").is_empty());
    accounts.set_blocked(&key("alice"), &key("mallory"), true).await.expect("block");
    accounts.set_blocked(&key("alice"), &key("eve"), true).await.expect("block");
    accounts.set_blocked(&key("alice"), &key("eve"), true).await.expect("block twice");
    assert_eq!(accounts.blocked(&key("alice")).await.expect("blocked"), ["eve", "mallory"]);
    assert!(accounts.blocks(&key("alice"), &key("mallory")).await.expect("blocks"));
    assert!(!accounts.blocks(&key("mallory"), &key("alice")).await.expect("blocks"), "one way");
    assert!(!accounts.blocks(&key("bob"), &key("mallory")).await.expect("blocks"), "per user");
    accounts.set_blocked(&key("alice"), &key("mallory"), false).await.expect("unblock");
    assert!(!accounts.blocks(&key("alice"), &key("mallory")).await.expect("blocks"));
    assert_eq!(accounts.blocked(&key("alice")).await.expect("blocked"), ["eve"]);
}

async fn read_positions_only_move_forwards(stores: Stores) {
    let accounts = stores.accounts;
    let id = |text: &str| text.parse::<MessageId>().expect("a valid id");
    assert!(accounts.read_positions(&key("alice")).await.expect("positions").is_empty());
    assert_eq!(accounts.mark_read(&key("alice"), "r", id("100-5")).await.expect("mark"), id("100-5"));
    assert_eq!(accounts.mark_read(&key("alice"), "r", id("99-9")).await.expect("mark"), id("100-5"), "not back");
    assert_eq!(accounts.mark_read(&key("alice"), "r", id("100-4")).await.expect("mark"), id("100-5"), "by seq");
    assert_eq!(accounts.mark_read(&key("alice"), "r", id("100-10")).await.expect("mark"), id("100-10"), "10 > 5");
    accounts.mark_read(&key("alice"), "s", id("7-0")).await.expect("mark");
    accounts.mark_read(&key("bob"), "r", id("1-0")).await.expect("mark");
    let positions = accounts.read_positions(&key("alice")).await.expect("positions");
    assert_eq!(positions, [("r".to_owned(), id("100-10")), ("s".to_owned(), id("7-0"))]);
    // Two devices racing: whatever the order, the position ends at the furthest.
    let marks = (0..40u64).map(|n| {
        let accounts = accounts.clone();
        async move { accounts.mark_read(&key("carol"), "r", MessageId::new(1000 + (n * 7919) % 40, n % 3)).await }
    });
    for result in futures::future::join_all(marks).await {
        result.expect("mark");
    }
    let furthest = (0..40u64).map(|n| MessageId::new(1000 + (n * 7919) % 40, n % 3)).max();
    assert_eq!(accounts.read_positions(&key("carol")).await.expect("positions").first().map(|(_, id)| *id), furthest);
}

async fn devices_are_trusted_per_user_and_generation(stores: Stores) {
    let accounts = stores.accounts;
    let token = "0123456789abcdef0123456789abcdef";
    assert_eq!(accounts.device(token).await.expect("device"), None);
    accounts.trust_device(token, &key("alice"), 3, std::time::Duration::from_secs(60)).await.expect("trust");
    assert_eq!(accounts.device(token).await.expect("device"), Some((key("alice"), 3)));
    accounts.trust_device(token, &key("alice"), 4, std::time::Duration::from_secs(1)).await.expect("trust again");
    assert_eq!(accounts.device(token).await.expect("device"), Some((key("alice"), 4)), "renewed");
    let renewed = std::time::Instant::now();
    wait_until(PATIENCE, "the device trust expired", || async {
        accounts.device(token).await.expect("device").is_none()
    })
    .await;
    assert!(renewed.elapsed() >= std::time::Duration::from_millis(500), "expired early: {:?}", renewed.elapsed());
}

async fn names_are_claimed_case_insensitively(stores: Stores) {
    let accounts = stores.accounts;
    assert!(accounts.create(&key("alice"), &account("Alice")).await.expect("create"));
    assert!(accounts.create(&key("bob"), &account("bob")).await.expect("create"));
    for taken in ["alice", "ALICE", "Alice"] {
        assert_eq!(accounts.rename(&key("bob"), taken).await.expect("rename"), Rename::Taken, "{taken} is alice's");
    }
    assert_eq!(accounts.rename(&key("alice"), "Queen").await.expect("rename"), Rename::Done("Alice".into()));
    for taken in ["queen", "QUEEN"] {
        assert_eq!(
            accounts.rename(&key("bob"), taken).await.expect("rename"),
            Rename::Taken,
            "a display name is claimed"
        );
    }
    assert!(!accounts.create(&key("queen"), &account("queen")).await.expect("create"), "nor can it be registered");
    assert_eq!(accounts.rename(&key("bob"), "alice").await.expect("rename"), Rename::Taken, "the user name stays hers");
    assert_eq!(accounts.rename(&key("nobody"), "Zed").await.expect("rename"), Rename::Unknown);
    assert_eq!(accounts.find(&key("bob")).await.expect("find").map(|a| a.display), Some("bob".into()), "unchanged");
}

async fn a_rename_releases_the_old_display_name(stores: Stores) {
    let accounts = stores.accounts;
    assert!(accounts.create(&key("alice"), &account("alice")).await.expect("create"));
    assert!(accounts.create(&key("bob"), &account("bob")).await.expect("create"));
    assert_eq!(accounts.rename(&key("alice"), "Queen").await.expect("rename"), Rename::Done("alice".into()));
    assert_eq!(
        accounts.rename(&key("alice"), "QUEEN").await.expect("rename"),
        Rename::Done("Queen".into()),
        "own name"
    );
    assert_eq!(accounts.rename(&key("alice"), "Wonder").await.expect("rename"), Rename::Done("QUEEN".into()));
    assert_eq!(accounts.rename(&key("bob"), "queen").await.expect("rename"), Rename::Done("bob".into()), "released");
    assert_eq!(accounts.rename(&key("alice"), "Queen").await.expect("rename"), Rename::Taken, "now bob's");
    assert_eq!(accounts.rename(&key("alice"), "alice").await.expect("rename"), Rename::Done("Wonder".into()), "back");
    assert_eq!(accounts.rename(&key("bob"), "wonder").await.expect("rename"), Rename::Done("queen".into()));
    assert!(
        accounts.create(&key("queen"), &account("queen")).await.expect("create"),
        "released names can be registered"
    );
    let keys = [key("alice"), key("bob"), key("queen")];
    let displays = accounts.displays(&keys).await.expect("displays");
    assert_eq!(displays, [Some("alice".into()), Some("wonder".into()), Some("queen".into())]);
}

async fn generations_count_up_per_user(stores: Stores) {
    let accounts = stores.accounts;
    assert!(accounts.create(&key("alice"), &account("alice")).await.expect("create"));
    assert!(accounts.create(&key("bob"), &account("bob")).await.expect("create"));
    assert_eq!(accounts.bump_generation(&key("alice")).await.expect("bump"), 1);
    assert_eq!(accounts.bump_generation(&key("alice")).await.expect("bump"), 2);
    let alice = accounts.find(&key("alice")).await.expect("find").expect("alice");
    assert_eq!((alice.generation, alice.password_hash.as_str()), (2, "$argon2id$alice"), "the rest is kept");
    assert_eq!(accounts.find(&key("bob")).await.expect("find").map(|a| a.generation), Some(0), "per user");
    assert_eq!(accounts.rename(&key("alice"), "Wonder").await.expect("rename"), Rename::Done("alice".into()));
    assert_eq!(accounts.find(&key("alice")).await.expect("find").map(|a| a.generation), Some(2), "a rename keeps it");
    // An unknown account has nothing to bump, and bumping it leaves nothing behind.
    assert_eq!(accounts.bump_generation(&key("nobody")).await.expect("bump"), 0);
    assert_eq!(accounts.find(&key("nobody")).await.expect("find"), None);
    assert!(accounts.create(&key("nobody"), &account("nobody")).await.expect("create"), "the name is still free");
}

async fn devices_are_independent(stores: Stores) {
    let accounts = stores.accounts;
    let (one, two) = ("0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210");
    accounts.trust_device(one, &key("alice"), 1, std::time::Duration::from_secs(60)).await.expect("trust");
    accounts.trust_device(two, &key("bob"), 5, std::time::Duration::from_secs(60)).await.expect("trust");
    assert_eq!(accounts.device(one).await.expect("device"), Some((key("alice"), 1)));
    assert_eq!(accounts.device(two).await.expect("device"), Some((key("bob"), 5)));
}

contract_tests!([memory, redis, cluster, postgres, sqlite]:
    accounts_are_created_once,
    names_are_claimed_case_insensitively,
    a_rename_releases_the_old_display_name,
    generations_count_up_per_user,
    rooms_are_remembered_per_user,
    room_lists_are_capped,
    blocks_are_per_user_and_one_way,
    read_positions_only_move_forwards,
    devices_are_trusted_per_user_and_generation,
    devices_are_independent,
);
