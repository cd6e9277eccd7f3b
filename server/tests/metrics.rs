//! `/metrics` from the outside: scraped over HTTP while clients register, chat, reconnect and
//! get cut, its counters move accordingly; with `METRICS_ADDR` it is served there and not on
//! the public listener. (The recorder is one per process, so the tests compare differences.)

mod support;

use std::time::Duration;

use protocol::{ClientFrame, ServerFrame};
use support::{Browser, Instance, PASSWORD, RedisServer, Socket, wait_until};
use switchboard::config::Config;

/// The sum of every series of `name` in a Prometheus text exposition (0 when absent).
fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{')))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn scrape(base: &str) -> String {
    let response = reqwest::get(format!("{base}/metrics")).await.expect("scrape");
    assert!(response.status().is_success(), "{}", response.status());
    response.text().await.expect("body")
}

#[tokio::test]
async fn counters_move_as_clients_chat_reconnect_and_get_cut() {
    let redis = RedisServer::start().await;
    let mut config = Config::for_tests();
    config.redis_url = Some(redis.url());
    config.socket_queue = 4;
    config.socket_queue_bytes = 16 * 1024;
    config.socket_send_buffer_bytes = 4096;
    config.write_timeout_secs = 120;
    let a = Instance::start_with(config, None).await;
    let before = scrape(&a.url()).await;

    let (alice, bob) = (Browser::new(), Browser::new());
    assert!(alice.register(&a, "alice", PASSWORD).await.is_success());
    assert!(bob.register(&a, "bob", PASSWORD).await.is_success());
    assert!(!bob.login(&a, "bob", "wrong password!!").await.is_success());
    let (status, _) = alice.get(&a, "/").await;
    assert!(status.is_success());
    let mut alice_ws = alice.socket(&a).await.expect("admitted");
    alice_ws.join("general").await;
    let id = alice_ws.say("general", "m1", "hello").await;
    alice_ws.send(&ClientFrame::Join { room: "bad room!".into(), since: None }).await;
    alice_ws.expect(|f| matches!(f, ServerFrame::Error { .. }).then_some(())).await;
    // A reconnect catching up from an id.
    let mut again = alice.socket(&a).await.expect("admitted");
    again.join_since("general", Some(protocol::MessageId::new(0, 0))).await;
    let during = scrape(&a.url()).await;
    let delta = |name: &str| value(&during, name) - value(&before, name);
    assert_eq!(delta("switchboard_logins_total"), 3.0, "two registrations and a failed login");
    assert!(delta("switchboard_acks_total") >= 1.0 && delta("switchboard_messages_stored_total") >= 1.0);
    assert!(delta("switchboard_deliveries_total") >= 1.0, "the message reached the room's sockets");
    assert!(delta("switchboard_frames_in_total") >= 4.0 && delta("switchboard_frames_out_total") >= 4.0);
    assert!(delta("switchboard_rejoins_total") >= 1.0 && delta("switchboard_replayed_messages_total") >= 1.0);
    assert!(delta("switchboard_errors_total") >= 1.0, "the bad room was answered with an error");
    assert!(delta("switchboard_page_renders_total") >= 1.0 && delta("switchboard_page_seconds_count") >= 1.0);
    assert!(value(&during, "switchboard_sockets_open") >= 2.0 && value(&during, "switchboard_rooms_local") >= 1.0);
    assert!(value(&during, "switchboard_redis_seconds_count") > value(&before, "switchboard_redis_seconds_count"));
    assert!(during.contains("switchboard_logins_total{outcome=\"refused\"}"), "labelled by outcome");
    let _ = id;

    // A client that stops reading is cut (4008), and counted.
    let mut slow = Socket::connect_slow(&a, &bob.cookie(&a).expect("cookie")).await;
    slow.join("general").await;
    let text = "x".repeat(2000);
    for i in 0..200 {
        alice_ws
            .send(&ClientFrame::Send { room: "general".into(), client_id: format!("s{i}"), text: text.clone() })
            .await;
    }
    let url = a.url();
    wait_until(Duration::from_secs(20), "the slow consumer is cut and counted", || {
        let url = url.clone();
        let before = value(&before, "switchboard_slow_consumers_total");
        async move { value(&scrape(&url).await, "switchboard_slow_consumers_total") > before }
    })
    .await;
}

#[tokio::test]
async fn with_metrics_addr_metrics_leave_the_public_listener() {
    let mut config = Config::for_tests();
    config.metrics_addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let a = Instance::start_with(config, None).await;
    let metrics = a.metrics_addr.expect("a metrics listener");
    let text = scrape(&format!("http://{metrics}")).await;
    assert!(text.contains("switchboard_sockets_open"), "{text}");
    let public = reqwest::get(format!("{}/metrics", a.url())).await.expect("get");
    assert!(
        !public.text().await.unwrap_or_default().contains("switchboard_sockets_open"),
        "not on the public listener"
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_forged_one_is_replaced() {
    let a = Instance::start(None, "app-a").await;
    let client = reqwest::Client::new();
    let own = client.get(format!("{}/healthz", a.url())).header("x-request-id", "lb-1234").send().await.expect("get");
    assert_eq!(own.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("lb-1234"));
    let forged = "<script>".repeat(20);
    let made = client.get(format!("{}/healthz", a.url())).header("x-request-id", &forged).send().await.expect("get");
    let id = made.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(id.len() == 36 && id != forged, "a fresh UUID: {id}");
}
