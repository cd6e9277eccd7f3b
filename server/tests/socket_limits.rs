//! What one websocket may cost and how it ends, tried as a hostile or careless client would:
//! many rooms, a client that never reads, malformed ids, a store that does not answer in
//! time, and a client that closes politely.

mod support;

use std::time::Duration;

use protocol::{ClientFrame, ErrorCode, RoomJoin, ServerFrame};
use support::tuned as instance;
use support::{Browser, PASSWORD, Raw, RedisServer, Socket, chatter};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

fn error(frame: ServerFrame) -> Option<(ErrorCode, String, Option<String>)> {
    match frame {
        ServerFrame::Error { code, message, client_id } => Some((code, message, client_id)),
        _ => None,
    }
}

#[tokio::test]
async fn a_user_in_a_hundred_rooms_rejoins_in_one_frame_at_the_default_flood_limit() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |c| c.frames_per_second = 40).await;
    let (alice, mut ws) = chatter(&a, "alice").await;
    let rooms: Vec<RoomJoin> = (0..100).map(|i| RoomJoin { room: format!("room-{i}"), since: None }).collect();
    ws.send(&ClientFrame::JoinMany { rooms: rooms.clone() }).await;
    for _ in 0..100 {
        ws.expect(|f| matches!(f, ServerFrame::Presence { .. }).then_some(())).await;
    }
    drop(ws);
    // A reconnect: welcome lists every room, and one frame rejoins them all without a flood close.
    let mut again = alice.socket(&a).await.expect("admitted");
    let listed = again.expect(|f| match f {
        ServerFrame::Welcome { rooms, .. } => Some(rooms),
        _ => None,
    });
    assert_eq!(listed.await.len(), 101, "general and the hundred rooms");
    again.send(&ClientFrame::JoinMany { rooms }).await;
    let mut histories = 0;
    while histories < 100 {
        match again.next_raw().await {
            Raw::Frame(ServerFrame::History { .. }) => histories += 1,
            Raw::Frame(_) => {}
            Raw::Closed(code) => panic!("closed with {code:?} after {histories} rooms"),
        }
    }
    again.say("room-99", "c1", "still here").await;
}

#[tokio::test]
async fn rooms_per_user_are_capped_with_a_clear_error() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |c| c.max_rooms_per_user = 3).await;
    let (alice, mut ws) = chatter(&a, "alice").await;
    for room in ["b", "c"] {
        ws.send(&ClientFrame::Join { room: room.into(), since: None }).await;
        ws.expect(|f| matches!(f, ServerFrame::History { .. }).then_some(())).await;
    }
    ws.send(&ClientFrame::Join { room: "d".into(), since: None }).await;
    let (code, message, _) = ws.expect(error).await;
    assert_eq!(code, ErrorCode::TooManyRooms);
    assert!(message.contains("leave one"), "{message}");
    // Another socket of the same user meets the same cap (it is per user, kept in Redis).
    let mut other = alice.socket(&a).await.expect("admitted");
    other.join("general").await;
    other.send(&ClientFrame::JoinMany { rooms: vec![RoomJoin { room: "e".into(), since: None }] }).await;
    assert_eq!(other.expect(error).await.0, ErrorCode::TooManyRooms);
    // Leaving one makes room.
    ws.send(&ClientFrame::Leave { room: "b".into() }).await;
    ws.send(&ClientFrame::Join { room: "d".into(), since: None }).await;
    let room = ws.expect(|f| match f {
        ServerFrame::History { room, .. } => Some(room),
        ServerFrame::Error { message, .. } => panic!("refused: {message}"),
        _ => None,
    });
    assert_eq!(room.await, "d");
}

#[tokio::test]
async fn an_instance_forgets_rooms_it_no_longer_holds() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |_| {}).await;
    let (_alice, mut ws) = chatter(&a, "alice").await;
    for room in ["x", "y"] {
        ws.send(&ClientFrame::Join { room: room.into(), since: None }).await;
        ws.expect(|f| matches!(f, ServerFrame::Presence { room: r, .. } if r == room).then_some(())).await;
    }
    let client = redis::Client::open(redis.url()).expect("url");
    let conn = client.get_multiplexed_async_connection().await.expect("redis");
    let key = format!("sb:instance:{{{}}}:rooms", a.id);
    let held = || {
        let mut conn = conn.clone();
        let key = key.clone();
        async move {
            let mut rooms: Vec<String> =
                redis::cmd("SMEMBERS").arg(key).query_async(&mut conn).await.expect("smembers");
            rooms.sort();
            rooms
        }
    };
    assert_eq!(held().await, ["general", "x", "y"]);
    ws.send(&ClientFrame::Leave { room: "x".into() }).await;
    ws.send(&ClientFrame::Ping).await;
    ws.expect(|f| matches!(f, ServerFrame::Pong).then_some(())).await;
    assert_eq!(held().await, ["general", "y"], "a left room is pruned");
    drop(ws);
    // A closed socket's rooms go after the presence grace period.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !held().await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "rooms of a closed socket are pruned: {:?}", held().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_client_that_never_reads_is_cut_and_its_connection_ends() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |c| {
        c.history_on_join = 300;
        c.write_timeout_secs = 2;
    })
    .await;
    let (_bob, mut bob_ws) = chatter(&a, "bob").await;
    let text = "x".repeat(1900);
    for i in 0..300 {
        bob_ws
            .send(&ClientFrame::Send { room: "general".into(), client_id: format!("c{i}"), text: text.clone() })
            .await;
    }
    bob_ws.say("general", "last", "last").await;
    let reader = Browser::new();
    assert!(reader.register(&a, "sleepy", PASSWORD).await.is_success());
    let mut sleepy = Socket::connect_slow(&a, &reader.cookie(&a).expect("cookie")).await;
    assert!(
        tokio::time::timeout(Duration::from_secs(5), async {
            while a.open_sockets() < 2 {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
        })
        .await
        .is_ok(),
        "bob and the sleepy client are open"
    );
    // Ask for the ~570 KB history again and again and never read any of it.
    for _ in 0..100 {
        let join = ClientFrame::Join { room: "general".into(), since: None };
        let leave = ClientFrame::Leave { room: "general".into() };
        for frame in [join, leave] {
            let sent = tokio::time::timeout(Duration::from_millis(200), sleepy.try_send(&frame)).await;
            if !matches!(sent, Ok(true)) {
                break;
            }
        }
    }
    drop(bob_ws);
    assert!(
        a.sockets_closed_within(Duration::from_secs(15)).await,
        "the server ends a connection whose writes time out (open: {})",
        a.open_sockets()
    );
    // The TCP connection is gone too: reading what was buffered ends in a close, not a wait.
    let mut frames = 0;
    while let Raw::Frame(_) = sleepy.next_raw().await {
        frames += 1;
    }
    assert!(frames > 0, "it had been sent something");
}

#[tokio::test]
async fn malformed_since_ids_are_bad_frames() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |_| {}).await;
    let (_alice, mut ws) = chatter(&a, "alice").await;
    for since in ["18446744073709551616-0", "1-18446744073709551616", "12", "a-b", "-1"] {
        let frame = serde_json::json!({"type": "join", "room": format!("r{}", since.len()), "since": since});
        ws.send_raw(Message::text(frame.to_string())).await;
        let (code, message, _) = ws.expect(error).await;
        assert_eq!(code, ErrorCode::BadFrame, "{since}: {message}");
        assert!(message.contains("not a message id"), "the error says what is wrong: {message}");
    }
    ws.say("general", "c1", "the socket is fine").await;
}

#[tokio::test]
async fn a_send_redis_did_not_confirm_in_time_is_not_stored_twice() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |_| {}).await;
    let (alice, mut ws) = chatter(&a, "alice").await;
    let client = redis::Client::open(redis.url()).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    // Redis stalls every write for 5 s: longer than the instance waits for an answer (2 s), even
    // after the rate limiter's own write timed out first.
    let () = redis::cmd("CLIENT").arg("PAUSE").arg(5000).arg("WRITE").query_async(&mut conn).await.expect("pause");
    ws.send(&ClientFrame::Send { room: "general".into(), client_id: "slow-1".into(), text: "hello".into() }).await;
    let (code, message, client_id) = ws.expect(error).await;
    assert_eq!((code, client_id.as_deref()), (ErrorCode::Unavailable, Some("slow-1")));
    assert!(message.contains("not confirmed"), "it may have been stored: {message}");
    // Wait until Redis takes writes again (a write of the test's own answers once the pause ends;
    // before, it times out), so the retry below is not itself refused by the still-paused Redis.
    support::wait_until(support::PATIENCE, "Redis takes writes again", || {
        let mut conn = conn.clone();
        async move { redis::cmd("SET").arg("test:probe").arg(1).exec_async(&mut conn).await.is_ok() }
    })
    .await;
    // The retry resolves to the message Redis stored after all, once.
    let id = ws.say("general", "slow-1", "hello").await;
    let history = alice.socket(&a).await.expect("admitted").join("general").await;
    let copies: Vec<_> = history.iter().filter(|m| m.client_id.as_deref() == Some("slow-1")).collect();
    assert_eq!(copies.len(), 1, "stored once: {copies:?}");
    assert_eq!(copies[0].id, id);
}

#[tokio::test]
async fn a_client_closing_its_socket_gets_a_clean_close() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |_| {}).await;
    let (_alice, mut ws) = chatter(&a, "alice").await;
    ws.send_raw(Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "bye".into() }))).await;
    assert_eq!(ws.close_code().await, Some(1000), "the close handshake completes (not 1006)");
    assert!(a.sockets_closed_within(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_corrupt_stream_entry_is_skipped_not_shown_as_an_empty_message() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |_| {}).await;
    let (alice, mut ws) = chatter(&a, "alice").await;
    ws.say("general", "c1", "before").await;
    let client = redis::Client::open(redis.url()).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    let _: String = redis::cmd("XADD")
        .arg("sb:room:{general}:log")
        .arg("*")
        .arg("stray")
        .arg("field")
        .query_async(&mut conn)
        .await
        .expect("xadd");
    ws.say("general", "c2", "after").await;
    let history = alice.socket(&a).await.expect("admitted").join("general").await;
    let texts: Vec<&str> = history.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["before", "after"], "the entry without author or text is left out");
}
