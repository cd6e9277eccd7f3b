//! Nothing sent is lost, nothing is shown twice: catch-up after a reconnect,
//! explicit gaps, a killed instance, slow consumers.

mod support;

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use protocol::{CLOSE_TOO_SLOW, ClientFrame, ServerFrame};
use support::{Browser, Instance, PASSWORD, ProcessInstance, RedisServer, Socket, chatter};
use switchboard::config::Config;

#[tokio::test]
async fn a_client_that_reconnects_with_its_last_id_gets_every_missed_message_once_in_order() {
    let redis = RedisServer::start().await;
    let a = Instance::start(Some(&redis.url()), "app-a").await;
    let b = Instance::start(Some(&redis.url()), "app-b").await;
    let (_alice, mut alice_ws) = chatter(&a, "alice").await;
    let (bob, mut bob_ws) = chatter(&b, "bob").await;
    alice_ws.say("general", "seen", "seen by bob").await;
    let last_seen = bob_ws.hear("seen by bob").await.id;
    drop(bob_ws);

    let mut sent = Vec::new();
    for i in 0..50 {
        sent.push(alice_ws.say("general", &format!("m{i}"), &format!("missed {i}")).await);
    }
    let mut bob_ws = bob.socket(&a).await.expect("admitted on the other instance");
    let (replayed, gap) = bob_ws.join_since("general", Some(last_seen)).await;
    assert_eq!(gap, None);
    assert_eq!(replayed.iter().map(|m| m.id).collect::<Vec<_>>(), sent, "all 50, in order, once");
    // And live messages follow the replay.
    let live = alice_ws.say("general", "live", "live after the replay").await;
    assert_eq!(bob_ws.hear("live after the replay").await.id, live);
}

#[tokio::test]
async fn trimmed_history_is_reported_as_an_explicit_gap() {
    let redis = RedisServer::start().await;
    let mut config = Config::for_tests();
    config.redis_url = Some(redis.url());
    config.history_cap = 10;
    let a = Instance::start_with(config, None).await;
    let (alice, mut ws) = chatter(&a, "alice").await;
    let first = ws.say("general", "first", "first").await;
    let mut sent = vec![first];
    for i in 0..300 {
        sent.push(ws.say("general", &format!("c{i}"), "filler").await);
    }
    let mut late = alice.socket(&a).await.expect("admitted");
    let (replayed, gap) = late.join_since("general", Some(first)).await;
    let gap = gap.expect("the trimmed range is reported");
    assert_eq!(gap.after, first);
    let first_kept = replayed.first().expect("some history is kept");
    assert!(gap.until < first_kept.id, "the gap ends before what is replayed");
    // What is replayed is exactly the tail of what was sent: nothing in between is silently missing.
    let kept: Vec<_> = replayed.iter().map(|m| m.id).collect();
    assert_eq!(kept.as_slice(), &sent[sent.len() - kept.len()..]);
    let gone: Vec<_> = sent.iter().filter(|&&id| id > first && id <= gap.until).collect();
    assert_eq!(gone.len() + kept.len(), sent.len() - 1, "gap + replay cover everything after `since`");
}

/// A test client that behaves like the browser's: an outbox of unacked sends, resent with the
/// same ids after a reconnect, and a transcript deduplicated by message id.
struct Client {
    browser: Browser,
    socket: Option<Socket>,
    seen: BTreeSet<protocol::MessageId>,
    outbox: Vec<(String, String)>,
}

impl Client {
    async fn connect(&mut self, instance: &Instance) {
        let mut socket = self.browser.socket(instance).await.expect("admitted");
        let since = self.seen.last().copied();
        let (history, _) = socket.join_since("general", since).await;
        for message in history {
            self.seen.insert(message.id);
        }
        for (client_id, text) in &self.outbox {
            let frame = ClientFrame::Send { room: "general".into(), client_id: client_id.clone(), text: text.clone() };
            socket.send(&frame).await;
        }
        self.socket = Some(socket);
    }

    /// Reads what is available for `window`; returns false if the socket closed.
    async fn pump(&mut self, window: Duration) -> bool {
        let Some(socket) = self.socket.as_mut() else {
            return false;
        };
        let deadline = tokio::time::Instant::now() + window;
        loop {
            match tokio::time::timeout_at(deadline, socket.next()).await {
                Err(_) => return true,
                Ok(None) => {
                    self.socket = None;
                    return false;
                }
                Ok(Some(ServerFrame::Message(m))) => {
                    let duplicate = !self.seen.insert(m.id);
                    assert!(!duplicate, "message {} delivered twice", m.id);
                }
                Ok(Some(ServerFrame::Ack { client_id, .. })) => self.outbox.retain(|(c, _)| *c != client_id),
                Ok(Some(_)) => {}
            }
        }
    }

    async fn send(&mut self, client_id: String, text: String) {
        self.outbox.push((client_id.clone(), text.clone()));
        if let Some(socket) = self.socket.as_mut() {
            socket.send(&ClientFrame::Send { room: "general".into(), client_id, text }).await;
        }
    }
}

#[tokio::test]
async fn killing_an_instance_while_messages_flow_loses_and_duplicates_nothing() {
    let redis = RedisServer::start().await;
    let doomed = ProcessInstance::start(&redis.url(), "app-doomed").await;
    let survivor = ProcessInstance::start(&redis.url(), "app-survivor").await;
    let (doomed_at, survivor_at) = (doomed.as_instance(), survivor.as_instance());
    let mut clients = Vec::new();
    for (i, instance) in [&doomed_at, &doomed_at, &survivor_at, &survivor_at].into_iter().enumerate() {
        let browser = Browser::new();
        assert!(browser.register(instance, &format!("user{i}"), PASSWORD).await.is_success());
        let mut client = Client { browser, socket: None, seen: BTreeSet::new(), outbox: Vec::new() };
        client.connect(instance).await;
        clients.push(client);
    }
    // Everybody sends (the first two through the instance that will die) while it is killed.
    let mut doomed = Some(doomed);
    for round in 0..30 {
        for (i, client) in clients.iter_mut().enumerate() {
            client.send(format!("u{i}-r{round}"), format!("round {round} from user{i}")).await;
        }
        if round == 12 {
            if let Some(doomed) = doomed.take() {
                doomed.kill().await;
            }
            for client in clients.iter_mut().take(2) {
                // The socket is dead: what was unacked stays in the outbox and is resent.
                while client.pump(Duration::from_millis(50)).await {}
                client.connect(&survivor_at).await;
            }
        }
        for client in &mut clients {
            client.pump(Duration::from_millis(5)).await;
        }
    }
    for _ in 0..200 {
        for client in &mut clients {
            assert!(client.pump(Duration::from_millis(20)).await, "sockets on the survivor stay open");
        }
        if clients.iter().all(|c| c.outbox.is_empty() && c.seen.len() == 4 * 30) {
            break;
        }
    }
    let reference: Vec<_> = clients[2].seen.iter().copied().collect();
    assert_eq!(reference.len(), 4 * 30, "every message stored exactly once (lost = 0, duplicates = 0)");
    for client in &clients {
        assert!(client.outbox.is_empty(), "every send acked");
        assert_eq!(client.seen.iter().copied().collect::<Vec<_>>(), reference, "same complete sequence everywhere");
    }
    let unique: HashSet<_> = reference.iter().collect();
    assert_eq!(unique.len(), reference.len());
    drop(doomed_at);
}

#[tokio::test]
async fn a_slow_consumer_is_cut_with_a_clear_code_and_recovers_by_catching_up() {
    let redis = RedisServer::start().await;
    let mut config = Config::for_tests();
    config.redis_url = Some(redis.url());
    config.socket_queue = 8;
    config.history_cap = 100_000;
    // Slow, not dead: it reads again later, within the write deadline (a client that never
    // reads is tested in socket_limits.rs).
    config.write_timeout_secs = 120;
    let a = Instance::start_with(config, None).await;
    let (alice, slow) = (Browser::new(), Browser::new());
    alice.register(&a, "alice", PASSWORD).await;
    slow.register(&a, "slowpoke", PASSWORD).await;
    let mut alice_ws = alice.socket(&a).await.expect("admitted");
    alice_ws.join("general").await;
    let mut slow_ws = Socket::connect_slow(&a, &slow.cookie(&a).expect("cookie")).await;
    slow_ws.join("general").await;

    // The slow client does not read while alice sends about 6 MB (alice reads her acks as she
    // goes, as the page does: she is a fast client, not a second slow one).
    let text = "x".repeat(2000);
    let mut sent = Vec::new();
    for batch in 0..60 {
        for i in batch * 50..(batch + 1) * 50 {
            alice_ws
                .send(&ClientFrame::Send { room: "general".into(), client_id: format!("f{i}"), text: text.clone() })
                .await;
        }
        for _ in 0..50 {
            sent.push(
                alice_ws
                    .expect(|f| match f {
                        ServerFrame::Ack { id, .. } => Some(id),
                        _ => None,
                    })
                    .await,
            );
        }
    }
    // It reads what it was sent, then the close frame: 4008, not a silent end.
    let mut got = Vec::new();
    let code = loop {
        match slow_ws.next_raw().await {
            support::Raw::Frame(ServerFrame::Message(m)) => got.push(m.id),
            support::Raw::Frame(_) => {}
            support::Raw::Closed(code) => break code,
        }
    };
    assert_eq!(code, Some(CLOSE_TOO_SLOW));
    assert!(got.len() < sent.len(), "the client was cut before the end");
    // It catches up from its last id, and ends with everything, once.
    let mut again = slow.socket(&a).await.expect("admitted");
    let (rest, gap) = again.join_since("general", got.last().copied()).await;
    assert_eq!(gap, None);
    got.extend(rest.into_iter().map(|m| m.id));
    assert_eq!(got, sent);
    // Alice was never affected.
    alice_ws.say("general", "after", "alice still fine").await;
}
