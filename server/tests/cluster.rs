//! Several instances on one real Redis: chat crosses instances, sessions are
//! shared, and the websocket is admitted only with a session and from an
//! allowed Origin.

mod support;

use protocol::{ClientFrame, ServerFrame};
use support::{Browser, Instance, PASSWORD, RedisServer, Socket, chatter};

#[tokio::test]
async fn users_on_two_instances_see_each_others_messages() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let b = Instance::start(Some(&redis.url()), "app-b").await;
    let (alice, bob) = (Browser::new(), Browser::new());
    assert!(alice.register(&a, "alice", PASSWORD).await.is_success());
    assert!(bob.register(&b, "bob", PASSWORD).await.is_success());

    let mut alice_ws = alice.socket(&a).await.expect("alice admitted on A");
    let mut bob_ws = bob.socket(&b).await.expect("bob admitted on B");
    alice_ws.join("general").await;
    bob_ws.join("general").await;
    alice_ws.expect(|f| matches!(f, ServerFrame::Joined { user, .. } if user == "bob").then_some(())).await;

    let id = alice_ws.say("general", "a1", "hello from A").await;
    let heard = bob_ws.hear("hello from A").await;
    assert_eq!((heard.user.as_str(), heard.id), ("alice", id));
    assert!(heard.ts > 0);

    bob_ws.say("general", "b1", "/me waves from B").await;
    let heard = alice_ws.hear("/me waves from B").await;
    assert_eq!(heard.user, "bob", "the author comes from the session");

    // A newcomer sees both in the history, in order.
    let carol = Browser::new();
    carol.register(&a, "carol", PASSWORD).await;
    let mut carol_ws = carol.socket(&a).await.expect("carol admitted");
    let history = carol_ws.join("general").await;
    let texts: Vec<_> = history.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["hello from A", "/me waves from B"]);

    drop(bob_ws);
    alice_ws.expect(|f| matches!(f, ServerFrame::Left { user, .. } if user == "bob").then_some(())).await;
}

#[tokio::test]
async fn websocket_without_a_session_is_refused() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let origin = a.url();
    assert_eq!(Socket::connect(&a, None, Some(&origin)).await.err(), Some(401));
    assert_eq!(Socket::connect(&a, Some("jsessionid=forged-id"), Some(&origin)).await.err(), Some(401));
}

#[tokio::test]
async fn websocket_from_a_foreign_origin_is_refused() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let alice = Browser::new();
    alice.register(&a, "alice", PASSWORD).await;
    let cookie = alice.cookie(&a);
    for origin in ["http://evil.example", "null", &format!("{}.evil.example", a.url())] {
        assert_eq!(Socket::connect(&a, cookie.as_deref(), Some(origin)).await.err(), Some(403), "{origin}");
    }
    assert!(Socket::connect(&a, cookie.as_deref(), Some(&a.url())).await.is_ok(), "own origin admitted");
}

#[tokio::test]
async fn a_session_made_on_one_instance_works_on_another() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let b = Instance::start(Some(&redis.url()), "app-b").await;
    let alice = Browser::new();
    alice.register(&a, "alice", PASSWORD).await;
    let cookie = alice.cookie(&a).expect("session cookie");
    // Same host, other port: a browser would send the cookie to B as well.
    alice.set_cookie(&b, &cookie);
    let (status, body) = alice.get(&b, "/").await;
    assert!(status.is_success(), "{status}");
    assert!(body.contains("alice") && body.contains("app-b"), "page for alice served by B");
    let mut ws = alice.socket(&b).await.expect("admitted on B");
    assert_eq!(
        ws.next().await,
        Some(ServerFrame::Welcome {
            user: "alice".into(),
            instance: "app-b".into(),
            protocol: protocol::PROTOCOL_VERSION,
            rooms: Vec::new(),
            blocked: Vec::new(),
            read: Default::default(),
        })
    );
}

#[tokio::test]
async fn a_session_survives_the_restart_of_the_instance_that_made_it() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let alice = Browser::new();
    alice.register(&a, "alice", PASSWORD).await;
    let cookie = alice.cookie(&a).expect("session cookie");
    a.stop().await;

    let a2 = Instance::start(Some(&redis.url()), "app-a").await;
    alice.set_cookie(&a2, &cookie);
    let (status, body) = alice.get(&a2, "/").await;
    assert!(status.is_success() && body.contains("alice"), "{status}");
    assert!(alice.socket(&a2).await.is_ok());
}

#[tokio::test]
async fn login_rotates_the_session_id_and_logout_destroys_it() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let setup = Browser::new();
    setup.register(&a, "alice", PASSWORD).await;

    let alice = Browser::new();
    // A session id planted before login (fixation) must not become the logged-in one.
    alice.set_cookie(&a, "jsessionid=planted-by-attacker");
    assert!(alice.login(&a, "alice", PASSWORD).await.is_success());
    let cookie = alice.cookie(&a).expect("cookie");
    assert!(!cookie.contains("planted-by-attacker"), "{cookie}");

    // Logging in again (another tab) gives yet another id.
    assert!(alice.login(&a, "alice", PASSWORD).await.is_success());
    let rotated = alice.cookie(&a).expect("cookie");
    assert_ne!(cookie, rotated);
    let stale = Browser::new();
    stale.set_cookie(&a, &cookie);
    assert_eq!(stale.get(&a, "/api/whoami").await.0.as_u16(), 405, "server fns are POST");
    assert_eq!(stale.call(&a, "whoami", &[]).await.as_u16(), 401, "the pre-rotation id is dead");

    assert_eq!(alice.call(&a, "whoami", &[]).await.as_u16(), 200);
    assert!(alice.call(&a, "logout", &[]).await.is_success());
    let replay = Browser::new();
    replay.set_cookie(&a, &rotated);
    assert_eq!(replay.call(&a, "whoami", &[]).await.as_u16(), 401, "the old cookie no longer works");
    assert_eq!(Socket::connect(&a, Some(&rotated), Some(&a.url())).await.err(), Some(401));
}

#[tokio::test]
async fn the_session_cookie_is_http_only_same_site_and_secure_when_configured() {
    let redis = RedisServer::start().await;
    for secure in [false, true] {
        let mut config = switchboard::config::Config::for_tests();
        config.redis_url = Some(redis.url());
        config.cookie_secure = secure;
        config.cookie_name = "chat_session".into();
        let a = Instance::start_with(config, None).await;
        let form = [("name", if secure { "s1" } else { "s0" }), ("password", PASSWORD)];
        let response =
            reqwest::Client::new().post(format!("{}/api/register", a.url())).form(&form).send().await.expect("answer");
        let cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        let find = |name: &str| cookies.iter().find(|c| c.starts_with(name)).cloned().unwrap_or_default();
        let cookie = find("chat_session=");
        assert!(!cookie.is_empty(), "the cookie name is configurable: {cookies:?}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
        assert_eq!(cookie.contains("Secure"), secure, "{cookie}");
        // The device cookie (own login budget) is only ever sent to the API, never readable by scripts.
        let device = find("sbdevice=");
        assert!(
            device.contains("HttpOnly") && device.contains("SameSite=Strict") && device.contains("Path=/api/"),
            "{device}"
        );
        assert_eq!(device.contains("Secure"), secure, "{device}");
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let alice = Browser::new();
    alice.register(&a, "alice", PASSWORD).await;
    let mallory = Browser::new();
    assert_eq!(mallory.login(&a, "alice", "not the password").await.as_u16(), 401);
    assert_eq!(mallory.login(&a, "nobody", "not the password").await.as_u16(), 401);
    assert_eq!(mallory.login(&a, "<bad name>", "not the password").await.as_u16(), 401);
    assert_eq!(mallory.register(&a, "ALICE", PASSWORD).await.as_u16(), 409, "names are case-insensitive");
    assert_eq!(mallory.register(&a, "bad name!", PASSWORD).await.as_u16(), 400);
    assert_eq!(mallory.register(&a, "bob", "short").await.as_u16(), 400);
    assert!(mallory.cookie(&a).is_none(), "no session for failed attempts");
}

#[tokio::test]
async fn bad_frames_get_clear_errors_and_the_socket_stays_usable() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let (_alice, mut ws) = chatter(&a, "alice").await;
    let error = |f: ServerFrame| match f {
        ServerFrame::Error { code, .. } => Some(code),
        _ => None,
    };
    ws.send_raw(tokio_tungstenite::tungstenite::Message::text("{not json")).await;
    assert_eq!(ws.expect(error).await, protocol::ErrorCode::BadFrame);
    ws.send_raw(tokio_tungstenite::tungstenite::Message::text(r#"{"type":"launch_missiles"}"#)).await;
    assert_eq!(ws.expect(error).await, protocol::ErrorCode::BadFrame);
    ws.send(&ClientFrame::Join { room: "no spaces".into(), since: None }).await;
    assert_eq!(ws.expect(error).await, protocol::ErrorCode::BadRoom);
    ws.send(&ClientFrame::Send { room: "elsewhere".into(), client_id: "c".into(), text: "x".into() }).await;
    assert_eq!(ws.expect(error).await, protocol::ErrorCode::NotJoined);
    ws.send(&ClientFrame::Send { room: "general".into(), client_id: "c".into(), text: "x".repeat(2001) }).await;
    assert_eq!(ws.expect(error).await, protocol::ErrorCode::BadMessage);
    ws.send(&ClientFrame::Send { room: "general".into(), client_id: "c".into(), text: "   ".into() }).await;
    assert_eq!(ws.expect(error).await, protocol::ErrorCode::BadMessage);
    ws.say("general", "c2", "still here").await;
    ws.send_raw(tokio_tungstenite::tungstenite::Message::binary(vec![1, 2, 3])).await;
    assert_eq!(ws.close_code().await, Some(protocol::CLOSE_UNSUPPORTED_DATA));
}

#[tokio::test]
async fn a_resent_message_is_stored_once() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let (alice, mut ws) = chatter(&a, "alice").await;
    let first = ws.say("general", "same-id", "once").await;
    let again = ws.say("general", "same-id", "once").await;
    assert_eq!(first, again);
    let mut fresh = alice.socket(&a).await.expect("admitted");
    let history = fresh.join("general").await;
    assert_eq!(history.iter().filter(|m| m.text == "once").count(), 1);
}
