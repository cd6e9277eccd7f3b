//! Failures an instance must ride out: Redis restarting under it, and its own
//! graceful drain.

mod support;

use std::time::Duration;

use protocol::{CLOSE_SERVICE_RESTART, ClientFrame, ErrorCode, ServerFrame};
use support::{Browser, Instance, PASSWORD, RedisServer, chatter};

/// Sends until the server acks (a send during an outage gets an `unavailable` error, never silence).
async fn say_until_stored(ws: &mut support::Socket, client_id: &str, text: &str) -> protocol::MessageId {
    for _ in 0..100 {
        ws.send(&ClientFrame::Send { room: "general".into(), client_id: client_id.into(), text: text.into() }).await;
        let wanted = client_id.to_owned();
        let outcome = ws
            .expect(|f| match f {
                ServerFrame::Ack { client_id, id } if client_id == wanted => Some(Ok(id)),
                ServerFrame::Error { code, client_id: Some(c), .. } if c == wanted => Some(Err(code)),
                _ => None,
            })
            .await;
        match outcome {
            Ok(id) => return id,
            Err(code) => assert_eq!(code, ErrorCode::Unavailable),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("message never stored");
}

#[tokio::test]
async fn instances_ride_out_a_redis_restart() {
    let mut redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let b = Instance::start(Some(&redis.url()), "app-b").await;
    let (alice, mut alice_ws) = chatter(&a, "alice").await;
    let (bob, mut bob_ws) = chatter(&b, "bob").await;
    alice_ws.say("general", "before", "before the outage").await;
    bob_ws.hear("before the outage").await;

    redis.stop().await;
    a.wait_ready(false).await;
    // During the outage a send is refused with a clear error, not lost in silence.
    alice_ws
        .send(&ClientFrame::Send {
            room: "general".into(),
            client_id: "during".into(),
            text: "during the outage".into(),
        })
        .await;
    let code = alice_ws
        .expect(|f| match f {
            ServerFrame::Error { code, client_id: Some(c), .. } if c == "during" => Some(code),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::Unavailable);

    redis.resume().await;
    a.wait_ready(true).await;
    b.wait_ready(true).await;
    // A message written after the refused one waits for it (refused the same way), so the
    // room gets them in the order alice wrote them once her client retries both, in order.
    alice_ws.send(&ClientFrame::Send { room: "general".into(), client_id: "after".into(), text: "y".into() }).await;
    let held = alice_ws
        .expect(|f| match f {
            ServerFrame::Error { code, client_id: Some(c), .. } if c == "after" => Some(code),
            ServerFrame::Ack { client_id, .. } if client_id == "after" => panic!("stored before the earlier message"),
            _ => None,
        })
        .await;
    assert_eq!(held, ErrorCode::Unavailable);
    // The sockets stayed open; the instances resubscribed; chat flows again both ways.
    let during = say_until_stored(&mut alice_ws, "during", "during the outage").await;
    let after = say_until_stored(&mut alice_ws, "after", "after the outage").await;
    assert!(during < after, "stored in the order written: {during} then {after}");
    bob_ws.hear("during the outage").await;
    bob_ws.hear("after the outage").await;
    say_until_stored(&mut bob_ws, "reply", "bob after the outage").await;
    alice_ws.hear("bob after the outage").await;

    // Sessions (and accounts) survived the restart: AOF.
    let (status, body) = alice.get(&b, "/").await;
    assert!(status.is_success() && body.contains("alice"), "{status}");
    assert!(bob.login(&a, "bob", PASSWORD).await.is_success());
}

#[tokio::test]
async fn drain_fails_readiness_then_moves_every_socket() {
    let redis = RedisServer::start().await;
    let mut config = switchboard::config::Config::for_tests();
    config.redis_url = Some(redis.url());
    config.instance_id = Some("app-a".into());
    config.drain_grace_ms = 500;
    config.drain_spread_ms = 2_000;
    let a = Instance::start_with(config, None).await;
    let alice = Browser::new();
    alice.register(&a, "alice", PASSWORD).await;
    let mut sockets = Vec::new();
    for _ in 0..5 {
        let mut ws = alice.socket(&a).await.expect("admitted");
        ws.join("general").await;
        sockets.push(ws);
    }
    assert!(a.is_ready().await);
    a.begin_drain();
    // Readiness fails at once, while the grace period still serves.
    assert!(!a.is_ready().await, "readyz must fail as soon as the drain starts");
    let mut delays = Vec::new();
    for ws in &mut sockets {
        let after = ws
            .expect(|f| match f {
                ServerFrame::Move { after_ms } => Some(after_ms),
                _ => None,
            })
            .await;
        assert!(after <= 2_000);
        delays.push(after);
        assert_eq!(ws.close_code().await, Some(CLOSE_SERVICE_RESTART));
    }
    delays.sort_unstable();
    delays.dedup();
    assert!(delays.len() > 1, "move delays are spread, not identical: {delays:?}");
    for _ in 0..50 {
        if a.is_finished() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the instance did not exit after its sockets were gone");
}

#[tokio::test]
async fn a_dropped_subscription_is_refilled_from_the_stream() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let b = Instance::start(Some(&redis.url()), "app-b").await;
    let (_alice, mut alice_ws) = chatter(&a, "alice").await;
    let (_bob, mut bob_ws) = chatter(&b, "bob").await;

    // Cut every pub/sub connection (the command connections stay): what is published before
    // the instances resubscribe never reaches them through pub/sub. Each instance has two: the
    // rooms' (the broker's) and the instance-wide orders' (signals).
    let client = redis::Client::open(redis.url()).expect("url");
    let mut admin = client.get_multiplexed_async_connection().await.expect("redis up");
    let killed: i64 =
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut admin).await.expect("kill");
    assert_eq!(killed, 4, "two pub/sub connections per instance");
    let mut sent = Vec::new();
    for i in 0..20 {
        sent.push(alice_ws.say("general", &format!("h{i}"), &format!("during the hole {i}")).await);
    }
    let mut received = Vec::new();
    while received.len() < sent.len() {
        received.push(
            bob_ws
                .expect(|f| match f {
                    ServerFrame::Message(m) => Some(m.id),
                    _ => None,
                })
                .await,
        );
    }
    assert_eq!(received, sent, "every message once, in order, despite the dropped subscription");
}
