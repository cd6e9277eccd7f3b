//! Sessions shared safely between HTTP and websocket: logout closes that session's sockets on
//! every instance, "log out everywhere" ends them all, an expired session closes its sockets,
//! and the page-load counter never loses an increment.

mod support;

use protocol::CLOSE_LOGGED_OUT;
use support::{Browser, Instance, PASSWORD, Raw, RedisServer, Socket, chatter};

/// Reads until the socket closes; returns the close code and reason.
async fn closed(socket: &mut Socket) -> Option<u16> {
    loop {
        if let Raw::Closed(code) = socket.next_raw().await {
            return code;
        }
    }
}

#[tokio::test]
async fn logout_closes_that_sessions_sockets_on_every_instance_and_no_others() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let b = Instance::start(Some(&redis.url()), "app-b").await;
    let (laptop, mut on_a) = chatter(&a, "alice").await;
    let cookie = laptop.cookie(&a).expect("cookie");
    let mut on_b = Socket::connect(&b, Some(&cookie), None).await.expect("same session on B");
    on_b.join("general").await;
    let phone = Browser::new();
    assert!(phone.login(&b, "alice", PASSWORD).await.is_success());
    let mut phone_ws = phone.socket(&b).await.expect("admitted");
    phone_ws.join("general").await;

    assert!(laptop.call(&a, "logout", &[]).await.is_success());
    assert_eq!(closed(&mut on_a).await, Some(CLOSE_LOGGED_OUT));
    assert_eq!(closed(&mut on_b).await, Some(CLOSE_LOGGED_OUT), "the other instance closed it too");
    phone_ws.say("general", "p", "the phone's session is untouched").await;
    assert_eq!(Socket::connect(&b, Some(&cookie), None).await.err(), Some(401));
}

#[tokio::test]
async fn logging_out_everywhere_ends_every_session_and_socket() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let b = Instance::start(Some(&redis.url()), "app-b").await;
    let (laptop, mut laptop_ws) = chatter(&a, "alice").await;
    let phone = Browser::new();
    assert!(phone.login(&b, "alice", PASSWORD).await.is_success());
    let mut phone_ws = phone.socket(&b).await.expect("admitted");
    phone_ws.join("general").await;
    let (_bob, mut bob_ws) = chatter(&b, "bob").await;

    assert!(laptop.call(&a, "logout_all", &[]).await.is_success());
    assert_eq!(closed(&mut laptop_ws).await, Some(CLOSE_LOGGED_OUT));
    assert_eq!(closed(&mut phone_ws).await, Some(CLOSE_LOGGED_OUT));
    assert_eq!(phone.call(&b, "whoami", &[]).await.as_u16(), 401, "the phone's cookie is void");
    assert_eq!(phone.socket(&b).await.err(), Some(401));
    bob_ws.say("general", "b", "bob is not affected").await;
    // Logging in again works and gives a valid session.
    let again = Browser::new();
    assert!(again.login(&a, "alice", PASSWORD).await.is_success());
    assert_eq!(again.call(&b, "whoami", &[]).await.as_u16(), 200);
}

#[tokio::test]
async fn an_expired_session_closes_its_sockets_with_a_reason() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let (alice, mut ws) = chatter(&a, "alice").await;
    let cookie = alice.cookie(&a).expect("cookie");
    let id = cookie.split('=').nth(1).expect("id").to_owned();
    let client = redis::Client::open(redis.url()).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis up");
    // What Redis does when the TTL runs out.
    let removed: i64 = redis::cmd("DEL").arg(format!("sb:session:{id}")).query_async(&mut conn).await.expect("del");
    assert_eq!(removed, 1);
    let reason = loop {
        match ws.next_raw().await {
            Raw::Closed(code) => break code,
            Raw::Frame(_) => {}
        }
    };
    assert_eq!(reason, Some(CLOSE_LOGGED_OUT));
}

#[tokio::test]
async fn an_open_socket_keeps_its_session_alive() {
    let redis = RedisServer::start().await;
    let a = support::tuned(&redis, "app-a", |c| c.session_ttl_secs = 60).await;
    let (alice, _ws) = chatter(&a, "alice").await;
    let id = alice.cookie(&a).and_then(|c| c.split('=').nth(1).map(str::to_owned)).expect("id");
    let client = redis::Client::open(redis.url()).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis up");
    let key = format!("sb:session:{id}");
    // The socket checks its session every second (SESSION_CHECK_SECS in the tests) and renews it
    // once a quarter of its 60 s has passed (not at every check: that was a write per socket per
    // check). Without a renewal, 17 s after signing in it would have ~43 s left.
    tokio::time::sleep(std::time::Duration::from_secs(17)).await;
    let ttl: i64 = redis::cmd("TTL").arg(&key).query_async(&mut conn).await.expect("ttl");
    assert!(ttl > 50, "the socket renewed the session: {ttl} s left");
}

#[tokio::test]
async fn the_page_load_counter_never_loses_an_increment() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let b = Instance::start(Some(&redis.url()), "app-b").await;
    let alice = Browser::new();
    alice.register(&a, "alice", PASSWORD).await;
    let cookie = alice.cookie(&a).expect("cookie");
    alice.set_cookie(&b, &cookie);
    let loads = (0..40).map(|i| {
        let (browser, instance) = (&alice, if i % 2 == 0 { &a } else { &b });
        async move { browser.get(instance, "/").await.0 }
    });
    for status in futures::future::join_all(loads).await {
        assert!(status.is_success(), "{status}");
    }
    // A restarted instance keeps counting from the same number.
    a.stop().await;
    let a2 = Instance::start(Some(&redis.url()), "app-a").await;
    alice.set_cookie(&a2, &cookie);
    let (_, body) = alice.get(&a2, "/").await;
    assert!(
        body.contains(r#"id="loads">41<"#),
        "41 loads counted: {}",
        body.split("loads").nth(1).unwrap_or_default().get(..40).unwrap_or_default()
    );
}

#[tokio::test]
async fn a_page_renews_its_session_once_per_quarter_ttl_not_on_every_load() {
    let redis = RedisServer::start().await;
    let a = support::tuned(&redis, "app-a", |c| c.session_ttl_secs = 60).await;
    let alice = Browser::new();
    alice.register(&a, "alice", PASSWORD).await;
    let cookie = alice.cookie(&a).expect("a session cookie");
    let id = cookie.split(';').find_map(|c| c.trim().strip_prefix("jsessionid=")).expect("the session id").to_owned();
    let key = format!("sb:session:{id}");
    let mut conn =
        redis::Client::open(redis.url()).expect("url").get_multiplexed_async_connection().await.expect("redis");
    let http = reqwest::Client::new();
    let load = || async {
        let response = http.get(format!("{}/", a.url())).header("cookie", &cookie).send().await.expect("page");
        let renewed = response.headers().contains_key("set-cookie");
        let status = response.status();
        assert!(status.is_success() && response.text().await.unwrap_or_default().contains("Log out"), "{status}");
        renewed
    };
    // The first page after signing in stamps the session; the next ones read it and write nothing.
    assert!(load().await, "the first page renews");
    for _ in 0..3 {
        assert!(!load().await, "a page a moment later writes no session");
    }
    let () = redis::cmd("EXPIRE").arg(&key).arg(40).query_async(&mut conn).await.expect("expire");
    // A quarter of the TTL (15 s) later, a page renews it: a fresh cookie and a fresh TTL.
    tokio::time::sleep(std::time::Duration::from_secs(16)).await;
    assert!(load().await, "due again: renewed");
    let ttl: i64 = redis::cmd("TTL").arg(&key).query_async(&mut conn).await.expect("ttl");
    assert!(ttl > 50, "the session's lifetime starts again: {ttl} s left");
}
