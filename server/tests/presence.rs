//! Presence and typing across instances: joins and leaves announced once, a
//! reconnect within the grace period is neither, a crashed instance's users are
//! announced as gone within 15 seconds; typing notices reach the others. (The
//! presence store itself, on both backends, is `presence_contract.rs`.)

mod support;

use std::time::Duration;

use protocol::{ClientFrame, RoomName, ServerFrame};
use support::{Browser, Instance, PASSWORD, PATIENCE, ProcessInstance, RedisServer, Socket, chatter, wait_until};
use switchboard::presence::Presence;
use switchboard::presence::redis::RedisPresence;

fn general() -> RoomName {
    RoomName::parse("general").expect("valid")
}

fn about<'a>(user: &'a str) -> impl Fn(&ServerFrame) -> bool + 'a {
    move |f| matches!(f, ServerFrame::Joined { user: u, .. } | ServerFrame::Left { user: u, .. } if u == user)
}

#[tokio::test]
async fn a_join_is_announced_once_with_the_member_list_and_a_quick_reconnect_is_silent() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let b = Instance::start(Some(&redis.url()), "app-b").await;
    let (_alice, mut alice_ws) = chatter(&a, "alice").await;
    let bob = Browser::new();
    bob.register(&b, "bob", PASSWORD).await;
    let mut bob_ws = bob.socket(&b).await.expect("admitted");
    bob_ws.join("general").await;
    let users = bob_ws
        .expect(|f| match f {
            ServerFrame::Presence { users, .. } => Some(users),
            _ => None,
        })
        .await;
    assert_eq!(users, ["alice", "bob"], "the member list covers both instances");
    alice_ws.expect(|f| about("bob")(&f).then_some(())).await;

    // Bob's connection drops and comes back on the other instance within the grace period.
    drop(bob_ws);
    let mut bob_again = bob.socket(&a).await.expect("admitted");
    bob_again.join("general").await;
    let mut second_tab = bob.socket(&b).await.expect("admitted");
    second_tab.join("general").await;
    bob_again.say("general", "back", "bob is back").await;
    // The dropped socket's exit is applied after the grace period: app-b's count for bob goes from 2
    // (the dropped socket and the second tab) to 1. Only then may a wrong leave have been announced.
    let mut admin =
        redis::Client::open(redis.url()).expect("url").get_multiplexed_async_connection().await.expect("up");
    wait_until(PATIENCE, "the dropped socket's exit was applied", || {
        let mut admin = admin.clone();
        async move {
            let on_b: Option<i64> = redis::cmd("HGET")
                .arg("sb:presence:{general}")
                .arg("bob|app-b")
                .query_async(&mut admin)
                .await
                .expect("hget");
            on_b == Some(1)
        }
    })
    .await;
    let on_a: Option<i64> =
        redis::cmd("HGET").arg("sb:presence:{general}").arg("bob|app-a").query_async(&mut admin).await.expect("hget");
    assert_eq!(on_a, Some(1), "the reconnect on app-a is counted");
    bob_again.say("general", "later", "after the grace period").await;
    let mut seen = Vec::new();
    loop {
        let frame = alice_ws.next().await.expect("open");
        if matches!(&frame, ServerFrame::Message(m) if m.text == "after the grace period") {
            break;
        }
        seen.push(frame);
    }
    assert!(!seen.iter().any(about("bob")), "no leave and no join for a reconnect or a second tab: {seen:?}");

    // A real leave is announced once.
    drop(bob_again);
    drop(second_tab);
    alice_ws.expect(|f| matches!(&f, ServerFrame::Left { user, .. } if user == "bob").then_some(())).await;
}

#[tokio::test]
async fn the_users_of_a_killed_instance_are_announced_gone_within_15_seconds() {
    let redis = RedisServer::start().await;
    let survivor = Instance::start(Some(&redis.url()), "app-survivor").await;
    let doomed = ProcessInstance::start(&redis.url(), "app-doomed").await;
    let (_alice, mut alice_ws) = chatter(&survivor, "alice").await;
    let bob = Browser::new();
    bob.register(&doomed.as_instance(), "bob", PASSWORD).await;
    let mut bob_ws = Socket::connect(&doomed.as_instance(), bob.cookie(&doomed.as_instance()).as_deref(), None)
        .await
        .expect("admitted");
    bob_ws.join("general").await;
    alice_ws.expect(|f| matches!(&f, ServerFrame::Joined { user, .. } if user == "bob").then_some(())).await;

    let killed_at = tokio::time::Instant::now();
    doomed.kill().await;
    let deadline = killed_at + Duration::from_secs(15);
    let mut left = false;
    while !left && tokio::time::Instant::now() < deadline {
        let frame = alice_ws.next_within(deadline - tokio::time::Instant::now()).await;
        left = matches!(frame, Some(ServerFrame::Left { user, .. }) if user == "bob");
    }
    assert!(left, "bob was not announced gone within 15 s");
    println!("bob announced gone {:?} after the kill", killed_at.elapsed());
}

#[tokio::test]
async fn typing_reaches_the_others_is_not_echoed_and_is_rate_limited() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let b = Instance::start(Some(&redis.url()), "app-b").await;
    let (_alice, mut alice_ws) = chatter(&a, "alice").await;
    let (_bob, mut bob_ws) = chatter(&b, "bob").await;
    for _ in 0..10 {
        alice_ws.send(&ClientFrame::Typing { room: "general".into() }).await;
    }
    // Sent without waiting for the ack (waiting would skip any frame before it, an echo included).
    let done = ClientFrame::Send { room: "general".into(), client_id: "done".into(), text: "done typing".into() };
    alice_ws.send(&done).await;
    let mut typing = 0;
    loop {
        match bob_ws.next().await.expect("open") {
            ServerFrame::Typing { user, room } => {
                assert_eq!((user.as_str(), room.as_str()), ("alice", "general"));
                typing += 1;
            }
            ServerFrame::Message(m) if m.text == "done typing" => break,
            _ => {}
        }
    }
    assert!((1..=2).contains(&typing), "a burst of 10 typing notices is relayed once or twice, got {typing}");
    // Alice never hears her own typing: everything she got up to a later marker from bob has none.
    bob_ws.say("general", "marker", "bob's marker").await;
    let mut heard = Vec::new();
    loop {
        let frame = alice_ws.next().await.expect("open");
        if matches!(&frame, ServerFrame::Message(m) if m.text == "bob's marker") {
            break;
        }
        heard.push(frame);
    }
    assert!(heard.iter().any(|f| matches!(f, ServerFrame::Ack { client_id, .. } if client_id == "done")));
    assert!(!heard.iter().any(|f| matches!(f, ServerFrame::Typing { .. })), "typing echoed to alice: {heard:?}");
}

#[tokio::test]
async fn an_instance_whose_entries_were_reaped_during_an_outage_enters_them_again() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let (_alice, _alice_ws) = chatter(&a, "alice").await;
    let conn = support::connect(&redis.url()).await;
    let presence = RedisPresence::new(conn.clone(), "sb:");
    // As if Redis had been away longer than the lease: the lease is gone and another instance reaped.
    let mut admin = conn.clone();
    let _: () = redis::cmd("DEL").arg("sb:instance:{app-a}").query_async(&mut admin).await.expect("del");
    let gone = presence.reap().await.expect("reap");
    assert_eq!(gone.iter().map(|d| d.user.as_str()).collect::<Vec<_>>(), ["alice"]);
    assert!(presence.members(&general()).await.expect("members").is_empty());
    // Within one heartbeat the instance notices its lapsed lease and enters its memberships again, once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    // A poll that times out on a loaded machine is a "not yet", not a failure.
    while !presence.members(&general()).await.is_ok_and(|members| !members.is_empty()) {
        assert!(tokio::time::Instant::now() < deadline, "alice was never entered again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sockets: i64 =
        redis::cmd("HGET").arg("sb:presence:{general}").arg("alice|app-a").query_async(&mut admin).await.expect("hget");
    assert_eq!(sockets, 1, "restored, not double-counted");
}
