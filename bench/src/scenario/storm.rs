//! Reconnect storm: clients in rooms of 30 over the instances, messages flowing at a steady
//! rate from clients on the instances that will survive, then one instance is SIGKILLed.
//! Its clients reconnect elsewhere; the figures are the time until 50 %, 99 % and 100 % of
//! them are back in their room, and over every client the deliveries lost and duplicated.
//! Run last: it leaves the stack one instance short.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;

use super::Ctx;
use crate::accounts::Account;
use crate::client::open_joined;
use crate::pool::tag;
use crate::report::{Better, Measure};
use crate::stack::Stack;
use crate::storm_client::{self, Outcome, Spec};

/// Runs the storm on `stack`.
pub async fn run(ctx: &Ctx, stack: &Stack, accounts: &[Account]) -> Result<Vec<Measure>> {
    let plan = &ctx.plan;
    let rooms = plan.storm_rooms;
    let urls = Arc::new(stack.urls());
    let doomed = urls.len() - 1;
    let total = plan.storm_clients;
    let specs: Vec<Spec> = (0..total)
        .map(|i| Spec {
            proto: stack.proto,
            urls: urls.clone(),
            instance: i % urls.len(),
            doomed,
            cookie: accounts[i % accounts.len()].cookie.clone(),
            // Consecutive clients go to different instances, so every room spans all of them.
            room: format!("storm{}-{}", ctx.run, (i / urls.len()) % rooms),
            index: i,
        })
        .collect();
    let sockets: Vec<_> = futures::stream::iter(&specs)
        .map(|s| open_joined(s.proto, &urls[s.instance], &s.cookie, &s.room))
        .buffered(64)
        .collect()
        .await;
    let until = Instant::now() + plan.storm_duration + Duration::from_secs(8);
    let client_rooms: Vec<String> = specs.iter().map(|s| s.room.clone()).collect();
    let (mut senders, mut tasks) = (Vec::new(), Vec::new());
    for (spec, socket) in specs.into_iter().zip(sockets) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (room, instance) = (spec.room.clone(), spec.instance);
        senders.push((tx, room, instance));
        tasks.push(tokio::spawn(storm_client::run(spec, socket?, rx, until)));
    }
    let (sent, killed_at) = send_and_kill(ctx, stack, &senders, doomed).await?;
    drop(senders);
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await?);
    }
    Ok(measure(&outcomes, &client_rooms, &sent, killed_at))
}

/// Sends `storm_rate` messages/s from clients not on `doomed`, kills it after a third of
/// the time; returns each message's room and the kill time.
async fn send_and_kill(
    ctx: &Ctx,
    stack: &Stack,
    senders: &[(mpsc::UnboundedSender<String>, String, usize)],
    doomed: usize,
) -> Result<(Vec<String>, Instant)> {
    let plan = &ctx.plan;
    let able: Vec<_> = senders.iter().filter(|s| s.2 != doomed).collect();
    let count = (plan.storm_rate * plan.storm_duration.as_secs_f64()) as usize;
    let interval = Duration::from_secs_f64(1.0 / plan.storm_rate);
    let started = Instant::now();
    let mut killed_at = None;
    let mut rooms = Vec::with_capacity(count);
    for n in 0..count {
        tokio::time::sleep_until((started + interval * n as u32).into()).await;
        if killed_at.is_none() && started.elapsed() >= plan.storm_duration / 3 {
            stack.kill_instance(doomed)?;
            killed_at = Some(Instant::now());
        }
        let (tx, room, instance) = able[n % able.len()];
        let _ = tx.send(stack.proto.send(room, &tag(0, *instance, 0, n as u64), "storm"));
        rooms.push(room.clone());
    }
    match killed_at {
        Some(at) => Ok((rooms, at)),
        None => bail!("the storm ended before the kill"),
    }
}

fn measure(outcomes: &[Outcome], client_rooms: &[String], sent: &[String], killed_at: Instant) -> Vec<Measure> {
    let total = outcomes.len();
    let mut back: Vec<f64> = outcomes
        .iter()
        .filter(|o| o.dropped)
        .map(|o| o.back_at.map_or(f64::INFINITY, |t| t.saturating_duration_since(killed_at).as_secs_f64() * 1000.0))
        .collect();
    back.sort_by(f64::total_cmp);
    let dropped = back.len();
    let at = |share: f64| back.get(((dropped as f64 * share).ceil() as usize).saturating_sub(1)).copied();
    let (lost, duplicates) = count_losses(outcomes, client_rooms, sent);
    let details = json!({"clients": total, "dropped": dropped, "gave_up": outcomes.iter().filter(|o| o.gave_up).count(),
        "messages": sent.len(), "lost": lost, "duplicates": duplicates, "back_ms": back.iter().map(|b| if b.is_finite() { *b } else { -1.0 }).collect::<Vec<_>>()});
    let mut measures = Vec::new();
    for (label, share) in [("50", 0.5), ("99", 0.99), ("100", 1.0)] {
        let metric = format!("storm: {label} % back after SIGKILL, {total} clients");
        let value = at(share).filter(|v| v.is_finite());
        let mut m = Measure::value(metric, "ms", Better::Lower, value.unwrap_or(0.0), details.clone());
        if value.is_none() {
            m.figure.value = None;
            m.figure.note = "not reached".to_owned();
        }
        measures.push(m);
    }
    measures.push(Measure::value(
        format!("storm: deliveries lost, {total} clients"),
        "deliveries",
        Better::Lower,
        lost as f64,
        details.clone(),
    ));
    measures.push(Measure::value(
        format!("storm: deliveries duplicated, {total} clients"),
        "deliveries",
        Better::Lower,
        duplicates as f64,
        details,
    ));
    measures
}

/// Lost: messages of a client's room it never got; duplicates: receipts beyond the first.
fn count_losses(outcomes: &[Outcome], client_rooms: &[String], sent: &[String]) -> (u64, u64) {
    let mut by_room: HashMap<&str, Vec<u64>> = HashMap::new();
    for (n, room) in sent.iter().enumerate() {
        by_room.entry(room).or_default().push(n as u64);
    }
    let (mut lost, mut duplicates) = (0, 0);
    for (outcome, room) in outcomes.iter().zip(client_rooms) {
        let expected = by_room.get(room.as_str()).map_or(&[][..], |v| v.as_slice());
        lost += expected.iter().filter(|n| !outcome.received.contains_key(n)).count() as u64;
        duplicates += outcome.received.values().map(|&c| u64::from(c.saturating_sub(1))).sum::<u64>();
    }
    (lost, duplicates)
}
