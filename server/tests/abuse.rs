//! Hostile input and abuse: every bad input gets a clear answer, nothing
//! crashes, other users are unaffected, nobody gets in.

mod support;

use protocol::{ClientFrame, ErrorCode, ServerFrame};
use support::tuned as instance;
use support::{Browser, PASSWORD, RedisServer, Socket};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

#[tokio::test]
async fn login_brute_force_is_slowed_per_name_on_every_instance() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |c| c.login_attempts_per_name = 3).await;
    let b = instance(&redis, "app-b", |c| c.login_attempts_per_name = 3).await;
    Browser::new().register(&a, "alice", PASSWORD).await;
    let mallory = Browser::new();
    for instance in [&a, &b, &a] {
        assert_eq!(mallory.login(instance, "alice", "guess").await.as_u16(), 401);
    }
    // The counter is shared through Redis: the fourth attempt is refused on B, even with the right password.
    assert_eq!(mallory.login(&b, "alice", PASSWORD).await.as_u16(), 429);
    assert_eq!(Browser::new().login(&a, "ALICE", PASSWORD).await.as_u16(), 429, "names are case-folded");
    // Another account is not locked by it.
    Browser::new().register(&a, "bob", PASSWORD).await;
    assert!(Browser::new().login(&b, "bob", PASSWORD).await.is_success());
}

#[tokio::test]
async fn one_client_trying_many_names_is_slowed() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |c| c.auth_attempts_per_client = 5).await;
    let mallory = Browser::new();
    for i in 0..5 {
        assert_eq!(mallory.login(&a, &format!("user{i}"), "guess").await.as_u16(), 401);
    }
    assert_eq!(mallory.login(&a, "user9", "guess").await.as_u16(), 429);
    assert_eq!(mallory.register(&a, "newcomer", PASSWORD).await.as_u16(), 429, "registrations count too");
}

#[tokio::test]
async fn a_user_sending_too_fast_is_told_so_and_others_are_unaffected() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |c| c.sends_per_10s = 5).await;
    let (alice, bob) = (Browser::new(), Browser::new());
    alice.register(&a, "alice", PASSWORD).await;
    bob.register(&a, "bob", PASSWORD).await;
    let mut ws = alice.socket(&a).await.expect("admitted");
    ws.join("general").await;
    for i in 0..5 {
        ws.say("general", &format!("ok{i}"), "fine").await;
    }
    ws.send(&ClientFrame::Send { room: "general".into(), client_id: "over".into(), text: "too fast".into() }).await;
    let (code, message) = ws
        .expect(|f| match f {
            ServerFrame::Error { code, message, client_id: Some(c) } if c == "over" => Some((code, message)),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::RateLimited);
    assert!(message.contains("too fast"), "{message}");
    // The limit is per user: a second socket of alice is limited too, bob is not.
    let mut second = alice.socket(&a).await.expect("admitted");
    second.join("general").await;
    second.send(&ClientFrame::Send { room: "general".into(), client_id: "again".into(), text: "x".into() }).await;
    second.expect(|f| matches!(f, ServerFrame::Error { code: ErrorCode::RateLimited, .. }).then_some(())).await;
    let mut bob_ws = bob.socket(&a).await.expect("admitted");
    bob_ws.join("general").await;
    bob_ws.say("general", "b", "bob is fine").await;
}

#[tokio::test]
async fn floods_big_frames_bad_utf8_and_socket_hoarding_get_close_codes() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |c| {
        c.frames_per_second = 5;
        c.max_sockets_per_user = 3;
    })
    .await;
    let alice = Browser::new();
    alice.register(&a, "alice", PASSWORD).await;

    let mut flood = alice.socket(&a).await.expect("admitted");
    for _ in 0..50 {
        flood.send(&ClientFrame::Ping).await;
    }
    assert_eq!(flood.close_code().await, Some(protocol::CLOSE_POLICY_VIOLATION));

    let mut big = alice.socket(&a).await.expect("admitted");
    big.send_raw(Message::text("x".repeat(64 * 1024))).await;
    assert_eq!(big.close_code().await, Some(protocol::CLOSE_TOO_BIG));

    let mut bad = alice.socket(&a).await.expect("admitted");
    bad.send_raw(Message::Frame(Frame::message(vec![0xff_u8, 0xfe, 0x80], OpCode::Data(Data::Text), true))).await;
    assert_eq!(bad.close_code().await, Some(protocol::CLOSE_INVALID_DATA));

    // A reserved opcode breaks the websocket protocol itself.
    let mut odd = alice.socket(&a).await.expect("admitted");
    odd.send_raw(Message::Frame(Frame::message(vec![1_u8], OpCode::Data(Data::Reserved(3)), true))).await;
    assert_eq!(odd.close_code().await, Some(1002), "protocol error");

    let mut kept = Vec::new();
    for _ in 0..3 {
        kept.push(alice.socket(&a).await.expect("admitted"));
    }
    let mut hoard = alice.socket(&a).await.expect("handshake");
    assert_eq!(hoard.close_code().await, Some(protocol::CLOSE_POLICY_VIOLATION));
    // The instance is fine and the first sockets still work.
    kept[0].join("general").await;
    kept[0].say("general", "k", "still works").await;
}

#[tokio::test]
async fn server_functions_refuse_cross_site_requests() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |_| {}).await;
    Browser::new().register(&a, "alice", PASSWORD).await;
    let http = reqwest::Client::new();
    let login = format!("{}/api/login", a.url());
    let form = [("name", "alice"), ("password", PASSWORD)];
    let forged = http.post(&login).header("origin", "http://evil.example").form(&form).send().await.expect("answer");
    assert_eq!(forged.status().as_u16(), 403);
    let cross = http.post(&login).header("sec-fetch-site", "cross-site").form(&form).send().await.expect("answer");
    assert_eq!(cross.status().as_u16(), 403);
    let same = http
        .post(&login)
        .header("sec-fetch-site", "same-origin")
        .header("origin", a.url())
        .form(&form)
        .send()
        .await
        .expect("answer");
    assert!(same.status().is_success(), "{}", same.status());
}

#[tokio::test]
async fn redis_down_gives_a_clear_503_and_everything_resumes() {
    let mut redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |_| {}).await;
    let alice = Browser::new();
    alice.register(&a, "alice", PASSWORD).await;
    let mut ws = alice.socket(&a).await.expect("admitted");
    ws.join("general").await;
    let stored = ws.say("general", "before", "acked before the outage").await;

    redis.stop().await;
    let (status, body) = alice.get(&a, "/").await;
    assert_eq!(status.as_u16(), 503);
    assert!(body.contains("unavailable"), "a page that says what is wrong");
    assert_eq!(alice.login(&a, "alice", PASSWORD).await.as_u16(), 503);
    ws.send(&ClientFrame::Send { room: "general".into(), client_id: "during".into(), text: "x".into() }).await;
    let code = ws
        .expect(|f| match f {
            ServerFrame::Error { code, client_id: Some(c), .. } if c == "during" => Some(code),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::Unavailable);

    redis.resume().await;
    a.wait_ready(true).await;
    let (status, body) = alice.get(&a, "/").await;
    assert!(status.is_success() && body.contains("alice"), "{status}");
    let mut fresh = alice.socket(&a).await.expect("admitted");
    let history = fresh.join("general").await;
    assert!(history.iter().any(|m| m.id == stored), "what was acked is still there");
}

#[tokio::test]
async fn a_websocket_with_a_forged_origin_never_reaches_the_user() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |c| c.allowed_origins = vec!["https://chat.example.com".into()]).await;
    let alice = Browser::new();
    alice.register(&a, "alice", PASSWORD).await;
    let cookie = alice.cookie(&a);
    for origin in ["https://chat.example.com.evil.example", "https://evil.example", "http://chat.example.com"] {
        assert_eq!(Socket::connect(&a, cookie.as_deref(), Some(origin)).await.err(), Some(403), "{origin}");
    }
    assert!(Socket::connect(&a, cookie.as_deref(), Some("https://chat.example.com")).await.is_ok());
}
