//! Redis scale: does a Redis Cluster carry more than one Redis, and what does waiting for a
//! replica cost? On Switchboard alone, three stacks of the same instances and settings:
//! the one every other scenario uses (one `redis-server`), then one over a Redis Cluster of
//! 3 masters and 3 replicas, then the same cluster with `REDIS_WAIT_REPLICAS=1` (a send is
//! acknowledged only once a replica has it). The cluster stacks are started for this and
//! stopped after it. On each:
//! - the fan-out step-up of [`super::fanout`] (the rate raised until two steps in a row fail
//!   p99 < 50 ms or lose a delivery) at the plan's `redis_scale` shape (100 rooms × 10 in full);
//! - send → ack latency at the latency scenario's moderate rate and shape (what a sender
//!   waits before its line stops being "pending": where `WAIT` shows).
//!
//! The server CPU of a step counts every Redis node, replicas included. The peer has no
//! counterpart: it is not started for this scenario alone.

use std::time::Instant;

use anyhow::{Result, bail};
use serde_json::json;

use super::{Ctx, fanout, latency};
use crate::accounts::{self, Account};
use crate::metrics::GENERATOR_LIMIT;
use crate::plan::Shape;
use crate::report::{Better, Measure};
use crate::stack::{Redis, Stack};
use crate::wire::Proto;

/// Runs both measures on `stack` (Switchboard on one Redis), then on two Redis Cluster
/// stacks: without and with `WAIT 1`.
pub async fn run(ctx: &Ctx, stack: &Stack, accounts: &[Account]) -> Result<Vec<Measure>> {
    if stack.proto != Proto::Ours || stack.redis != Redis::One {
        bail!("the Redis scale test runs on Switchboard's one-Redis stack only");
    }
    let shape = ctx.plan.redis_scale;
    eprintln!("  {}", label(stack));
    let mut measures = measure(ctx, stack, accounts, shape, 0).await?;
    let one_redis = measures[0].figure.value;
    for (index, wait_replicas) in [(1, 0), (2, 1)] {
        eprintln!("  {}, WAIT {wait_replicas}: starting Switchboard's stack on it", Redis::Cluster.label());
        let cluster = Stack::start_ours_on_redis_cluster(&ctx.root, &ctx.profile, ctx.instances, wait_replicas).await?;
        let result = on_cluster(ctx, &cluster, accounts.len(), shape, index).await;
        let stopped = cluster.stop().await;
        let mut on_cluster = result?;
        stopped?;
        if let (Some(a), Some(b)) = (one_redis, on_cluster[0].figure.value)
            && a > 0.0
        {
            let ratio = format!("{:.2}× one Redis", b / a);
            let note = &mut on_cluster[0].figure.note;
            *note = if note.is_empty() { ratio } else { format!("{note}; {ratio}") };
        }
        measures.extend(on_cluster);
    }
    Ok(measures)
}

/// How the report names a stack's Redis: which, and whether sends wait for a replica.
fn label(stack: &Stack) -> String {
    match stack.wait_replicas {
        0 => stack.redis.label().to_owned(),
        n => format!("{}, WAIT {n}", stack.redis.label()),
    }
}

/// Registers as many accounts on the cluster stack as `stack` had (sockets share them the
/// same way on both), then measures.
async fn on_cluster(ctx: &Ctx, cluster: &Stack, count: usize, shape: Shape, index: u32) -> Result<Vec<Measure>> {
    let started = Instant::now();
    let run = format!("r{}-{index}", ctx.run);
    let accounts = accounts::register_many(&cluster.urls(), &run, count, 6).await?;
    eprintln!("  {}: {} accounts registered in {:.1?}", label(cluster), accounts.len(), started.elapsed());
    measure(ctx, cluster, &accounts, shape, index).await
}

/// The step-up and the ack latency on `stack`, named after its Redis.
async fn measure(ctx: &Ctx, stack: &Stack, accounts: &[Account], shape: Shape, index: u32) -> Result<Vec<Measure>> {
    // Room names of their own: the one-Redis stack already holds the fan-out scenario's rooms.
    let prefix = format!("rs{}-{index}", ctx.run);
    let metric = format!("fan-out {}×{}, {} (p99 < 50 ms, 0 lost)", shape.rooms, shape.members, label(stack));
    let mut fanout = fanout::run_shape(ctx, stack, accounts, shape, index, &prefix, metric).await?;
    if let Some(details) = fanout.figure.details.as_object_mut() {
        details.insert("redis".to_owned(), json!(stack.redis));
        details.insert("redis_processes".to_owned(), json!(stack.redis_pids.len()));
        details.insert("wait_replicas".to_owned(), json!(stack.wait_replicas));
    }
    let mut measures = vec![fanout.switchboard_only(true)];
    measures.extend(ack_latency(ctx, stack, accounts, index).await?);
    Ok(measures)
}

/// Send → ack p50 and p99 at the latency scenario's rate, far below capacity.
async fn ack_latency(ctx: &Ctx, stack: &Stack, accounts: &[Account], index: u32) -> Result<Vec<Measure>> {
    let plan = &ctx.plan;
    let shape = plan.latency_shape;
    let rate = plan.latency_rate;
    let result = latency::moderate_step(ctx, stack, accounts, &format!("ack{}-{index}", ctx.run)).await?;
    if result.acked == 0 {
        bail!("{}: no send was acknowledged (errors {})", label(stack), result.errors);
    }
    let limited = result.generator_cores > GENERATOR_LIMIT;
    let note = format!("{} of {} acked, lost {}", result.acked, result.sent, result.lost);
    let what = format!("{rate} msg/s, {} rooms × {}, {}", shape.rooms, shape.members, label(stack));
    let details = json!(result);
    Ok(["p50", "p99"]
        .iter()
        .zip(result.ack_ms)
        .map(|(p, v)| {
            Measure::value(format!("send → ack {p}, {what}"), "ms", Better::Lower, v, details.clone())
                .limited(limited)
                .note(note.clone())
                .switchboard_only(true)
        })
        .collect())
}
