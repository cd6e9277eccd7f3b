//! The embedded default, end to end: one instance with no `REDIS_URL` (what `cargo leptos
//! watch` runs) serves the whole product from process memory — register, log in, chat between
//! users, history, catch-up after a reconnect, rename, room cap, logout — with no Redis at all.

mod support;

use protocol::{ClientFrame, ErrorCode, ServerFrame};
use support::{Browser, Instance, PASSWORD, chatter};
use switchboard::config::Config;

#[tokio::test]
async fn the_in_memory_backend_runs_the_whole_chat() {
    let mut config = Config::for_tests();
    config.max_rooms_per_user = 2;
    let a = Instance::start_with(config, None).await;
    assert!(a.is_ready().await, "ready without any Redis");

    let (alice, mut alice_ws) = chatter(&a, "Alice").await;
    let (bob, mut bob_ws) = chatter(&a, "bob").await;
    let first = alice_ws.say("general", "m1", "hello bob").await;
    assert_eq!(bob_ws.hear("hello bob").await.id, first);

    // Bob misses two messages while away and catches up from his last id, once each, in order.
    drop(bob_ws);
    let ids = [alice_ws.say("general", "m2", "one").await, alice_ws.say("general", "m3", "two").await];
    let mut again = bob.socket(&a).await.expect("admitted");
    let (missed, gap) = again.join_since("general", Some(first)).await;
    assert_eq!(missed.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
    assert_eq!(gap, None);

    // A rename reaches the other user, and logging in again by the user name works after it.
    alice_ws.send(&ClientFrame::Rename { name: "Wonder".into() }).await;
    let renamed = again.expect(|f| match f {
        ServerFrame::Renamed { user, name } => Some((user, name)),
        _ => None,
    });
    assert_eq!(renamed.await, ("Alice".into(), "Wonder".into()));
    assert!(alice.call(&a, "logout", &[]).await.is_success());
    assert!(alice.login(&a, "alice", PASSWORD).await.is_success());
    let (status, page) = alice.get(&a, "/").await;
    assert!(status.is_success() && page.contains("Wonder"), "logged in, with the new name");

    // The room cap holds on the embedded backend too.
    let mut ws = alice.socket(&a).await.expect("admitted");
    ws.join("general").await;
    ws.send(&ClientFrame::Join { room: "second".into(), since: None }).await;
    ws.history("second").await;
    ws.send(&ClientFrame::Join { room: "third".into(), since: None }).await;
    let code = ws.expect(|f| match f {
        ServerFrame::Error { code, .. } => Some(code),
        _ => None,
    });
    assert_eq!(code.await, ErrorCode::TooManyRooms);

    // Logout closes the session's sockets.
    assert!(alice.call(&a, "logout", &[]).await.is_success());
    assert_eq!(ws.close_code().await, Some(protocol::CLOSE_LOGGED_OUT));
    assert!(Browser::new().socket(&a).await.is_err(), "no session, no socket");
}
