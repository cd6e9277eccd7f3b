//! The signals contract (instance-wide orders such as logouts), run on the memory and the
//! Redis implementations alike: an order sent by one instance reaches every instance, in order.
//! On Redis the two "instances" are two `RedisSignals` on one server, each with its own
//! listening connection, as two processes would have.

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Duration;

use support::RedisServer;
use switchboard::redis_conn::RedisTarget;
use switchboard::signals::memory::MemorySignals;
use switchboard::signals::redis::RedisSignals;
use switchboard::signals::{Signal, Signals};
use tokio::sync::broadcast::Receiver;

/// Two instances' signals and the Redis they share, if any.
struct Pair {
    a: Arc<dyn Signals>,
    b: Arc<dyn Signals>,
    redis: Option<RedisServer>,
}

async fn memory() -> Pair {
    let shared: Arc<dyn Signals> = Arc::new(MemorySignals::default());
    Pair { a: shared.clone(), b: shared, redis: None }
}

/// A `RedisSignals` on `url` under `prefix`, with its own connections, as an instance has.
async fn signals_on(url: &str, prefix: &str) -> Arc<dyn Signals> {
    let target = RedisTarget::parse(url).expect("url");
    let conn = target.connect().await.expect("redis up");
    Arc::new(RedisSignals::new(&target, conn, prefix))
}

async fn redis() -> Pair {
    let server = RedisServer::start().await;
    let (a, b) = (signals_on(&server.url(), "test:").await, signals_on(&server.url(), "test:").await);
    Pair { a, b, redis: Some(server) }
}

async fn cluster() -> Pair {
    let (url, prefix) = (support::shared_cluster().url(), support::unique_prefix());
    let (a, b) = (signals_on(&url, &prefix).await, signals_on(&url, &prefix).await);
    Pair { a, b, redis: None }
}

fn end(login: &str) -> Signal {
    Signal::EndSession { login: login.to_owned() }
}

/// Sends probes from `from` until `to` hears one (its listening connection is up), then
/// returns with the probes consumed, so the test's own orders are the next ones heard.
async fn settle(from: &dyn Signals, to: &mut Receiver<Signal>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (mut probe, mut last_sent) = (0, None);
    loop {
        assert!(tokio::time::Instant::now() < deadline, "the listener never came up");
        // Right after a Redis restart a send may fail once: the probes just go on.
        if from.send(&end(&format!("probe-{probe}"))).await.is_ok() {
            last_sent = Some(probe);
        }
        probe += 1;
        if let Ok(Ok(heard)) = tokio::time::timeout(Duration::from_millis(100), to.recv()).await {
            // The probes still in flight arrive in order before anything sent after this.
            let last = end(&format!("probe-{}", last_sent.expect("a probe was heard, so one was sent")));
            if heard != last {
                while next(to).await != last {}
            }
            return;
        }
    }
}

async fn next(to: &mut Receiver<Signal>) -> Signal {
    tokio::time::timeout(Duration::from_secs(5), to.recv()).await.expect("an order within 5 s").expect("open")
}

async fn an_order_reaches_every_instance_including_the_sender(pair: Pair) {
    settle(&*pair.a, &mut pair.b.receive()).await;
    settle(&*pair.b, &mut pair.a.receive()).await;
    let (mut on_a, mut on_b) = (pair.a.receive(), pair.b.receive());
    let order = Signal::EndUser { user: "alice".into() };
    pair.a.send(&order).await.expect("send");
    // Late probes may come first; the order must follow within the deadline of `next`. The
    // sender hears its own orders too (the user's sockets on this instance close as well).
    for (instance, receiver) in [("the other instance", &mut on_b), ("the sender", &mut on_a)] {
        let mut heard = next(receiver).await;
        while heard != order {
            assert!(
                matches!(&heard, Signal::EndSession { login } if login.starts_with("probe-")),
                "{instance}: {heard:?}"
            );
            heard = next(receiver).await;
        }
    }
}

async fn orders_arrive_in_the_order_sent(pair: Pair) {
    let mut on_b = pair.b.receive();
    settle(&*pair.a, &mut on_b).await;
    for i in 0..50 {
        pair.a.send(&end(&format!("login-{i}"))).await.expect("send");
    }
    for i in 0..50 {
        assert_eq!(next(&mut on_b).await, end(&format!("login-{i}")));
    }
    drop(pair.redis);
}

contract_tests!([memory, redis, cluster]: an_order_reaches_every_instance_including_the_sender, orders_arrive_in_the_order_sent);

/// Redis only: a listener whose connection dropped (Redis restarted) comes back by itself.
#[tokio::test]
async fn listening_resumes_after_redis_restarts() {
    let mut pair = redis().await;
    let mut on_b = pair.b.receive();
    settle(&*pair.a, &mut on_b).await;
    pair.redis.as_mut().expect("redis").restart().await;
    // The sender's connection manager reconnects on the next call; the listener on its own.
    settle(&*pair.a, &mut on_b).await;
    pair.a.send(&end("after the restart")).await.expect("send");
    assert_eq!(next(&mut on_b).await, end("after the restart"));
}
