//! Renaming over the websocket: every instance and every tab sees it at once, a refresh shows
//! it, names cannot be taken from someone else, and concurrent HTTP and websocket writes to
//! the same user never lose one another.

mod support;

use protocol::{ClientFrame, ErrorCode, ServerFrame};
use support::{Instance, RedisServer, Socket, chatter};

fn renamed(frame: ServerFrame) -> Option<(String, String)> {
    match frame {
        ServerFrame::Renamed { user, name } => Some((user, name)),
        _ => None,
    }
}

#[tokio::test]
async fn a_rename_reaches_every_instance_every_tab_and_a_refresh() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let b = Instance::start(Some(&redis.url()), "app-b").await;
    let (alice, mut alice_ws) = chatter(&a, "alice").await;
    let mut other_tab = Socket::connect(&b, alice.cookie(&a).as_deref(), None).await.expect("admitted");
    other_tab.join("general").await;
    let (_bob, mut bob_ws) = chatter(&b, "bob").await;

    alice_ws.send(&ClientFrame::Rename { name: "Wonder".into() }).await;
    assert_eq!(alice_ws.expect(renamed).await, ("alice".into(), "Wonder".into()));
    assert_eq!(bob_ws.expect(renamed).await, ("alice".into(), "Wonder".into()), "bob on the other instance");
    assert_eq!(other_tab.expect(renamed).await, ("alice".into(), "Wonder".into()), "alice's other tab");

    // The other tab now sends under the new name; the account name stays the author.
    other_tab.say("general", "w1", "from the other tab").await;
    let heard = bob_ws.hear("from the other tab").await;
    assert_eq!((heard.user.as_str(), heard.name.as_str()), ("alice", "Wonder"));
    // A refresh shows it, on any instance; the member list carries it too.
    alice.set_cookie(&b, &alice.cookie(&a).expect("cookie"));
    let (_, page) = alice.get(&b, "/").await;
    assert!(page.contains("Wonder"), "the page shows the new name");
    let mut late = Socket::connect(&a, alice.cookie(&a).as_deref(), None).await.expect("admitted");
    late.join("general").await;
    let names = late
        .expect(|f| match f {
            ServerFrame::Presence { names, .. } => Some(names),
            _ => None,
        })
        .await;
    assert_eq!(names.get("alice").map(String::as_str), Some("Wonder"));
}

#[tokio::test]
async fn names_of_others_and_bad_names_are_refused() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let (_alice, mut alice_ws) = chatter(&a, "alice").await;
    let (_bob, mut bob_ws) = chatter(&a, "bob").await;
    let error = |f: ServerFrame| match f {
        ServerFrame::Error { code, message, .. } => Some((code, message)),
        _ => None,
    };
    for taken in ["bob", "BOB"] {
        alice_ws.send(&ClientFrame::Rename { name: taken.into() }).await;
        let (code, message) = alice_ws.expect(error).await;
        assert_eq!(code, ErrorCode::BadName);
        assert!(message.contains("someone else"), "{message}");
    }
    alice_ws.send(&ClientFrame::Rename { name: "<b>x</b>".into() }).await;
    assert_eq!(alice_ws.expect(error).await.0, ErrorCode::BadName);
    // Renames are limited to about one a second per socket (bursts of three).
    alice_ws.send(&ClientFrame::Rename { name: "Toofast".into() }).await;
    assert_eq!(alice_ws.expect(error).await.0, ErrorCode::RateLimited);
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(1_100));
    pause().await;
    // A display name is claimed: nobody can take it, not even by registering it.
    alice_ws.send(&ClientFrame::Rename { name: "Queen".into() }).await;
    alice_ws.expect(renamed).await;
    bob_ws.send(&ClientFrame::Rename { name: "queen".into() }).await;
    assert_eq!(bob_ws.expect(error).await.0, ErrorCode::BadName);
    assert_eq!(support::Browser::new().register(&a, "QUEEN", support::PASSWORD).await.as_u16(), 409);
    // Changing only the case of one's own name is fine; the old name is released.
    pause().await;
    alice_ws.send(&ClientFrame::Rename { name: "QUEEN".into() }).await;
    alice_ws.expect(|f| renamed(f).filter(|(_, name)| name == "QUEEN")).await;
    pause().await;
    alice_ws.send(&ClientFrame::Rename { name: "Alice".into() }).await;
    alice_ws.expect(|f| renamed(f).filter(|(_, name)| name == "Alice")).await;
    bob_ws.send(&ClientFrame::Rename { name: "Queen".into() }).await;
    let bobs = bob_ws.expect(|f| renamed(f).filter(|(user, _)| user == "bob")).await;
    assert_eq!(bobs, ("bob".into(), "Queen".into()), "a released name can be taken");
}

#[tokio::test]
async fn concurrent_http_and_websocket_writes_to_one_user_lose_nothing() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let b = Instance::start(Some(&redis.url()), "app-b").await;
    let (alice, mut ws) = chatter(&a, "alice").await;
    let cookie = alice.cookie(&a).expect("cookie");
    alice.set_cookie(&b, &cookie);
    // Page loads over HTTP (session counter, session re-saves) on B while the socket on A renames.
    let loads = async {
        for _ in 0..30 {
            assert!(alice.get(&b, "/").await.0.is_success());
        }
    };
    let renames = async {
        let mut last = String::new();
        for i in 0..10 {
            last = format!("name{i}");
            ws.send(&ClientFrame::Rename { name: last.clone() }).await;
            ws.expect(|f| matches!(&f, ServerFrame::Renamed { name, .. } if *name == last).then_some(())).await;
            tokio::time::sleep(std::time::Duration::from_millis(1_000)).await;
        }
        last
    };
    let ((), last) = tokio::join!(loads, renames);
    let (_, page) = alice.get(&a, "/").await;
    assert!(page.contains(&last), "the last rename won");
    assert!(page.contains(r#"id="loads">31<"#), "every page load counted");
    assert!(alice.socket(&b).await.is_ok(), "the session survived every concurrent write");
}
