//! The HTTP server loop: accepts connections and serves the router on each.
//!
//! `axum::serve` would do, but it offers no way to give hyper a timer, and
//! without one hyper never times out a request whose headers arrive a byte at a
//! time: a few hundred such connections (slowloris) hold an instance's sockets
//! and file descriptors for as long as the client likes. This loop is axum's,
//! with hyper's HTTP/1 connection builder configured: a [`TokioTimer`] and a
//! header read timeout. hyper starts that timer whenever it waits for a
//! request head, so an idle keep-alive connection is closed after the same
//! time; an upgraded connection (a websocket) is no longer HTTP and is not
//! affected.
//!
//! Kept from `axum::serve`: TCP_NODELAY on every connection, the peer address as
//! [`ConnectInfo`] for the router, accept errors logged and retried after a pause
//! (axum's [`Listener`] for [`TcpListener`]: running out of file descriptors
//! must not end the loop), HTTP/1 only, and a graceful stop: when `shutdown`
//! resolves the listener closes, idle connections close, requests in flight
//! finish (up to [`SHUTDOWN_GRACE`]).

use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::{Listener, ListenerExt};
use hyper::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tracing::{debug, warn};

/// How long requests in flight may take to finish once the server stops.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How connections are served.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// Time a client has to send a request's headers (and the longest idle keep-alive).
    pub header_timeout: Duration,
    /// The kernel send buffer of every connection, in bytes (`None`: the kernel's autotuning,
    /// up to several MB per connection that stops reading).
    pub send_buffer: Option<usize>,
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops gracefully.
pub async fn serve(listener: TcpListener, router: Router, options: ServeOptions, shutdown: impl Future<Output = ()>) {
    // Chat frames are small and latency-bound: no Nagle delay on sockets.
    let send_buffer = options.send_buffer;
    let mut listener = listener.tap_io(move |stream: &mut TcpStream| {
        if let Err(err) = stream.set_nodelay(true) {
            debug!(%err, "could not set TCP_NODELAY");
        }
        // What a client that stops reading can pin in the kernel is bounded too, not only
        // what the socket's own queue holds.
        if let Some(bytes) = send_buffer
            && let Err(err) = socket2::SockRef::from(&*stream).set_send_buffer_size(bytes)
        {
            debug!(%err, "could not set SO_SNDBUF");
        }
    });
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(options.header_timeout);
    let stopping = CancellationToken::new();
    let connections = TaskTracker::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = Listener::accept(&mut listener) => accepted,
        };
        connections.spawn(serve_connection(&http, stream, peer, router.clone(), stopping.clone()));
    }
    drop(listener);
    stopping.cancel();
    connections.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.wait()).await.is_err() {
        warn!(open = connections.len(), "connections still open at shutdown");
    }
}

/// Serves one connection (and its upgrade, if it asks for one) until it ends or `stopping` is
/// cancelled, after which it finishes the request in flight and closes.
fn serve_connection(
    http: &http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    stopping: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    let service = router.map_request(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)).with_upgrades();
    async move {
        let mut connection = pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = stopping.cancelled() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(err) = result {
            // Timeouts, resets and malformed requests: the client's problem, not the server's.
            debug!(%peer, %err, "connection ended with an error");
        }
    }
}
