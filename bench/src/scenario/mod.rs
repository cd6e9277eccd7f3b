//! The scenarios, each run on one stack at a time; `main` alternates the stacks (a
//! Switchboard-only scenario, the Redis scale test, runs on Switchboard's alone).
//!
//! A scenario returns its figures as [`Measure`]s or an error; an error fails the run (the
//! smoke in `scripts/test` relies on that), and the report says "not run" with the reason.

pub mod fanout;
pub mod idle;
pub mod latency;
pub mod logins;
pub mod page;
pub mod redis_scale;
pub mod storm;
pub mod wasm;

use std::path::PathBuf;

use anyhow::Result;

use crate::accounts::Account;
use crate::plan::{Plan, Shape};
use crate::pool::Target;
use crate::report::Measure;
use crate::stack::Stack;

/// What every scenario needs.
pub struct Ctx {
    /// The counts.
    pub plan: Plan,
    /// The repository root.
    pub root: PathBuf,
    /// A tag unique to this run (room names).
    pub run: String,
    /// Switchboard's server build (`debug` or `release`), for stacks a scenario starts itself.
    pub profile: String,
    /// Instances per stack, likewise.
    pub instances: usize,
}

/// The scenarios, in the order they run.
#[derive(Debug, Clone, Copy)]
pub enum Scenario {
    /// Client bytes (no stack needed; measured once per stack's client).
    Wasm,
    /// Memory per idle socket on one instance.
    Idle,
    /// The chat page with a session, 64 connections.
    Page,
    /// Logins per second and the instance's memory after them.
    Logins,
    /// Deliveries per second at p99 < 50 ms and nothing lost, per shape.
    Fanout,
    /// Cross-instance latency at a fixed rate.
    Latency,
    /// Switchboard alone: the fan-out step-up on one Redis, then on a Redis Cluster.
    RedisScale,
    /// One instance SIGKILLed under its clients (last: it leaves the stack short).
    Storm,
}

impl Scenario {
    /// All, in order.
    pub const ALL: [Scenario; 8] = [
        Scenario::Wasm,
        Scenario::Idle,
        Scenario::Page,
        Scenario::Logins,
        Scenario::Fanout,
        Scenario::Latency,
        Scenario::RedisScale,
        Scenario::Storm,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Wasm => "client bytes",
            Scenario::Idle => "idle sockets",
            Scenario::Page => "chat page",
            Scenario::Logins => "logins",
            Scenario::Fanout => "fan-out",
            Scenario::Latency => "cross-instance latency",
            Scenario::RedisScale => "redis-scale",
            Scenario::Storm => "reconnect storm",
        }
    }

    /// Whether it runs on Switchboard's stack only (the peer's is not started for it).
    pub fn switchboard_only(self) -> bool {
        matches!(self, Scenario::RedisScale)
    }

    /// Runs it on `stack` with `accounts`.
    pub async fn run(self, ctx: &Ctx, stack: &Stack, accounts: &[Account]) -> Result<Vec<Measure>> {
        match self {
            Scenario::Wasm => wasm::run(ctx, stack.proto),
            Scenario::Idle => idle::run(ctx, stack, accounts).await,
            Scenario::Page => page::run(ctx, stack, accounts).await,
            Scenario::Logins => logins::run(ctx, stack, accounts).await,
            Scenario::Fanout => fanout::run(ctx, stack, accounts).await,
            Scenario::Latency => latency::run(ctx, stack, accounts).await,
            Scenario::RedisScale => redis_scale::run(ctx, stack, accounts).await,
            Scenario::Storm => storm::run(ctx, stack, accounts).await,
        }
    }
}

/// Sockets for `shape`: member `m` of room `r` is socket `r * members + m`, on instance
/// `m % instances`, with account `(r * members + m) % accounts`.
pub fn shape_targets(stack: &Stack, accounts: &[Account], shape: Shape, room_prefix: &str) -> Vec<Target> {
    let n = stack.instances.len();
    (0..shape.rooms * shape.members)
        .map(|i| {
            let instance = (i % shape.members) % n;
            Target {
                instance,
                base: stack.instances[instance].url.clone(),
                cookie: accounts[i % accounts.len()].cookie.clone(),
                room: format!("{room_prefix}-{}", i / shape.members),
            }
        })
        .collect()
}
