//! Memory per idle socket: authenticated websockets, each joined to a room, on one instance.
//!
//! A first batch of `idle_warm` sockets brings the process past its one-time allocations
//! (buffers, pools, the first rooms); the figure is the VmRSS added by each later level
//! divided by the sockets added since the warm batch. Rooms hold `idle_room_size` sockets,
//! like small group chats, and `idle_history` messages sent before their members join (on
//! Switchboard each join is answered with them, as in a room people have talked in; the peer
//! keeps no history, so its joins answer nothing whatever the room held).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::Ctx;
use crate::accounts::Account;
use crate::client::open_joined;
use crate::metrics::rss_kib;
use crate::pool::{self, Target};
use crate::report::{Better, Measure};
use crate::stack::Stack;
use crate::wire::Inbound;

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
    seed_rooms(ctx, stack, accounts, 0..plan.idle_warm + plan.idle_levels.last().copied().unwrap_or(0)).await?;
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
            "warm": plan.idle_warm, "added": level, "failed": failed, "room_history": plan.idle_history});
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

/// Sends `idle_history` messages to each room the sockets `indices` will join, from one socket
/// per room opened for that and closed before the measured sockets open (so it is not counted);
/// each room's sender hears its own messages back, on both stacks, before the next room.
async fn seed_rooms(ctx: &Ctx, stack: &Stack, accounts: &[Account], indices: std::ops::Range<usize>) -> Result<()> {
    let plan = &ctx.plan;
    if plan.idle_history == 0 || indices.is_empty() {
        return Ok(());
    }
    let base = &stack.instances[0].url;
    let rooms = indices.start / plan.idle_room_size..=(indices.end - 1) / plan.idle_room_size;
    for index in rooms {
        let room = format!("idle{}-{index}", ctx.run);
        let cookie = &accounts[index % accounts.len()].cookie;
        let mut socket = open_joined(stack.proto, base, cookie, &room).await.context("seeding a room")?;
        for k in 0..plan.idle_history {
            let mut text = format!("message {k} of {room}: ");
            while text.len() < 150 {
                text.push_str("lorem ipsum dolor sit amet ");
            }
            socket.send(Message::text(stack.proto.send(&room, &format!("seed-{index}-{k}"), &text))).await?;
        }
        let mut heard = 0;
        let wait = async {
            while heard < plan.idle_history {
                let Some(frame) = socket.next().await else { bail!("the seeding socket closed") };
                if let Message::Text(text) = frame? {
                    match stack.proto.classify(text.as_str()) {
                        Inbound::Message(_) => heard += 1,
                        Inbound::Ping => socket.send(Message::text(stack.proto.pong())).await?,
                        Inbound::Error => bail!("a seeding message was refused: {text}"),
                        Inbound::Ack(_) | Inbound::Other => {}
                    }
                }
            }
            Ok(())
        };
        tokio::time::timeout(Duration::from_secs(20), wait).await.context("seeding timed out")??;
        let _ = socket.close(None).await;
    }
    Ok(())
}

/// Lets the server finish the joins (presence, subscriptions) before RSS is read.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}
