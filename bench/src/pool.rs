//! Many sockets per task: the generator's way of holding thousands of connections cheaply.
//!
//! Each task owns a slice of the sockets (their write halves and one merged stream of their
//! read halves), answers pings, and counts deliveries into its own histograms, keyed by the
//! step of the scenario the message was sent in — so no lock is shared between tasks on the
//! hot path. The scheduler talks to a task through a channel: "send this frame on slot N",
//! "hand over what you counted for step S".
//!
//! A message's `client_id` is `step.instance.intended_micros.seq`: the receiver computes the
//! latency from the *intended* send time (no coordinated omission) and whether the delivery
//! crossed instances, from the id alone.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Result, bail};
use futures::stream::{BoxStream, SelectAll, SplitSink};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{Socket, open_joined};
use crate::metrics;
use crate::wire::{Inbound, Proto};

/// Where one socket goes.
#[derive(Debug, Clone)]
pub struct Target {
    /// Index of the instance (into the stack's instances).
    pub instance: usize,
    /// The instance's base URL.
    pub base: String,
    /// The session cookie.
    pub cookie: reqwest::header::HeaderValue,
    /// The room it joins.
    pub room: String,
}

/// A socket's place in the pool.
#[derive(Debug, Clone)]
pub struct Member {
    /// The task that owns it.
    pub task: usize,
    /// Its slot in that task.
    pub slot: usize,
    /// The instance it is connected to.
    pub instance: usize,
}

/// What a task counted for one step.
pub struct StepStats {
    /// Deliveries received.
    pub delivered: u64,
    /// Latency of every delivery, µs from the intended send time.
    pub latency: Histogram<u64>,
    /// Latency of deliveries to a socket on another instance than the sender's.
    pub cross: Histogram<u64>,
    /// Time from the intended send to the sender's `ack` (Switchboard only: the peer's
    /// messages are not acknowledged).
    pub acked: Histogram<u64>,
}

impl StepStats {
    fn new() -> Self {
        Self { delivered: 0, latency: metrics::histogram(), cross: metrics::histogram(), acked: metrics::histogram() }
    }

    /// Adds another task's counts.
    pub fn merge(&mut self, other: &StepStats) {
        self.delivered += other.delivered;
        let _ = self.latency.add(&other.latency);
        let _ = self.cross.add(&other.cross);
        let _ = self.acked.add(&other.acked);
    }
}

/// What a task counted overall, besides steps.
#[derive(Debug, Default, Clone, Copy)]
pub struct Health {
    /// Error frames or refused acks.
    pub errors: u64,
    /// Sockets closed or failed.
    pub closed: u64,
}

enum Command {
    Send { slot: usize, text: String },
    Collect { step: u32, reply: oneshot::Sender<(StepStats, Health)> },
}

/// Sockets spread over tasks.
pub struct Pool {
    tasks: Vec<mpsc::UnboundedSender<Command>>,
    /// Every socket, in the order of the targets it was opened for.
    pub members: Vec<Member>,
    /// The sends and deliveries' shared clock origin.
    pub epoch: Instant,
    /// Sockets that could not be opened.
    pub failed: usize,
}

/// Opens a socket for every target (`concurrency` handshakes at once) and spreads them over
/// tasks of `per_task` sockets. Fails if more than 1 % cannot be opened.
pub async fn open(proto: Proto, targets: &[Target], per_task: usize, concurrency: usize) -> Result<Pool> {
    let opened: Vec<Result<Socket>> = futures::stream::iter(targets)
        .map(|t| open_joined(proto, &t.base, &t.cookie, &t.room))
        .buffered(concurrency)
        .collect()
        .await;
    let mut failed = 0;
    let mut first_error = None;
    let epoch = Instant::now();
    let (mut tasks, mut members, mut batch) = (Vec::new(), Vec::new(), Vec::new());
    for (target, socket) in targets.iter().zip(opened) {
        match socket {
            Ok(socket) => batch.push((socket, target.instance)),
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e);
                continue;
            }
        }
        members.push(Member { task: tasks.len(), slot: batch.len() - 1, instance: target.instance });
        if batch.len() == per_task {
            tasks.push(spawn(proto, std::mem::take(&mut batch), epoch));
        }
    }
    if !batch.is_empty() {
        tasks.push(spawn(proto, batch, epoch));
    }
    if failed * 100 > targets.len() {
        let reason = first_error.map(|e| format!("{e:#}")).unwrap_or_default();
        bail!("{failed} of {} sockets could not be opened: {reason}", targets.len());
    }
    Ok(Pool { tasks, members, epoch, failed })
}

impl Pool {
    /// Queues `text` on member `index`'s socket.
    pub fn send(&self, index: usize, text: String) {
        if let Some(member) = self.members.get(index) {
            let _ = self.tasks[member.task].send(Command::Send { slot: member.slot, text });
        }
    }

    /// Collects (and forgets) every task's counts for `step`, plus their health since the
    /// last collection.
    pub async fn collect(&self, step: u32) -> (StepStats, Health) {
        let mut total = StepStats::new();
        let mut health = Health::default();
        for task in &self.tasks {
            let (reply, answer) = oneshot::channel();
            if task.send(Command::Collect { step, reply }).is_ok()
                && let Ok((stats, h)) = answer.await
            {
                total.merge(&stats);
                health.errors += h.errors;
                health.closed += h.closed;
            }
        }
        (total, health)
    }
}

/// The `client_id` of a message sent in `step` from `instance`, meant to leave at
/// `intended_us` after the pool's epoch.
pub fn tag(step: u32, instance: usize, intended_us: u64, seq: u64) -> String {
    format!("{step}.{instance}.{intended_us}.{seq}")
}

fn parse_tag(id: &str) -> Option<(u32, usize, u64)> {
    let mut parts = id.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

type Reader = BoxStream<'static, (usize, Result<Message, tokio_tungstenite::tungstenite::Error>)>;

fn spawn(proto: Proto, sockets: Vec<(Socket, usize)>, epoch: Instant) -> mpsc::UnboundedSender<Command> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut writers = Vec::new();
    let mut instances = Vec::new();
    let mut readers: SelectAll<Reader> = SelectAll::new();
    for (slot, (socket, instance)) in sockets.into_iter().enumerate() {
        let (writer, reader) = socket.split();
        writers.push(writer);
        instances.push(instance);
        readers.push(reader.map(move |m| (slot, m)).boxed());
    }
    tokio::spawn(run_task(proto, writers, instances, readers, rx, epoch));
    tx
}

async fn run_task(
    proto: Proto,
    mut writers: Vec<SplitSink<Socket, Message>>,
    instances: Vec<usize>,
    mut readers: SelectAll<Reader>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    epoch: Instant,
) {
    let mut steps: HashMap<u32, StepStats> = HashMap::new();
    let mut health = Health::default();
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => break,
                Some(Command::Send { slot, text }) => {
                    if writers[slot].send(Message::text(text)).await.is_err() {
                        health.errors += 1;
                    }
                }
                Some(Command::Collect { step, reply }) => {
                    let stats = steps.remove(&step).unwrap_or_else(StepStats::new);
                    let _ = reply.send((stats, std::mem::take(&mut health)));
                }
            },
            Some((slot, frame)) = readers.next() => match frame {
                Ok(Message::Text(text)) => match proto.classify(text.as_str()) {
                    Inbound::Message(id) => {
                        if let Some((step, from, intended)) = parse_tag(id) {
                            let now = epoch.elapsed().as_micros() as u64;
                            let stats = steps.entry(step).or_insert_with(StepStats::new);
                            stats.delivered += 1;
                            metrics::record(&mut stats.latency, now.saturating_sub(intended));
                            if from != instances[slot] {
                                metrics::record(&mut stats.cross, now.saturating_sub(intended));
                            }
                        }
                    }
                    Inbound::Ack(id) => {
                        if let Some((step, _, intended)) = parse_tag(id) {
                            let now = epoch.elapsed().as_micros() as u64;
                            let stats = steps.entry(step).or_insert_with(StepStats::new);
                            metrics::record(&mut stats.acked, now.saturating_sub(intended));
                        }
                    }
                    Inbound::Ping => {
                        let _ = writers[slot].send(Message::text(proto.pong())).await;
                    }
                    Inbound::Error => health.errors += 1,
                    Inbound::Other => {}
                },
                Ok(Message::Close(_)) | Err(_) => health.closed += 1,
                Ok(_) => {}
            },
        }
    }
    for writer in &mut writers {
        let _ = writer.close().await;
    }
}
