//! Logging in as outside testing does it: after a rename, under a guessing attack on
//! someone's name, and in a burst of concurrent logins.

mod support;

use protocol::{ClientFrame, ServerFrame};
use support::tuned as instance;
use support::{Browser, Instance, PASSWORD, RedisServer};

/// Whether the browser's session is logged in: `/` serves the chat page rather than redirecting.
async fn logged_in(browser: &Browser, instance: &Instance) -> bool {
    let (status, _) = browser.get(instance, "/").await;
    status.is_success()
}

#[tokio::test]
async fn a_user_who_renamed_logs_in_again_with_their_user_name() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |_| {}).await;
    let alice = Browser::new();
    assert!(alice.register(&a, "Alice", PASSWORD).await.is_success());
    let mut ws = alice.socket(&a).await.expect("admitted");
    ws.join("general").await;
    ws.send(&ClientFrame::Rename { name: "Wonder".into() }).await;
    ws.expect(|f| matches!(f, ServerFrame::Renamed { .. }).then_some(())).await;
    assert!(alice.call(&a, "logout", &[]).await.is_success());
    assert!(!logged_in(&alice, &a).await, "logged out");

    for name in ["Alice", "alice"] {
        assert!(alice.login(&a, name, PASSWORD).await.is_success(), "login as {name}");
        assert!(logged_in(&alice, &a).await, "the session after logging in as {name} is a logged-in one");
        let (_, page) = alice.get(&a, "/").await;
        assert!(page.contains("Wonder"), "the page shows the display name");
        let mut again = alice.socket(&a).await.expect("the websocket is admitted too");
        let user = again.expect(|f| match f {
            ServerFrame::Welcome { user, .. } => Some(user),
            _ => None,
        });
        assert_eq!(user.await, "Alice", "the identity is the registered name, not the display name");
        assert!(alice.call(&a, "logout", &[]).await.is_success());
    }
    // The display name is not a login name.
    assert_eq!(Browser::new().login(&a, "Wonder", PASSWORD).await.as_u16(), 401);
}

#[tokio::test]
async fn guessing_at_a_name_does_not_lock_its_owner_out() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |c| c.login_attempts_per_name = 3).await;
    let b = instance(&redis, "app-b", |c| c.login_attempts_per_name = 3).await;
    let owner = Browser::new();
    assert!(owner.register(&a, "alice", PASSWORD).await.is_success());
    let device = owner.cookies_at(&a, "/api/login").unwrap_or_default();
    assert!(device.contains("sbdevice="), "registration trusts this browser: {device}");
    assert!(owner.call(&a, "logout", &[]).await.is_success());

    // Strangers share the name's budget: guessing stays slow, on every instance.
    let mallory = Browser::new();
    for instance in [&a, &b, &a] {
        assert_eq!(mallory.login(instance, "alice", "guess-guess").await.as_u16(), 401);
    }
    assert_eq!(mallory.login(&b, "alice", "guess-guess").await.as_u16(), 429);
    assert_eq!(Browser::new().login(&a, "alice", PASSWORD).await.as_u16(), 429, "a new browser waits too");
    // A forged device cookie is a stranger's.
    let forger = Browser::new();
    forger.set_cookie(&a, "sbdevice=0123456789abcdef0123456789abcdef");
    assert_eq!(forger.login(&a, "alice", PASSWORD).await.as_u16(), 429);

    // The owner's browser has its own budget and gets in, on any instance.
    assert!(owner.login(&b, "alice", PASSWORD).await.is_success(), "the owner is not locked out");
    assert!(logged_in(&owner, &b).await);
    // Its budget is its own: wrong guesses from it are limited too.
    assert!(owner.call(&b, "logout", &[]).await.is_success());
    for _ in 0..3 {
        assert_eq!(owner.login(&a, "alice", "typo-typo").await.as_u16(), 401);
    }
    assert_eq!(owner.login(&a, "alice", PASSWORD).await.as_u16(), 429, "a stolen device cookie cannot guess freely");
}

#[tokio::test]
async fn log_out_everywhere_revokes_trusted_devices() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |c| c.login_attempts_per_name = 1).await;
    let owner = Browser::new();
    assert!(owner.register(&a, "alice", PASSWORD).await.is_success());
    assert!(owner.call(&a, "logout_all", &[]).await.is_success());
    assert_eq!(Browser::new().login(&a, "alice", "guess-guess").await.as_u16(), 401);
    assert_eq!(owner.login(&a, "alice", PASSWORD).await.as_u16(), 429, "the old device token no longer counts");
}

#[tokio::test]
async fn a_login_burst_is_answered_busy_beyond_the_hashing_bound() {
    let redis = RedisServer::start().await;
    let a = instance(&redis, "app-a", |c| {
        c.hash_concurrency = 1;
        c.hash_queue = 2;
    })
    .await;
    assert!(Browser::new().register(&a, "alice", PASSWORD).await.is_success());
    let logins = (0..20).map(|_| {
        let a = &a;
        async move { Browser::new().call_text(a, "login", &[("name", "alice"), ("password", PASSWORD)]).await }
    });
    let answers = futures::future::join_all(logins).await;
    let ok = answers.iter().filter(|(status, _)| status.is_success()).count();
    let busy: Vec<_> = answers.iter().filter(|(status, _)| status.as_u16() == 503).collect();
    assert!(ok >= 1, "some logins get through: {answers:?}");
    assert!(!busy.is_empty(), "beyond one running and two waiting, logins are told to retry: {answers:?}");
    assert!(busy.iter().all(|(_, body)| body.contains("Busy")), "the page's \"busy, try again\": {busy:?}");
    assert_eq!(ok + busy.len(), 20, "nothing else: {answers:?}");
    // The burst is over: a login works again once the last hash has given its slot back (busy
    // answers meanwhile are the only acceptable refusal).
    support::wait_until(support::PATIENCE, "a login works again", || async {
        let (status, body) = Browser::new().call_text(&a, "login", &[("name", "alice"), ("password", PASSWORD)]).await;
        assert!(status.is_success() || (status.as_u16() == 503 && body.contains("Busy")), "{status}: {body}");
        status.is_success()
    })
    .await;
}
