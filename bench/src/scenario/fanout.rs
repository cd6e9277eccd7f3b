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

/// What every step of one shape shares.
struct Runner<'a> {
    ctx: &'a Ctx,
    stack: &'a Stack,
    pool: &'a pool::Pool,
    shape: Shape,
    rooms: &'a [String],
}

impl Runner<'_> {
    /// One step at `deliveries` per second (asked), logged.
    async fn step(&self, deliveries: f64, id: u32) -> StepResult {
        let (plan, shape, stack) = (&self.ctx.plan, self.shape, self.stack);
        let rate = deliveries / shape.members as f64;
        let pids = stack.all_pids();
        let result =
            sender::step(self.pool, stack.proto, shape, self.rooms, rate, plan.step, plan.grace, id, &pids).await;
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
        result
    }
}

/// The rates asked (deliveries/s) of the best step that passed and of the lowest that failed
/// above it, when both exist and are more than 5 % apart.
fn bracket(steps: &[StepResult], shape: Shape) -> Option<(f64, f64)> {
    let asked = |s: &StepResult| s.rate * shape.members as f64;
    let low = steps.iter().filter(|s| passed(s)).map(asked).reduce(f64::max)?;
    let high = steps.iter().filter(|s| !passed(s) && asked(s) > low).map(asked).reduce(f64::min)?;
    (high > low * 1.05).then_some((low, high))
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
    let run = Runner { ctx, stack, pool: &pool, shape, rooms: &rooms };
    let mut deliveries = plan.fanout_start;
    let mut steps = Vec::new();
    let mut failed_in_row = 0;
    for s in 0..plan.fanout_steps {
        let result = run.step(deliveries, index * 1000 + s as u32).await;
        failed_in_row = if passed(&result) { 0 } else { failed_in_row + 1 };
        steps.push(result);
        // One failed step may be a pause (a GC, a neighbour's burst): stop after two in a row.
        if failed_in_row == 2 {
            break;
        }
        deliveries *= plan.fanout_factor;
    }
    // The ladder leaves a gap of one factor (×1.5) between the best step that passed and the
    // first that failed above it: bisect it (geometrically), so the figure is within a few %.
    for r in 0..plan.fanout_refine {
        let Some((low, high)) = bracket(&steps, shape) else { break };
        let result = run.step((low * high).sqrt(), index * 1000 + 500 + r as u32).await;
        steps.push(result);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn step(deliveries: f64, p99_ms: f64) -> StepResult {
        StepResult {
            rate: deliveries / 10.0,
            sent: 1,
            expected: 10,
            delivered: 10,
            lost: 0,
            extra: 0,
            deliveries_per_s: deliveries,
            p50_ms: 1.0,
            p99_ms,
            p999_ms: p99_ms,
            cross_ms: [1.0; 3],
            cross_count: 1,
            ack_ms: [1.0; 3],
            acked: 1,
            errors: 0,
            closed: 0,
            generator_cores: 0.1,
            server_cores: 0.5,
        }
    }

    #[test]
    fn the_gap_to_bisect_is_between_the_best_pass_and_the_lowest_failure_above_it() {
        let shape = Shape { rooms: 1, members: 10 };
        let ladder = [step(100.0, 5.0), step(150.0, 60.0), step(225.0, 20.0), step(337.5, 80.0), step(506.0, 90.0)];
        assert_eq!(bracket(&ladder, shape), Some((225.0, 337.5)), "a failure below the best pass is a pause");
        assert_eq!(bracket(&ladder[..1], shape), None, "nothing failed: nothing to bisect");
        assert_eq!(bracket(&[step(100.0, 60.0)], shape), None, "nothing passed");
        assert_eq!(bracket(&[step(100.0, 5.0), step(104.0, 60.0)], shape), None, "already within 5 %");
    }
}
