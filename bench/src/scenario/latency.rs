//! Cross-instance latency at a fixed, moderate rate: the delay a user on one instance sees
//! for a message sent by a user on another (p50 / p99 / p99.9), far below capacity.

use anyhow::{Result, bail};
use serde_json::json;

use super::{Ctx, shape_targets};
use crate::accounts::Account;
use crate::metrics::GENERATOR_LIMIT;
use crate::pool;
use crate::report::{Better, Measure};
use crate::sender;
use crate::sender::StepResult;
use crate::stack::Stack;

/// Sends `latency_rate` messages/s for `latency_duration`.
pub async fn run(ctx: &Ctx, stack: &Stack, accounts: &[Account]) -> Result<Vec<Measure>> {
    let plan = &ctx.plan;
    let shape = plan.latency_shape;
    let result = moderate_step(ctx, stack, accounts, &format!("lat{}", ctx.run)).await?;
    if result.cross_count == 0 {
        bail!("no cross-instance delivery (lost {})", result.lost);
    }
    let limited = result.generator_cores > GENERATOR_LIMIT;
    let what = format!("{} msg/s, {} rooms × {}", plan.latency_rate, shape.rooms, shape.members);
    let note = format!("lost {}", result.lost);
    let details = json!(result);
    Ok(["p50", "p99", "p99.9"]
        .iter()
        .zip(result.cross_ms)
        .map(|(p, v)| {
            Measure::value(format!("cross-instance latency {p}, {what}"), "ms", Better::Lower, v, details.clone())
                .limited(limited)
                .note(note.clone())
        })
        .collect())
}

/// One step at the latency scenario's moderate rate and shape, far below capacity, in rooms
/// named `<prefix>-<r>` of their own.
pub async fn moderate_step(ctx: &Ctx, stack: &Stack, accounts: &[Account], prefix: &str) -> Result<StepResult> {
    let plan = &ctx.plan;
    let shape = plan.latency_shape;
    let pool = pool::open(stack.proto, &shape_targets(stack, accounts, shape, prefix), plan.per_task, 64).await?;
    tokio::time::sleep(plan.settle).await;
    let rooms: Vec<String> = (0..shape.rooms).map(|r| format!("{prefix}-{r}")).collect();
    let pids = stack.all_pids();
    let (rate, duration) = (plan.latency_rate, plan.latency_duration);
    Ok(sender::step(&pool, stack.proto, shape, &rooms, rate, duration, plan.grace, 999_999, &pids).await)
}
