//! Redis scale: does a Redis Cluster carry more than one Redis? The fan-out step-up of
//! [`super::fanout`] (the rate raised until two steps in a row fail p99 < 50 ms or lose a
//! delivery) on Switchboard alone, at the plan's `redis_scale` shape (100 rooms × 10 in full):
//! first on the stack every other scenario uses (one `redis-server`), then on a stack of the
//! same instances and settings over a Redis Cluster of 3 masters and 3 replicas, started for
//! this and stopped after it. The server CPU of a step counts every Redis node, replicas
//! included. The peer has no counterpart: it is not started for this scenario alone.

use std::time::Instant;

use anyhow::{Result, bail};

use super::{Ctx, fanout};
use crate::accounts::{self, Account};
use crate::plan::Shape;
use crate::report::Measure;
use crate::stack::{Redis, Stack};
use crate::wire::Proto;

/// Runs the step-up on `stack` (Switchboard on one Redis), then on a Redis Cluster stack.
pub async fn run(ctx: &Ctx, stack: &Stack, accounts: &[Account]) -> Result<Vec<Measure>> {
    if stack.proto != Proto::Ours || stack.redis != Redis::One {
        bail!("the Redis scale test runs on Switchboard's one-Redis stack only");
    }
    let shape = ctx.plan.redis_scale;
    eprintln!("  {}", Redis::One.label());
    let one = measure(ctx, stack, accounts, shape, 0).await?;

    eprintln!("  {}: starting Switchboard's stack on it", Redis::Cluster.label());
    let cluster = Stack::start_ours_on_redis_cluster(&ctx.root, &ctx.profile, ctx.instances).await?;
    let result = on_cluster(ctx, &cluster, accounts.len(), shape).await;
    let stopped = cluster.stop().await;
    let mut on_cluster = result?;
    stopped?;

    if let (Some(a), Some(b)) = (one.figure.value, on_cluster.figure.value)
        && a > 0.0
    {
        let ratio = format!("{:.2}× one Redis", b / a);
        let note = &mut on_cluster.figure.note;
        *note = if note.is_empty() { ratio } else { format!("{note}; {ratio}") };
    }
    Ok(vec![one, on_cluster])
}

/// Registers as many accounts on the cluster stack as `stack` had (sockets share them the
/// same way on both), then measures.
async fn on_cluster(ctx: &Ctx, cluster: &Stack, count: usize, shape: Shape) -> Result<Measure> {
    let started = Instant::now();
    let accounts = accounts::register_many(&cluster.urls(), &format!("r{}", ctx.run), count, 6).await?;
    eprintln!("  {}: {} accounts registered in {:.1?}", cluster.label(), accounts.len(), started.elapsed());
    measure(ctx, cluster, &accounts, shape, 1).await
}

/// The step-up on `stack`, as a figure named after its Redis.
async fn measure(ctx: &Ctx, stack: &Stack, accounts: &[Account], shape: Shape, index: u32) -> Result<Measure> {
    // Room names of their own: the one-Redis stack already holds the fan-out scenario's rooms.
    let prefix = format!("rs{}-{index}", ctx.run);
    let metric = format!("fan-out {}×{}, {} (p99 < 50 ms, 0 lost)", shape.rooms, shape.members, stack.redis.label());
    let mut measure = fanout::run_shape(ctx, stack, accounts, shape, index, &prefix, metric).await?;
    if let Some(details) = measure.figure.details.as_object_mut() {
        details.insert("redis".to_owned(), serde_json::json!(stack.redis));
        details.insert("redis_processes".to_owned(), serde_json::json!(stack.redis_pids.len()));
    }
    Ok(measure.switchboard_only(true))
}
