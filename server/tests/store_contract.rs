//! The message-store contract: the store on PostgreSQL (a real server the harness starts)
//! and on SQLite (a file in a temporary directory) passes the same suite, written once.

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Duration;

use protocol::{ChatMessage, MessageId, Revision, RoomName};
use switchboard::store::sql::SqlStore;
use switchboard::store::{MessageStore, Retention, SearchTerms, StoreError};

/// A database for one test: its URL, and whatever keeps it alive.
struct Db {
    url: String,
    _dir: Option<TempDir>,
}

impl Db {
    async fn open(&self) -> Arc<dyn MessageStore> {
        Arc::new(SqlStore::open(&self.url).await.expect("store opens"))
    }
}

/// A directory removed on drop.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn sqlite() -> Db {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("switchboard-store-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.join("history.sqlite3").display());
    Db { url, _dir: Some(TempDir(dir)) }
}

async fn postgres() -> Db {
    Db { url: support::shared_postgres().fresh_database().await, _dir: None }
}

fn room(name: &str) -> RoomName {
    RoomName::parse(name).expect("room name")
}

fn message(room: &str, ms: u64, text: &str) -> ChatMessage {
    ChatMessage {
        room: room.to_owned(),
        id: MessageId::new(ms, 0),
        user: "alice".into(),
        name: "Alice".into(),
        text: text.to_owned(),
        ts: ms,
        client_id: Some(format!("c{ms}")),
        ..ChatMessage::default()
    }
}

async fn fill(store: &dyn MessageStore, room: &str, count: u64) -> Vec<MessageId> {
    let mut ids = Vec::new();
    for i in 1..=count {
        let m = message(room, 1_000 + i, &format!("message number {i}"));
        store.record(m.clone()).await.expect("recorded");
        ids.push(m.id);
    }
    ids
}

async fn pages_back_to_the_first_message(db: Db) {
    let store = db.open().await;
    let ids = fill(&*store, "general", 120).await;
    fill(&*store, "other", 5).await;
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store.older(&room("general"), before, 50).await.expect("page");
        assert!(page.messages.windows(2).all(|w| w[0].id < w[1].id), "each page oldest first");
        assert!(page.messages.iter().all(|m| m.room == "general"));
        before = page.messages.first().map(|m| m.id);
        let mut page_ids: Vec<MessageId> = page.messages.iter().map(|m| m.id).collect();
        page_ids.extend(seen);
        seen = page_ids;
        if page.complete {
            break;
        }
    }
    assert_eq!(seen, ids, "every message once, in order, down to the first");
    let first = store.older(&room("general"), Some(ids[0]), 50).await.expect("before the first");
    assert!(first.messages.is_empty() && first.complete);
    let newest = store.newer(&room("general"), ids[9], 5).await.expect("newer");
    assert_eq!(newest.iter().map(|m| m.id).collect::<Vec<_>>(), ids[10..15]);
}

async fn recording_twice_changes_nothing(db: Db) {
    let store = db.open().await;
    let m = message("general", 2_000, "helo");
    store.record(m.clone()).await.expect("recorded");
    let edited = Revision {
        target: m.id,
        user: "alice".into(),
        text: Some("hello".into()),
        edited: 2_001,
        ..Revision::default()
    };
    store.revise(&room("general"), MessageId::new(2_001, 0), &edited).await.expect("revised");
    store.record(m.clone()).await.expect("a retried record");
    let stale = Revision { text: Some("stale".into()), ..edited.clone() };
    store.revise(&room("general"), MessageId::new(2_000, 5), &stale).await.expect("an older change");
    let page = store.older(&room("general"), None, 10).await.expect("page");
    assert_eq!(page.messages.len(), 1);
    assert_eq!((page.messages[0].text.as_str(), page.messages[0].edited), ("hello", 2_001));
}

async fn catch_up_brings_changes_to_older_messages(db: Db) {
    let store = db.open().await;
    let ids = fill(&*store, "general", 5).await;
    let mut reacted = Revision { target: ids[1], user: "alice".into(), ..Revision::default() };
    reacted.reactions.insert("👍".into(), vec!["bob".into()]);
    let at = MessageId::new(1_010, 0);
    store.revise(&room("general"), at, &reacted).await.expect("revised");
    let caught = store.catch_up(&room("general"), ids[4], 100).await.expect("catch up");
    assert!(caught.messages.is_empty() && caught.gap.is_none());
    assert_eq!(caught.revisions.len(), 1);
    assert_eq!(caught.revisions[0].0, at);
    assert_eq!(caught.revisions[0].1.reactions, reacted.reactions);
    let later = store.catch_up(&room("general"), at, 100).await.expect("after the change");
    assert!(later.revisions.is_empty(), "a change the client has seen is not sent again");
    let from_start = store.catch_up(&room("general"), MessageId::new(0, 0), 100).await.expect("all");
    assert_eq!(from_start.messages.len(), 5);
    assert_eq!(from_start.messages[1].reactions, reacted.reactions, "messages come as they are now");
}

async fn a_long_absence_gets_the_newest_and_an_explicit_gap(db: Db) {
    let store = db.open().await;
    let ids = fill(&*store, "general", 30).await;
    let caught = store.catch_up(&room("general"), ids[0], 10).await.expect("catch up");
    assert_eq!(caught.messages.iter().map(|m| m.id).collect::<Vec<_>>(), ids[20..]);
    let gap = caught.gap.expect("what is not replayed is named");
    assert_eq!(gap.after, ids[0]);
    assert!(gap.until < ids[20] && gap.until >= ids[19]);
}

async fn deletion_leaves_a_tombstone_and_nothing_searchable(db: Db) {
    let store = db.open().await;
    let m = message("general", 3_000, "the secret launch codes");
    store.record(m.clone()).await.expect("recorded");
    let terms = SearchTerms::parse("launch").expect("terms");
    assert_eq!(store.search(&[room("general")], &terms, 10).await.expect("search").len(), 1);
    let deleted = Revision { target: m.id, user: "alice".into(), deleted: true, ..Revision::default() };
    store.revise(&room("general"), MessageId::new(3_001, 0), &deleted).await.expect("deleted");
    let page = store.older(&room("general"), None, 10).await.expect("page");
    assert!(page.messages[0].deleted && page.messages[0].text.is_empty(), "a tombstone, no text");
    assert!(store.search(&[room("general")], &terms, 10).await.expect("search").is_empty());
}

async fn search_covers_only_the_given_rooms(db: Db) {
    let store = db.open().await;
    store.record(message("general", 4_001, "Deploying on Friday, brave")).await.expect("recorded");
    store.record(message("general", 4_002, "lunch?")).await.expect("recorded");
    store.record(message("general", 4_003, "the deploy went fine")).await.expect("recorded");
    store.record(message("secret", 4_004, "deploy the secret thing")).await.expect("recorded");
    let terms = SearchTerms::parse("DEPLOY").expect("terms");
    let found = store.search(&[room("general")], &terms, 10).await.expect("search");
    let texts: Vec<&str> = found.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["the deploy went fine", "Deploying on Friday, brave"], "prefixes, newest first");
    let both = SearchTerms::parse("deploy friday").expect("terms");
    assert_eq!(store.search(&[room("general")], &both, 10).await.expect("search").len(), 1, "every word");
    assert!(store.search(&[], &terms, 10).await.expect("no rooms").is_empty());
    for hostile in [r#"" OR 1=1 --"#, "'; DROP TABLE messages; --", "deploy* NEAR(x) AND", "(((", "日本語 テスト"]
    {
        if let Ok(terms) = SearchTerms::parse(hostile) {
            store.search(&[room("general")], &terms, 10).await.expect("any words search without error");
        }
    }
    assert_eq!(store.older(&room("general"), None, 10).await.expect("still there").messages.len(), 3);
}

async fn retention_removes_by_count_and_age_and_says_so(db: Db) {
    let store = db.open().await;
    let ids = fill(&*store, "general", 20).await;
    fill(&*store, "quiet", 3).await;
    let by_count = Retention { max_messages: Some(5), ..Retention::default() };
    let removed = store.prune(by_count, 1_000_000).await.expect("pruned");
    assert_eq!(removed, 15);
    let page = store.older(&room("general"), None, 50).await.expect("page");
    assert_eq!(page.messages.iter().map(|m| m.id).collect::<Vec<_>>(), ids[15..]);
    let caught = store.catch_up(&room("general"), ids[0], 100).await.expect("catch up");
    assert_eq!(caught.gap.map(|g| g.until), Some(ids[14]), "the removed range is named");
    assert_eq!(caught.messages.len(), 5);
    // By age: "now" is 1,019 ms after the epoch, and nothing older than 3 ms stays.
    let by_age = Retention { max_age: Some(Duration::from_millis(3)), ..Retention::default() };
    store.prune(by_age, 1_019).await.expect("pruned by age");
    let left = store.older(&room("general"), None, 50).await.expect("page");
    assert_eq!(left.messages.iter().map(|m| m.id).collect::<Vec<_>>(), ids[15..]);
    assert!(store.older(&room("quiet"), None, 50).await.expect("quiet").messages.is_empty());
    assert_eq!(store.prune(Retention::default(), 1_019).await.expect("forever"), 0);
}

async fn migrations_run_once_and_refuse_a_newer_schema(db: Db) {
    let store = db.open().await;
    store.record(message("general", 5_000, "kept")).await.expect("recorded");
    drop(store);
    let again = db.open().await;
    assert_eq!(again.older(&room("general"), None, 10).await.expect("page").messages.len(), 1);
    drop(again);
    let raw = SqlStore::open(&db.url).await.expect("open");
    drop(raw);
    // A later release migrated this database: this build must not touch it.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("connect");
    sqlx::query("UPDATE switchboard_schema SET version = 99").execute(&pool).await.expect("bump");
    pool.close().await;
    match SqlStore::open(&db.url).await {
        Err(err @ StoreError::SchemaTooNew { found: 99, .. }) => assert!(err.to_string().contains("upgrade")),
        Err(other) => panic!("wrong refusal: {other}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

async fn concurrent_records_all_land_once(db: Db) {
    let store = db.open().await;
    let mut sends = Vec::new();
    for i in 0..2_000_u64 {
        let store = store.clone();
        sends.push(tokio::spawn(async move {
            let m = message("busy", 10_000 + i, &format!("burst {i}"));
            store.record(m.clone()).await.expect("recorded");
            // A retry of the same message (the outbox after a lost ack) changes nothing.
            if i % 10 == 0 {
                store.record(m.clone()).await.expect("recorded again");
            }
        }));
    }
    for send in sends {
        send.await.expect("task");
    }
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = store.older(&room("busy"), before, 500).await.expect("page");
        before = page.messages.first().map(|m| m.id);
        all.splice(0..0, page.messages);
        if page.complete {
            break;
        }
    }
    assert_eq!(all.len(), 2_000);
    assert!(all.iter().enumerate().all(|(i, m)| m.id == MessageId::new(10_000 + i as u64, 0)));
}

contract_tests!([sqlite, postgres]:
    concurrent_records_all_land_once,
    pages_back_to_the_first_message,
    recording_twice_changes_nothing,
    catch_up_brings_changes_to_older_messages,
    a_long_absence_gets_the_newest_and_an_explicit_gap,
    deletion_leaves_a_tombstone_and_nothing_searchable,
    search_covers_only_the_given_rooms,
    retention_removes_by_count_and_age_and_says_so,
    migrations_run_once_and_refuse_a_newer_schema,
);
