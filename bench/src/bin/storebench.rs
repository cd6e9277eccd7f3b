//! `storebench`: the message store on a real PostgreSQL, through Switchboard's own store code
//! (group commit, keyset scrollback, full-text search), as `scripts/bench-store` runs it.
//!
//! 1. Sustained sends: `--senders` tasks record messages across `--rooms` rooms for
//!    `--seconds`, each waiting for its commit as a send does before its ack: messages
//!    committed per second, and the commit-wait p50 / p99.
//! 2. The table is filled to each `--sizes` count (server-side `generate_series`, the text
//!    varied so searches have selective and common words), then: a page of 50 scrollback at a
//!    random point of a random room, a search for a rare word and for a common word over a
//!    user's 20 rooms — p50 / p99 of each over `--reads` queries.
//!
//! No peer here: Socket.IO keeps no history to compare with. Figures print as a Markdown
//! table; nothing is asserted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use hdrhistogram::Histogram;
use protocol::{ChatMessage, MessageId, RoomName};
use rand::Rng;
use switchboard::store::sql::SqlStore;
use switchboard::store::{MessageStore, SearchTerms};

#[derive(Parser, Debug)]
#[command(about = "The message store on PostgreSQL: sustained sends, scrollback and search latency")]
struct Args {
    /// The database (an empty one: the bench fills it).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Rooms the sends spread over.
    #[arg(long, default_value_t = 100)]
    rooms: u64,
    /// Concurrent senders (each waits for its commit, as a send waits for its ack).
    #[arg(long, default_value_t = 400)]
    senders: usize,
    /// Seconds of sustained sends.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Table sizes to read at, comma-separated (e.g. 1000000,10000000).
    #[arg(long, value_delimiter = ',', default_value = "1000000")]
    sizes: Vec<u64>,
    /// Queries per read figure.
    #[arg(long, default_value_t = 500)]
    reads: usize,
}

/// Common words of the filled text; one in ten messages has each.
const WORDS: [&str; 10] =
    ["deploy", "lunch", "friday", "release", "coffee", "review", "bug", "meeting", "docs", "test"];

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn room(i: u64) -> RoomName {
    RoomName::parse(&format!("bench-{i}")).unwrap_or_else(|_| RoomName::parse("general").expect("valid"))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let store: Arc<dyn MessageStore> = Arc::new(SqlStore::open(&args.database_url).await.context("open the store")?);
    println!("| figure | value |\n|---|---|");
    sends(&store, &args).await?;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&args.database_url).await?;
    let mut filled = count(&pool).await?;
    for &size in &args.sizes {
        if size > filled {
            let started = Instant::now();
            fill(&pool, filled, size, args.rooms).await?;
            println!("| filled to {size} messages | {:.0} s |", started.elapsed().as_secs_f64());
            filled = size;
        }
        sqlx::query("ANALYZE messages").execute(&pool).await?;
        reads(&store, &args, size).await?;
    }
    Ok(())
}

async fn count(pool: &sqlx::AnyPool) -> Result<u64> {
    let n: i64 = sqlx::Row::try_get(&sqlx::query("SELECT count(*) FROM messages").fetch_one(pool).await?, 0)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Messages `from + 1 ..= to`, spread over the rooms, ids in the past (below the sends').
async fn fill(pool: &sqlx::AnyPool, from: u64, to: u64, rooms: u64) -> Result<()> {
    let step = 200_000;
    let mut at = from;
    while at < to {
        let end = (at + step).min(to);
        let words = WORDS.map(|w| format!("'{w}'")).join(",");
        let sql = format!(
            "INSERT INTO messages (room, ms, seq, author, name, body) \
             SELECT 'bench-' || (i % {rooms}), 1000000000000 + i, 0, 'filler', 'Filler', \
             'message ' || i || ' about ' || (ARRAY[{words}])[1 + (i / 7) % 10] || ' ' || md5(i::text) \
             FROM generate_series({}, {end}) AS i",
            at + 1
        );
        sqlx::query(&sql).execute(pool).await?;
        at = end;
    }
    Ok(())
}

async fn sends(store: &Arc<dyn MessageStore>, args: &Args) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    let base = 2_000_000_000_000_u64;
    for sender in 0..args.senders {
        let (store, rooms) = (store.clone(), args.rooms);
        tasks.push(tokio::spawn(async move {
            let mut waits = Histogram::<u64>::new(3).expect("histogram");
            let mut n = 0_u64;
            while Instant::now() < deadline {
                let message = ChatMessage {
                    room: format!("bench-{}", (sender as u64 + n) % rooms),
                    id: MessageId::new(base + n, sender as u64),
                    user: format!("sender{sender}"),
                    text: format!("sustained send {n} from {sender}"),
                    client_id: Some(format!("s{sender}-{n}")),
                    ..ChatMessage::default()
                };
                let started = Instant::now();
                store.record(message).await.expect("recorded");
                let _ = waits.record(started.elapsed().as_micros() as u64);
                n += 1;
            }
            (n, waits)
        }));
    }
    let mut total = 0;
    let mut waits = Histogram::<u64>::new(3)?;
    for task in tasks {
        let (n, h) = task.await?;
        total += n;
        waits.add(h)?;
    }
    let rate = total as f64 / args.seconds as f64;
    println!(
        "| messages committed/s ({} senders, {} rooms, {} s) | {rate:.0} |",
        args.senders, args.rooms, args.seconds
    );
    println!("| commit wait p50 / p99 | {:.1} / {:.1} ms |", ms(&waits, 0.5), ms(&waits, 0.99));
    Ok(())
}

async fn reads(store: &Arc<dyn MessageStore>, args: &Args, size: u64) -> Result<()> {
    let mut rng = rand::rng();
    let mut pages = Histogram::<u64>::new(3)?;
    for _ in 0..args.reads {
        let r = room(rng.random_range(0..args.rooms));
        let before = MessageId::new(1_000_000_000_000 + rng.random_range(1..=size), 0);
        let started = Instant::now();
        let page = store.older(&r, Some(before), 50).await?;
        pages.record(started.elapsed().as_micros() as u64)?;
        std::hint::black_box(page);
    }
    println!(
        "| {size} stored: scrollback page of 50, p50 / p99 | {:.2} / {:.2} ms |",
        ms(&pages, 0.5),
        ms(&pages, 0.99)
    );
    for (what, common) in [("rare word", false), ("common word", true)] {
        let mut searches = Histogram::<u64>::new(3)?;
        for _ in 0..args.reads {
            let first = rng.random_range(0..args.rooms.saturating_sub(20).max(1));
            let rooms: Vec<RoomName> = (first..first + 20).map(room).collect();
            let query = if common {
                WORDS[rng.random_range(0..WORDS.len())].to_owned()
            } else {
                format!("{:x}", rng.random_range(0x100_u32..0xfff))
            };
            let terms = SearchTerms::parse(&query)?;
            let started = Instant::now();
            let found = store.search(&rooms, &terms, 50).await?;
            searches.record(started.elapsed().as_micros() as u64)?;
            std::hint::black_box(found);
        }
        println!(
            "| {size} stored: search ({what}) in 20 rooms, p50 / p99 | {:.2} / {:.2} ms |",
            ms(&searches, 0.5),
            ms(&searches, 0.99)
        );
    }
    Ok(())
}
