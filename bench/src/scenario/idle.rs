//! Memory per idle socket: authenticated websockets, each joined to a room, on one instance.
//!
//! A first batch of `idle_warm` sockets brings the process past its one-time allocations
//! (buffers, pools, the first rooms); the figure is the VmRSS added by each later level
//! divided by the sockets added since the warm batch. Rooms hold `idle_room_size` sockets,
//! like small group chats.

use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::accounts::Account;
use crate::metrics::rss_kib;
use crate::pool::{self, Target};
use crate::report::{Better, Measure};
use crate::stack::Stack;

/// Opens the warm batch, then each level, and reads the instance's RSS after each.
pub async fn run(ctx: &Ctx, stack: &Stack, accounts: &[Account]) -> Result<Vec<Measure>> {
    let plan = &ctx.plan;
    let instance = &stack.instances[0];
    let target = |i: usize| Target {
        instance: 0,
        base: instance.url.clone(),
        cookie: accounts[i % accounts.len()].cookie.clone(),
        room: format!("idle{}-{}", ctx.run, i / plan.idle_room_size),
    };
    let before = rss_kib(instance.pid);
    let warm_targets: Vec<Target> = (0..plan.idle_warm).map(target).collect();
    let warm = pool::open(stack.proto, &warm_targets, plan.per_task, 64).await?;
    settle().await;
    let warm_rss = rss_kib(instance.pid);
    let mut pools = vec![warm];
    let mut opened = 0;
    let mut measures = Vec::new();
    for &level in &plan.idle_levels {
        let targets: Vec<Target> = (plan.idle_warm + opened..plan.idle_warm + level).map(target).collect();
        pools.push(pool::open(stack.proto, &targets, plan.per_task, 64).await?);
        opened = level;
        settle().await;
        let rss = rss_kib(instance.pid);
        let failed: usize = pools.iter().map(|p| p.failed).sum();
        let per_socket = rss.saturating_sub(warm_rss) as f64 / level as f64;
        let details = json!({"rss_before_kib": before, "rss_warm_kib": warm_rss, "rss_kib": rss,
            "warm": plan.idle_warm, "added": level, "failed": failed});
        measures.push(Measure::value(
            format!("RSS per idle socket, +{level} after {} warm", plan.idle_warm),
            "KiB",
            Better::Lower,
            per_socket,
            details.clone(),
        ));
        measures.push(Measure::value(
            format!("instance RSS with {} idle sockets", plan.idle_warm + level),
            "MiB",
            Better::Lower,
            rss as f64 / 1024.0,
            details,
        ));
    }
    drop(pools);
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(measures)
}

/// Lets the server finish the joins (presence, subscriptions) before RSS is read.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}
