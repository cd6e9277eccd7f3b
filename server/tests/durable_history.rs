//! Every conversation kept: acknowledged messages survive Redis losing its data and every
//! instance dying at once; a send is never acknowledged while PostgreSQL is down; scrollback,
//! search and context over the socket, and nobody reads a room they may not.

mod support;

use std::time::Duration;

use protocol::{ChatMessage, ClientFrame, ErrorCode, MessageId, ServerFrame};
use support::{Browser, PASSWORD, Postgres, ProcessInstance, RedisServer, Socket, chatter, shared_postgres};
use switchboard::config::Config;

/// The test configuration on `redis` and the message store at `database`.
fn recorded(redis: &RedisServer, database: &str, id: &str) -> Config {
    let mut config = Config::for_tests();
    config.redis_url = Some(redis.url());
    config.database_url = Some(database.to_owned());
    config.instance_id = Some(id.to_owned());
    config
}

/// Scrolls `room` back from `before` to its first message; every page's messages, oldest first.
async fn scroll_back(ws: &mut Socket, room: &str, mut before: MessageId) -> Vec<ChatMessage> {
    let mut all = Vec::new();
    loop {
        ws.send(&ClientFrame::Older { room: room.to_owned(), before }).await;
        let (mut messages, complete) = ws
            .expect(|f| match f {
                ServerFrame::Older { messages, complete, .. } => Some((messages, complete)),
                _ => None,
            })
            .await;
        if let Some(first) = messages.first() {
            before = first.id;
        }
        messages.append(&mut all);
        all = messages;
        if complete {
            return all;
        }
    }
}

async fn search(ws: &mut Socket, query: &str) -> Result<Vec<ChatMessage>, ErrorCode> {
    ws.send(&ClientFrame::Search { query: query.to_owned() }).await;
    ws.expect(|f| match f {
        ServerFrame::Found { results, .. } => Some(Ok(results)),
        ServerFrame::Error { code, client_id: None, .. } => Some(Err(code)),
        _ => None,
    })
    .await
}

/// The error answering a history read; panics if the read was answered with history instead.
async fn refusal(ws: &mut Socket) -> ErrorCode {
    ws.expect(|f| match f {
        ServerFrame::Error { code, .. } => Some(code),
        ServerFrame::Context { .. } | ServerFrame::Older { .. } => panic!("answered with history: {f:?}"),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn every_acked_message_survives_redis_wiped_and_every_instance_killed() {
    let mut redis = RedisServer::start().await;
    let database = shared_postgres().fresh_database().await;
    let env = [("DATABASE_URL", database.as_str()), ("HISTORY_CAP", "20")];
    let a = ProcessInstance::start_with_env(&redis.url(), "app-a", &env).await;
    let b = ProcessInstance::start_with_env(&redis.url(), "app-b", &env).await;
    let (_alice, mut alice_ws) = chatter(&a.as_instance(), "alice").await;
    let mut acked = Vec::new();
    for i in 0..120 {
        acked.push(alice_ws.say("general", &format!("m{i}"), &format!("kept {i}")).await);
    }
    // Redis loses everything, and both instances die without a word.
    let mut conn = support::connect(&redis.url()).await;
    redis::cmd("FLUSHALL").exec_async(&mut conn).await.expect("flushall");
    redis.stop().await;
    a.kill().await;
    b.kill().await;
    redis.resume().await;
    let a = ProcessInstance::start_with_env(&redis.url(), "app-a2", &env).await;
    let b = ProcessInstance::start_with_env(&redis.url(), "app-b2", &env).await;
    // The sessions were in Redis, the accounts in PostgreSQL: alice logs in again. She sees the
    // newest page, and scrolls back to the first.
    let again = Browser::new();
    assert!(again.login(&b.as_instance(), "alice", PASSWORD).await.is_success(), "her account survived");
    let mut alice_again = again.socket(&b.as_instance()).await.expect("admitted");
    let recent = alice_again.join("general").await;
    assert_eq!(recent.len(), 50, "a join shows HISTORY_ON_JOIN messages from the store");
    assert_eq!(recent.last().map(|m| m.id), acked.last().copied());
    let older = scroll_back(&mut alice_again, "general", recent[0].id).await;
    let mut every: Vec<MessageId> = older.iter().chain(&recent).map(|m| m.id).collect();
    every.dedup();
    assert_eq!(every, acked, "every acknowledged message, once, in order, down to the first");
    // A client that had seen the tenth message catches up on the rest with no gap.
    let (_bob, mut bob_ws) = chatter(&a.as_instance(), "bob").await;
    bob_ws.send(&ClientFrame::Leave { room: "general".into() }).await;
    bob_ws.send(&ClientFrame::Join { room: "general".into(), since: Some(acked[9]) }).await;
    let (replayed, gap) = bob_ws.history("general").await;
    assert_eq!(gap, None, "nothing is gone: the store fills what Redis lost");
    assert_eq!(replayed.iter().map(|m| m.id).collect::<Vec<_>>(), acked[10..]);
    a.kill().await;
    b.kill().await;
}

#[tokio::test]
async fn no_send_is_acknowledged_while_postgres_is_down() {
    let redis = RedisServer::start().await;
    let mut postgres = Postgres::start().await;
    let database = postgres.fresh_database().await;
    let a = support::Instance::start_with(recorded(&redis, &database, "app-a"), None).await;
    let (_alice, mut ws) = chatter(&a, "alice").await;
    ws.say("general", "before", "before the outage").await;
    postgres.kill();
    let send = ClientFrame::Send { room: "general".into(), client_id: "during".into(), text: "during".into() };
    ws.send(&send).await;
    let refused = ws
        .expect(|f| match f {
            ServerFrame::Ack { client_id, .. } if client_id == "during" => panic!("acknowledged while unstored"),
            ServerFrame::Error { code, client_id: Some(c), .. } if c == "during" => Some(code),
            _ => None,
        })
        .await;
    assert_eq!(refused, ErrorCode::Unavailable);
    // Scrollback and search say so clearly too.
    assert_eq!(search(&mut ws, "before").await, Err(ErrorCode::Unavailable));
    postgres.resume().await;
    // The outbox sends it again with the same client id: stored once, acknowledged.
    let id = ws.say("general", "during", "during").await;
    let older = scroll_back(&mut ws, "general", MessageId::new(u64::MAX, 0)).await;
    let texts: Vec<&str> = older.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["before the outage", "during"]);
    assert_eq!(older[1].id, id);
    a.stop().await;
}

#[tokio::test]
async fn search_finds_only_what_the_user_may_read_and_opens_it_in_context() {
    let redis = RedisServer::start().await;
    let database = shared_postgres().fresh_database().await;
    let a = support::Instance::start_with(recorded(&redis, &database, "app-a"), None).await;
    let (_alice, mut alice_ws) = chatter(&a, "alice").await;
    for i in 0..40 {
        alice_ws.say("general", &format!("f{i}"), &format!("filler {i}")).await;
    }
    let hit = alice_ws.say("general", "hit", "the quarterly numbers are in").await;
    alice_ws.say("general", "after", "filler after").await;
    alice_ws.send(&ClientFrame::CreateRoom { title: "board".into() }).await;
    let private = alice_ws
        .expect(|f| match f {
            ServerFrame::Created { room } => Some(room),
            _ => None,
        })
        .await;
    alice_ws.send(&ClientFrame::Join { room: private.clone(), since: None }).await;
    alice_ws.history(&private).await;
    alice_ws.say(&private, "secret", "quarterly secret plans").await;

    let found = search(&mut alice_ws, "QUARTER").await.expect("results");
    assert_eq!(found.len(), 2, "her public and her private room");
    let (_mallory, mut mallory_ws) = chatter(&a, "mallory").await;
    let found = search(&mut mallory_ws, "quarterly").await.expect("results");
    assert_eq!(found.iter().map(|m| m.id).collect::<Vec<_>>(), [hit], "never a room she may not read");
    // Any syntax gets results or a clear error.
    assert_eq!(search(&mut mallory_ws, "\"**\" ((( ").await, Err(ErrorCode::BadSearch));
    assert!(search(&mut mallory_ws, "'; DROP TABLE messages; --").await.is_ok());
    assert_eq!(search(&mut mallory_ws, &"x".repeat(10_000)).await, Err(ErrorCode::BadSearch));
    // A result opens in its context; a room she may not read answers as one that does not exist.
    mallory_ws.send(&ClientFrame::Around { room: "general".into(), id: hit }).await;
    let context = mallory_ws
        .expect(|f| match f {
            ServerFrame::Context { messages, .. } => Some(messages),
            _ => None,
        })
        .await;
    let at = context.iter().position(|m| m.id == hit).expect("the result is in its context");
    assert_eq!((at, context.len() - at - 1), (25, 1), "25 before it, and what came after");
    mallory_ws.send(&ClientFrame::Around { room: private.clone(), id: hit }).await;
    assert_eq!(refusal(&mut mallory_ws).await, ErrorCode::NoSuchRoom, "no context of a room she may not read");
    mallory_ws.send(&ClientFrame::Older { room: private, before: MessageId::new(u64::MAX, 0) }).await;
    assert_eq!(refusal(&mut mallory_ws).await, ErrorCode::NotJoined, "no scrollback of a room she did not join");
    // Searching is the costliest read: 20 per user per 10 s, then a clear refusal.
    let mut answers = Vec::new();
    for _ in 0..20 {
        answers.push(search(&mut mallory_ws, "filler").await.map(|found| found.len()));
    }
    assert!(answers.contains(&Err(ErrorCode::RateLimited)), "{answers:?}");
    a.stop().await;
}

#[tokio::test]
async fn the_embedded_default_keeps_history_and_accounts_on_disk_across_a_restart() {
    let dir = std::env::temp_dir().join(format!("switchboard-embedded-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let start = || {
        let mut config = Config::for_tests();
        config.data_dir = Some(dir.clone());
        support::Instance::start_with(config, None)
    };
    let a = start().await;
    let (_alice, mut ws) = chatter(&a, "alice").await;
    let kept = ws.say("general", "one", "kept on disk").await;
    drop(ws);
    a.stop().await;
    let a = start().await;
    // Her account is on disk too (her session was in memory): she logs in again.
    let again = Browser::new();
    assert!(again.login(&a, "alice", PASSWORD).await.is_success(), "the account survived the restart");
    let mut ws = again.socket(&a).await.expect("admitted");
    let history = ws.join("general").await;
    assert_eq!(history.iter().map(|m| (m.id, m.text.as_str())).collect::<Vec<_>>(), [(kept, "kept on disk")]);
    a.stop().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = std::fs::remove_dir_all(&dir);
}
