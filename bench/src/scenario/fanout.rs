//! Fan-out capacity: for each shape (rooms × members over all instances), the rate is raised
//! step by step until two steps in a row fail (p99 ≥ 50 ms or a delivery lost); the figure is
//! the highest deliveries/s of a step that passed. Every step's figures are kept in the details.

use anyhow::{Result, bail};
use serde_json::json;

use super::{Ctx, shape_targets};
use crate::accounts::Account;
use crate::metrics::GENERATOR_LIMIT;
use crate::plan::Shape;
use crate::pool;
use crate::report::{Better, Measure};
use crate::sender::{self, StepResult};
use crate::stack::Stack;

/// The latency bound a step must stay under.
pub const P99_BOUND_MS: f64 = 50.0;

/// Runs every shape of the plan.
pub async fn run(ctx: &Ctx, stack: &Stack, accounts: &[Account]) -> Result<Vec<Measure>> {
    let mut measures = Vec::new();
    for (i, &shape) in ctx.plan.fanout.iter().enumerate() {
        let prefix = format!("fan{}-{i}", ctx.run);
        let metric = format!("deliveries/s, {} room × {} (p99 < 50 ms, 0 lost)", shape.rooms, shape.members);
        measures.push(run_shape(ctx, stack, accounts, shape, i as u32, &prefix, metric).await?);
    }
    Ok(measures)
}

fn passed(step: &StepResult) -> bool {
    step.p99_ms < P99_BOUND_MS && step.lost == 0 && step.errors == 0 && step.extra == 0
}

/// The step-up on one shape: rooms named `<prefix>-<r>` (not used by any other run on the same
/// stack), step ids from `index * 1000`, the figure named `metric`.
pub async fn run_shape(
    ctx: &Ctx,
    stack: &Stack,
    accounts: &[Account],
    shape: Shape,
    index: u32,
    prefix: &str,
    metric: String,
) -> Result<Measure> {
    let plan = &ctx.plan;
    let targets = shape_targets(stack, accounts, shape, prefix);
    let pool = pool::open(stack.proto, &targets, plan.per_task, 64).await?;
    tokio::time::sleep(plan.settle).await;
    let rooms: Vec<String> = (0..shape.rooms).map(|r| format!("{prefix}-{r}")).collect();
    let mut deliveries = plan.fanout_start;
    let mut steps = Vec::new();
    let mut failed_in_row = 0;
    for s in 0..plan.fanout_steps {
        let rate = deliveries / shape.members as f64;
        let id = index * 1000 + s as u32;
        let result =
            sender::step(&pool, stack.proto, shape, &rooms, rate, plan.step, plan.grace, id, &stack.all_pids()).await;
        eprintln!(
            "  {} {}x{}: {:.0} deliveries/s asked, {:.0} got, p99 {:.1} ms, lost {}, generator {:.2} cores",
            stack.label(),
            shape.rooms,
            shape.members,
            deliveries,
            result.deliveries_per_s,
            result.p99_ms,
            result.lost,
            result.generator_cores
        );
        failed_in_row = if passed(&result) { 0 } else { failed_in_row + 1 };
        steps.push(result);
        // One failed step may be a pause (a GC, a neighbour's burst): stop after two in a row.
        if failed_in_row == 2 {
            break;
        }
        deliveries *= plan.fanout_factor;
    }
    if steps.iter().all(|s| s.delivered == 0) {
        bail!("{}x{}: no delivery at all", shape.rooms, shape.members);
    }
    let best = steps.iter().filter(|s| passed(s)).max_by(|a, b| a.deliveries_per_s.total_cmp(&b.deliveries_per_s));
    let details = json!({"shape": shape, "steps": steps});
    Ok(match best {
        Some(best) => {
            let limited = best.generator_cores > GENERATOR_LIMIT
                || steps.last().is_some_and(|s| s.generator_cores > GENERATOR_LIMIT);
            let cost = best.server_cores / best.deliveries_per_s * 1e6;
            Measure::value(metric, "deliveries/s", Better::Higher, best.deliveries_per_s, details)
                .limited(limited)
                .note(format!("p99 {:.1} ms, {:.0} server CPU-s per M", best.p99_ms, cost))
        }
        None => {
            let first = &steps[0];
            Measure::value(metric, "deliveries/s", Better::Higher, 0.0, details).note(format!(
                "first step ({:.0}/s) failed: p99 {:.1} ms, lost {}",
                first.rate * shape.members as f64,
                first.p99_ms,
                first.lost
            ))
        }
    })
}
