//! Fixed-rate sending, the open-loop way: message `n` is *due* at `n / rate` seconds after the
//! step starts, whether or not the server kept up, and its latency is measured from that due
//! time. A stalled server therefore shows up as latency instead of silently lowering the rate
//! (no coordinated omission).
//!
//! Messages go round-robin over the rooms, and within a room over its members, so every
//! instance sends. After the step, the generator waits `grace` and counts what arrived:
//! every member of a room (the sender included, on both stacks) should get each message.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::metrics::{self, CpuMeter};
use crate::plan::Shape;
use crate::pool::{Pool, tag};
use crate::wire::Proto;

/// What one step measured.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    /// Messages per second asked for.
    pub rate: f64,
    /// Messages sent.
    pub sent: u64,
    /// Deliveries expected (sent × members).
    pub expected: u64,
    /// Deliveries received.
    pub delivered: u64,
    /// Deliveries missing after the grace period.
    pub lost: u64,
    /// Deliveries beyond the expected (duplicates).
    pub extra: u64,
    /// Deliveries per second received.
    pub deliveries_per_s: f64,
    /// Latency percentiles, ms, all deliveries.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// 99.9th percentile, ms.
    pub p999_ms: f64,
    /// Cross-instance deliveries only: p50, p99, p99.9 (ms) and their count.
    pub cross_ms: [f64; 3],
    /// How many deliveries crossed instances.
    pub cross_count: u64,
    /// Send → ack, p50, p99, p99.9 (ms; Switchboard only), and how many acks came.
    pub ack_ms: [f64; 3],
    /// Acks received.
    pub acked: u64,
    /// Error frames / refused sends, and sockets closed.
    pub errors: u64,
    /// Sockets that closed during the step.
    pub closed: u64,
    /// Cores the generator used while sending.
    pub generator_cores: f64,
    /// Cores the stack's processes (instances + Redis) used while sending.
    pub server_cores: f64,
}

/// One step: `rate` messages/s for `duration` into the pool's rooms (`shape`, room names in
/// `rooms`), then `grace` to let the last ones arrive.
#[allow(clippy::too_many_arguments)]
pub async fn step(
    pool: &Pool,
    proto: Proto,
    shape: Shape,
    rooms: &[String],
    rate: f64,
    duration: Duration,
    grace: Duration,
    id: u32,
    server_pids: &[u32],
) -> StepResult {
    let total = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    let server_before: f64 = server_pids.iter().map(|&p| metrics::process_cpu_seconds(p)).sum();
    let cpu = CpuMeter::start();
    let started = Instant::now();
    let base_us = pool.epoch.elapsed().as_micros() as u64;
    let mut n = 0u64;
    while n < total {
        let due = ((started.elapsed().as_secs_f64() * rate) as u64 + 1).min(total);
        while n < due {
            let room = (n as usize) % shape.rooms;
            let member = (n as usize / shape.rooms) % shape.members;
            let index = room * shape.members + member;
            let instance = pool.members.get(index).map_or(0, |m| m.instance);
            let intended = base_us + (n as f64 * 1e6 / rate) as u64;
            let text = proto.send(&rooms[room], &tag(id, instance, intended, n), "bench message");
            pool.send(index, text);
            n += 1;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    let generator_cores = cpu.cores();
    let server_after: f64 = server_pids.iter().map(|&p| metrics::process_cpu_seconds(p)).sum();
    tokio::time::sleep(grace).await;
    let (stats, health) = pool.collect(id).await;
    let expected = total * shape.members as u64;
    StepResult {
        rate,
        sent: total,
        expected,
        delivered: stats.delivered,
        lost: expected.saturating_sub(stats.delivered),
        extra: stats.delivered.saturating_sub(expected),
        // Per nominal step time: deliveries that arrive during the grace still count.
        deliveries_per_s: stats.delivered as f64 / duration.as_secs_f64(),
        p50_ms: metrics::ms(&stats.latency, 50.0),
        p99_ms: metrics::ms(&stats.latency, 99.0),
        p999_ms: metrics::ms(&stats.latency, 99.9),
        cross_ms: [50.0, 99.0, 99.9].map(|p| metrics::ms(&stats.cross, p)),
        cross_count: stats.cross.len(),
        ack_ms: [50.0, 99.0, 99.9].map(|p| metrics::ms(&stats.acked, p)),
        acked: stats.acked.len(),
        errors: health.errors,
        closed: health.closed,
        generator_cores,
        server_cores: (server_after - server_before) / wall,
    }
}
