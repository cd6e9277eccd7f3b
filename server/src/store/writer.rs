//! Group commit: the messages sent while a commit is in flight are committed together.
//!
//! Every send waits for its message to be committed before it is acknowledged; one
//! transaction per message would make each send wait for its own WAL flush and cap the
//! store at a few thousand messages a second. Instead sends queue their message here, and a
//! few lanes each take whatever has queued (up to [`MAX_BATCH`]) and write it as one
//! multi-row `INSERT` in one transaction. No send waits for a timer: a lone message is
//! written at once, and under load a batch is whatever arrived during the previous commit.
//! When a batch fails, every send in it gets the error (and its client retries).

use std::sync::Arc;

use protocol::ChatMessage;
use sqlx::AnyPool;
use tokio::sync::{Mutex, mpsc, oneshot};
use tracing::{debug, instrument};

use super::StoreError;
use super::row::{self, id_columns};

/// The most messages in one transaction (10 parameters each: well under both databases' limits).
pub const MAX_BATCH: usize = 500;

/// Messages that may wait for a lane before a send waits for room.
const QUEUE: usize = 8_192;

/// A message waiting to be committed, and who waits for it.
struct Job {
    message: ChatMessage,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The queue in front of the lanes.
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts `lanes` committing tasks on `pool` (one for SQLite, which has one writer).
    pub fn start(pool: AnyPool, lanes: usize) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let jobs = Arc::new(Mutex::new(jobs));
        for _ in 0..lanes.max(1) {
            tokio::spawn(lane(pool.clone(), jobs.clone()));
        }
        Self { queue }
    }

    /// Commits `message` with whatever else is queued; returns once it is committed.
    pub async fn record(&self, message: ChatMessage) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        self.queue.send(Job { message, done }).await.map_err(|_| StoreError::Closed)?;
        committed.await.unwrap_or(Err(StoreError::Closed))
    }
}

/// Takes what has queued and commits it, until the queue closes.
async fn lane(pool: AnyPool, jobs: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let batch = {
            let mut jobs = jobs.lock().await;
            let Some(first) = jobs.recv().await else { return };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            batch
        };
        let result = commit(&pool, &batch).await;
        for job in batch {
            let _ = job.done.send(result.clone());
        }
    }
}

/// One multi-row insert; a message already recorded (a retried send) is left as it is.
#[instrument(skip_all, fields(messages = batch.len()))]
async fn commit(pool: &AnyPool, batch: &[Job]) -> Result<(), StoreError> {
    let mut sql = String::from(
        "INSERT INTO messages (room, ms, seq, author, name, body, client_id, edited, deleted, reactions) VALUES ",
    );
    for i in 0..batch.len() {
        let n = i * 10;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            n + 5,
            n + 6,
            n + 7,
            n + 8,
            n + 9,
            n + 10
        ));
    }
    sql.push_str(" ON CONFLICT (room, ms, seq) DO NOTHING");
    let mut query = sqlx::query(&sql);
    for Job { message, .. } in batch {
        let (ms, seq) = id_columns(message.id);
        query = query
            .bind(message.room.clone())
            .bind(ms)
            .bind(seq)
            .bind(message.user.clone())
            .bind(message.name.clone())
            .bind(if message.deleted { String::new() } else { message.text.clone() })
            .bind(message.client_id.clone())
            .bind(i64::try_from(message.edited).unwrap_or(0))
            .bind(i64::from(message.deleted))
            .bind(row::reactions_json(&message.reactions));
    }
    query.execute(pool).await?;
    debug!(messages = batch.len(), "committed");
    Ok(())
}
