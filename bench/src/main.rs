//! `loadgen`: Switchboard and its Socket.IO peer, measured side by side in one run.
//!
//! It starts both stacks (each with its own Redis, three instances), registers accounts on
//! each, then runs every scenario on one stack and then the other, alternating which goes
//! first, and writes `<out>/<date>.json`, `<date>.md` and `<date>.svg`. A scenario that fails
//! makes the run exit non-zero (after the report is written): the smoke in `scripts/test`
//! is `loadgen --smoke`. See the README's Benchmarks section for what each figure means.

mod accounts;
mod chart;
mod client;
mod metrics;
mod ours;
mod peer;
mod plan;
mod pool;
mod report;
mod scenario;
mod sender;
mod stack;
mod storm_client;
mod wire;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Parser;

use crate::accounts::Account;
use crate::plan::Plan;
use crate::report::{Figure, Measure, Report};
use crate::scenario::{Ctx, Scenario};
use crate::stack::Stack;
use crate::wire::Proto;

#[derive(Parser, Debug)]
#[command(about = "Switchboard vs the Socket.IO peer: every scenario on both stacks, one report")]
struct Args {
    /// A few seconds per scenario, small counts (what scripts/test runs).
    #[arg(long)]
    smoke: bool,
    /// Repository root (scripts/cluster, bench/peer, target/site).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Switchboard's server build: debug or release.
    #[arg(long, env = "PROFILE", default_value = "release")]
    profile: String,
    /// Where the report files go (default: bench/results, or target/bench-smoke with --smoke).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Instances per stack.
    #[arg(long, default_value_t = 3)]
    instances: usize,
    /// Run only these scenarios (comma-separated names as in the report, e.g. `fan-out`);
    /// for working on one scenario, not for the published figures.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let root = args.root.canonicalize().context("--root")?;
    let plan = if args.smoke { Plan::smoke() } else { Plan::full() };
    let out =
        args.out.clone().unwrap_or_else(|| root.join(if args.smoke { "target/bench-smoke" } else { "bench/results" }));
    let date = time::OffsetDateTime::now_utc().date().to_string();
    let run = format!("{:x}", rand::random::<u32>());
    let ctx = Ctx { plan: plan.clone(), root: root.clone(), run, only: args.only.clone() };
    let mut report = Report {
        date: date.clone(),
        machine: machine(),
        load: vec![load()],
        plan,
        rows: Vec::new(),
        failures: Vec::new(),
    };

    eprintln!("starting both stacks ({} instances each)", args.instances);
    let ours = Stack::start(Proto::Ours, &root, &args.profile, args.instances).await?;
    let peer = match Stack::start(Proto::Peer, &root, &args.profile, args.instances).await {
        Ok(peer) => peer,
        Err(e) => {
            let _ = ours.stop().await;
            return Err(e);
        }
    };
    let result = run_all(&ctx, [&ours, &peer], &mut report).await;
    let stopped = (ours.stop().await, peer.stop().await);
    report.load.push(load());
    if let Err(e) = result {
        report.failures.push(format!("setup: {e:#}"));
    }
    write(&report, &out, &date)?;
    stopped.0?;
    stopped.1?;
    if !report.failures.is_empty() {
        bail!("{} scenario(s) failed: {}", report.failures.len(), report.failures.join("; "));
    }
    Ok(())
}

/// Registers accounts on both stacks, then runs every scenario on both, alternating.
async fn run_all(ctx: &Ctx, stacks: [&Stack; 2], report: &mut Report) -> Result<()> {
    let mut accounts: Vec<Vec<Account>> = Vec::new();
    for stack in stacks {
        let started = std::time::Instant::now();
        let list = accounts::register_many(&stack.urls(), &format!("b{}", ctx.run), ctx.plan.accounts, 6).await?;
        eprintln!("{}: {} accounts registered in {:.1?}", stack.proto.label(), list.len(), started.elapsed());
        accounts.push(list);
    }
    let chosen = Scenario::ALL.iter().filter(|s| ctx.only.is_empty() || ctx.only.iter().any(|o| o == s.name()));
    for (n, scenario) in chosen.enumerate() {
        // Alternate which stack goes first, so neither always meets a warmer machine.
        let order = if n % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let stack = stacks[i];
            eprintln!("{} on {}", scenario.name(), stack.proto.label());
            match scenario.run(ctx, stack, &accounts[i]).await {
                Ok(measures) => measures.into_iter().for_each(|m| report.add(scenario.name(), stack.proto, m)),
                Err(e) => {
                    eprintln!("  failed: {e:#}");
                    report.failures.push(format!("{} on {}: {e:#}", scenario.name(), stack.proto.label()));
                    let failed = Figure {
                        value: None,
                        note: format!("not run: {e:#}"),
                        generator_limited: false,
                        details: serde_json::Value::Null,
                    };
                    let measure = Measure {
                        metric: format!("{} (failed)", scenario.name()),
                        unit: "",
                        better: report::Better::Higher,
                        figure: failed,
                    };
                    report.add(scenario.name(), stack.proto, measure);
                }
            }
        }
    }
    Ok(())
}

fn write(report: &Report, out: &Path, date: &str) -> Result<()> {
    std::fs::create_dir_all(out)?;
    let json = out.join(format!("{date}.json"));
    std::fs::write(&json, serde_json::to_string_pretty(report)?)?;
    std::fs::write(out.join(format!("{date}.md")), report.markdown())?;
    chart::write(report, &out.join(format!("{date}.svg")))?;
    println!("{}", report.markdown());
    eprintln!("wrote {}", json.display());
    Ok(())
}

/// "N cores <CPU model>, X GiB, <kernel>": what the README prints next to the figures.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model =
        cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("?").trim();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next()?.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|o| o.lines().find(|l| l.starts_with("PRETTY_NAME=")).map(|l| l[12..].trim_matches('"').to_owned()))
        .unwrap_or_default();
    format!("{cores} cores {model}, {} GiB, {os}", mem_kib / 1024 / 1024)
}

/// The 1, 5 and 15 minute load averages.
fn load() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
