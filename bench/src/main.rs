//! `loadgen`: measures a running Switchboard (one instance or HAProxy in front of several).
//!
//! It registers `--clients` users, opens one websocket each, joins a fresh room, then has the
//! users take turns sending `--messages` messages and measures, for every delivery to every
//! other member, the time from send to receipt (one process, one clock). It prints the
//! delivery count (lost = expected − received − refused), the sends the server refused
//! (rate limits: run the cluster with raised limits to measure capacity, see the README),
//! latency percentiles and throughput. With `--idle N --pid P...` it also opens N idle
//! sockets (10 per user) and prints the resident memory each costs the server processes
//! (from /proc/P/status). Figures, not assertions: CI runs it small.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures::{SinkExt, StreamExt};
use protocol::{ClientFrame, ServerFrame};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Parser, Debug)]
#[command(about = "Load generator for Switchboard")]
struct Args {
    /// Base URL of the cluster or instance, e.g. http://127.0.0.1:8080
    #[arg(long, env = "SB_URL")]
    url: String,
    /// Chatting users (each with its own socket).
    #[arg(long, default_value_t = 20)]
    clients: usize,
    /// Messages sent in total.
    #[arg(long, default_value_t = 200)]
    messages: usize,
    /// Extra idle sockets to open for the memory figure.
    #[arg(long, default_value_t = 0)]
    idle: usize,
    /// Server process ids whose resident memory is measured around the idle sockets.
    #[arg(long, num_args = 0..)]
    pid: Vec<u32>,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const PASSWORD: &str = "bench password 1";

/// Registers a new user; returns its `Cookie` header.
async fn register(url: &str, name: &str) -> Result<reqwest::header::HeaderValue> {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let http =
        reqwest::Client::builder().cookie_provider(jar.clone()).redirect(reqwest::redirect::Policy::none()).build()?;
    let status =
        http.post(format!("{url}/api/register")).form(&[("name", name), ("password", PASSWORD)]).send().await?.status();
    if !status.is_success() {
        bail!("register {name}: {status}");
    }
    let parsed = url.parse().context("url")?;
    reqwest::cookie::CookieStore::cookies(&*jar, &parsed).context("no cookie")
}

/// Opens a websocket with a session cookie; returns it after `welcome`.
async fn open(url: &str, cookie: reqwest::header::HeaderValue) -> Result<Socket> {
    let mut request = format!("{}/ws", url.replacen("http", "ws", 1)).into_client_request()?;
    request.headers_mut().insert("cookie", cookie);
    request.headers_mut().insert("origin", url.parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true).await?;
    while let Some(frame) = socket.next().await {
        if let Message::Text(text) = frame?
            && matches!(ServerFrame::decode(text.as_str()), Ok(ServerFrame::Welcome { .. }))
        {
            return Ok(socket);
        }
    }
    bail!("socket closed before welcome")
}

fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let url = args.url.trim_end_matches('/').to_owned();
    let run = format!("{:x}", rand::random::<u32>());
    let room = format!("bench-{run}");
    let clients = args.clients.max(2);

    let started = Instant::now();
    let mut sockets = Vec::new();
    for i in 0..clients {
        let mut socket = open(&url, register(&url, &format!("b{run}-{i}")).await?).await?;
        socket.send(Message::text(ClientFrame::Join { room: room.clone(), since: None }.encode())).await?;
        sockets.push(socket);
    }
    println!("connected {clients} users (register + login + websocket) in {:.2?}", started.elapsed());

    // Every send is stamped here; every receiver computes its latency against the stamp.
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let refused: Arc<Mutex<usize>> = Arc::default();
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for socket in sockets {
        let (writer, mut reader) = socket.split();
        writers.push(writer);
        let (sent, latencies, refused) = (sent.clone(), latencies.clone(), refused.clone());
        readers.push(tokio::spawn(async move {
            while let Some(Ok(Message::Text(text))) = reader.next().await {
                match ServerFrame::decode(text.as_str()) {
                    Ok(ServerFrame::Message(message)) => {
                        let stamp = message.client_id.as_ref().and_then(|c| sent.lock().ok()?.get(c).copied());
                        if let (Some(stamp), Ok(mut all)) = (stamp, latencies.lock()) {
                            all.push(stamp.elapsed());
                        }
                    }
                    Ok(ServerFrame::Error { client_id: Some(_), .. }) => {
                        if let Ok(mut refused) = refused.lock() {
                            *refused += 1;
                        }
                    }
                    _ => {}
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    for n in 0..args.messages {
        let client_id = format!("{run}-{n}");
        if let Ok(mut sent) = sent.lock() {
            sent.insert(client_id.clone(), Instant::now());
        }
        let frame = ClientFrame::Send { room: room.clone(), client_id, text: format!("load message {n}") };
        let writer = &mut writers[n % clients];
        writer.send(Message::text(frame.encode())).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let received = latencies.lock().map(|l| l.len()).unwrap_or(0);
        // Senders also receive their own message; count deliveries to the others only.
        let refused = refused.lock().map(|r| *r).unwrap_or(0);
        if received + refused * clients >= args.messages * clients || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let mut all = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    all.sort_unstable();
    let refused = refused.lock().map(|r| *r).unwrap_or(0);
    let stored = args.messages - refused.min(args.messages);
    let delivered = all.len().saturating_sub(stored);
    let expected_stored = stored * (clients - 1);
    println!(
        "messages sent: {}, refused by the server (rate limits): {refused}, deliveries to other members: {delivered} of {expected_stored} (lost {})",
        args.messages,
        expected_stored.saturating_sub(delivered)
    );

    println!(
        "send→receive latency: p50 {:.2?}  p95 {:.2?}  p99 {:.2?}  max {:.2?}",
        percentile(&all, 0.50),
        percentile(&all, 0.95),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or_default()
    );
    println!("throughput: {:.0} deliveries/s over {:.2?}", all.len() as f64 / elapsed.as_secs_f64(), elapsed);

    if args.idle > 0 && !args.pid.is_empty() {
        // Ten sockets per user; users are registered first, so registration (argon2's 19 MiB
        // arenas) stays out of the figure.
        let mut cookies = Vec::new();
        for i in 0..args.idle.div_ceil(10) {
            cookies.push(register(&url, &format!("i{run}-{i}")).await?);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = rss_kib(&args.pid);
        let mut idle = Vec::new();
        for i in 0..args.idle {
            idle.push(open(&url, cookies[i / 10].clone()).await?);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss_kib(&args.pid);
        println!(
            "memory: {} idle sockets added {} KiB RSS across {} server process(es) = {:.1} KiB per socket",
            args.idle,
            after.saturating_sub(before),
            args.pid.len(),
            after.saturating_sub(before) as f64 / args.idle as f64
        );
    }
    for reader in readers {
        reader.abort();
    }
    Ok(())
}
