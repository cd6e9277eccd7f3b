//! Connection hygiene: a client that trickles its request headers (slowloris), sends
//! nothing, or idles on a keep-alive connection is cut off after `HEADER_TIMEOUT_SECS`;
//! ordinary requests and websockets (which outlive that timeout) are unaffected.

mod support;

use std::time::Duration;

use protocol::{ClientFrame, ServerFrame};
use support::{Instance, chatter};
use switchboard::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The header timeout the instances under test use.
const TIMEOUT: Duration = Duration::from_secs(2);
/// How much later than the timeout the server may close.
const SLACK: Duration = Duration::from_secs(3);

async fn instance() -> Instance {
    let mut config = Config::for_tests();
    config.header_timeout_secs = TIMEOUT.as_secs();
    Instance::start_with(config, None).await
}

/// What became of a connection.
struct Watched {
    /// When the server closed it (since the watch began), if it did within the limit.
    closed_after: Option<Duration>,
    /// Everything the server sent.
    received: Vec<u8>,
}

/// Writes `trickle` one byte per second while watching for the server to close the
/// connection (EOF, reset or a refused write), for at most `limit`.
async fn watch(stream: &mut TcpStream, trickle: &[u8], limit: Duration) -> Watched {
    let start = Instant::now();
    let mut received = Vec::new();
    let mut pending = trickle.iter();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        if let Some(byte) = pending.next()
            && stream.write_all(&[*byte]).await.is_err()
        {
            return Watched { closed_after: Some(start.elapsed()), received };
        }
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return Watched { closed_after: Some(start.elapsed()), received },
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => {} // nothing for a second: keep trickling
        }
    }
    Watched { closed_after: None, received }
}

#[tokio::test]
async fn headers_sent_a_byte_a_second_are_cut_off() {
    let a = instance().await;
    let mut stream = TcpStream::connect(a.addr).await.expect("connect");
    stream.write_all(b"GET / HTTP/1.1\r\n").await.expect("request line");
    let trickle = b"Host: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let watched = watch(&mut stream, trickle, TIMEOUT + SLACK + SLACK).await;
    let closed = watched.closed_after.expect("the server never closed a connection trickling its headers");
    assert!(closed <= TIMEOUT + SLACK, "closed only after {closed:?}");
    assert!(!String::from_utf8_lossy(&watched.received).contains("200 OK"), "no request was served");
}

#[tokio::test]
async fn a_silent_connection_is_closed() {
    let a = instance().await;
    let mut stream = TcpStream::connect(a.addr).await.expect("connect");
    let closed = watch(&mut stream, b"", TIMEOUT + SLACK + SLACK).await.closed_after;
    assert!(closed.is_some_and(|after| after <= TIMEOUT + SLACK), "closed after {closed:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_request_was_served() {
    let a = instance().await;
    let mut stream = TcpStream::connect(a.addr).await.expect("connect");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.expect("request");
    let watched = watch(&mut stream, b"", TIMEOUT + SLACK + SLACK).await;
    assert!(String::from_utf8_lossy(&watched.received).starts_with("HTTP/1.1 200"), "the request was served");
    let closed = watched.closed_after.expect("the idle keep-alive connection stayed open");
    assert!(closed <= TIMEOUT + SLACK, "closed only after {closed:?}");
}

#[tokio::test]
async fn requests_and_websockets_outliving_the_timeout_still_work() {
    let a = instance().await;
    let (browser, mut socket) = chatter(&a, "alice").await;
    assert_eq!(browser.get(&a, "/healthz").await.0.as_u16(), 200);
    // The websocket is no longer HTTP: the header timeout must not touch it.
    tokio::time::sleep(TIMEOUT + Duration::from_secs(1)).await;
    socket.send(&ClientFrame::Ping).await;
    socket.expect(|frame| matches!(frame, ServerFrame::Pong).then_some(())).await;
    socket.say("general", "late", "still here").await;
    // A keep-alive connection of the HTTP client that idled past the timeout is replaced.
    assert_eq!(browser.get(&a, "/healthz").await.0.as_u16(), 200);
}
