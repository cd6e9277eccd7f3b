//! The HTTP fallback end to end: a user on server-sent events and `POST`s chats with a
//! websocket user, on the memory backend and on two instances over Redis with the
//! `POST`s spread over both while the stream is on one; a response that ends is resumed
//! with `Last-Event-ID`, nothing lost or twice; logout and drain end a stream as they end
//! a socket; and a client that lies (no session, another site, another user's stream,
//! oversized or malformed frames) is refused without touching anyone's stream.

#[macro_use]
mod support;

use protocol::{CLOSE_LOGGED_OUT, CLOSE_SERVICE_RESTART, ChatMessage, ClientFrame, ErrorCode, ServerFrame};
use support::events::{Events, post_raw};
use support::{Browser, Instance, PASSWORD, Pair, RedisServer, Socket, chatter, tuned};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Registers `name` on `instance` and opens a stream there; waits for its `welcome`.
async fn streamer(instance: &Instance, name: &str) -> (Browser, Events) {
    let browser = Browser::new();
    assert!(browser.register(instance, name, PASSWORD).await.is_success(), "register {name}");
    let mut events = Events::open(instance, browser.cookie(instance).as_deref(), None).await.expect("stream opens");
    events.expect(|f| matches!(f, ServerFrame::Welcome { .. }).then_some(())).await;
    (browser, events)
}

fn send(client_id: &str, text: &str) -> ClientFrame {
    ClientFrame::Send { room: "general".into(), client_id: client_id.into(), text: text.into() }
}

fn join() -> ClientFrame {
    ClientFrame::Join { room: "general".into(), since: None }
}

async fn message(ws: &mut Socket) -> ChatMessage {
    ws.expect(|f| if let ServerFrame::Message(m) = f { Some(m) } else { None }).await
}

async fn stream_message(events: &mut Events) -> ChatMessage {
    events.expect(|f| if let ServerFrame::Message(m) = f { Some(m) } else { None }).await
}

async fn a_stream_chats_with_a_socket_while_posts_land_on_every_instance(pair: Pair) {
    let (a, b) = (&pair.a, pair.b());
    let (_bob, mut bob_ws) = chatter(b, "bob").await;
    let (_alice, mut alice) = streamer(a, "alice").await;
    assert_eq!(alice.post_via(b, &[join()]).await, 204, "a POST to the other instance is handed on");
    alice.expect(|f| matches!(f, ServerFrame::History { more: false, .. }).then_some(())).await;
    // Ten messages, their POSTs alternating between the instances: stored once each, in order.
    for n in 0..10 {
        let via = if n % 2 == 0 { a } else { b };
        assert_eq!(alice.post_via(via, &[send(&format!("c{n}"), &format!("hello {n}"))]).await, 204);
    }
    for n in 0..10 {
        let id =
            alice.expect(|f| if let ServerFrame::Ack { client_id, id } = f { Some((client_id, id)) } else { None });
        assert_eq!(id.await.0, format!("c{n}"), "acks in the order sent");
        assert_eq!(message(&mut bob_ws).await.text, format!("hello {n}"), "bob sees each once, in order");
    }
    bob_ws.send(&send("b1", "hi alice")).await;
    let heard = stream_message(&mut alice).await;
    // Alice's own messages come back on her stream too; skip to bob's.
    let heard = if heard.user == "bob" { heard } else { wait_for_user(&mut alice, "bob").await };
    assert_eq!(heard.text, "hi alice");
    // Two frames in one POST are read in order.
    assert_eq!(alice.post(&[ClientFrame::Typing { room: "general".into() }, ClientFrame::Ping]).await, 204);
    alice.expect(|f| matches!(f, ServerFrame::Pong).then_some(())).await;
}

async fn wait_for_user(events: &mut Events, user: &str) -> ChatMessage {
    loop {
        let message = stream_message(events).await;
        if message.user == user {
            return message;
        }
    }
}

async fn a_response_that_ends_is_resumed_after_its_last_event(pair: Pair) {
    let (a, b) = (&pair.a, pair.b());
    let (_bob, mut bob_ws) = chatter(b, "bob").await;
    let (alice_browser, mut alice) = streamer(a, "alice").await;
    alice.post(&[join()]).await;
    alice.expect(|f| matches!(f, ServerFrame::History { more: false, .. }).then_some(())).await;
    bob_ws.send(&send("b1", "one")).await;
    assert_eq!(stream_message(&mut alice).await.text, "one");
    let (id, last) = (alice.id.clone(), alice.last_id.clone().expect("events carry ids"));
    drop(alice); // the response ends under the stream (a proxy cut it)
    bob_ws.send(&send("b2", "two")).await;
    bob_ws.send(&send("b3", "three")).await;
    let cookie = alice_browser.cookie(a);
    let mut resumed = Events::open(a, cookie.as_deref(), Some(&last)).await.expect("the stream resumes");
    assert_eq!(resumed.id, id);
    let first = resumed.next().await.expect("a frame");
    assert!(matches!(&first, ServerFrame::Message(m) if m.text == "two"), "no welcome, no repeat: {first:?}");
    assert_eq!(stream_message(&mut resumed).await.text, "three");
    assert_eq!(resumed.post(&[send("a1", "back")]).await, 204, "the resumed stream takes frames");
    bob_ws.expect(|f| matches!(f, ServerFrame::Message(m) if m.text == "back").then_some(())).await;

    // A stream this instance does not hold, or another user's, is not resumed: 204, the
    // browser stops and the page opens a new stream.
    let stranger = Events::open(b, cookie.as_deref(), Some(&format!("{}.nowhere:3", "f".repeat(32)))).await;
    assert_eq!(stranger.err(), Some(reqwest::StatusCode::NO_CONTENT));
    let (mallory, _ws) = chatter(a, "mallory").await;
    let hijack = Events::open(a, mallory.cookie(a).as_deref(), Some(&last)).await;
    assert_eq!(hijack.err(), Some(reqwest::StatusCode::NO_CONTENT), "another login cannot take the stream");
}

async fn logout_and_drain_end_a_stream_like_a_socket(pair: Pair) {
    let a = &pair.a;
    let (alice_browser, mut alice) = streamer(a, "alice").await;
    assert!(alice_browser.call(a, "logout", &[]).await.is_success());
    let (code, _) = alice.next().await.expect_err("the stream closes");
    assert_eq!(code, Some(CLOSE_LOGGED_OUT));

    let (_bob, mut bob) = streamer(a, "bob").await;
    a.begin_drain();
    bob.expect(|f| matches!(f, ServerFrame::Move { .. }).then_some(())).await;
    let (code, _) = bob.next().await.expect_err("the stream closes after move");
    assert_eq!(code, Some(CLOSE_SERVICE_RESTART));
}

async fn a_client_that_lies_is_refused_and_touches_no_stream(pair: Pair) {
    let a = &pair.a;
    let (alice_browser, mut alice) = streamer(a, "alice").await;
    let cookie = alice_browser.cookie(a).expect("a session");
    let origin = a.url();
    let http = reqwest::Client::new();
    let id = alice.id.clone();
    let frame = send("x1", "forged").encode();
    assert_eq!(post_raw(&http, a, &id, "", &origin, frame.clone()).await, 401, "no session");
    assert_eq!(post_raw(&http, a, &id, &cookie, "http://evil.example", frame.clone()).await, 403, "another site");
    let (mallory, _ws) = chatter(a, "mallory").await;
    let mallory_cookie = mallory.cookie(a).expect("a session");
    assert_eq!(post_raw(&http, a, &id, &mallory_cookie, &origin, frame.clone()).await, 404, "another's stream");
    assert_eq!(post_raw(&http, a, "not-a-stream", &cookie, &origin, frame.clone()).await, 404, "not a stream id");
    let huge = send("x2", &"y".repeat(20_000)).encode();
    assert_eq!(post_raw(&http, a, &id, &cookie, &origin, huge).await, 413, "a frame over MAX_FRAME_BYTES");
    assert_eq!(post_raw(&http, a, &id, &cookie, &origin, String::new()).await, 400, "no frame");
    let request = http.get(format!("{origin}/stream")).header("cookie", &cookie).header("sec-fetch-site", "cross-site");
    assert_eq!(request.send().await.expect("answers").status(), 403, "a stream opened by another site");
    assert_eq!(Events::open(a, None, None).await.err(), Some(reqwest::StatusCode::UNAUTHORIZED));

    // None of that reached alice's stream: a malformed frame of her own is her first answer.
    assert_eq!(post_raw(&http, a, &id, &cookie, &origin, "{not json".into()).await, 204);
    let first = alice.next().await.expect("a frame");
    assert!(matches!(first, ServerFrame::Error { code: ErrorCode::BadFrame, .. }), "got {first:?}");
    alice.post(&[ClientFrame::Ping]).await;
    alice.expect(|f| matches!(f, ServerFrame::Pong).then_some(())).await;
}

/// A stream whose client stops reading is cut like a slow socket (4008): reading again (within
/// the write deadline), it finds what was queued and then the close.
#[tokio::test]
async fn a_stream_nobody_reads_is_cut_as_too_slow() {
    let redis = RedisServer::start().await;
    let a = tuned(&redis, "app-a", |config| {
        config.socket_queue_bytes = 16 * 1024;
        config.sends_per_10s = 1_000;
    })
    .await;
    let (_bob, mut bob_ws) = chatter(&a, "bob").await;
    let alice = Browser::new();
    assert!(alice.register(&a, "alice", PASSWORD).await.is_success());
    let cookie = alice.cookie(&a).expect("a session");
    // A client on a slow link: a tiny receive buffer, and it stops reading after the stream's name.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small buffer");
    let mut tcp = socket.connect(a.addr).await.expect("connect");
    let request = format!("GET /stream HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\n\r\n", a.addr);
    tcp.write_all(request.as_bytes()).await.expect("request");
    let mut seen = Vec::new();
    let id = loop {
        let mut chunk = [0_u8; 1024];
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read(&mut chunk));
        let read = read.await.expect("the stream's name in time").expect("read");
        assert!(read > 0, "the stream answered");
        seen.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&seen).into_owned();
        if let Some(id) = text.split("event: stream\ndata: ").nth(1).and_then(|rest| rest.split('\n').next())
            && rest_complete(&text)
        {
            break id.to_owned();
        }
    };
    let join = join().encode();
    let http = reqwest::Client::new();
    assert_eq!(post_raw(&http, &a, &id, &cookie, &a.url(), join).await, 204);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let text = "z".repeat(1_000);
    for n in 0..400 {
        bob_ws.send(&send(&format!("b{n}"), &text)).await;
    }
    // Every message stored, so every one was offered to the stream's queue.
    for _ in 0..400 {
        bob_ws.expect(|f| matches!(f, ServerFrame::Ack { .. }).then_some(())).await;
    }
    // Reading again, the client finds what was queued, then the close (each event is a chunk).
    let reading = async {
        let mut chunk = vec![0_u8; 64 * 1024];
        while !String::from_utf8_lossy(&seen).split("event: close\n").nth(1).is_some_and(|c| c.contains("\n\n")) {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(read) => seen.extend_from_slice(&chunk[..read]),
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), reading).await.expect("the close in time");
    let all = String::from_utf8_lossy(&seen);
    let close = all.split("event: close\n").nth(1).expect("a close event at the end");
    assert!(close.contains("\"code\":4008"), "too slow: {close:.200}");
    assert!(all.matches("event: message").count() < 400, "cut before everything was queued");
}

/// Whether the stream's first event has fully arrived.
fn rest_complete(text: &str) -> bool {
    text.split("event: stream").nth(1).is_some_and(|rest| rest.contains("\n\n"))
}

contract_tests!(
    [memory, redis]:
    a_stream_chats_with_a_socket_while_posts_land_on_every_instance,
    a_response_that_ends_is_resumed_after_its_last_event,
    logout_and_drain_end_a_stream_like_a_socket,
    a_client_that_lies_is_refused_and_touches_no_stream,
);

async fn memory() -> Pair {
    Pair::memory().await
}

async fn redis() -> Pair {
    Pair::redis().await
}
